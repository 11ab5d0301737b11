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

:class:`FixedPointLayer` is the DEQ machinery every implicit layer shares (the spectral-norm
:class:`ImplicitLayer` here, the monotone-operator layer of :mod:`backbones.monotone`); its options,
validated once by :class:`SolveOptions`, follow torchdeq's (Geng & Kolter, 2023):

    * forward solve: ``solver`` (a solver of :mod:`backbones.solvers`: ``'unroll'``, the authors'
      ``n_iter`` steps; ``'fixed_point'``, ``'anderson'``, ``'broyden'``, to a relative residual ``tol``
      within ``max_iter``; ``eval_max_iter`` in eval mode), ``solver_kwargs``;
    * backward: ``grad`` ``'unroll'`` (autograd through the iterations), ``'implicit'`` (the adjoint fixed
      point, solved by ``adjoint_solver`` to ``adjoint_tol`` within ``adjoint_max_iter``, with
      ``adjoint_solver_kwargs``) or ``'phantom'``; the fixed-point correction ``fp_correction``;
    * regularisation and diagnostics: the Jacobian penalty ``jac_reg`` (Hutchinson), the Jacobian's
      spectral radius ``spectral_radius``;
    * the authors' recipe :data:`IMPLICIT_RECIPE` (``h_ratio=2``, ``n_iter=2``, ``coeff=0.9``,
      ``n_power=8``, GELU) is the default of every entry point of the project.

