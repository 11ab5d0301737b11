r"""The implicit fixed-point layer of the iMixer, shared by every backbone and every task.

Ota & Taki, "Hierarchical Hopfield network implies an invertible, implicit and iterative
MLP-Mixer" (arXiv 2304.13061) replace the MLP-Mixer's token-mixing MLP by

.. math::
    u = W_{in} x, \qquad z^\star = (1 - G)^{-1} u \;\Leftrightarrow\; z^\star = u + G(z^\star),
    \qquad y = W_{out}\,\mathrm{Dropout}(\sigma(z^\star)),

    G(z) = W_b\,\sigma(W_a\,\sigma(z) + b_a) + b_b ,

where :math:`W_a, W_b` carry a *soft spectral norm* (:mod:`backbones.spectral_norm`).
``z -> z - G(z)`` is an invertible-ResNet block, so :meth:`ImplicitLayer.inverse` is explicit and
:meth:`ImplicitLayer.forward` inverts it by iteration.

The layer's options, validated once by :class:`ImplicitOptions`:
    * ``solver``: a solver of :mod:`backbones.solvers` (``'unroll'``, the authors' ``n_iter`` steps;
      ``'fixed_point'`` and ``'anderson'``, to a relative residual ``tol`` within ``max_iter``).
    * ``grad``: ``'unroll'`` (autograd through the iterations, or the equivalent hand-written backward
      of :class:`~backbones.gradients.UnrolledSolve`, ``recompute``), ``'implicit'`` (adjoint fixed point,
      solved by ``adjoint_solver``) or ``'phantom'`` (:mod:`backbones.gradients`).
    * the authors' recipe :data:`IMPLICIT_RECIPE` (``h_ratio=2``, ``n_iter=2``, ``coeff=0.9``,
      ``n_power=8``, GELU) is the default of every entry point of the project.

Every forward stores its statistics in ``layer.stats`` (tensors: the iterations run, the worst
finite residual, the count of non-finite samples, and after a backward with the implicit gradient the
adjoint residual) for :func:`collect_solver_stats`, which the runner's ``SolverStatsHook`` logs.
Convergence is judged per sample. A non-finite sample is never silent: the layer logs a rate-limited
warning naming itself and the count, or raises with ``nonfinite='raise'``. A convergent solve that
stops at ``max_iter`` above ``tol`` logs a warning with the residual.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, fields
from typing import Any, Dict, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from .gradients import UnrolledSolve, implicit_gradient, phantom_gradient, resolve_recompute
from .solvers import SOLVERS, SolverInfo, get_solver
from .spectral_norm import ACTIVATIONS, REFERENCE_COEFF, SpectralNormLinear, make_activation, resolve_coeff

logger = logging.getLogger("imixer")

#: the authors' published CIFAR-10 recipe for the implicit token mixer: the default everywhere
IMPLICIT_RECIPE: Dict[str, Any] = dict(h_ratio=2.0, n_iter=2, coeff=REFERENCE_COEFF, n_power=8, act="gelu")
GRADS = ("unroll", "implicit", "phantom")
RECOMPUTE = ("auto", "act", "all", None)
NONFINITE = ("warn", "raise")


@dataclass
class ImplicitOptions:
    """The options of :class:`ImplicitLayer`, checked once here (every entry point goes through it).

    Args:
        h_ratio: ``h``; ``W_a`` maps ``D -> hD`` and ``W_b`` maps ``hD -> D``.
        act: activation inside ``G`` (and after the solve in :class:`~backbones.token_mixers.ImplicitMLP`).
        coeff: spectral-norm cap ``c``. ``None``: the recipe's 0.9 in the authors' mode
            (``solver='unroll'``, ``grad='unroll'``), ``0.9 / Lip(act)`` where a contraction is needed
            (:func:`~backbones.spectral_norm.resolve_coeff`).
        n_power: power-iteration steps per training forward.
        solver: a name in :data:`~backbones.solvers.SOLVERS`.
        grad: ``'unroll'`` | ``'implicit'`` | ``'phantom'``; ``None``: ``'unroll'`` for the unrolled
            solver, ``'implicit'`` for the convergent ones.
        n_iter: steps of the unrolled solver.
        tol: relative-residual tolerance of the convergent solvers and of the adjoint solve.
        max_iter: iteration cap of the convergent solvers and of the adjoint solve.
        anderson_m: Anderson memory (``>= 2``), for ``solver`` or ``adjoint_solver`` ``'anderson'``.
        phantom_steps, phantom_damping: the phantom gradient's ``k`` and ``lambda``.
        recompute: backward of the authors' mode: ``'all'`` keeps ``z_k`` only and recomputes the hidden
            layer (the least memory), ``'act'`` recomputes only the activations, ``None`` is plain
            autograd; ``'auto'``: ``'all'`` on accelerators, ``None`` on the CPU
            (:func:`~backbones.gradients.resolve_recompute`). Same gradients in every case.
        adjoint_solver: solver of the implicit gradient's adjoint fixed point (default plain iteration).
        nonfinite: ``'warn'`` (rate-limited log line naming the layer and the count) or ``'raise'``
            (``FloatingPointError`` naming the non-finite samples and whether the input already was).
    """

    h_ratio: float = IMPLICIT_RECIPE["h_ratio"]
    act: str = IMPLICIT_RECIPE["act"]
    coeff: Optional[float] = None
    n_power: int = IMPLICIT_RECIPE["n_power"]
    solver: str = "unroll"
    grad: Optional[str] = None
    n_iter: int = IMPLICIT_RECIPE["n_iter"]
    tol: float = 1e-3
    max_iter: int = 30
    anderson_m: int = 5
    phantom_steps: int = 5
    phantom_damping: float = 0.5
    recompute: Optional[str] = "auto"
    adjoint_solver: str = "fixed_point"
    nonfinite: str = "warn"

    def __post_init__(self) -> None:
        def choice(name: str, allowed) -> None:
            if getattr(self, name) not in allowed:
                label = "activation" if name == "act" else name
                raise ValueError(f"unknown {label} {getattr(self, name)!r} ({name}=); choose one of {tuple(allowed)}")

        choice("solver", SOLVERS)
        choice("adjoint_solver", SOLVERS)
        choice("act", ACTIVATIONS)
        choice("recompute", RECOMPUTE)
        choice("nonfinite", NONFINITE)
        if self.grad is not None:
            choice("grad", GRADS)
        if self.grad == "unroll" and self.solver == "anderson":
            raise ValueError("grad='unroll' differentiates through the iterations; it works with "
                             "solver='unroll' or 'fixed_point'. With solver='anderson' use grad='implicit' "
                             "or 'phantom'.")
        for name in ("n_iter", "max_iter", "n_power", "phantom_steps"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.anderson_m < 2:
            raise ValueError(f"anderson_m must be >= 2 (Anderson mixes at least two past iterates), got "
                             f"{self.anderson_m}; use e.g. anderson_m=5, or solver='fixed_point'")
        if not self.tol > 0:
            raise ValueError(f"tol must be > 0, got {self.tol}")
        if not self.h_ratio > 0:
            raise ValueError(f"h_ratio must be > 0, got {self.h_ratio}")
        if not 0 < self.phantom_damping <= 1:
            raise ValueError(f"phantom_damping must be in (0, 1], got {self.phantom_damping}")
        resolve_coeff(self.coeff, self.solver, self.resolved_grad, self.act)

    @property
    def resolved_grad(self) -> str:
        return self.grad or ("unroll" if self.solver == "unroll" else "implicit")

    def solver_options(self, name: str) -> Dict[str, Any]:
        """Extra keyword arguments of the solver ``name`` (the Anderson memory)."""
        return dict(m=self.anderson_m) if name == "anderson" else {}

    @classmethod
    def keys(cls) -> Tuple[str, ...]:
        return tuple(f.name for f in fields(cls))


#: every option name of the implicit layer (what ``token_mixer=dict(type='implicit', ...)`` accepts)
IMPLICIT_KEYS: Tuple[str, ...] = ImplicitOptions.keys()


class ImplicitLayer(nn.Module):
    r"""The fixed point :math:`z^\star = u + G(z^\star)`, :math:`G(z) = W_b\sigma(W_a\sigma(z))`.

    This is the one implicit module of the project (see the module docstring for the maths). It maps
    the internal width ``dim`` to itself.

    Args:
        dim: internal width ``D`` of ``u`` and ``z``.
        **options: :class:`ImplicitOptions` (defaults: :data:`IMPLICIT_RECIPE`, the authors' unrolled mode).

    Attributes:
        dim, hidden, n_iter, coeff, solver, grad, tol, max_iter, ...: the resolved options.
        stats: the last forward's statistics (see :func:`collect_solver_stats`).
        name: how warnings and errors name the layer (set by :func:`name_implicit_layers`).

    Shapes:
        ``u``: ``(B, *, D)`` -> ``z*``: ``(B, *, D)``; convergence is judged per ``B`` sample.
    """

    def __init__(self, dim: int, device=None, dtype=None, **options) -> None:
        super().__init__()
        unknown = set(options) - set(IMPLICIT_KEYS)
        if unknown:
            raise TypeError(f"ImplicitLayer got unknown options {sorted(unknown)}; known: {list(IMPLICIT_KEYS)}")
        opts = ImplicitOptions(**options)
        hidden = int(dim * opts.h_ratio)
        if hidden < 1:
            raise ValueError(f"h_ratio={opts.h_ratio} gives an empty hidden layer for dim={dim}")
        self.options = opts
        self.dim, self.hidden = dim, hidden
        self.solver, self.grad, self.act_name = opts.solver, opts.resolved_grad, opts.act
        self.coeff = resolve_coeff(opts.coeff, self.solver, self.grad, self.act_name)
        self.n_iter, self.tol, self.max_iter = int(opts.n_iter), float(opts.tol), int(opts.max_iter)
        self.anderson_m = int(opts.anderson_m)
        self.phantom_steps, self.phantom_damping = int(opts.phantom_steps), float(opts.phantom_damping)
        self.recompute, self.adjoint_solver, self.nonfinite = opts.recompute, opts.adjoint_solver, opts.nonfinite
        factory = dict(device=device, dtype=dtype)
        self.fc_a = SpectralNormLinear(dim, hidden, self.coeff, opts.n_power, **factory)
        self.fc_b = SpectralNormLinear(hidden, dim, self.coeff, opts.n_power, **factory)
        self.act = make_activation(self.act_name)
        self.stats: Dict[str, torch.Tensor] = {}
        self.name = f"ImplicitLayer(dim={dim})"
        self._warned: Dict[str, int] = {}

    def extra_repr(self) -> str:
        it = f"n_iter={self.n_iter}, recompute={self.recompute!r}" if self.solver == "unroll" else \
            f"tol={self.tol}, max_iter={self.max_iter}"
        return (f"dim={self.dim}, hidden={self.hidden}, act={self.act_name!r}, coeff={self.coeff}, "
                f"solver={self.solver!r}, grad={self.grad!r}, {it}")

    # -- G and its inverse -------------------------------------------------------------------------
    def _weights(self, update: Optional[bool] = None):
        return (self.fc_a.normalized_weight(update), self.fc_a.bias,
                self.fc_b.normalized_weight(update), self.fc_b.bias)

    def _g(self, z: torch.Tensor, weights) -> torch.Tensor:
        wa, ba, wb, bb = weights
        return F.linear(self.act(F.linear(self.act(z), wa, ba)), wb, bb)

    def residual_map(self, z: torch.Tensor) -> torch.Tensor:
        """G(z) with the current normalised weights (no power-iteration update)."""
        with torch.no_grad():
            weights = self._weights(False)
        return self._g(z, weights)

    def inverse(self, z: torch.Tensor) -> torch.Tensor:
        """The explicit map ``(1 - G)(z) = z - G(z)``: ``inverse(forward(u)) == u`` up to ``tol``."""
        return z - self.residual_map(z)

    # -- forward -----------------------------------------------------------------------------------
    def forward(self, u: torch.Tensor) -> torch.Tensor:
        weights = self._weights()
        g = lambda z: self._g(z, weights)  # noqa: E731
        f = lambda z: u + g(z)  # noqa: E731
        recompute = resolve_recompute(self.recompute, u.device)
        solver = get_solver(self.solver)
        steps = dict(tol=self.tol, max_iter=self.n_iter if self.solver == "unroll" else self.max_iter,
                     **self.options.solver_options(self.solver))
        if self.grad == "unroll" and self.solver == "unroll" and recompute is not None and torch.is_grad_enabled():
            wa, ba, wb, bb = weights
            z, prev = UnrolledSolve.apply(u, wa, ba, wb, bb, self.n_iter, self.act_name, recompute)
            info = SolverInfo.from_last_step(z.detach(), prev.detach(), self.n_iter)
        elif self.grad == "unroll":  # autograd through every step (solver 'unroll' or 'fixed_point')
            z, info = solver(f, u, **steps)
        else:
            with torch.no_grad():
                z, info = solver(lambda z: u.detach() + g(z), u.detach(), **steps)
            z = self._attach_gradient(z, u, weights)
        self._record(info, u)
        return z

    def _attach_gradient(self, z_star: torch.Tensor, u: torch.Tensor, weights) -> torch.Tensor:
        """Re-attach the detached solution to the graph with the implicit or phantom gradient."""
        if not torch.is_grad_enabled() or not (u.requires_grad or any(
                w is not None and w.requires_grad for w in weights)):
            return z_star
        g = lambda z: self._g(z, weights)  # noqa: E731
        if self.grad == "phantom":
            return phantom_gradient(z_star, u, g, self.phantom_steps, self.phantom_damping)
        detached = tuple(None if w is None else w.detach() for w in weights)
        return implicit_gradient(z_star, u, g, lambda z: self._g(z, detached),
                                 adjoint_solver=self.adjoint_solver, tol=self.tol, max_iter=self.max_iter,
                                 on_solve=self._record_adjoint,
                                 solver_options=self.options.solver_options(self.adjoint_solver))

    # -- statistics and failures -------------------------------------------------------------------
    def _record(self, info: SolverInfo, u: torch.Tensor) -> None:
        worst = info.worst_residual().detach().float()
        count = info.nonfinite.sum()
        self.stats = {"iters": torch.tensor(float(info.steps)), "residual": worst, "nonfinite": count}
        if torch.compiler.is_compiling():  # no host sync inside a compiled graph: the count is logged
            return                         # by SolverStatsHook (solver_nonfinite) instead
        n_bad = int(count)  # the one host sync of the unrolled mode
        if n_bad:
            self._report_nonfinite(n_bad, info.nonfinite, u, "forward")
        if self.solver != "unroll" and info.steps >= self.max_iter and worst.item() >= self.tol:
            self._warn("max_iter", f"{self.name}: fixed-point solve stopped at max_iter={self.max_iter} with "
                                   f"relative residual {worst.item():.3e} > tol={self.tol} ({self.solver}); "
                                   "raise max_iter or lower coeff")

    def _record_adjoint(self, info: SolverInfo) -> None:
        worst = info.worst_residual().detach().float()
        self.stats["adjoint_residual"] = worst
        self.stats["adjoint_iters"] = torch.tensor(float(info.steps))
        n_bad = int(info.nonfinite.sum())
        if n_bad:
            self._report_nonfinite(n_bad, info.nonfinite, None, "adjoint (backward)")
        if self.adjoint_solver != "unroll" and info.steps >= self.max_iter and worst.item() >= self.tol:
            self._warn("adjoint", f"{self.name}: adjoint solve ({self.adjoint_solver}) stopped at max_iter="
                                  f"{self.max_iter} with relative residual {worst.item():.3e} > tol={self.tol}")

    def _report_nonfinite(self, n_bad: int, mask: torch.Tensor, u: Optional[torch.Tensor], where: str) -> None:
        idx = mask.nonzero().flatten().tolist()
        shown = ", ".join(map(str, idx[:8])) + (", ..." if len(idx) > 8 else "")
        if u is not None:
            bad_in = (~torch.isfinite(u.detach().flatten(1)).all(1))[mask]
            cause = ("the layer's input was already non-finite there" if bool(bad_in.all()) else
                     "the input was finite for some: the iteration diverged there (lower coeff, a convergent "
                     "solver, or check the learning rate)")
        else:
            cause = "the incoming gradient or the Jacobian product is non-finite"
        msg = (f"{self.name}: {n_bad} of {mask.numel()} samples non-finite in the {where} solve "
               f"(batch indices {shown}); {cause}")
        if self.nonfinite == "raise":
            raise FloatingPointError(msg + " [nonfinite='raise']")
        self._warn("nonfinite", msg + "; the other samples are unaffected (nonfinite='raise' stops here)")

    def _warn(self, kind: str, msg: str) -> None:
        """Log the first occurrence of each kind, then every 100th (with the count)."""
        seen = self._warned.get(kind, 0)
        if seen % 100 == 0:
            logger.warning(msg + (f" [seen {seen} times before]" if seen else ""))
        self._warned[kind] = seen + 1


def name_implicit_layers(model: nn.Module, prefix: str = "") -> None:
    """Name every :class:`ImplicitLayer` of ``model`` by its module path (used in warnings and errors)."""
    for name, module in model.named_modules():
        if isinstance(module, ImplicitLayer):
            module.name = f"{prefix}{name}" if name else (prefix.rstrip(".") or module.name)


def collect_solver_stats(model: nn.Module, clear: bool = True) -> Dict[str, float]:
    """Solver statistics of every :class:`ImplicitLayer` that ran since the last call.

    Returns ``solver_iters`` (iterations, mean over the layers), ``solver_iters_max``, ``solver_residual`` (worst finite
    relative residual), ``solver_nonfinite`` (non-finite samples, summed over layers), and after an
    implicit-gradient backward ``solver_adjoint_residual`` / ``solver_adjoint_iters``; empty when no
    implicit layer ran. ``clear`` (default) empties what it read, so the next call reports only
    forwards made after this one.
    """
    rows = []
    for m in model.modules():
        if isinstance(m, ImplicitLayer) and m.stats:
            rows.append({k: v.detach().float().cpu().reshape(()) for k, v in m.stats.items()})
            if clear:
                m.stats = {}
    if not rows:
        return {}
    col = lambda key: torch.stack([r[key] for r in rows if key in r])  # noqa: E731
    out = {"solver_iters": col("iters").mean().item(), "solver_iters_max": col("iters").max().item(),
           "solver_residual": col("residual").max().item(), "solver_nonfinite": col("nonfinite").sum().item()}
    if any("adjoint_residual" in r for r in rows):
        out["solver_adjoint_residual"] = col("adjoint_residual").max().item()
        out["solver_adjoint_iters"] = col("adjoint_iters").mean().item()
    return out


__all__ = ["IMPLICIT_RECIPE", "IMPLICIT_KEYS", "ImplicitOptions", "ImplicitLayer", "collect_solver_stats",
           "name_implicit_layers", "GRADS", "RECOMPUTE", "NONFINITE"]
