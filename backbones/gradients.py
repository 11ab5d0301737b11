r"""How gradients reach the parameters through the fixed point :math:`z^\star = u + G(z^\star)`.

* :class:`UnrolledSolve`: autograd-equivalent gradients of the authors' unrolled loop with a
  hand-written backward that stores less (``recompute='all'`` / ``'act'``, :func:`resolve_recompute`).
* :func:`implicit_gradient`: the implicit-function theorem. The forward solve runs without a graph;
  one differentiable step ``u + G(z*)`` is taken at the solution and the gradient ``g`` arriving there
  is replaced by the adjoint solution :math:`v = g + J_G(z^\star)^\top v`, solved by any solver of
  :mod:`backbones.solvers` (``adjoint_solver``). Memory does not grow with the number of iterations.
* :func:`phantom_gradient`: ``k`` damped steps :math:`z \leftarrow (1-\lambda) z + \lambda f(z)` from
  the detached solution, differentiated by autograd (Geng et al., "On training implicit models",
  NeurIPS 2021).
* fixed-point correction (Bai et al., "Deep equilibrium optical flow estimation", CVPR 2022): the
  implicit or phantom gradient attached at several states sampled from the forward trajectory
  (:func:`sample_indices`), mixed with :func:`correction_weights`; done by
  :class:`~backbones.implicit.FixedPointLayer`.

The implicit and phantom gradients take the whole fixed-point map ``f`` (input and parameters inside),
so any layer whose solution is a fixed point ``z = f(z)`` uses them (the spectral-norm iMixer, the
monotone-operator layer of :mod:`backbones.monotone`).
"""
from __future__ import annotations

from typing import Callable, Dict, List, Optional

import torch
import torch.nn.functional as F

from .solvers import get_solver
from .spectral_norm import ACT_FUNCTIONS

__all__ = ["UnrolledSolve", "resolve_recompute", "act_backward", "implicit_gradient", "phantom_gradient",
           "correction_weights", "sample_indices"]


