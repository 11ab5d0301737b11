r"""Token-mixing weights shared over relative offsets: translation-equivariant (i)Mixer token mixing.

A Mixer's token mixer multiplies the ``N = h w`` tokens of a grid by ``N x N`` matrices, one weight for
every pair of positions, so a pattern learnt at one position is unknown at every other. Sharing each
weight over the pairs with the same offset,

.. math::
    W_{pq} = \theta_{p - q}, \qquad p - q \in \{-(h-1), \dots, h-1\} \times \{-(w-1), \dots, w-1\},

makes the map translation-equivariant inside the grid (zero outside it): a 2-D Toeplitz matrix with
``(2h - 1)(2w - 1)`` parameters, which equals a single-channel ``(2h-1) x (2w-1)`` convolution of the
grid with zero padding. It is how relative position biases are indexed (Shaw et al., 2018; Swin, Liu et
al., ICCV 2021), used here as the whole token-mixing weight; the bias is shared over positions too. A
width of ``m N`` (the implicit mixer's internal width ``D`` and hidden width ``hD``, an MLP's hidden
width) is ``m`` such maps, so a weight ``(m_out N) x (m_in N)`` is ``m_out x m_in`` Toeplitz blocks.

``radius=r`` keeps the offsets with ``max(|dr|, |dc|) <= r`` only: a local ``(2r+1) x (2r+1)`` kernel (the
table still holds every offset; a fixed mask zeroes the others, whose entries then get no gradient).
``causal=True`` keeps the offsets of the past in row-major order (``dr > 0``, or ``dr = 0`` and ``dc >= 0``),
so position ``p`` sees positions ``q <= p`` only: on a ``1 x L`` grid each block is lower-triangular
Toeplitz, a causal convolution over the sequence (the causal language model's token mixing).
The implicit mixer's fixed point :math:`(1 - G)^{-1}` of such a local ``G`` still reaches every token
of the grid (its Neumann series), with an influence that decays with distance.

The implicit module keeps its maths: :class:`RelativeSpectralNormLinear` materialises the matrix and
takes its soft spectral norm like :class:`~backbones.spectral_norm.SpectralNormLinear`, so
:math:`\mathrm{Lip}(G)` keeps its bound and :math:`(1 - G)^{-1}` of a translation-equivariant ``G`` is
translation-equivariant (away from the grid's border).
"""
from __future__ import annotations

import math
from typing import Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F

from .spectral_norm import REFERENCE_COEFF, SpectralNormLinear

Grid = Union[int, Sequence[int]]

__all__ = ["check_relative_mixing", "relative_options", "resolve_grid", "relative_offsets", "relative_index",
           "RelativeWeight", "RelativeLinear", "RelativeSpectralNormLinear", "token_linear"]


def check_relative_mixing(value: Union[bool, int]) -> Union[bool, int]:
    """A backbone's ``relative_mixing`` option, checked: ``True`` (every offset), an int ``r >= 0`` (offsets up
    to ``r``) or ``False`` (full, position-indexed token-mixing matrices)."""
    if not (isinstance(value, bool) or (isinstance(value, int) and value >= 0)):
        raise ValueError(f"relative_mixing must be True (every offset), an int r >= 0 (offsets up to r) or False "
                         f"(full, position-indexed token-mixing matrices), got {value!r}")
    return value


def relative_options(relative_mixing: Union[bool, int], grid: Grid) -> dict:
    """The token mixers' ``grid`` / ``radius`` keywords for a ``relative_mixing`` option (checked) over
    ``grid``; ``{}`` for full matrices."""
    if check_relative_mixing(relative_mixing) is False:
        return {}
    return dict(grid=grid, radius=None if relative_mixing is True else int(relative_mixing))


def resolve_grid(grid: Grid) -> Tuple[int, int]:
    """``w`` or ``(h, w)`` -> ``(h, w)``, both >= 1."""
    hw = (int(grid), int(grid)) if isinstance(grid, (int, float)) else tuple(int(g) for g in grid)
    if len(hw) != 2 or min(hw) < 1:
        raise ValueError(f"a token grid is one side w or (h, w), both >= 1; got {grid!r}")
    return hw


def relative_offsets(grid: Grid) -> torch.Tensor:
    """``((2h - 1)(2w - 1), 2)``: the offset ``(dr, dc)`` of every table entry."""
    h, w = resolve_grid(grid)
    dr, dc = torch.meshgrid(torch.arange(-(h - 1), h), torch.arange(-(w - 1), w), indexing="ij")
    return torch.stack([dr.flatten(), dc.flatten()], dim=1)


def relative_index(grid: Grid) -> torch.Tensor:
    """``(N, N)`` index of the offset ``p - q`` of every pair of grid positions (row-major), in
    ``[0, (2h - 1)(2w - 1))``."""
    h, w = resolve_grid(grid)
    rows, cols = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    rows, cols = rows.flatten(), cols.flatten()
    dr = rows[:, None] - rows[None, :] + (h - 1)
    dc = cols[:, None] - cols[None, :] + (w - 1)
    return dr * (2 * w - 1) + dc


