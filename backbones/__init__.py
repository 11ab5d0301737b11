"""imixer backbones: the implicit fixed-point layer and the Mixer / iMixer family.

Everything here registers in :data:`backbones.MODELS` (scope ``imixer``), so OpenMMLab configs
build it by scope prefix after ``custom_imports=dict(imports=['backbones'])``::

    backbone=dict(type='imixer.IMixerPyramid', arch='tiny')

and Python code by name::

    from backbones import build_backbone, list_backbones
    model = build_backbone('imixer_s16_224', num_classes=10, img_size=32, patch_size=4)
"""
from __future__ import annotations

import difflib
from typing import List, Optional, Union

import torch.nn as nn

from ._compat import allow_mmengine_checkpoints
from .convert import convert_reference_state_dict
from .implicit import IMPLICIT_RECIPE, ImplicitLayer, ImplicitOptions, collect_solver_stats, name_implicit_layers
from .solvers import SOLVERS, register_solver
from .spectral_norm import SpectralNormLinear, lipschitz_bound
from .monotone import MonotoneLayer, MonotoneMLP
from .token_mixers import ImplicitMLP, Mlp, build_token_mixer, resolve_token_mixer
from .mixer import IMixer, MixerBlock, MLPMixer
from .pyramid import IMixerPyramid
from .registry import _BACKBONES, DATASETS, HOOKS, METRICS, MODELS, TRANSFORMS, register_backbone
from .sequence import IMixerSequence

allow_mmengine_checkpoints()

__all__ = [
    "MODELS", "DATASETS", "METRICS", "HOOKS", "TRANSFORMS", "register_backbone", "build_backbone",
    "list_backbones", "IMPLICIT_RECIPE", "ImplicitLayer", "ImplicitOptions", "ImplicitMLP", "Mlp",
    "SpectralNormLinear", "build_token_mixer", "resolve_token_mixer", "SOLVERS", "register_solver",
    "collect_solver_stats", "name_implicit_layers", "MonotoneLayer", "MonotoneMLP", "lipschitz_bound", "MixerBlock", "MLPMixer", "IMixer", "IMixerSequence", "IMixerPyramid",
    "convert_reference_state_dict",
]


def list_backbones(pattern: Optional[str] = None) -> List[str]:
    """Sorted names of the registered backbones, optionally filtered by a ``fnmatch`` pattern."""
    import fnmatch

    names = sorted(set(_BACKBONES))
    return [n for n in names if fnmatch.fnmatch(n, pattern)] if pattern else names


def build_backbone(name_or_cfg: Union[str, dict], **kwargs) -> nn.Module:
    """Build a registered backbone from its name (``'imixer_s16_224'``) or a config dict.

    Args:
        name_or_cfg: a name from :func:`list_backbones`, or ``dict(type=name, **args)``
            (``'imixer.'`` scope prefix allowed).
        **kwargs: overrides of the variant's defaults.

    Raises:
        KeyError: unknown name; the message lists the known ones.
    """
    if isinstance(name_or_cfg, dict):
        cfg = dict(name_or_cfg)
        name = cfg.pop("type")
        kwargs = {**cfg, **kwargs}
    else:
        name = name_or_cfg
    name = name[len("imixer."):] if name.startswith("imixer.") else name
    if name not in _BACKBONES:
        close = difflib.get_close_matches(name, _BACKBONES, n=3)
        hint = f" Did you mean {close}?" if close else ""
        raise KeyError(f"unknown backbone {name!r}.{hint} Known backbones: {', '.join(list_backbones())}")
    from mmengine.registry import DefaultScope

    with DefaultScope.overwrite_default_scope("imixer"):  # whatever scope a toolbox left active
        return MODELS.build(dict(type=name, **kwargs))