def act_backward(act: str, grad: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``grad * sigma'(x)`` for the activations of :data:`ACTIVATIONS` (x: the pre-activation)."""
    if act == "gelu":
        return torch.ops.aten.gelu_backward(grad, x)
    if act == "silu":
        return torch.ops.aten.silu_backward(grad, x)
    if act == "relu":
        return grad * (x > 0).to(grad.dtype)
    return grad * (1 - torch.tanh(x).square())  # tanh


def resolve_recompute(recompute: Optional[str], device: torch.device) -> Optional[str]:
    """The backward the unrolled solve uses on ``device``: ``recompute`` itself, except ``'auto'``.

    ``'auto'`` is ``None`` (plain autograd) on the CPU and ``'all'`` elsewhere. A CPU training step is
    bound by its GEMMs (about 3/4 of the time for iMixer-S/16), so the extra ``D x hD`` GEMM that
    ``'all'`` recomputes costs throughput there, where memory is rarely the limit; on a GPU memory
    limits the batch, and ``'all'`` keeps 1.2x the Mixer-S/16's activations instead of autograd's 2.1x.
    """
    if recompute == "auto":
        return None if device.type == "cpu" else "all"
    return recompute


class UnrolledSolve(torch.autograd.Function):
    r"""The authors' unrolled iteration ``z_{k+1} = u + W_b sigma(W_a sigma(z_k) + b_a) + b_b`` (``z_0 = u``)
    with a hand-written backward that stores only what it cannot cheaply recompute.

    Autograd through the loop keeps four tensors per step (``z_k``, ``sigma(z_k)``, ``a_k``,
    ``sigma(a_k)``: ``2 (1 + h) D`` values per token row). This function keeps ``z_k`` and ``a_k``
    (``(1 + h) D``) and recomputes the activations, which are elementwise, in the backward pass
    (``recompute='act'``), or keeps ``z_k`` only (``D``) and also recomputes ``a_k = W_a sigma(z_k) + b_a``
    (``recompute='all'``: one extra ``D x hD`` GEMM per step). The gradients are those of autograd
    through the same loop (tested against it in float64). First derivatives only: double backward
    (``create_graph=True``, e.g. a gradient penalty) raises; use ``recompute=None`` for it.
    """

    @staticmethod
    def forward(ctx, u, wa, ba, wb, bb, n_iter: int, act: str, recompute: str):
        # Under autocast the linears run in its dtype and everything else as autocast would leave it
        # (the activation of z in z's dtype, u + ... promoted); done explicitly, because autocast does
        # not cover the backward below.
        dev = u.device.type
        cd = torch.get_autocast_dtype(dev) if torch.is_autocast_enabled(dev) else torch.promote_types(u.dtype, wa.dtype)
        with torch.autocast(device_type=dev, enabled=False):
            cast = lambda t: None if t is None else t.to(cd)  # noqa: E731
            wa_c, ba_c, wb_c, bb_c = cast(wa), cast(ba), cast(wb), cast(bb)
            fn = ACT_FUNCTIONS[act]
            z, zs, pre = u, [], []
            for _ in range(n_iter):
                zs.append(z)
                a = F.linear(fn(z).to(cd), wa_c, ba_c)
                if recompute == "act":
                    pre.append(a)
                z = u + F.linear(fn(a), wb_c, bb_c)
        ctx.n_iter, ctx.act, ctx.recompute, ctx.u_dtype = n_iter, act, recompute, u.dtype
        ctx.has_bias = (ba is not None, bb is not None)
        ctx.dtypes = (wa.dtype, wb.dtype, None if ba is None else ba.dtype, None if bb is None else bb.dtype)
        ctx.save_for_backward(wa_c, wb_c, ba_c if ba_c is not None else wa_c.new_empty(0), *zs, *pre)
        return z, zs[-1]

    @staticmethod
    @torch.autograd.function.once_differentiable  # a second derivative would miss terms: refuse it
    def backward(ctx, grad_z, _grad_prev):
        wa, wb, ba, *rest = ctx.saved_tensors
        n, act, cd = ctx.n_iter, ctx.act, wa.dtype
        zs, pre = rest[:n], rest[n:]
        ba = ba if ctx.has_bias[0] else None
        fn = ACT_FUNCTIONS[act]
        shape = grad_z.shape
        g = grad_z.reshape(-1, shape[-1])
        grad_u = torch.zeros_like(g)
        acc = torch.float64 if cd == torch.float64 else torch.float32  # weight grads accumulate here
        gwa = torch.zeros(wa.shape, dtype=acc, device=wa.device)
        gwb = torch.zeros(wb.shape, dtype=acc, device=wa.device)
        gba = torch.zeros(wa.shape[0], dtype=acc, device=wa.device)
        gbb = torch.zeros(wb.shape[0], dtype=acc, device=wa.device)
        for k in range(n - 1, -1, -1):
            z = zs[k].reshape(-1, shape[-1])
            s = fn(z).to(cd)
            a = pre[k].reshape(-1, wa.shape[0]) if ctx.recompute == "act" else F.linear(s, wa, ba)
            grad_u += g  # dz_{k+1}/du = 1
            gc = g.to(cd)
            gbb += gc.sum(0, dtype=acc)
            gwb += gc.t().mm(fn(a)).to(acc)
            ga = act_backward(act, gc.mm(wb), a)
            gba += ga.sum(0, dtype=acc)
            gwa += ga.t().mm(s).to(acc)
            g = act_backward(act, ga.mm(wa).to(z.dtype), z)
        grad_u += g  # z_0 = u
        dwa, dwb, dba, dbb = ctx.dtypes
        return (grad_u.view(shape).to(ctx.u_dtype), gwa.to(dwa), gba.to(dba) if ctx.has_bias[0] else None,
                gwb.to(dwb), gbb.to(dbb) if ctx.has_bias[1] else None, None, None, None)


class _AdjointSolve(torch.autograd.Function):
    """Identity in the forward pass; in the backward pass the incoming gradient ``g`` becomes the
    adjoint solution ``v = g + J^T v`` (``solve(g)``), which then flows into ``u + G(z*)``'s graph."""

    @staticmethod
    def forward(ctx, z: torch.Tensor, solve: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
        ctx.solve = solve
        return z.view_as(z)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad: torch.Tensor):
        return ctx.solve(grad), None


def implicit_gradient(z_star: torch.Tensor, f: Callable[[torch.Tensor], torch.Tensor],
                      f_detached: Callable[[torch.Tensor], torch.Tensor], *, adjoint_solver: str = "fixed_point",
                      tol: float = 1e-3, max_iter: int = 30, on_solve: Optional[Callable] = None,
                      solver_kwargs: Optional[Dict] = None) -> torch.Tensor:
    r"""Attach the detached solution ``z_star`` of ``z = f(z)`` to the graph with the implicit gradient.

    Args:
        z_star: the fixed point, computed without a graph.
        f: the fixed-point map with the layer input and the parameters in the graph
            (``u + G(z)`` for the iMixer).
        f_detached: the same map with detached parameters (for the Jacobian-vector products).
        adjoint_solver: a solver of :data:`~backbones.solvers.SOLVERS` for :math:`v = g + J_f^\top v`.
        tol, max_iter: its tolerance and iteration cap (the layer's ``adjoint_tol`` / ``adjoint_max_iter``).
        on_solve: called with the adjoint solve's :class:`~backbones.solvers.SolverInfo`.
        solver_kwargs: the adjoint solver's keyword arguments (validated by the layer's options).

    Returns:
        ``f(z_star)`` (equal to ``z_star`` at the fixed point) whose backward pass carries the
        implicit gradient to ``f``'s inputs and parameters.
    """
    z_star = z_star.detach()
    solver, options = get_solver(adjoint_solver), dict(solver_kwargs or {})

    def solve(grad: torch.Tensor) -> torch.Tensor:
        with torch.enable_grad():
            z_in = z_star.detach().requires_grad_()
            out = f_detached(z_in)

            def step(v: torch.Tensor) -> torch.Tensor:
                (jtv,) = torch.autograd.grad(out, z_in, v, retain_graph=True)
                return grad + jtv

            with torch.no_grad():
                v, info = solver(step, grad, tol=tol, max_iter=max_iter, **options)
        if on_solve is not None:
            on_solve(info)
        return v

    return _AdjointSolve.apply(f(z_star), solve)


def phantom_gradient(z_star: torch.Tensor, f: Callable[[torch.Tensor], torch.Tensor], steps: int,
                     damping: float) -> torch.Tensor:
    r"""``steps`` damped steps :math:`z \leftarrow (1-\lambda) z + \lambda f(z)` from the detached
    solution, differentiated by autograd."""
    z = z_star.detach()
    for _ in range(steps):
        z = (1 - damping) * z + damping * f(z)
    return z


def correction_weights(n_states: int, gamma: float) -> List[float]:
    r"""Weights of the fixed-point correction's ``n_states`` sampled states, earliest first.

    :math:`w_j \propto \gamma^{n-1-j}` (the final state weighs most), normalised to sum to 1. Plain
    Python floats: they scale tensors on any device, so nothing here names a device.
    """
    raw = [gamma ** (n_states - 1 - j) for j in range(n_states)]
    total = sum(raw)
    return [w / total for w in raw]


def sample_indices(steps: int, n_states: int) -> List[int]:
    """Which of a trajectory's ``steps`` iterates (0-based, the final one last) the correction samples:
    ``n_states`` evenly spaced, fewer (distinct) when the trajectory is shorter."""
    picks = sorted({min(steps - 1, max(0, round((j + 1) * steps / n_states) - 1)) for j in range(n_states)})
    return picks
