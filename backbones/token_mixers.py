r"""Token mixers, and the one token-mixer spec every entry point of the project takes.

``token_mixer`` is

* ``'implicit'``: the iMixer's implicit MLP :class:`ImplicitMLP`, :math:`(1 - G)^{-1}`, with the authors'
  recipe :data:`IMPLICIT_RECIPE` (``h_ratio=2``, ``n_iter=2``, ``coeff=0.9``, ``n_power=8``, GELU);
* ``'mlp'``: the MLP-Mixer's token-mixing MLP :class:`Mlp` (the explicit twin);
* ``dict(type='implicit', n_iter=4, solver='anderson', ...)``: the implicit mixer with options of
  :class:`~backbones.implicit.ImplicitOptions` changed (``type`` may be left out).

:func:`resolve_token_mixer` turns any of these (plus implicit options passed as plain keyword
arguments, as every backbone also accepts) into ``dict(type=..., **options)``, refusing unknown
options and implicit options given to ``'mlp'``; :func:`build_token_mixer` builds the module. A twin
config therefore changes one key: ``model = dict(backbone=dict(token_mixer='mlp'))``.
"""
from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Union

import torch
import torch.nn as nn

from .implicit import IMPLICIT_KEYS, IMPLICIT_RECIPE, ImplicitLayer, ImplicitOptions
from .spectral_norm import make_activation

TOKEN_MIXERS = ("implicit", "mlp")
TokenMixerSpec = Union[str, Mapping[str, Any], None]

__all__ = ["TOKEN_MIXERS", "IMPLICIT_RECIPE", "IMPLICIT_KEYS", "resolve_token_mixer", "build_token_mixer",
           "Mlp", "ImplicitMLP"]


def resolve_token_mixer(token_mixer: TokenMixerSpec = None, *, default: str = "implicit",
                        **options) -> Dict[str, Any]:
    """Normalise a token-mixer spec to ``dict(type=..., **options)`` and validate it.

    Args:
        token_mixer: ``'implicit'``, ``'mlp'``, a dict with ``type`` and implicit options, or ``None``
            for ``default``.
        default: the type when ``token_mixer`` is ``None`` or a dict without ``type``.
        **options: implicit-layer options given as keyword arguments (``h_ratio=2, n_iter=4``), merged
            into the spec.

    Returns:
        ``{'type': 'implicit' | 'mlp', **options}`` with only the options that were given; the rest are
        :data:`IMPLICIT_RECIPE` / :class:`~backbones.implicit.ImplicitOptions` defaults.

    Raises:
        TypeError: an unknown option name.
        ValueError: an unknown type, implicit options with ``'mlp'``, the same option given twice with
            different values, or an impossible value (:class:`~backbones.implicit.ImplicitOptions`).
    """
    if token_mixer is None or isinstance(token_mixer, str):
        spec: Dict[str, Any] = {"type": token_mixer or default}
    elif isinstance(token_mixer, Mapping):
        spec = dict(token_mixer)
        spec.setdefault("type", default)
    else:
        raise TypeError(f"token_mixer must be 'implicit', 'mlp' or a dict(type=..., **options), got {token_mixer!r}")
    kind = spec.pop("type")
    if kind not in TOKEN_MIXERS:
        raise ValueError(f"unknown token_mixer type {kind!r}; choose 'implicit' (iMixer) or 'mlp' (MLP-Mixer)")
    for key, value in options.items():
        if key in spec and spec[key] != value:
            raise ValueError(f"implicit option {key!r} given twice with different values ({spec[key]!r} in "
                             f"token_mixer, {value!r} as a keyword); state it once, in token_mixer")
        spec[key] = value
    unknown = set(spec) - set(IMPLICIT_KEYS)
    if unknown:
        raise TypeError(f"unknown arguments {sorted(unknown)}; implicit-layer options are {list(IMPLICIT_KEYS)}")
    if kind == "mlp" and spec:
        raise ValueError(f"implicit-layer options {sorted(spec)} given with token_mixer='mlp'; they only apply "
                         "to token_mixer='implicit' (drop them for the MLP-Mixer twin)")
    if kind == "implicit":
        ImplicitOptions(**spec)  # every value checked once, here, at construction
    return {"type": kind, **spec}


def build_token_mixer(token_mixer: TokenMixerSpec, num_tokens: int, hidden: int, act: str = "gelu",
                      drop: float = 0.0, **options) -> nn.Module:
    """The token mixer of every backbone.

    Args:
        token_mixer: a spec (see :func:`resolve_token_mixer`).
        num_tokens: length of the mixed axis.
        hidden: ``D`` (implicit) or the MLP's hidden width.
        act: activation of the MLP, and of the implicit mixer unless its spec sets ``act``.
        drop: dropout.
        **options: implicit options as keywords (merged into the spec).
    """
    spec = resolve_token_mixer(token_mixer, **options)
    kind = spec.pop("type")
    if kind == "implicit":
        spec.setdefault("act", act)
        return ImplicitMLP(num_tokens, hidden, drop=drop, **spec)
    return Mlp(num_tokens, hidden, act=act, drop=drop)


class ImplicitMLP(nn.Module):
    r"""The iMixer token mixer ("iMLP"): :math:`y = W_{out}\,\mathrm{Dropout}(\sigma(z^\star))`,
    :math:`z^\star = (1-G)^{-1} W_{in} x`.

    Args:
        in_features: ``N``, the length of the mixed axis (tokens).
        internal_features: ``D``, the width of the fixed point.
        out_features: output length (``N`` when omitted).
        drop: dropout after the final activation.
        **implicit: :class:`~backbones.implicit.ImplicitOptions` (``act``, ``h_ratio``, ``n_iter``,
            ``solver``, ...; default :data:`IMPLICIT_RECIPE`). ``act`` is also the final activation.

    Shapes:
        ``(B, *, N)`` -> ``(B, *, out_features)``.
    """

    def __init__(self, in_features: int, internal_features: int, out_features: Optional[int] = None,
                 drop: float = 0.0, **implicit) -> None:
        super().__init__()
        self.fc_in = nn.Linear(in_features, internal_features)
        self.implicit = ImplicitLayer(internal_features, **implicit)
        self.act = make_activation(self.implicit.act_name)
        self.drop = nn.Dropout(drop)
        self.fc_out = nn.Linear(internal_features, out_features or in_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc_out(self.drop(self.act(self.implicit(self.fc_in(x)))))


class Mlp(nn.Module):
    """The plain two-layer MLP (token-mixing MLP of the MLP-Mixer, and every channel MLP).

    Shapes:
        ``(*, in_features)`` -> ``(*, out_features)``.
    """

    def __init__(self, in_features: int, hidden_features: int, out_features: Optional[int] = None,
                 act: str = "gelu", drop: float = 0.0) -> None:
        super().__init__()
        self.fc1 = nn.Linear(in_features, hidden_features)
        self.act = make_activation(act)
        self.drop1 = nn.Dropout(drop)
        self.fc2 = nn.Linear(hidden_features, out_features or in_features)
        self.drop2 = nn.Dropout(drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop2(self.fc2(self.drop1(self.act(self.fc1(x)))))