Every forward stores its statistics in ``layer.stats`` (tensors: the iterations run, the worst
finite residual, the count of non-finite samples, and after a backward with the implicit gradient the
adjoint residual; the Jacobian penalty's estimate and the spectral radius when asked) for
:func:`collect_solver_stats`, which the runner's ``SolverStatsHook`` logs. Convergence is judged per
sample. A non-finite sample is never silent: the layer logs a rate-limited warning naming itself and
the count, or raises with ``nonfinite='raise'``. A convergent solve that stops at its cap above its
tolerance logs a warning with the residual.
"""
from __future__ import annotations

import functools
import logging
import weakref
from dataclasses import dataclass, fields
from typing import Any, Callable, Dict, List, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from .gradients import (UnrolledSolve, correction_weights, implicit_gradient, phantom_gradient, resolve_recompute,
                        sample_indices)
from .relative import RelativeSpectralNormLinear
from .solvers import SOLVERS, SolverInfo, get_solver, is_differentiable, solver_kwargs
from .spectral_norm import (ACT_FUNCTIONS, ACT_SLOPES, ACTIVATIONS, REFERENCE_COEFF, SpectralNormLinear,
                            make_activation, resolve_coeff)

logger = logging.getLogger("imixer")

#: the authors' published CIFAR-10 recipe for the implicit token mixer: the default everywhere
IMPLICIT_RECIPE: Dict[str, Any] = dict(h_ratio=2.0, n_iter=2, coeff=REFERENCE_COEFF, n_power=8, act="gelu")
GRADS = ("unroll", "implicit", "phantom")
RECOMPUTE = ("auto", "act", "all", None)
NONFINITE = ("warn", "raise")


@dataclass
class SolveOptions:
    """The solve, gradient and regularisation options of every :class:`FixedPointLayer`, checked once.

    Args:
        solver: forward solver, a name in :data:`~backbones.solvers.SOLVERS`.
        grad: ``'unroll'`` | ``'implicit'`` | ``'phantom'``; ``None``: ``'unroll'`` for the unrolled
            solver, ``'implicit'`` for the convergent ones.
        n_iter: steps of the unrolled solver.
        tol: relative-residual tolerance of the forward solve (and of the adjoint solve unless
            ``adjoint_tol`` is given).
        max_iter: iteration cap of the forward solve in training mode (and of the adjoint solve unless
            ``adjoint_max_iter`` is given).
        eval_max_iter: the forward cap in eval mode (torchdeq's ``eval_factor * f_max_iter``); ``None``:
            ``max_iter``. Convergent solvers only (``solver='unroll'`` runs ``n_iter`` steps).
        solver_kwargs: keyword arguments of the forward solver, checked against the ones it registered
            (:func:`~backbones.solvers.solver_kwargs`), e.g. ``dict(m=5)`` for ``'anderson'``.
        anderson_m: the Anderson memory, an alias of ``solver_kwargs=dict(m=...)`` kept for existing
            configs; it sets ``m`` of whichever solve (forward, adjoint) uses ``'anderson'``.
        adjoint_solver: solver of the implicit gradient's adjoint fixed point (default plain iteration).
        adjoint_tol, adjoint_max_iter: its tolerance and cap; ``None``: ``tol`` / ``max_iter``.
        adjoint_solver_kwargs: its keyword arguments; ``None``: ``solver_kwargs`` when it is the forward
            solver, else that solver's defaults.
        phantom_steps, phantom_damping: the phantom gradient's ``k`` and ``lambda``.
        fp_correction: fixed-point correction: the number of states of the forward trajectory (evenly
            spaced, the solution last) at which the gradient (``'implicit'`` or ``'phantom'``) is attached;
            ``1`` (default) is the plain gradient at the solution.
        fp_correction_gamma: state ``j`` of ``n`` weighs ``gamma^(n-1-j)``, normalised to sum 1.
        jac_reg: weight of the Jacobian penalty :math:`\\|J_f(z^\\star)\\|_F^2 / d` (Hutchinson estimate,
            one Gaussian probe per sample; Bai, Koltun & Kolter, ICML 2021), added to the training loss;
            0 (default) is off.
        jac_reg_freq: share of training forwards that compute it, in (0, 1] (deterministic: the term is
            due whenever the running sum of ``jac_reg_freq`` passes an integer; every forward under
            ``torch.compile``).
        spectral_radius: power-method steps for the spectral radius of :math:`J_f(z^\\star)` reported in
            the statistics (``solver_spectral_radius``); 0 (default) is off.
        nonfinite: ``'warn'`` (rate-limited log line naming the layer and the count) or ``'raise'``
            (``FloatingPointError`` naming the non-finite samples and whether the input already was).
    """

    solver: str = "unroll"
    grad: Optional[str] = None
    n_iter: int = IMPLICIT_RECIPE["n_iter"]
    tol: float = 1e-3
    max_iter: int = 30
    eval_max_iter: Optional[int] = None
    solver_kwargs: Optional[Dict[str, Any]] = None
    anderson_m: Optional[int] = None
    adjoint_solver: str = "fixed_point"
    adjoint_tol: Optional[float] = None
    adjoint_max_iter: Optional[int] = None
    adjoint_solver_kwargs: Optional[Dict[str, Any]] = None
    phantom_steps: int = 5
    phantom_damping: float = 0.5
    fp_correction: int = 1
    fp_correction_gamma: float = 0.8
    jac_reg: float = 0.0
    jac_reg_freq: float = 1.0
    spectral_radius: int = 0
    nonfinite: str = "warn"

    def _choice(self, name: str, allowed) -> None:
        if getattr(self, name) not in allowed:
            label = "activation" if name == "act" else name
            raise ValueError(f"unknown {label} {getattr(self, name)!r} ({name}=); choose one of {tuple(allowed)}")

    def __post_init__(self) -> None:
        self._choice("solver", SOLVERS)
        self._choice("adjoint_solver", SOLVERS)
        self._choice("nonfinite", NONFINITE)
        if self.grad is not None:
            self._choice("grad", GRADS)
        if self.resolved_grad == "unroll" and not is_differentiable(self.solver):
            raise ValueError(f"grad='unroll' differentiates through the iterations; it works with "
                             f"solver='unroll' or 'fixed_point'. With solver={self.solver!r} use grad='implicit' "
                             "or 'phantom'.")
        for name in ("n_iter", "max_iter", "phantom_steps", "fp_correction"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("eval_max_iter", "adjoint_max_iter"):
            if getattr(self, name) is not None and int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1 (or None for max_iter), got {getattr(self, name)}")
        if self.eval_max_iter is not None and self.solver == "unroll":
            raise ValueError("eval_max_iter caps a convergent solver at evaluation; solver='unroll' runs n_iter "
                             "steps in every mode (drop eval_max_iter, or use solver='fixed_point')")
        for name in ("tol", "adjoint_tol"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"{name} must be > 0, got {value}")
        if not 0 < self.phantom_damping <= 1:
            raise ValueError(f"phantom_damping must be in (0, 1], got {self.phantom_damping}")
        if not 0 < self.fp_correction_gamma <= 1:
            raise ValueError(f"fp_correction_gamma must be in (0, 1], got {self.fp_correction_gamma}")
        if self.fp_correction > 1 and self.resolved_grad == "unroll":
            raise ValueError("fp_correction attaches the implicit or phantom gradient at sampled states; with "
                             "grad='unroll' use grad='implicit' or 'phantom' (or fp_correction=1)")
        if not self.jac_reg >= 0:
            raise ValueError(f"jac_reg (the Jacobian penalty's weight) must be >= 0, got {self.jac_reg}")
        if not 0 < self.jac_reg_freq <= 1:
            raise ValueError(f"jac_reg_freq (share of training forwards) must be in (0, 1], got {self.jac_reg_freq}")
        if int(self.spectral_radius) < 0:
            raise ValueError(f"spectral_radius (power-method steps, 0 = off) must be >= 0, got {self.spectral_radius}")
        self._forward_kwargs, self._adjoint_kwargs = self._resolve_kwargs()

    def _resolve_kwargs(self) -> Tuple[Dict[str, Any], Dict[str, Any]]:
        fwd = dict(self.solver_kwargs or {})
        if self.adjoint_solver_kwargs is not None:
            adj = dict(self.adjoint_solver_kwargs)
        else:
            adj = dict(fwd) if self.adjoint_solver == self.solver else {}
        if self.anderson_m is not None:
            if "anderson" not in (self.solver, self.adjoint_solver):
                raise ValueError(f"anderson_m={self.anderson_m} is the memory of solver='anderson', but neither "
                                 f"solver ({self.solver!r}) nor adjoint_solver ({self.adjoint_solver!r}) is "
                                 "'anderson'; drop it")
            if self.anderson_m < 2:
                raise ValueError(f"anderson_m must be >= 2 (Anderson mixes at least two past iterates), got "
                                 f"{self.anderson_m}; use e.g. anderson_m=5, or solver='fixed_point'")
            for name, kw in (("solver", fwd), ("adjoint_solver", adj)):
                if getattr(self, name) != "anderson":
                    continue
                if kw.get("m", self.anderson_m) != self.anderson_m:
                    raise ValueError(f"anderson_m={self.anderson_m} and {name}_kwargs m={kw['m']} disagree; "
                                     f"state the memory once, in solver_kwargs=dict(m=...)")
                kw["m"] = int(self.anderson_m)
        return (solver_kwargs(self.solver, fwd, "solver_kwargs"),
                solver_kwargs(self.adjoint_solver, adj, "adjoint_solver_kwargs"))

    @property
    def resolved_grad(self) -> str:
        return self.grad or ("unroll" if self.solver == "unroll" else "implicit")

    def forward_kwargs(self) -> Dict[str, Any]:
        """The forward solver's keyword arguments, its defaults included (validated)."""
        return dict(self._forward_kwargs)

    def adjoint_kwargs(self) -> Dict[str, Any]:
        """The adjoint solver's keyword arguments, its defaults included (validated)."""
        return dict(self._adjoint_kwargs)

    @classmethod
    def keys(cls) -> Tuple[str, ...]:
        return tuple(f.name for f in fields(cls))


@dataclass
class ImplicitOptions(SolveOptions):
    """The options of :class:`ImplicitLayer`, checked once here (every entry point goes through it):
    those of :class:`SolveOptions` and the spectral-norm map's.

    Args:
        h_ratio: ``h``; ``W_a`` maps ``D -> hD`` and ``W_b`` maps ``hD -> D``.
        act: activation inside ``G`` (and after the solve in :class:`~backbones.token_mixers.ImplicitMLP`).
        coeff: spectral-norm cap ``c``. ``None``: the recipe's 0.9 in the authors' mode
            (``solver='unroll'``, ``grad='unroll'``), ``0.9 / Lip(act)`` where a contraction is needed
            (:func:`~backbones.spectral_norm.resolve_coeff`).
        n_power: power-iteration steps per training forward.
        recompute: backward of the authors' mode: ``'all'`` keeps ``z_k`` only and recomputes the hidden
            layer (the least memory), ``'act'`` recomputes only the activations, ``None`` is plain
            autograd; ``'auto'``: ``'all'`` on accelerators, ``None`` on the CPU
            (:func:`~backbones.gradients.resolve_recompute`). Same gradients in every case.
        **solve: :class:`SolveOptions`.
    """

    h_ratio: float = IMPLICIT_RECIPE["h_ratio"]
    act: str = IMPLICIT_RECIPE["act"]
    coeff: Optional[float] = None
    n_power: int = IMPLICIT_RECIPE["n_power"]
    recompute: Optional[str] = "auto"

    def __post_init__(self) -> None:
        super().__post_init__()
        self._choice("act", ACTIVATIONS)
        self._choice("recompute", RECOMPUTE)
        if int(self.n_power) < 1:
            raise ValueError(f"n_power must be >= 1, got {self.n_power}")
        if not self.h_ratio > 0:
            raise ValueError(f"h_ratio must be > 0, got {self.h_ratio}")
        resolve_coeff(self.coeff, self.solver, self.resolved_grad, self.act)


#: every option name of the implicit layer (what ``token_mixer=dict(type='implicit', ...)`` accepts)
IMPLICIT_KEYS: Tuple[str, ...] = ImplicitOptions.keys()


@dataclass
class FixedPointMap:
    """One forward's fixed-point problem ``z = f(z)``, built by :meth:`FixedPointLayer.fixed_point_map`.

    Attributes:
        f: ``z -> f(z)`` with the layer input and the parameters in the graph.
        f_detached: the same map with detached parameters (the adjoint's Jacobian-vector products).
        jvp: ``(z, v) -> J_f(z) v`` in differentiable ops, the parameters in the graph.
        z0: the default start of the solve.
        needs_grad: whether anything in ``f`` requires a gradient.
        readout: the layer's output from the solution (identity when the state is the output).
    """

    f: Callable[[torch.Tensor], torch.Tensor]
    f_detached: Callable[[torch.Tensor], torch.Tensor]
    jvp: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    z0: torch.Tensor
    needs_grad: bool
    readout: Callable[[torch.Tensor], torch.Tensor] = lambda z: z  # noqa: E731


class FixedPointLayer(nn.Module):
    """What every implicit layer shares: the solve, its gradient, the fixed-point correction, the
    Jacobian penalty and spectral radius, the statistics and the non-finite / non-convergence reports.

    A subclass defines :meth:`fixed_point_map` (and may take over the authors' unrolled mode with
    :meth:`_fused_solve`). See :class:`SolveOptions` for the options.

    Attributes:
        stats: the last forward's statistics (see :func:`collect_solver_stats`).
        jac_loss: the weighted Jacobian penalty of the last training forward (``None`` when not due);
            taken by :func:`collect_jacobian_loss`.
        name: how warnings and errors name the layer (set by :func:`name_implicit_layers`).
    """

    #: what the non-convergence warning and the divergence report suggest
    convergence_hint = "raise max_iter"
    divergence_hint = "check the learning rate"

    def _init_solve(self, opts: SolveOptions) -> None:
        self.options = opts
        self.solver, self.grad = opts.solver, opts.resolved_grad
        self.n_iter, self.tol, self.max_iter = int(opts.n_iter), float(opts.tol), int(opts.max_iter)
        self.eval_max_iter = None if opts.eval_max_iter is None else int(opts.eval_max_iter)
        self.solver_kwargs = opts.forward_kwargs()
        self.adjoint_solver = opts.adjoint_solver
        self.adjoint_tol = float(opts.tol if opts.adjoint_tol is None else opts.adjoint_tol)
        self.adjoint_max_iter = int(opts.max_iter if opts.adjoint_max_iter is None else opts.adjoint_max_iter)
        self.adjoint_solver_kwargs = opts.adjoint_kwargs()
        self.phantom_steps, self.phantom_damping = int(opts.phantom_steps), float(opts.phantom_damping)
        self.fp_correction, self.fp_correction_gamma = int(opts.fp_correction), float(opts.fp_correction_gamma)
        self.jac_reg, self.jac_reg_freq = float(opts.jac_reg), float(opts.jac_reg_freq)
        self.spectral_radius = int(opts.spectral_radius)
        self.nonfinite = opts.nonfinite
        self.stats: Dict[str, torch.Tensor] = {}
        self.jac_loss: Optional[torch.Tensor] = None
        self._jac_due_sum = 0.0
        self._warned: Dict[str, int] = {}

    # -- what a subclass provides ------------------------------------------------------------------
    def fixed_point_map(self, u: torch.Tensor) -> FixedPointMap:  # pragma: no cover - abstract
        raise NotImplementedError

    def _fused_solve(self, u: torch.Tensor) -> Optional[Tuple[torch.Tensor, SolverInfo, FixedPointMap]]:
        """The authors' mode done by a hand-written function (the solution, its information and the map
        at the same weights), or ``None`` for the generic path."""
        return None

    # -- forward -----------------------------------------------------------------------------------
    def current_max_iter(self) -> int:
        """The forward solve's cap in the current mode (``eval_max_iter`` in eval mode, when set)."""
        if self.solver == "unroll":
            return self.n_iter
        return self.eval_max_iter if (not self.training and self.eval_max_iter) else self.max_iter

    def forward(self, u: torch.Tensor, z0: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Solve the layer's fixed point for input ``u``, from ``z0`` (default: the layer's start)."""
        fused = self._fused_solve(u) if z0 is None and self.grad == "unroll" else None
        if fused is not None:
            z, info, fmap = fused
            self._record(info, u)
            self._diagnose(z, fmap)
            return z
        fmap = self.fixed_point_map(u)
        start = fmap.z0 if z0 is None else z0
        cap = self.current_max_iter()
        solver = get_solver(self.solver)
        steps = dict(tol=self.tol, max_iter=cap, **self.solver_kwargs)
        if self.grad == "unroll":  # autograd through every step (solver 'unroll' or 'fixed_point')
            z, info = solver(fmap.f, start, **steps)
        else:
            attach = torch.is_grad_enabled() and fmap.needs_grad
            trajectory: List[torch.Tensor] = []
            f = fmap.f
            if attach and self.fp_correction > 1:
                def f(z: torch.Tensor, _f=fmap.f) -> torch.Tensor:  # noqa: E306
                    trajectory.append(z)
                    return _f(z)
            with torch.no_grad():
                z, info = solver(f, start.detach(), **steps)
            if attach:
                z = self._attach_gradient(z, fmap, trajectory)
        self._record(info, u)
        self._diagnose(z, fmap)
        return fmap.readout(z)

    def _attach(self, state: torch.Tensor, fmap: FixedPointMap, on_solve: Optional[Callable]) -> torch.Tensor:
        if self.grad == "phantom":
            return phantom_gradient(state, fmap.f, self.phantom_steps, self.phantom_damping)
        return implicit_gradient(state, fmap.f, fmap.f_detached, adjoint_solver=self.adjoint_solver,
                                 tol=self.adjoint_tol, max_iter=self.adjoint_max_iter, on_solve=on_solve,
                                 solver_kwargs=self.adjoint_solver_kwargs)

    def _attach_gradient(self, z_star: torch.Tensor, fmap: FixedPointMap,
                         trajectory: List[torch.Tensor]) -> torch.Tensor:
        """Re-attach the detached solution with the implicit or phantom gradient; with
        ``fp_correction = n > 1`` the gradient is the weighted mean of the gradients attached at ``n``
        states of the trajectory (the solution last), its value stays the solution's."""
        out = self._attach(z_star, fmap, self._record_adjoint)
        if self.fp_correction == 1 or len(trajectory) < 2:
            return out
        picks = sample_indices(len(trajectory), self.fp_correction)[:-1]  # the last pick is the solution
        weights = correction_weights(len(picks) + 1, self.fp_correction_gamma)
        out = out.detach() + weights[-1] * (out - out.detach())
        for w, k in zip(weights[:-1], picks):
            extra = self._attach(trajectory[k].detach(), fmap, None)
            out = out + w * (extra - extra.detach())
        return out

    # -- Jacobian penalty and spectral radius --------------------------------------------------------
    def _jac_due(self) -> bool:
        if self.jac_reg_freq >= 1.0 or torch.compiler.is_compiling():
            return True
        self._jac_due_sum += self.jac_reg_freq
        if self._jac_due_sum >= 1.0:
            self._jac_due_sum -= 1.0
            return True
        return False

    def _diagnose(self, z: torch.Tensor, fmap: FixedPointMap) -> None:
        self.jac_loss = None
        want_jac = self.jac_reg > 0 and self.training and torch.is_grad_enabled()
        if not (want_jac or self.spectral_radius):
            return
        z_star = z.detach()
        finite = torch.isfinite(z_star.flatten(1)).all(1)
        z_safe = torch.where(finite.reshape((-1,) + (1,) * (z_star.dim() - 1)), z_star, torch.zeros_like(z_star))
        if want_jac and self._jac_due():
            penalty = jacobian_penalty(fmap.jvp, z_safe, finite)
            self.jac_loss = self.jac_reg * penalty
            self.stats["jac"] = penalty.detach()
        if self.spectral_radius:
            with torch.no_grad():
                rho = spectral_radius(fmap.jvp, z_safe, self.spectral_radius)
            self.stats["spectral_radius"] = torch.where(finite, rho, torch.zeros_like(rho)).max().float()

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
        cap = self.current_max_iter()
        if self.solver != "unroll" and info.steps >= cap and worst.item() >= self.tol:
            self._warn("max_iter", f"{self.name}: fixed-point solve stopped at max_iter={cap} with "
                                   f"relative residual {worst.item():.3e} > tol={self.tol} ({self.solver}); "
                                   f"{self.convergence_hint}")

    def _record_adjoint(self, info: SolverInfo) -> None:
        worst = info.worst_residual().detach().float()
        self.stats["adjoint_residual"] = worst
        self.stats["adjoint_iters"] = torch.tensor(float(info.steps))
        n_bad = int(info.nonfinite.sum())
        if n_bad:
            self._report_nonfinite(n_bad, info.nonfinite, None, "adjoint (backward)")
        if self.adjoint_solver != "unroll" and info.steps >= self.adjoint_max_iter and worst.item() >= self.adjoint_tol:
            self._warn("adjoint", f"{self.name}: adjoint solve ({self.adjoint_solver}) stopped at adjoint_max_iter="
                                  f"{self.adjoint_max_iter} with relative residual {worst.item():.3e} > "
                                  f"adjoint_tol={self.adjoint_tol}")

    def _report_nonfinite(self, n_bad: int, mask: torch.Tensor, u: Optional[torch.Tensor], where: str) -> None:
        idx = mask.nonzero().flatten().tolist()
        shown = ", ".join(map(str, idx[:8])) + (", ..." if len(idx) > 8 else "")
        if u is not None:
            bad_in = (~torch.isfinite(u.detach().flatten(1)).all(1))[mask]
            cause = ("the layer's input was already non-finite there" if bool(bad_in.all()) else
                     f"the input was finite for some: the iteration diverged there ({self.divergence_hint})")
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


def jacobian_penalty(jvp: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], z: torch.Tensor,
                     finite: Optional[torch.Tensor] = None) -> torch.Tensor:
    r"""Hutchinson's estimate of :math:`\|J\|_F^2 / d`, averaged over the (finite) samples.

    With one Gaussian probe :math:`\epsilon \sim N(0, I)` per sample, :math:`E\|J\epsilon\|^2 =
    \mathrm{tr}(J^\top J) = \|J\|_F^2` (Hutchinson 1989; used for DEQs by Bai, Koltun & Kolter,
    "Stabilizing equilibrium models by Jacobian regularization", ICML 2021). ``jvp`` is written in
    differentiable ops, so the estimate's gradient is ordinary first-order autograd (no
    ``create_graph`` double backward): it works under ``torch.compile`` and in float64 gradcheck.

    Args:
        jvp: ``(z, v) -> J(z) v``.
        z: ``(B, *)`` the point (the fixed point, detached).
        finite: ``(B,)`` samples to average over (default all).
    """
    eps = torch.randn_like(z)
    per = jvp(z, eps).flatten(1).square().sum(1) / z[0].numel()
    if finite is None:
        return per.mean()
    per = torch.where(finite, per, torch.zeros_like(per))
    return per.sum() / finite.sum().clamp_min(1)


def spectral_radius(jvp: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], z: torch.Tensor,
                    steps: int) -> torch.Tensor:
    r"""Power-method estimate of each sample's spectral radius :math:`\rho(J(z_b))`, ``(B,)``.

    ``steps`` iterations :math:`v \leftarrow Jv / \|Jv\|` from a Gaussian start; the estimate is
    :math:`\|J v\|` for the last unit :math:`v` (exact in the limit when one eigenvalue dominates in
    modulus; a lower bound on :math:`\|J\|_2` in any case). Below 1 the solve converges locally.
    """
    v = torch.randn_like(z)
    v = v / v.flatten(1).norm(dim=1).clamp_min(1e-30).reshape((-1,) + (1,) * (z.dim() - 1))
    rho = torch.zeros(z.shape[0], dtype=z.dtype, device=z.device)
    for _ in range(steps):
        jv = jvp(z, v)
        rho = jv.flatten(1).norm(dim=1)
        v = jv / rho.clamp_min(1e-30).reshape((-1,) + (1,) * (z.dim() - 1))
    return rho