class RelativeWeight:
    """What every relative layer shares (a mixin of ``nn.Module`` s): the multiplicities, the offset index
    and the materialised weight. :meth:`_init_grid` registers the buffers; :meth:`expand` turns a table
    ``(m_out, m_in, (2h-1)(2w-1))`` into its matrix. The linear layers' ``weight`` is such a table and
    their ``bias`` is ``(m_out,)``; the monotone layer's ``A`` and ``B`` are tables too.
    """

    def _init_grid(self, grid: Grid, in_features: int, out_features: int, radius: Optional[int] = None,
                   causal: bool = False) -> None:
        h, w = self.grid = resolve_grid(grid)
        if radius is not None and (isinstance(radius, bool) or not isinstance(radius, int) or radius < 0):
            raise ValueError(f"radius must be an int >= 0 (the largest offset a token-mixing weight spans) or None "
                             f"(every offset of the grid), got {radius!r}")
        self.radius, self.causal = radius, bool(causal)
        n = self.num_tokens = h * w
        for name, width in (("in_features", in_features), ("out_features", out_features)):
            if width % n:
                raise ValueError(f"relative token mixing over a {h}x{w} grid needs widths that are multiples of "
                                 f"{n} tokens; {name}={width} is not (set the token mixer's widths to whole "
                                 f"multiples of the token count, e.g. token_ratio=1 and an integer h_ratio, or use full "
                                 f"matrices: relative_mixing=False)")
        self.m_in, self.m_out = in_features // n, out_features // n
        self.register_buffer("index", relative_index(self.grid), persistent=False)
        # offsets beyond the radius (and, causal, those of the future) have no weight
        offsets = relative_offsets(self.grid)
        keep = torch.ones(len(offsets), dtype=torch.bool)
        if radius is not None:  # a local (2r+1) x (2r+1) kernel inside the grid
            keep &= offsets.abs().amax(1) <= radius
        if causal:  # p - q >= 0 in row-major order: position p sees q <= p
            keep &= (offsets[:, 0] > 0) | ((offsets[:, 0] == 0) & (offsets[:, 1] >= 0))
        local = None if bool(keep.all()) else keep.float()
        self.register_buffer("local", local, persistent=False)

    def _table_shape(self) -> Tuple[int, int, int]:
        h, w = self.grid
        return (self.m_out, self.m_in, (2 * h - 1) * (2 * w - 1))

    def expand(self, table: torch.Tensor) -> torch.Tensor:
        """The ``(m_out N) x (m_in N)`` matrix of a table (Toeplitz blocks)."""
        n = self.num_tokens
        if self.local is not None:
            table = table * self.local.to(table.dtype)
        return table[:, :, self.index].permute(0, 2, 1, 3).reshape(self.m_out * n, self.m_in * n)

    def effective_bias(self):
        """The per-unit bias: each map's bias repeated over its ``N`` positions."""
        return None if self.bias is None else self.bias.repeat_interleave(self.num_tokens)

    def connections_per_map(self) -> float:
        """How many tokens of one map a unit is connected to, on average (``N`` without a radius)."""
        n = self.num_tokens
        return n if self.local is None else float(self.local[self.index].sum()) / n

    def _reset_table(self) -> None:
        # the materialised matrix gets xavier-uniform's variance for the connections it has
        bound = math.sqrt(6.0 / ((self.m_in + self.m_out) * self.connections_per_map()))
        nn.init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            nn.init.zeros_(self.bias)


class RelativeLinear(RelativeWeight, nn.Module):
    """``nn.Linear`` over the tokens of a grid with weights shared over relative offsets (module docstring).

    Shapes:
        ``(*, m_in N)`` -> ``(*, m_out N)``.
    """

    def __init__(self, grid: Grid, in_features: int, out_features: int, bias: bool = True,
                 radius: Optional[int] = None, causal: bool = False) -> None:
        nn.Module.__init__(self)
        self.in_features, self.out_features = in_features, out_features
        self._init_grid(grid, in_features, out_features, radius, causal)
        self.weight = nn.Parameter(torch.empty(self._table_shape()))
        self.bias = nn.Parameter(torch.empty(self.m_out)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self._reset_table()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.expand(self.weight), self.effective_bias())

    def extra_repr(self) -> str:
        return (f"grid={self.grid}, radius={self.radius}, causal={self.causal}, in_features={self.in_features}, "
                f"out_features={self.out_features}")


class RelativeSpectralNormLinear(RelativeWeight, SpectralNormLinear):
    """:class:`~backbones.spectral_norm.SpectralNormLinear` whose matrix is shared over relative offsets:
    the power iteration and the cap act on the materialised matrix."""

    def __init__(self, grid: Grid, in_features: int, out_features: int, coeff: float = REFERENCE_COEFF,
                 n_power: int = 8, bias: bool = True, device=None, dtype=None, radius: Optional[int] = None,
                 causal: bool = False) -> None:
        nn.Module.__init__(self)
        self._init_grid(grid, in_features, out_features, radius, causal)
        factory = dict(device=device, dtype=dtype)
        self._init_layer(in_features, out_features, coeff, n_power,
                         nn.Parameter(torch.empty(self._table_shape(), **factory)),
                         nn.Parameter(torch.empty(self.m_out, **factory)) if bias else None, factory)

    def structured(self, w: torch.Tensor) -> torch.Tensor:
        return self.expand(w)

    def reset_parameters(self) -> None:
        self._reset_table()
        self.refresh(100)

    def extra_repr(self) -> str:
        return f"grid={self.grid}, radius={self.radius}, causal={self.causal}, " + super().extra_repr()


def token_linear(in_features: int, out_features: int, grid: Optional[Grid] = None,
                 radius: Optional[int] = None, causal: bool = False) -> nn.Module:
    """A linear map along the tokens: ``nn.Linear``, or :class:`RelativeLinear` over ``grid`` (``causal``:
    the past offsets only)."""
    if grid is None:
        if causal:
            raise ValueError("token_linear: causal=True needs a grid here; full causal matrices are MaskedLinear")
        return nn.Linear(in_features, out_features)
    return RelativeLinear(grid, in_features, out_features, radius=radius, causal=causal)
