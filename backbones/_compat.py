"""Every workaround of an upstream problem, in one place, each naming the version it works around.

1. :func:`allow_mmengine_checkpoints` (mmengine 0.10.7 with torch >= 2.6), applied on ``import backbones``.
2. :func:`alias_registry_scope` (mmengine 0.10.7): the scope ``imixer`` lives in the package ``backbones``.
3. :func:`runner_device` (mmengine 0.10.7): the Runner always puts the model on ``get_device()``.

**1.** torch >= 2.6 loads checkpoints with ``weights_only=True``; mmengine 0.10.7 stores its message hub
in every checkpoint, so ``--resume`` and ``init_cfg=dict(type='Pretrained')`` fail with
``Unsupported global``. Two targeted fixes keep the safe loader on:

* the classes mmengine's checkpoints contain (``HistoryBuffer``, numpy arrays, dtypes and scalars)
  are allow-listed with ``torch.serialization.add_safe_globals``;
* ``HistoryBuffer`` pickles its built-in statistics (min / max / current / mean) as
  ``getattr(HistoryBuffer, 'min')``, and allow-listing ``getattr`` would open the loader to
  arbitrary attribute access. Those four are restored by ``HistoryBuffer`` itself on load, so
  checkpoints written after ``import backbones`` simply leave them out.

Checkpoints written by a plain mmengine process before this fix still need
``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1`` (only for files you trust).
"""
from __future__ import annotations

import contextlib
import sys
import types
from typing import Iterator

import numpy as np
import torch

_BUILTIN_STATISTICS = ("min", "max", "current", "mean")


def allow_mmengine_checkpoints() -> None:
    """Make mmengine checkpoints loadable with ``torch.load(weights_only=True)`` (idempotent)."""
    from mmengine.logging.history_buffer import HistoryBuffer

    if not getattr(HistoryBuffer, "_imixer_safe_state", False):
        original = HistoryBuffer.__getstate__

        def __getstate__(self) -> dict:
            state = dict(original(self))
            custom = {k: v for k, v in state.pop("statistics_methods", {}).items() if k not in _BUILTIN_STATISTICS}
            if custom:
                state["statistics_methods"] = custom
            return state

        HistoryBuffer.__getstate__ = __getstate__
        HistoryBuffer._imixer_safe_state = True

    if not hasattr(torch.serialization, "add_safe_globals"):
        return
    from numpy._core.multiarray import _reconstruct, scalar

    safe = [HistoryBuffer, np.ndarray, np.dtype, _reconstruct, scalar]
    # numpy >= 1.25 pickles dtype instances through their concrete classes (np.dtypes.Float64DType, ...)
    safe += [type(np.dtype(t)) for t in ("float64", "float32", "float16", "int64", "int32", "int8", "uint8", "bool")]
    torch.serialization.add_safe_globals(safe)


def alias_registry_scope(scope: str, registry_module: str) -> None:
    """Make ``<scope>.registry`` import as ``registry_module`` (mmengine 0.10.7).

    mmengine imports ``<scope>.registry`` whenever it switches to a scope. Our scope is ``imixer`` but
    the package is ``backbones`` (the user's layout), so without the alias every build logs "Failed to
    import `imixer.registry`".
    """
    if scope in sys.modules:
        return
    alias = types.ModuleType(scope, f"Alias of the {scope} registry scope (see backbones._compat).")
    alias.__path__ = []  # a namespace-like package: only ``<scope>.registry`` exists
    alias.registry = sys.modules[registry_module]
    sys.modules[scope] = alias
    sys.modules[f"{scope}.registry"] = sys.modules[registry_module]


@contextlib.contextmanager
def runner_device(device: str) -> Iterator[None]:
    """Make mmengine's Runner put the model on ``device`` (mmengine 0.10.7 always picks CUDA when present)."""
    if device == "cpu" and torch.cuda.is_available():
        import mmengine.runner.runner as runner_mod

        original = runner_mod.get_device
        runner_mod.get_device = lambda: "cpu"
        try:
            yield
        finally:
            runner_mod.get_device = original
    else:
        yield