class ImplicitLayer(FixedPointLayer):
    r"""The fixed point :math:`z^\star = u + G(z^\star)`, :math:`G(z) = W_b\sigma(W_a\sigma(z))`.

    This is the one implicit module of the iMixer (see the module docstring for the maths). It maps
    the internal width ``dim`` to itself.

    Args:
        dim: internal width ``D`` of ``u`` and ``z``.
        grid: ``w`` or ``(h, w)``: ``dim`` is ``m`` maps of an ``h x w`` token grid, and ``W_a``, ``W_b`` are
            shared over its relative offsets (:mod:`backbones.relative`); ``None``: full matrices.
        radius: with ``grid``, the largest offset a weight spans (``None``: all).
        causal: with ``grid``, only the past offsets (row-major) have weights, so ``G`` is causal.
        **options: :class:`ImplicitOptions` (defaults: :data:`IMPLICIT_RECIPE`, the authors' unrolled mode).

    Attributes:
        dim, hidden, n_iter, coeff, solver, grad, tol, max_iter, ...: the resolved options.
        stats: the last forward's statistics (see :func:`collect_solver_stats`).
        name: how warnings and errors name the layer (set by :func:`name_implicit_layers`).

    Shapes:
        ``u``: ``(B, *, D)`` -> ``z*``: ``(B, *, D)``; convergence is judged per ``B`` sample.
    """

    convergence_hint = "raise max_iter or lower coeff"
    divergence_hint = "lower coeff, a convergent solver, or check the learning rate"

    def __init__(self, dim: int, device=None, dtype=None, grid=None, radius=None, causal: bool = False,
                 **options) -> None:
        super().__init__()
        unknown = set(options) - set(IMPLICIT_KEYS)
        if unknown:
            raise TypeError(f"ImplicitLayer got unknown options {sorted(unknown)}; known: {list(IMPLICIT_KEYS)}")
        opts = ImplicitOptions(**options)
        hidden = int(dim * opts.h_ratio)
        if hidden < 1:
            raise ValueError(f"h_ratio={opts.h_ratio} gives an empty hidden layer for dim={dim}")
        self._init_solve(opts)
        self.dim, self.hidden, self.act_name = dim, hidden, opts.act
        self.coeff = resolve_coeff(opts.coeff, self.solver, self.grad, self.act_name)
        self.anderson_m = int(self.solver_kwargs.get("m", self.adjoint_solver_kwargs.get("m", 5)))
        self.recompute = opts.recompute
        factory = dict(device=device, dtype=dtype)
        # with a grid, the weights are shared over its relative offsets (backbones.relative)
        if causal and grid is None:
            raise ValueError("ImplicitLayer(causal=True) needs a grid (relative weights that keep the past offsets); "
                             "full causal matrices are masked by the token mixer (set_mask)")
        linear = SpectralNormLinear if grid is None else functools.partial(RelativeSpectralNormLinear, grid,
                                                                           radius=radius, causal=causal)
        self.fc_a = linear(dim, hidden, self.coeff, opts.n_power, **factory)
        self.fc_b = linear(hidden, dim, self.coeff, opts.n_power, **factory)
        self.act = make_activation(self.act_name)
        self.name = f"ImplicitLayer(dim={dim})"

    def extra_repr(self) -> str:
        it = f"n_iter={self.n_iter}, recompute={self.recompute!r}" if self.solver == "unroll" else \
            f"tol={self.tol}, max_iter={self.max_iter}"
        return (f"dim={self.dim}, hidden={self.hidden}, act={self.act_name!r}, coeff={self.coeff}, "
                f"solver={self.solver!r}, grad={self.grad!r}, {it}")

    # -- G and its inverse -------------------------------------------------------------------------
    def _weights(self, update: Optional[bool] = None):
        return (self.fc_a.normalized_weight(update), self.fc_a.effective_bias(),
                self.fc_b.normalized_weight(update), self.fc_b.effective_bias())

    def _g(self, z: torch.Tensor, weights) -> torch.Tensor:
        wa, ba, wb, bb = weights
        return F.linear(self.act(F.linear(self.act(z), wa, ba)), wb, bb)

    def _g_jvp(self, z: torch.Tensor, v: torch.Tensor, weights) -> torch.Tensor:
        r""":math:`J_G(z) v = W_b\,(\sigma'(a) \odot W_a (\sigma'(z) \odot v))`, :math:`a = W_a\sigma(z) + b_a`."""
        wa, ba, wb, _ = weights
        fn, slope = ACT_FUNCTIONS[self.act_name], ACT_SLOPES[self.act_name]
        a = F.linear(fn(z), wa, ba)
        return F.linear(slope(a) * F.linear(slope(z) * v, wa), wb)

    def residual_map(self, z: torch.Tensor) -> torch.Tensor:
        """G(z) with the current normalised weights (no power-iteration update)."""
        with torch.no_grad():
            weights = self._weights(False)
        return self._g(z, weights)

    def inverse(self, z: torch.Tensor) -> torch.Tensor:
        """The explicit map ``(1 - G)(z) = z - G(z)``: ``inverse(forward(u)) == u`` up to ``tol``."""
        return z - self.residual_map(z)

    # -- the fixed-point problem -------------------------------------------------------------------
    def fixed_point_map(self, u: torch.Tensor, weights=None) -> FixedPointMap:
        """``f(z) = u + G(z)``, starting from ``z_0 = u`` (the authors' start)."""
        weights = self._weights() if weights is None else weights
        detached = tuple(None if w is None else w.detach() for w in weights)
        u_det = u.detach()
        needs_grad = u.requires_grad or any(w is not None and w.requires_grad for w in weights)
        return FixedPointMap(f=lambda z: u + self._g(z, weights), f_detached=lambda z: u_det + self._g(z, detached),
                             jvp=lambda z, v: self._g_jvp(z, v, weights), z0=u, needs_grad=needs_grad)

    def _fused_solve(self, u: torch.Tensor) -> Optional[Tuple[torch.Tensor, SolverInfo, FixedPointMap]]:
        recompute = resolve_recompute(self.recompute, u.device)
        if self.solver != "unroll" or recompute is None or not torch.is_grad_enabled():
            return None
        weights = self._weights()
        wa, ba, wb, bb = weights
        z, prev = UnrolledSolve.apply(u, wa, ba, wb, bb, self.n_iter, self.act_name, recompute)
        info = SolverInfo.from_last_step(z.detach(), prev.detach(), self.n_iter)
        return z, info, self.fixed_point_map(u, weights)


