r"""Fixed-point solvers for :math:`z = f(z)`, behind one interface (as torchdeq's ``solver/``).

Every solver is a plain function registered in :data:`SOLVERS` with the signature::

    solver(f, z0, *, tol, max_iter, **solver_kwargs) -> (z, SolverInfo)

``f`` maps a batch ``(B, *)`` to a batch of the same shape, samples independently. Convergence is
judged **per sample** by the relative residual :math:`\|f(z_b) - z_b\| / \|f(z_b)\|`. A sample stops
being updated at the step where it first meets ``tol`` (its result is its own, whatever else is in the
batch); the solve ends when every *finite* sample has (or at ``max_iter``), so a sample that is NaN or
inf neither stops nor slows the others; it is reported in :attr:`SolverInfo.nonfinite`. The same
registry serves the forward solve of :class:`~backbones.implicit.ImplicitLayer` (``solver``) and the
adjoint solve of its implicit gradient (``adjoint_solver``).

A solver states its own keyword arguments and their defaults when it registers
(``@register_solver('anderson', options=dict(m=5, lam=1e-4, beta=1.0), check=...)``);
:func:`solver_kwargs` validates a user's ``solver_kwargs`` against them once, at construction, and an
unknown or misspelt key is an error naming the valid ones. A new solver with its own options therefore
needs this file only.

Solvers:
    * ``'unroll'``: exactly ``max_iter`` steps :math:`z_{k+1} = f(z_k)` from ``z0`` (``tol`` unused);
      the authors' algorithm, differentiable through the loop.
    * ``'fixed_point'``: the same iteration until the residual is below ``tol``.
    * ``'anderson'``: Anderson acceleration (memory ``m``), one small least-squares system per sample.
    * ``'broyden'``: Broyden's "good" quasi-Newton method on :math:`g(z) = f(z) - z` (Broyden, Math.
      Comp. 1965; as used for DEQs by Bai, Kolter & Koltun, NeurIPS 2019), a limited-memory inverse
      Jacobian per sample.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, Mapping, Optional, Tuple

import torch

__all__ = ["SolverInfo", "SOLVERS", "SOLVER_OPTIONS", "register_solver", "get_solver", "solver_kwargs",
           "is_differentiable", "relative_residual"]


@dataclass
class SolverInfo:
    """Per-sample outcome of a solve (tensors on the solve's device; reading them may sync).

    Attributes:
        steps: total iterations the solve ran (evaluations of ``f`` after the first, for Anderson).
        iters: ``(B,)`` iteration at which each sample first met ``tol`` (``steps`` if it never did).
        residual: ``(B,)`` relative residual of each sample at its last update (NaN / inf where non-finite).
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
#: name -> the solver's keyword arguments and their defaults (what ``solver_kwargs`` may set)
SOLVER_OPTIONS: Dict[str, Dict[str, Any]] = {}
_CHECKS: Dict[str, Optional[Callable[[Dict[str, Any]], None]]] = {}
_DIFFERENTIABLE: Dict[str, bool] = {}


def register_solver(name: str, options: Optional[Mapping[str, Any]] = None,
                    check: Optional[Callable[[Dict[str, Any]], None]] = None,
                    differentiable: bool = False) -> Callable[[Solver], Solver]:
    """Register ``fn(f, z0, *, tol, max_iter, **options) -> (z, SolverInfo)`` under ``name``.

    Args:
        name: the registry key (``solver=name`` / ``adjoint_solver=name``).
        options: the solver's keyword arguments with their defaults; ``solver_kwargs`` may set exactly
            these (a value must have its default's type; an int is accepted for a float).
        check: called with the merged options; raises ``ValueError`` for an impossible value.
        differentiable: autograd can run through the solve (needed for ``grad='unroll'``).
    """

    def wrap(fn: Solver) -> Solver:
        if name in SOLVERS:
            raise KeyError(f"a solver named {name!r} is already registered")
        SOLVERS[name] = fn
        SOLVER_OPTIONS[name] = dict(options or {})
        _CHECKS[name] = check
        _DIFFERENTIABLE[name] = bool(differentiable)
        return fn

    return wrap


def get_solver(name: str) -> Solver:
    """The registered solver ``name``; the error lists the known ones."""
    if name not in SOLVERS:
        raise ValueError(f"unknown solver {name!r}; choose one of {tuple(SOLVERS)} (or register_solver a new one)")
    return SOLVERS[name]


def is_differentiable(name: str) -> bool:
    """Whether autograd can differentiate through the solver ``name`` (``grad='unroll'``)."""
    get_solver(name)
    return _DIFFERENTIABLE.get(name, False)


def solver_kwargs(name: str, given: Optional[Mapping[str, Any]] = None, label: str = "solver_kwargs") -> Dict[str, Any]:
    """The solver ``name``'s keyword arguments: its registered defaults updated by ``given``, validated.

    Raises:
        ValueError: a key the solver does not take (the message names the valid ones), a value of the
            wrong type, or one the solver's ``check`` refuses.
    """
    get_solver(name)
    given = dict(given or {})
    defaults = SOLVER_OPTIONS.get(name, {})
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        valid = ", ".join(f"{k}={v!r}" for k, v in defaults.items()) or "none"
        raise ValueError(f"{label}: solver {name!r} takes no option {unknown[0]!r}" +
                         (f" (nor {unknown[1:]})" if len(unknown) > 1 else "") + f"; its options are: {valid}")
    for key, value in given.items():
        want = type(defaults[key])
        ok = isinstance(value, want) and not (want is not bool and isinstance(value, bool))
        if want is float and isinstance(value, int) and not isinstance(value, bool):
            ok = True
        if not ok:
            raise ValueError(f"{label}: {name!r} option {key}={value!r} must be a {want.__name__} "
                             f"(default {defaults[key]!r})")
    merged = {**defaults, **given}
    if _CHECKS.get(name) is not None:
        _CHECKS[name](merged)
    return merged


def relative_residual(fz: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """``||f(z) - z|| / ||f(z)||`` per sample (all but the first dimension flattened), in float32."""
    diff = (fz - z).flatten(1).float().norm(dim=1)
    ref = fz.flatten(1).float().norm(dim=1)
    return diff / (ref + 1e-8)


def _per_sample(mask: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """A ``(B,)`` mask shaped to broadcast against ``like`` ``(B, *)``."""
    return mask.reshape((-1,) + (1,) * (like.dim() - 1))


class _Tracker:
    """Per-sample convergence bookkeeping shared by the iterative solvers.

    Keeps, for every sample, the value ``f(z)`` of the step at which it first met ``tol``: that sample
    is not updated afterwards (:meth:`result`), whatever the others still do.
    """

    def __init__(self, z0: torch.Tensor, tol: float) -> None:
        self.tol = tol
        self.iters = torch.zeros(z0.shape[0], dtype=torch.long, device=z0.device)
        self.converged = torch.zeros(z0.shape[0], dtype=torch.bool, device=z0.device)
        self.residual = torch.full((z0.shape[0],), float("inf"), device=z0.device)
        self.frozen: Optional[torch.Tensor] = None
        self.steps = 0

    def update(self, fz: torch.Tensor, z: torch.Tensor, fz_graph: Optional[torch.Tensor] = None) -> bool:
        """Record one step ``z -> f(z)``; True when every finite sample has met ``tol`` (one host sync).

        ``fz_graph``: the same ``f(z)`` with its autograd graph, kept for the converged samples.
        """
        self.steps += 1
        residual = relative_residual(fz, z)
        new = (residual < self.tol) & ~self.converged
        self.residual = torch.where(self.converged, self.residual, residual)
        self.iters = torch.where(new, torch.full_like(self.iters, self.steps), self.iters)
        keep = fz if fz_graph is None else fz_graph
        if self.frozen is None:
            self.frozen = keep.clone()  # a copy: ``keep`` may be a view of a solver's reused buffer
        else:
            self.frozen = torch.where(_per_sample(new, keep), keep, self.frozen)
        self.converged |= new
        return bool((self.converged | ~torch.isfinite(self.residual)).all())

    def result(self, z_last: torch.Tensor) -> torch.Tensor:
        """Each converged sample's value at its convergence, the last iterate for the others."""
        if self.frozen is None:
            return z_last
        return torch.where(_per_sample(self.converged, z_last), self.frozen, z_last)

    def info(self, z: torch.Tensor) -> SolverInfo:
        iters = torch.where(self.converged, self.iters, torch.full_like(self.iters, self.steps))
        nonfinite = ~torch.isfinite(self.residual) | ~torch.isfinite(z.detach().flatten(1)).all(1)
        return SolverInfo(self.steps, iters, self.residual, nonfinite)


@register_solver("unroll", differentiable=True)
def unroll(f: Callable, z0: torch.Tensor, *, tol: float = 0.0, max_iter: int = 2) -> Tuple[torch.Tensor, SolverInfo]:
    """Exactly ``max_iter`` steps ``z_{k+1} = f(z_k)`` (no early stop; ``tol`` only for the report)."""
    z, prev = z0, z0
    for _ in range(max_iter):
        prev, z = z, f(z)
    return z, SolverInfo.from_last_step(z.detach(), prev.detach(), max_iter)


@register_solver("fixed_point", differentiable=True)
def fixed_point(f: Callable, z0: torch.Tensor, *, tol: float = 1e-3, max_iter: int = 30) -> Tuple[torch.Tensor, SolverInfo]:
    """Plain iteration ``z <- f(z)`` until every finite sample's residual is below ``tol``."""
    track, z = _Tracker(z0, tol), z0
    for _ in range(max_iter):
        fz = f(z)
        done = track.update(fz.detach(), z.detach(), fz_graph=fz)
        z = fz
        if done:
            break
    z = track.result(z)
    return z, track.info(z)


def _check_anderson(o: Dict[str, Any]) -> None:
    if o["m"] < 2:
        raise ValueError(f"Anderson memory m must be >= 2 (it mixes at least two past iterates), got m={o['m']}; "
                         "use e.g. solver_kwargs=dict(m=5), or solver='fixed_point'")
    if not o["lam"] >= 0:
        raise ValueError(f"Anderson lam (Tikhonov weight) must be >= 0, got {o['lam']}")
    if not 0 < o["beta"] <= 1:
        raise ValueError(f"Anderson beta (mixing) must be in (0, 1], got {o['beta']}")


@register_solver("anderson", options=dict(m=5, lam=1e-4, beta=1.0), check=_check_anderson)
def anderson(f: Callable, z0: torch.Tensor, *, tol: float = 1e-3, max_iter: int = 30, m: int = 5,
             lam: float = 1e-4, beta: float = 1.0) -> Tuple[torch.Tensor, SolverInfo]:
    r"""Anderson acceleration of ``z = f(z)`` (memory ``m >= 2``, Tikhonov ``lam``, mixing ``beta``).

    Each sample solves its own ``(n+1) x (n+1)`` system for the mixing weights :math:`\alpha`
    (:math:`\sum \alpha = 1`, minimising :math:`\|\sum_i \alpha_i (f(x_i) - x_i)\|`); a non-finite
    sample's system is replaced by the identity so it cannot disturb the batched solve.
    Not differentiable: use it under ``torch.no_grad()`` with an implicit or phantom gradient.
    """
    _check_anderson(dict(m=m, lam=lam, beta=beta))
    shape, bsz = z0.shape, z0.shape[0]
    d = z0[0].numel()
    xs = z0.new_zeros(bsz, m, d)
    fs = z0.new_zeros(bsz, m, d)
    xs[:, 0] = z0.reshape(bsz, -1)
    fs[:, 0] = f(z0).reshape(bsz, -1)
    xs[:, 1] = fs[:, 0]
    fs[:, 1] = f(fs[:, 0].reshape(shape)).reshape(bsz, -1)
    track = _Tracker(z0, tol)
    track.update(fs[:, 0].reshape(shape), xs[:, 0].reshape(shape))
    done, k = track.update(fs[:, 1].reshape(shape), xs[:, 1].reshape(shape)), 1
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
        done = track.update(fs[:, k % m].reshape(shape), xs[:, k % m].reshape(shape))
    # a copy: a view would keep the whole (B, m, D) history alive as long as the solution is (the
    # implicit gradient saves it for the backward pass)
    z = track.result(fs[:, k % m].reshape(shape).clone())
    return z, track.info(z)


def _check_broyden(o: Dict[str, Any]) -> None:
    if o["m"] < 1:
        raise ValueError(f"Broyden memory m (rank-one updates kept) must be >= 1, got m={o['m']}")


@register_solver("broyden", options=dict(m=30), check=_check_broyden)
def broyden(f: Callable, z0: torch.Tensor, *, tol: float = 1e-3, max_iter: int = 30,
            m: int = 30) -> Tuple[torch.Tensor, SolverInfo]:
    r"""Broyden's "good" method for the root of :math:`g(z) = f(z) - z`, per sample.

    The inverse Jacobian of :math:`g` is approximated by :math:`H = -I + \sum_i a_i b_i^\top`
    (at most ``m`` rank-one terms; the oldest is dropped when full). A step is
    :math:`\Delta z = -H g(z)`, then with :math:`\Delta g = g(z + \Delta z) - g(z)` the
    Sherman-Morrison form of Broyden's update adds
    :math:`a = (\Delta z - H \Delta g) / (\Delta z^\top H \Delta g)`, :math:`b = H^\top \Delta z`.

    Per sample: a converged sample is no longer moved (its step is zero and its memory unchanged); a
    non-finite sample, or one whose update denominator vanishes, does not update its memory, so it
    cannot disturb the others; each sample returns ``f(z)`` at its lowest residual. Not differentiable:
    use it under ``torch.no_grad()`` with an implicit or phantom gradient.
    """
    _check_broyden(dict(m=m))
    shape, bsz = z0.shape, z0.shape[0]
    d = z0[0].numel()
    # the stored rank-one terms, (B, n, d) with n <= m, grown by one per step (no preallocated, zero-filled
    # memory: a solve of a few steps touches only what it stored)
    mem = {"a": z0.new_empty(bsz, 0, d), "b": z0.new_empty(bsz, 0, d)}

    def h_mul(x: torch.Tensor) -> torch.Tensor:  # H x = -x + sum_i a_i (b_i . x)
        return -x + ((mem["b"] @ x[:, :, None]).transpose(1, 2) @ mem["a"])[:, 0]

    def ht_mul(x: torch.Tensor) -> torch.Tensor:  # H^T x = -x + sum_i b_i (a_i . x)
        return -x + ((mem["a"] @ x[:, :, None]).transpose(1, 2) @ mem["b"])[:, 0]

    track = _Tracker(z0, tol)
    z = z0.reshape(bsz, -1)
    fz = f(z0).reshape(bsz, -1)
    done = track.update(fz.reshape(shape), z.reshape(shape))
    g = fz - z
    best_res = track.residual.clone()
    best = fz.clone()
    for _ in range(1, max_iter):
        if done:
            break
        active = ~track.converged & torch.isfinite(track.residual)
        dz = torch.where(active[:, None], -h_mul(g), torch.zeros_like(g))
        z_new = z + dz
        fz_new = f(z_new.reshape(shape)).reshape(bsz, -1)
        done = track.update(fz_new.reshape(shape), z_new.reshape(shape))
        g_new = fz_new - z_new
        dg = g_new - g
        h_dg = h_mul(dg)
        den = (dz * h_dg).sum(1)
        ok = active & torch.isfinite(den) & (den.abs() > 1e-30) & torch.isfinite(g_new).all(1)
        safe = torch.where(ok, den, torch.ones_like(den))
        a_new = torch.where(ok[:, None], (dz - h_dg) / safe[:, None], torch.zeros_like(dz))
        b_new = torch.where(ok[:, None], ht_mul(dz), torch.zeros_like(dz))
        start = max(0, mem["a"].shape[1] + 1 - m)  # the oldest term is dropped when the memory is full
        mem["a"] = torch.cat([mem["a"][:, start:], a_new[:, None]], 1)
        mem["b"] = torch.cat([mem["b"][:, start:], b_new[:, None]], 1)
        # frozen / non-finite samples keep their state
        moved = active & torch.isfinite(g_new).all(1)
        z = torch.where(moved[:, None], z_new, z)
        g = torch.where(moved[:, None], g_new, g)
        better = track.residual < best_res
        best = torch.where(better[:, None], fz_new, best)
        best_res = torch.where(better, track.residual, best_res)
    out = track.result(best.reshape(shape).clone())
    info = track.info(out)
    # unconverged samples report the residual of the iterate they return (their lowest)
    info.residual = torch.where(track.converged, info.residual, best_res)
    return out, info
