r"""Token mixers, and the one token-mixer spec every entry point of the project takes.

``token_mixer`` is

* ``'implicit'``: the iMixer's implicit MLP :class:`ImplicitMLP`, :math:`(1 - G)^{-1}`, with the authors'
  recipe :data:`IMPLICIT_RECIPE` (``h_ratio=2``, ``n_iter=2``, ``coeff=0.9``, ``n_power=8``, GELU);
* ``'mlp'``: the MLP-Mixer's token-mixing MLP :class:`Mlp` (the explicit twin);
* ``dict(type='implicit', n_iter=4, solver='anderson', ...)``: the implicit mixer with options of
  :class:`~backbones.implicit.ImplicitOptions` changed (``type`` may be left out);
* ``'monotone'`` / ``dict(type='monotone', m=1.0, splitting='peaceman_rachford', ...)``: the
  monotone-operator mixer :class:`~backbones.monotone.MonotoneMLP` (monDEQ; unique fixed point for any
  weights), options of :class:`~backbones.monotone.MonotoneOptions`;
* ``causal=True`` (with either type, e.g. ``dict(type='implicit', causal=True)``): a mixer in which
  token ``t``'s output depends on tokens ``<= t`` only, for causal language models (:func:`causal_masks`).

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
from .monotone import MONOTONE_KEYS, MonotoneMLP, MonotoneOptions
from .relative import Grid, resolve_grid, token_linear
from .spectral_norm import make_activation

TOKEN_MIXERS = ("implicit", "mlp", "monotone")
#: the option names of each implicit token-mixer type
_OPTION_KEYS = {"implicit": IMPLICIT_KEYS, "mlp": IMPLICIT_KEYS, "monotone": MONOTONE_KEYS}
#: spec keys every token-mixer type takes (the rest are implicit-layer options)
MIXER_KEYS = ("causal",)
TokenMixerSpec = Union[str, Mapping[str, Any], None]

__all__ = ["TOKEN_MIXERS", "MIXER_KEYS", "IMPLICIT_RECIPE", "IMPLICIT_KEYS", "resolve_token_mixer",
           "build_token_mixer", "causal_masks", "MaskedLinear", "Mlp", "ImplicitMLP"]


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
        raise ValueError(f"unknown token_mixer type {kind!r}; choose 'implicit' (iMixer), 'mlp' (MLP-Mixer) or "
                         "'monotone' (monotone-operator mixer)")
    for key, value in options.items():
        if key in spec and spec[key] != value:
            raise ValueError(f"implicit option {key!r} given twice with different values ({spec[key]!r} in "
                             f"token_mixer, {value!r} as a keyword); state it once, in token_mixer")
        spec[key] = value
    keys = _OPTION_KEYS[kind]
    unknown = set(spec) - set(keys) - set(MIXER_KEYS)
    if unknown:
        label = "monotone-mixer" if kind == "monotone" else "implicit-layer"
        raise TypeError(f"unknown arguments {sorted(unknown)}; {label} options are {list(keys)}, "
                        f"and every token mixer takes {list(MIXER_KEYS)}")
    if "causal" in spec and not isinstance(spec["causal"], bool):
        raise TypeError(f"token_mixer causal= must be True or False, got {spec['causal']!r}")
    implicit = {k: v for k, v in spec.items() if k not in MIXER_KEYS}
    if kind == "mlp" and implicit:
        raise ValueError(f"implicit-layer options {sorted(implicit)} given with token_mixer='mlp'; they only apply "
                         "to token_mixer='implicit' (drop them for the MLP-Mixer twin)")
    if kind == "implicit":
        ImplicitOptions(**implicit)  # every value checked once, here, at construction
    if kind == "monotone":
        MonotoneOptions(**implicit)
    return {"type": kind, **spec}


def build_token_mixer(token_mixer: TokenMixerSpec, num_tokens: int, hidden: int, act: str = "gelu",
                      drop: float = 0.0, grid: Optional[Grid] = None, radius: Optional[int] = None,
                      **options) -> nn.Module:
    """The token mixer of every backbone.

    Args:
        token_mixer: a spec (see :func:`resolve_token_mixer`).
        num_tokens: length of the mixed axis.
        hidden: ``D`` (implicit) or the MLP's hidden width.
        act: activation of the MLP, and of the implicit mixer unless its spec sets ``act``.
        drop: dropout.
        grid: the tokens form an ``h x w`` grid (``w`` or ``(h, w)``, ``h w = num_tokens``) and every
            token-mixing weight is shared over its relative offsets (:mod:`backbones.relative`); set by the
            backbone, which knows the geometry. ``None``: full matrices.
        radius: with ``grid``, the largest offset ``max(|dr|, |dc|)`` a weight spans (``None``: all).
        **options: implicit options as keywords (merged into the spec).
    """
    spec = resolve_token_mixer(token_mixer, **options)
    kind, causal = spec.pop("type"), spec.pop("causal", False)
    if grid is not None:
        h, w = resolve_grid(grid)
        if h * w != num_tokens:
            raise ValueError(f"a {h}x{w} token grid has {h * w} tokens, the token mixer {num_tokens}")
    if kind == "implicit":
        spec.setdefault("act", act)
        return ImplicitMLP(num_tokens, hidden, drop=drop, causal=causal, grid=grid, radius=radius, **spec)
    if kind == "monotone":
        if causal:
            raise ValueError("token_mixer='monotone' has no causal form (its W couples every pair of units); use "
                             "type='implicit' or 'mlp' with causal=True")
        return MonotoneMLP(num_tokens, hidden, drop=drop, grid=grid, radius=radius, **spec)
    return Mlp(num_tokens, hidden, act=act, drop=drop, causal=causal, grid=grid, radius=radius)


def causal_masks(num_tokens: int, *widths: int) -> list:
    r"""0/1 masks that make a chain of linear maps ``num_tokens -> widths[0] -> ... -> num_tokens`` causal.

    Every unit gets a *degree*, the last token it may depend on: token ``t`` has degree ``t``, unit
    ``j`` of a layer of width ``W`` has degree :math:`d_j = \lfloor j N / W \rfloor` (the tokens spread
    evenly over the units). A connection from a unit of degree ``a`` to one of degree ``b`` is kept
    when ``a <= b`` (MADE's masks, Germain et al., ICML 2015), so with ``W = N`` every matrix is lower
    triangular. Output ``t`` is then reached only through units of degree ``<= t``, which see only
    tokens ``<= t``. A map ``z -> u + G(z)`` with masked ``G`` is block lower-triangular in the degrees,
    so its fixed point :math:`z^\star_j` depends on :math:`u_{j'}` with :math:`d_{j'} \le d_j` only: the
    implicit mixer stays causal for every solver.

    Returns:
        ``[M_1, ..., M_k]``, ``M_i`` of shape ``(width_i, width_{i-1})`` with ``width_0 = width_k = num_tokens``.
    """
    sizes = (num_tokens, *widths, num_tokens)
    degrees = [torch.arange(w) * num_tokens // w for w in sizes]
    return [(degrees[i].unsqueeze(0) <= degrees[i + 1].unsqueeze(1)).float() for i in range(len(sizes) - 1)]


class MaskedLinear(nn.Linear):
    """``nn.Linear`` whose weight is multiplied by a fixed 0/1 ``mask`` (a buffer) in every forward."""

    def __init__(self, in_features: int, out_features: int, mask: torch.Tensor, bias: bool = True) -> None:
        super().__init__(in_features, out_features, bias=bias)
        self.register_buffer("mask", mask.to(self.weight.dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.linear(x, self.weight * self.mask, self.bias)


def _linear(in_features: int, out_features: int, mask: Optional[torch.Tensor] = None,
            grid: Optional[Grid] = None, radius: Optional[int] = None, causal: bool = False) -> nn.Module:
    return token_linear(in_features, out_features, grid, radius, causal) if mask is None else \
        MaskedLinear(in_features, out_features, mask)


class ImplicitMLP(nn.Module):
    r"""The iMixer token mixer ("iMLP"): :math:`y = W_{out}\,\mathrm{Dropout}(\sigma(z^\star))`,
    :math:`z^\star = (1-G)^{-1} W_{in} x`.

    Args:
        in_features: ``N``, the length of the mixed axis (tokens).
        internal_features: ``D``, the width of the fixed point.
        out_features: output length (``N`` when omitted).
        drop: dropout after the final activation.
        causal: mask ``W_in``, ``W_a``, ``W_b`` and ``W_out`` with :func:`causal_masks` (the spectral norm
            is taken of the masked ``W_a``, ``W_b``, so ``Lip(G)`` keeps its bound); needs
            ``out_features == in_features``. With ``grid``, the relative weights keep the past offsets
            instead (lower-triangular Toeplitz blocks on a ``1 x N`` grid).
        grid: share ``W_in``, ``W_a``, ``W_b`` and ``W_out`` over the relative offsets of an ``h x w``
            token grid (:mod:`backbones.relative`); the widths must be multiples of ``h w``.
        radius: with ``grid``, the largest offset a weight spans (``None``: all).
        **implicit: :class:`~backbones.implicit.ImplicitOptions` (``act``, ``h_ratio``, ``n_iter``,
            ``solver``, ...; default :data:`IMPLICIT_RECIPE`). ``act`` is also the final activation.

    Shapes:
        ``(B, *, N)`` -> ``(B, *, out_features)``.
    """

    def __init__(self, in_features: int, internal_features: int, out_features: Optional[int] = None,
                 drop: float = 0.0, causal: bool = False, grid: Optional[Grid] = None, radius: Optional[int] = None,
                 **implicit) -> None:
        super().__init__()
        if causal and (out_features or in_features) != in_features:
            raise ValueError(f"a causal token mixer maps the tokens to themselves: out_features={out_features} must "
                             f"equal in_features={in_features} (or be left unset)")
        self.causal = causal
        hidden = int(internal_features * ImplicitOptions(**implicit).h_ratio)  # ImplicitLayer's hidden width
        # causal: full matrices get MADE masks; relative ones keep the past offsets (backbones.relative)
        masked = causal and grid is None
        masks = causal_masks(in_features, internal_features, hidden, internal_features) if masked else [None] * 4
        self.fc_in = _linear(in_features, internal_features, masks[0], grid, radius, causal)
        self.implicit = ImplicitLayer(internal_features, grid=grid, radius=radius, causal=causal and grid is not None,
                                      **implicit)
        if masked:
            self.implicit.fc_a.set_mask(masks[1])
            self.implicit.fc_b.set_mask(masks[2])
        self.act = make_activation(self.implicit.act_name)
        self.drop = nn.Dropout(drop)
        self.fc_out = _linear(internal_features, out_features or in_features, masks[3], grid, radius, causal)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc_out(self.drop(self.act(self.implicit(self.fc_in(x)))))


class Mlp(nn.Module):
    """The plain two-layer MLP (token-mixing MLP of the MLP-Mixer, and every channel MLP); ``causal``
    masks both layers with :func:`causal_masks` (as a token mixer: output ``t`` sees inputs ``<= t``);
    ``grid`` shares both over the relative offsets of a token grid (:mod:`backbones.relative`).

    Shapes:
        ``(*, in_features)`` -> ``(*, out_features)``.
    """

    def __init__(self, in_features: int, hidden_features: int, out_features: Optional[int] = None,
                 act: str = "gelu", drop: float = 0.0, causal: bool = False, grid: Optional[Grid] = None,
                 radius: Optional[int] = None) -> None:
        super().__init__()
        if causal and (out_features or in_features) != in_features:
            raise ValueError(f"a causal token mixer maps the tokens to themselves: out_features={out_features} must "
                             f"equal in_features={in_features} (or be left unset)")
        masks = causal_masks(in_features, hidden_features) if causal and grid is None else [None, None]
        self.fc1 = _linear(in_features, hidden_features, masks[0], grid, radius, causal)
        self.act = make_activation(act)
        self.drop1 = nn.Dropout(drop)
        self.fc2 = _linear(hidden_features, out_features or in_features, masks[1], grid, radius, causal)
        self.drop2 = nn.Dropout(drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop2(self.fc2(self.drop1(self.act(self.fc1(x)))))