def fixed_point_layers(model: nn.Module) -> List[FixedPointLayer]:
    """Every implicit layer (:class:`FixedPointLayer`) of ``model``."""
    return [m for m in model.modules() if isinstance(m, FixedPointLayer)]


def name_implicit_layers(model: nn.Module, prefix: str = "") -> None:
    """Name every implicit layer of ``model`` by its module path (used in warnings and errors)."""
    for name, module in model.named_modules():
        if isinstance(module, FixedPointLayer):
            module.name = f"{prefix}{name}" if name else (prefix.rstrip(".") or module.name)


def collect_jacobian_loss(model: nn.Module) -> Optional[torch.Tensor]:
    """The sum of the weighted Jacobian penalties the implicit layers of ``model`` computed in their last
    training forward (``jac_reg > 0``), or ``None``; taken (cleared), so each term is added once.

    Add it to the loss yourself (``loss = task_loss + collect_jacobian_loss(model)``) or let
    :func:`attach_jacobian_loss` add it to the model's loss dict.
    """
    terms = []
    for layer in fixed_point_layers(model):
        if layer.jac_loss is not None:
            terms.append(layer.jac_loss)
            layer.jac_loss = None
    if not terms:
        return None
    return torch.stack([t.float() for t in terms]).sum()


def _add_jacobian_loss(module: nn.Module, args, output):
    term = collect_jacobian_loss(module)
    if term is not None and isinstance(output, dict) and module.training:
        if "loss_jac" in output:
            raise KeyError("the model's loss dict already has a 'loss_jac' entry; the implicit layers' "
                           "Jacobian penalty cannot be added under that name")
        output["loss_jac"] = term
    return output


