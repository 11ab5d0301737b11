"""The pieces of the shared backbone the text model is built from, imported in one place, and the
writer of a saved model's code.

In the repository the pieces come from :mod:`backbones`. A saved model carries its own code
(:func:`write_model_code`, called by ``IMixerConfig.save_pretrained``): the text model's files, this
one with its imports made relative, and the :mod:`backbones` modules they reach, copied unchanged
beside them (``backbones.registry`` replaced by a stand-in without mmengine). The folder then loads
with ``trust_remote_code=True`` where neither ``backbones`` nor ``tasks`` can be imported; only
torch, transformers and the standard library are needed.
"""
import re
import sys
from pathlib import Path
from typing import List, Optional, Union

from transformers.dynamic_module_utils import get_imports, get_relative_imports

from backbones.implicit import IMPLICIT_KEYS
from backbones.relative import check_relative_mixing
from backbones.sequence import IMixerSequence
from backbones.spectral_norm import ACTIVATIONS, SpectralNormLinear
from backbones.token_mixers import resolve_token_mixer

#: the text model's own files, written into every saved folder
MODEL_FILES = ("configuration_imixer.py", "modeling_imixer.py", "backbone.py")
#: what the saved code may import besides itself and the standard library
REQUIRED_PACKAGES = ("torch", "transformers")
REGISTRY_STUB = '''"""Stand-in for ``backbones.registry`` in a saved iMixer model: the backbones register nowhere."""


def register_backbone(name=None):
    return lambda obj: obj
'''


def _model_file(name: str) -> Optional[Path]:
    """Where the model file ``name`` is: beside this one, or (in a model loaded with remote code, whose
    modules transformers caches in separate folders) wherever the loaded module of that name lives;
    ``None`` when it was never loaded (transformers then copies it itself, as for any remote code)."""
    path = Path(__file__).parent / name
    if path.exists():
        return path
    package = __name__.rpartition(".")[0].split(".")[:2]  # transformers_modules.<folder>
    for module in list(sys.modules.values()):
        parts, file = getattr(module, "__name__", "").split("."), getattr(module, "__file__", None)
        if file and parts[:2] == package and parts[-1] == Path(name).stem:
            return Path(file)
    return None


def write_model_code(folder: Union[str, Path]) -> List[Path]:
    """Write the model's code into ``folder`` (a ``save_pretrained`` directory).

    Returns:
        the files written.

    Raises:
        RuntimeError: a written file imports a package other than torch and transformers (the saved
            model would not load where the project is not installed).
    """
    folder = Path(folder)
    source = Path(sys.modules[IMixerSequence.__module__].__file__).parent  # backbones/, or beside this file
    written = []
    for name in MODEL_FILES:
        path = _model_file(name)
        if path is None:
            continue
        written.append(folder / name)
        text = path.read_text(encoding="utf-8")
        written[-1].write_text(re.sub(r"^from backbones\.(\w+) import", r"from .\1 import", text, flags=re.M),
                               encoding="utf-8")
    todo = [m for f in written for m in get_relative_imports(f)]
    done = {Path(n).stem for n in MODEL_FILES}
    while todo:
        module = todo.pop()
        if module in done:
            continue
        done.add(module)
        target = folder / f"{module}.py"
        target.write_text(REGISTRY_STUB if module == "registry" else
                          (source / f"{module}.py").read_text(encoding="utf-8"), encoding="utf-8")
        written.append(target)
        todo += get_relative_imports(target)
    for path in written:
        foreign = sorted(set(get_imports(path)) - set(REQUIRED_PACKAGES) - set(sys.stdlib_module_names))
        if foreign:
            raise RuntimeError(f"the saved model's {path.name} imports {foreign}; a saved iMixer loads with "
                               f"only {REQUIRED_PACKAGES} installed, so its code must not (see tasks/text/backbone.py)")
    return written


__all__ = ["IMPLICIT_KEYS", "IMixerSequence", "ACTIVATIONS", "SpectralNormLinear", "check_relative_mixing",
           "resolve_token_mixer", "write_model_code"]
