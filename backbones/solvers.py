r"""Fixed-point solvers for :math:`z = f(z)`, behind one interface (as torchdeq's ``solver/``).

Every solver is a plain function registered in :data:`SOLVERS` with the signature::

    solver(f, z0, *, tol, max_iter, **options) -> (z, SolverInfo)

``f`` maps a batch ``(B, *)`` to a batch of the same shape, samples independently. Convergence is
judged **per sample** by the relative residual :math:`\|f(z_b) - z_b\| / \|f(z_b)\|`: a solve stops
when every *finite* sample is below ``tol`` (or at ``max_iter``), so a sample that is NaN or inf neither
stops nor slows the others; it is reported in :attr:`SolverInfo.nonfinite`. The same registry serves
the forward solve of :class:`~backbones.implicit.ImplicitLayer` (``solver``) and the adjoint solve of
its implicit gradient (``adjoint_solver``).

Solvers:
    * ``'unroll'``: exactly ``max_iter`` steps :math:`z_{k+1} = f(z_k)` from ``z0`` (``tol`` unused);
      the authors' algorithm, differentiable through the loop.
    * ``'fixed_point'``: the same iteration until the residual is below ``tol``.
    * ``'anderson'``: Anderson acceleration (memory ``m``), one small least-squares system per sample.

Add one with :func:`register_solver`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, Tuple

import torch

__all__ = ["SolverInfo", "SOLVERS", "register_solver", "get_solver", "relative_residual"]


@dataclass
class SolverInfo:
    """Per-sample outcome of a solve (tensors on the solve's device; reading them may sync).

    Attributes:
        steps: total iterations the solve ran (evaluations of ``f`` after the first, for Anderson).
        iters: ``(B,)`` iteration at which each sample first met ``tol`` (``steps`` if it never did).
        residual: ``(B,)`` relative residual of each sample at the last step (NaN / inf where non-finite).
        nonfinite: ``(B,)`` bool, samples whose iterate is NaN or inf.
    """

    steps: int
    iters: torch.Tensor
    residual: torch.Tensor
    nonfinite: torch.Tensor

    @classmethod
    def from_last_step(cls, z: torch.Tensor, prev: torch.Tensor, steps: int) -> "SolverInfo":
        """The outcome of a fixed number of steps, judged by the last one (``prev -> z``)."""
        residual = relative_residual(z, prev)
        iters = torch.full((z.shape[0],), steps, dtype=torch.long, device=z.device)
        return cls(steps, iters, residual, ~torch.isfinite(residual))

    def worst_residual(self) -> torch.Tensor:
        """The largest residual over the finite samples (0 when there are none)."""
        return torch.where(self.nonfinite, torch.zeros_like(self.residual), self.residual).max()


Solver = Callable[..., Tuple[torch.Tensor, SolverInfo]]
#: name -> solver function (see the module docstring for the signature)
SOLVERS: Dict[str, Solver] = {}


def register_solver(name: str) -> Callable[[Solver], Solver]:
    """Register ``fn(f, z0, *, tol, max_iter, **options) -> (z, SolverInfo)`` under ``name``."""

    def wrap(fn: Solver) -> Solver:
        if name in SOLVERS:
            raise KeyError(f"a solver named {name!r} is already registered")
        SOLVERS[name] = fn
        return fn

    return wrap


def get_solver(name: str) -> Solver:
    """The registered solver ``name``; the error lists the known ones."""
    if name not in SOLVERS:
        raise ValueError(f"unknown solver {name!r}; choose one of {tuple(SOLVERS)} (or register_solver a new one)")
    return SOLVERS[name]


def relative_residual(fz: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """``||f(z) - z|| / ||f(z)||`` per sample (all but the first dimension flattened), in float32."""
    diff = (fz - z).flatten(1).float().norm(dim=1)
    ref = fz.flatten(1).float().norm(dim=1)
    return diff / (ref + 1e-8)


class _Tracker:
    """Per-sample convergence bookkeeping shared by the iterative solvers."""

    def __init__(self, z0: torch.Tensor, tol: float) -> None:
        self.tol = tol
        self.iters = torch.zeros(z0.shape[0], dtype=torch.long, device=z0.device)
        self.converged = torch.zeros(z0.shape[0], dtype=torch.bool, device=z0.device)
        self.residual = torch.full((z0.shape[0],), float("inf"), device=z0.device)
        self.steps = 0

    def update(self, fz: torch.Tensor, z: torch.Tensor) -> bool:
        """Record one step; True when every finite sample is below ``tol`` (one host sync)."""
        self.steps += 1
        self.residual = relative_residual(fz, z)
        ok = self.residual < self.tol
        self.iters = torch.where(self.converged | ~ok, self.iters, torch.full_like(self.iters, self.steps))
        self.converged |= ok
        return bool((ok | ~torch.isfinite(self.residual)).all())

    def info(self, z: torch.Tensor) -> SolverInfo:
        iters = torch.where(self.converged, self.iters, torch.full_like(self.iters, self.steps))
        nonfinite = ~torch.isfinite(self.residual) | ~torch.isfinite(z.detach().flatten(1)).all(1)
        return SolverInfo(self.steps, iters, self.residual, nonfinite)


@register_solver("unroll")
def unroll(f: Callable, z0: torch.Tensor, *, tol: float = 0.0, max_iter: int = 2, **_) -> Tuple[torch.Tensor, SolverInfo]:
    """Exactly ``max_iter`` steps ``z_{k+1} = f(z_k)`` (no early stop; ``tol`` only for the report)."""
    z, prev = z0, z0
    for _ in range(max_iter):
        prev, z = z, f(z)
    return z, SolverInfo.from_last_step(z.detach(), prev.detach(), max_iter)


@register_solver("fixed_point")
def fixed_point(f: Callable, z0: torch.Tensor, *, tol: float = 1e-3, max_iter: int = 30,
                **_) -> Tuple[torch.Tensor, SolverInfo]:
    """Plain iteration ``z <- f(z)`` until every finite sample's residual is below ``tol``."""
    track, z = _Tracker(z0, tol), z0
    for _ in range(max_iter):
        fz = f(z)
        done = track.update(fz.detach(), z.detach())
        z = fz
        if done:
            break
    return z, track.info(z)


@register_solver("anderson")
def anderson(f: Callable, z0: torch.Tensor, *, tol: float = 1e-3, max_iter: int = 30, m: int = 5,
             lam: float = 1e-4, beta: float = 1.0, **_) -> Tuple[torch.Tensor, SolverInfo]:
    r"""Anderson acceleration of ``z = f(z)`` (memory ``m >= 2``, Tikhonov ``lam``, mixing ``beta``).

    Each sample solves its own ``(n+1) x (n+1)`` system for the mixing weights :math:`\alpha`
    (:math:`\sum \alpha = 1`, minimising :math:`\|\sum_i \alpha_i (f(x_i) - x_i)\|`); a non-finite
    sample's system is replaced by the identity so it cannot disturb the batched solve.
    Not differentiable: use it under ``torch.no_grad()`` with an implicit or phantom gradient.
    """
    if m < 2:
        raise ValueError(f"Anderson memory m must be >= 2, got {m}")
    shape, bsz = z0.shape, z0.shape[0]
    d = z0[0].numel()
    xs = z0.new_zeros(bsz, m, d)
    fs = z0.new_zeros(bsz, m, d)
    xs[:, 0] = z0.reshape(bsz, -1)
    fs[:, 0] = f(z0).reshape(bsz, -1)
    xs[:, 1] = fs[:, 0]
    fs[:, 1] = f(fs[:, 0].reshape(shape)).reshape(bsz, -1)
    track = _Tracker(z0, tol)
    track.update(fs[:, 0], xs[:, 0])
    done, k = track.update(fs[:, 1], xs[:, 1]), 1
    h = z0.new_zeros(bsz, m + 1, m + 1)
    h[:, 0, 1:] = 1
    h[:, 1:, 0] = 1
    rhs = z0.new_zeros(bsz, m + 1, 1)
    rhs[:, 0] = 1
    eye = torch.eye(m + 1, dtype=z0.dtype, device=z0.device)
    for k in range(2, max_iter):
        if done:
            k -= 1
            break
        n = min(k, m)
        g = fs[:, :n] - xs[:, :n]
        gg = g @ g.transpose(1, 2)
        # Tikhonov term relative to the residuals' scale, so the regulariser does not dominate (and
        # stall the solve) once the residuals are small
        scale = gg.diagonal(dim1=1, dim2=2).mean(-1).clamp_min(torch.finfo(gg.dtype).tiny)
        h[:, 1:n + 1, 1:n + 1] = gg + lam * scale[:, None, None] * eye[:n, :n]
        system = h[:, :n + 1, :n + 1]
        bad = ~torch.isfinite(system).flatten(1).all(1)
        system = torch.where(bad[:, None, None], eye[:n + 1, :n + 1], system)
        alpha = torch.linalg.solve(system, rhs[:, :n + 1])[:, 1:n + 1, 0]
        new = beta * (alpha[:, None] @ fs[:, :n])[:, 0] + (1 - beta) * (alpha[:, None] @ xs[:, :n])[:, 0]
        xs[:, k % m] = new
        fs[:, k % m] = f(new.reshape(shape)).reshape(bsz, -1)
        done = track.update(fs[:, k % m], xs[:, k % m])
    # a copy: a view would keep the whole (B, m, D) history alive as long as the solution is (the
    # implicit gradient saves it for the backward pass)
    z = fs[:, k % m].reshape(shape).clone()
    return z, track.info(z)