def attach_jacobian_loss(model: nn.Module) -> bool:
    """Make ``model``'s loss dict carry the implicit layers' Jacobian penalty as ``loss_jac``.

    Registers a forward hook on ``model`` (once): after each training forward that returns a dict
    (mmengine's ``mode='loss'``, in every task's model: mmdet, mmseg, ours) it adds
    :func:`collect_jacobian_loss`; mmengine's ``parse_losses`` sums every ``loss*`` key into the
    optimised loss and logs it. Returns whether ``model`` has a layer with ``jac_reg > 0``.
    """
    wanted = any(layer.jac_reg > 0 for layer in fixed_point_layers(model))
    if wanted and model not in _JAC_HOOKED:
        model.register_forward_hook(_add_jacobian_loss)
        _JAC_HOOKED.add(model)
    return wanted


_JAC_HOOKED: "weakref.WeakSet[nn.Module]" = weakref.WeakSet()  # models that carry the hook already


def collect_solver_stats(model: nn.Module, clear: bool = True) -> Dict[str, float]:
    """Solver statistics of every implicit layer that ran since the last call.

    Returns ``solver_iters`` (iterations, mean over the layers), ``solver_iters_max``, ``solver_residual``
    (worst finite relative residual), ``solver_nonfinite`` (non-finite samples, summed over layers), after
    an implicit-gradient backward ``solver_adjoint_residual`` / ``solver_adjoint_iters``, and when asked
    ``solver_jac`` (the Jacobian penalty's estimate, mean over the layers) and
    ``solver_spectral_radius`` (the largest over the layers); empty when no implicit layer ran.
    ``clear`` (default) empties what it read, so the next call reports only forwards made after this one.
    """
    rows = []
    for m in fixed_point_layers(model):
        if m.stats:
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
    if any("jac" in r for r in rows):
        out["solver_jac"] = col("jac").mean().item()
    if any("spectral_radius" in r for r in rows):
        out["solver_spectral_radius"] = col("spectral_radius").max().item()
    return out


__all__ = ["IMPLICIT_RECIPE", "IMPLICIT_KEYS", "SolveOptions", "ImplicitOptions", "FixedPointMap", "FixedPointLayer",
           "ImplicitLayer", "collect_solver_stats", "collect_jacobian_loss", "attach_jacobian_loss",
           "jacobian_penalty", "spectral_radius", "fixed_point_layers", "name_implicit_layers", "GRADS",
           "RECOMPUTE", "NONFINITE"]
