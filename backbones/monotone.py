r"""A monotone-operator implicit token mixer (monDEQ; Winston & Kolter, "Monotone operator equilibrium
networks", NeurIPS 2020), behind the same solver registry and gradient modes as the iMixer's.

The layer's output is the equilibrium

.. math::
    z^\star = \mathrm{ReLU}(W z^\star + u), \qquad W = (1 - m) I - A^\top A + B - B^\top ,

with free parameters :math:`A, B \in \mathbb{R}^{D \times D}` and a margin :math:`m > 0`. Then
:math:`I - W = m I + A^\top A + (B^\top - B) \succeq m I` is strongly monotone, and since ReLU is the
proximal operator of the indicator of the non-negative orthant the equilibrium is the unique zero of
the maximal monotone inclusion :math:`0 \in (I - W) z - u + N_{\ge 0}(z)`: it exists and is unique for
**any** weights, with no spectral normalisation and no power iteration.

It is found by operator splitting, each written as a fixed-point map :math:`x = T(x)` that any solver
of :mod:`backbones.solvers` iterates and that every gradient mode of :mod:`backbones.gradients`
differentiates (``splitting=``):

* ``'peaceman_rachford'`` (default): on the auxiliary variable :math:`x`,
  :math:`T = R_L \circ R_g` with the reflected resolvents :math:`R_g(x) = 2\,\mathrm{ReLU}(x) - x` and
  :math:`R_L(v) = 2 (I + \alpha (I - W))^{-1} (v + \alpha u) - v`; :math:`z^\star = \mathrm{ReLU}(x^\star)`.
  :math:`R_L` is a contraction for every :math:`\alpha > 0` (strong monotonicity), so :math:`T` is one.
  The ``D x D`` inverse is formed once per forward. Default :math:`\alpha = 1 / \|I - W\|_2`.
* ``'forward_backward'``: :math:`T(z) = \mathrm{ReLU}(z - \alpha((I - W) z - u))`, a contraction for
  :math:`\alpha < 2m / \|I - W\|_2^2`; default :math:`\alpha = m / \|I - W\|_2^2`. No inverse, but slow
  when :math:`\|I - W\|_2 / m` is large.

The step size changes the path, never the equilibrium; it is taken without gradient (the implicit
gradient of :math:`x = T_\alpha(x)` is exact for any fixed :math:`\alpha`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from .implicit import FixedPointLayer, FixedPointMap, SolveOptions
from .relative import RelativeWeight, token_linear

SPLITTINGS = ("peaceman_rachford", "forward_backward")

__all__ = ["SPLITTINGS", "MonotoneOptions", "MONOTONE_KEYS", "MonotoneLayer", "MonotoneMLP"]


@dataclass
class MonotoneOptions(SolveOptions):
    """Options of :class:`MonotoneLayer`: those of :class:`~backbones.implicit.SolveOptions` (here the
    default solver is ``'fixed_point'``, and so the default gradient ``'implicit'``) and

    Args:
        m: the monotonicity margin (``> 0``): ``I - W >= m I``. Larger is faster to solve, smaller lets
            ``W`` express more.
        alpha: the splitting's step size; ``None``: the default of ``splitting`` (module docstring).
        splitting: ``'peaceman_rachford'`` or ``'forward_backward'``.
    """

    solver: str = "fixed_point"
    m: float = 1.0
    alpha: Optional[float] = None
    splitting: str = "peaceman_rachford"

    def __post_init__(self) -> None:
        super().__post_init__()
        self._choice("splitting", SPLITTINGS)
        if not (isinstance(self.m, (int, float)) and self.m > 0):
            raise ValueError(f"m (the monotonicity margin) must be > 0, got {self.m!r}; e.g. m=1.0")
        if self.alpha is not None and not self.alpha > 0:
            raise ValueError(f"alpha (the splitting's step size) must be > 0 or None, got {self.alpha}")


#: every option name of the monotone layer (what ``token_mixer=dict(type='monotone', ...)`` accepts)
MONOTONE_KEYS: Tuple[str, ...] = MonotoneOptions.keys()


class MonotoneLayer(RelativeWeight, FixedPointLayer):
    r"""The monDEQ equilibrium :math:`z^\star = \mathrm{ReLU}(W z^\star + u)` (module docstring).

    Args:
        dim: width ``D`` of ``u`` and ``z``.
        **options: :class:`MonotoneOptions`.

    Shapes:
        ``u``: ``(B, *, D)`` -> ``z*``: ``(B, *, D)``, non-negative; convergence is judged per ``B`` sample.
    """

    convergence_hint = "raise max_iter, use solver='anderson' or 'broyden', or raise m"
    divergence_hint = "the splitting's alpha may be too large for forward_backward, or check the learning rate"

    def __init__(self, dim: int, device=None, dtype=None, grid=None, radius=None, **options) -> None:
        super().__init__()
        unknown = set(options) - set(MONOTONE_KEYS)
        if unknown:
            raise TypeError(f"MonotoneLayer got unknown options {sorted(unknown)}; known: {list(MONOTONE_KEYS)}")
        opts = MonotoneOptions(**options)
        self._init_solve(opts)
        self.dim, self.m, self.alpha, self.splitting = dim, float(opts.m), opts.alpha, opts.splitting
        factory = dict(device=device, dtype=dtype)
        self.grid = None
        shape = (dim, dim)
        if grid is not None:  # A and B shared over the relative offsets of a token grid
            self._init_grid(grid, dim, dim, radius)
            shape = self._table_shape()
        self.A = nn.Parameter(torch.empty(shape, **factory))
        self.B = nn.Parameter(torch.empty(shape, **factory))
        self.reset_parameters()
        self.name = f"MonotoneLayer(dim={dim})"

    def reset_parameters(self) -> None:
        """``A``, ``B`` uniform in ``(-1/sqrt(k), 1/sqrt(k))``, ``k`` the connections of a unit (``D`` for full
        matrices; a linear layer's default scale)."""
        k = self.dim if self.grid is None else self.m_in * self.connections_per_map()
        bound = 1 / math.sqrt(k)
        nn.init.uniform_(self.A, -bound, bound)
        nn.init.uniform_(self.B, -bound, bound)

    def extra_repr(self) -> str:
        return (f"dim={self.dim}, m={self.m}, splitting={self.splitting!r}, alpha={self.alpha}, "
                f"solver={self.solver!r}, grad={self.grad!r}, tol={self.tol}, max_iter={self.max_iter}")

    def matrices(self) -> Tuple[torch.Tensor, torch.Tensor]:
        """``(A, B)`` as ``D x D`` matrices (materialised from their tables when shared over offsets)."""
        if self.grid is None:
            return self.A, self.B
        return self.expand(self.A), self.expand(self.B)

    def operator(self) -> torch.Tensor:
        r""":math:`S = I - W = m I + A^\top A + B^\top - B` (strongly monotone: :math:`S + S^\top \succeq 2mI`,
        for any ``A``, ``B``, also those shared over relative offsets)."""
        a, b = self.matrices()
        eye = torch.eye(self.dim, dtype=a.dtype, device=a.device)
        return self.m * eye + a.t() @ a + b.t() - b

    def weight(self) -> torch.Tensor:
        """``W = (1 - m) I - A^T A + B - B^T``."""
        return torch.eye(self.dim, dtype=self.A.dtype, device=self.A.device) - self.operator()

    def step_size(self, s: torch.Tensor) -> float:
        """The splitting's ``alpha`` for the operator ``s`` (the option, or the splitting's default)."""
        if self.alpha is not None:
            return float(self.alpha)
        with torch.no_grad():
            lip = torch.linalg.matrix_norm(s.detach().float(), ord=2).item()
        return 1.0 / lip if self.splitting == "peaceman_rachford" else self.m / lip ** 2

    def equilibrium_residual(self, z: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """``||z - ReLU(W z + u)||`` per sample: 0 exactly at the equilibrium."""
        return (z - F.relu(F.linear(z, self.weight()) + u)).flatten(1).norm(dim=1)

    def fixed_point_map(self, u: torch.Tensor) -> FixedPointMap:
        s = self.operator()
        alpha = self.step_size(s)
        u_det = u.detach()
        needs_grad = u.requires_grad or self.A.requires_grad or self.B.requires_grad
        z0 = torch.zeros_like(u_det)
        if self.splitting == "forward_backward":
            def fb(z, s_, u_):
                return F.relu(z - alpha * (F.linear(z, s_) - u_))

            def fb_jvp(z, v):
                active = (z - alpha * (F.linear(z, s) - u) > 0).to(v.dtype)
                return active * (v - alpha * F.linear(v, s))

            s_det = s.detach()
            return FixedPointMap(f=lambda z: fb(z, s, u), f_detached=lambda z: fb(z, s_det, u_det), jvp=fb_jvp,
                                 z0=z0, needs_grad=needs_grad)
        eye = torch.eye(self.dim, dtype=s.dtype, device=s.device)
        resolvent = torch.linalg.inv(eye + alpha * s)  # (I + alpha (I - W))^-1

        def pr(x, res, u_):
            r = 2 * F.relu(x) - x
            return 2 * F.linear(r + alpha * u_, res) - r

        def pr_jvp(x, v):
            r = 2 * (x > 0).to(v.dtype) * v - v
            return 2 * F.linear(r, resolvent) - r

        res_det = resolvent.detach()
        return FixedPointMap(f=lambda x: pr(x, resolvent, u), f_detached=lambda x: pr(x, res_det, u_det), jvp=pr_jvp,
                             z0=z0, needs_grad=needs_grad, readout=F.relu)


class MonotoneMLP(nn.Module):
    r"""The monotone token mixer: :math:`y = W_{out}\,\mathrm{Dropout}(z^\star)`,
    :math:`z^\star = \mathrm{ReLU}(W z^\star + W_{in} x)` (:class:`MonotoneLayer`), the
    ``token_mixer='monotone'`` counterpart of :class:`~backbones.token_mixers.ImplicitMLP`.

    Args:
        in_features: ``N``, the length of the mixed axis (tokens).
        internal_features: ``D``, the width of the equilibrium.
        out_features: output length (``N`` when omitted).
        drop: dropout after the equilibrium.
        grid, radius: share ``W_in``, ``A``, ``B`` and ``W_out`` over the relative offsets of a token grid
            (:mod:`backbones.relative`).
        **monotone: :class:`MonotoneOptions`.

    Shapes:
        ``(B, *, N)`` -> ``(B, *, out_features)``.
    """

    def __init__(self, in_features: int, internal_features: int, out_features: Optional[int] = None,
                 drop: float = 0.0, grid=None, radius=None, **monotone) -> None:
        super().__init__()
        self.fc_in = token_linear(in_features, internal_features, grid, radius)
        self.implicit = MonotoneLayer(internal_features, grid=grid, radius=radius, **monotone)
        self.drop = nn.Dropout(drop)
        self.fc_out = token_linear(internal_features, out_features or in_features, grid, radius)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc_out(self.drop(self.implicit(self.fc_in(x))))
