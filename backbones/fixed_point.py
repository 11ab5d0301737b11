r"""The implicit fixed-point layer of the iMixer, shared by every backbone and every task.

Ota & Taki, "Hierarchical Hopfield network implies an invertible, implicit and iterative
MLP-Mixer" (arXiv 2304.13061) replace the MLP-Mixer's token-mixing MLP by

.. math::
    u = W_{in} x, \qquad z^\star = (1 - G)^{-1} u \;\Leftrightarrow\; z^\star = u + G(z^\star),
    \qquad y = W_{out}\,\mathrm{Dropout}(\sigma(z^\star)),

    G(z) = W_b\,\sigma(W_a\,\sigma(z) + b_a) + b_b ,

where :math:`W_a, W_b` carry a *soft spectral norm* :math:`W / \max(1, \sigma_{max}(W)/c)`.
``z -> z - G(z)`` is an invertible-ResNet block, so :meth:`ImplicitLayer.inverse` is explicit and
:meth:`ImplicitLayer.forward` inverts it by iteration.

Solvers (``solver``):
    * ``'unroll'``: the authors' algorithm, ``z_0 = u`` and exactly ``n_iter`` steps
      ``z_{k+1} = u + G(z_k)``, autograd through the loop.
    * ``'fixed_point'``: the same iteration run until the relative residual
      ``max_b ||f(z) - z|| / ||f(z)||`` is below ``tol`` (at most ``max_iter`` steps).
    * ``'anderson'``: Anderson acceleration (memory ``anderson_m``) to the same tolerance.

Gradients (``grad``):
    * ``'unroll'``: autograd through the iterations (``solver`` 'unroll' or 'fixed_point'). For
      ``solver='unroll'`` a hand-written backward (:class:`_UnrolledSolve`) gives the same gradients
      from less stored state: ``recompute='all'`` keeps one ``D``-vector per step instead of
      autograd's ``2 (1 + h) D`` (with ``h = 2``: 1/6), ``'act'`` keeps ``(1 + h) D``, ``None`` is plain
      autograd; ``'auto'`` (default) is ``'all'`` on accelerators and ``None`` on the CPU (see
      :func:`resolve_recompute`).
    * ``'implicit'``: implicit-function theorem; the adjoint fixed point
      :math:`v = g + J_G(z^\star)^\top v` is solved in the backward pass, so memory does not
      grow with the number of iterations.
    * ``'phantom'``: ``phantom_steps`` damped steps ``z <- (1-l) z + l f(z)`` from the detached
      solution, differentiated by autograd (Geng et al., NeurIPS 2021).

Convergence: every mode other than the authors' plain ``unroll``/``unroll`` relies on ``G`` being a
contraction, :math:`\mathrm{Lip}(G) \le c^2\,\mathrm{Lip}(\sigma)^2 < 1`. GELU's slope reaches
1.1289, so the authors' ``c = 0.9`` gives a bound of 1.03: such configs are refused with an error
naming a ``coeff`` that works. ``coeff=None`` picks ``0.9`` for the reference mode and
``0.9 / Lip(sigma)`` (bound 0.81) otherwise.

Spectral-norm schedule: in training mode the power iteration (``n_power`` steps, persistent
``u``/``v`` buffers) runs **once per forward of the layer** and the normalised weights are reused for
every fixed-point step; the authors' hook re-runs it at every step. In eval mode the stored vectors
are used, :math:`\sigma = u^\top W v`, exactly as in the authors' code.

Every forward stores its statistics in ``layer.stats`` (``iters``, ``residual``; tensors, no host
sync in the unrolled mode) for :func:`collect_solver_stats`, which the runner's
``SolverStatsHook`` logs. A convergent solve that stops at ``max_iter`` above ``tol`` logs a
warning with the residual.
"""
from __future__ import annotations

import logging
import math
from typing import Callable, Dict, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

logger = logging.getLogger("imixer")

#: activations usable inside G with their global Lipschitz constants (max |sigma'|)
ACTIVATIONS: Dict[str, tuple] = {
    # GELU: max of Phi(x) + x phi(x), at x = sqrt 2
    "gelu": (nn.GELU, 0.5 * (1 + math.erf(1.0)) + math.sqrt(2) * math.exp(-1.0) / math.sqrt(2 * math.pi)),
    "silu": (nn.SiLU, 1.0998393),  # max of s(x)(1 + x(1 - s(x))), at x ~ 2.3994
    "relu": (nn.ReLU, 1.0),
    "tanh": (nn.Tanh, 1.0),
}
# the same activations as functions, for the hand-written backward (no module call inside a backward
# pass, where module hooks such as FlopCounterMode's tracker cannot follow)
_ACT_FN: Dict[str, Callable] = {"gelu": F.gelu, "silu": F.silu, "relu": F.relu, "tanh": torch.tanh}
SOLVERS = ("unroll", "fixed_point", "anderson")
GRADS = ("unroll", "implicit", "phantom")
RECOMPUTE = ("auto", "act", "all", None)
REFERENCE_COEFF = 0.9  # the authors' c


def make_activation(name: str) -> nn.Module:
    """Return a fresh activation module for ``name`` (one of :data:`ACTIVATIONS`)."""
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; choose one of {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[name][0]()


def lipschitz_bound(coeff: float, act: str) -> float:
    """Upper bound of Lip(G) = c^2 * Lip(sigma)^2 for the normalised two-layer map G."""
    return coeff**2 * ACTIVATIONS[act][1] ** 2


def needs_contraction(solver: str, grad: str) -> bool:
    """Whether ``(solver, grad)`` relies on G being a contraction (all but the authors' mode)."""
    return not (solver == "unroll" and grad == "unroll")


def resolve_coeff(coeff: Optional[float], solver: str, grad: str, act: str) -> float:
    """Validate ``coeff`` for the mode, or pick the default (see the module docstring).

    Raises:
        ValueError: ``coeff`` outside (0, 1), or a convergent mode whose Lipschitz bound is >= 1.
    """
    lip_act = ACTIVATIONS[act][1]
    if coeff is None:
        if not needs_contraction(solver, grad):
            return REFERENCE_COEFF
        return math.floor(REFERENCE_COEFF / lip_act * 1000) / 1000
    if not 0.0 < coeff < 1.0:
        raise ValueError(
            f"coeff={coeff} is outside (0, 1): the soft spectral norm caps each weight's spectral norm "
            f"at coeff, and coeff >= 1 cannot keep (1 - G) invertible. Use e.g. coeff={REFERENCE_COEFF}.")
    bound = lipschitz_bound(coeff, act)
    if needs_contraction(solver, grad) and bound >= 1.0:
        limit = 1.0 / lip_act
        suggestion = math.floor(REFERENCE_COEFF / lip_act * 1000) / 1000
        raise ValueError(
            f"solver={solver!r} with grad={grad!r} needs a contraction, but coeff={coeff} with "
            f"act={act!r} (Lip {lip_act:.4f}) only bounds Lip(G) by coeff^2 * Lip(act)^2 = {bound:.4f} >= 1. "
            f"Use coeff < {limit:.4f} (e.g. coeff={suggestion}, bound 0.81), or act='relu', or "
            f"solver='unroll', grad='unroll' (the authors' mode, which does not require convergence).")
    return float(coeff)


class SpectralNormLinear(nn.Module):
    r"""Linear layer with the soft spectral norm :math:`W / \max(1, \sigma(W)/c)`.

    :math:`\sigma(W) = u^\top W v` with ``u``, ``v`` from ``n_power`` power-iteration steps on
    persistent buffers (updated in training mode only), as in the authors' ``spectral_norm_fc``.

    Args:
        in_features: input width.
        out_features: output width.
        coeff: the cap ``c`` on the spectral norm.
        n_power: power-iteration steps per update.
        bias: add a bias.

    Shapes:
        input ``(*, in_features)`` -> output ``(*, out_features)``.
    """

    def __init__(self, in_features: int, out_features: int, coeff: float = REFERENCE_COEFF,
                 n_power: int = 8, bias: bool = True, device=None, dtype=None) -> None:
        super().__init__()
        if n_power < 1:
            raise ValueError(f"n_power must be >= 1 (power-iteration steps), got {n_power}")
        factory = dict(device=device, dtype=dtype)
        self.in_features, self.out_features = in_features, out_features
        self.coeff, self.n_power = float(coeff), int(n_power)
        self.weight = nn.Parameter(torch.empty(out_features, in_features, **factory))
        self.bias = nn.Parameter(torch.empty(out_features, **factory)) if bias else None
        self.register_buffer("u", F.normalize(torch.randn(out_features, **factory), dim=0))
        self.register_buffer("v", F.normalize(torch.randn(in_features, **factory), dim=0))
        self.register_buffer("sigma", torch.ones(1, **factory))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """xavier-uniform weight, zero bias (the Mixer init), then a converged power iteration."""
        nn.init.xavier_uniform_(self.weight)
        if self.bias is not None:
            nn.init.zeros_(self.bias)
        self.refresh(100)

    @torch.no_grad()
    def refresh(self, n_steps: int) -> None:
        """Run ``n_steps`` power-iteration steps now (after an external re-initialisation of the weight)."""
        self._power_iteration(n_steps)

    @staticmethod
    def _full(t: torch.Tensor) -> torch.Tensor:
        """At least float32 (half-precision weights are normalised in float32)."""
        return t if t.dtype in (torch.float32, torch.float64) else t.float()

    @torch.no_grad()
    def _power_iteration(self, n_steps: int) -> None:
        if self.weight.is_meta:  # shape-only model (e.g. counting parameters): nothing to iterate
            return
        w = self._full(self.weight.detach())
        wt = w.t()
        u, v = self._full(self.u), self._full(self.v)
        # F.normalize(x, eps=1e-12) in four ops per half-step: this loop is most of the layer's small
        # kernels (2 * n_power per normalised weight and forward)
        for _ in range(n_steps):
            v = torch.mv(wt, u)
            v = v.div_(torch.linalg.vector_norm(v).clamp_min_(1e-12))
            u = torch.mv(w, v)
            u = u.div_(torch.linalg.vector_norm(u).clamp_min_(1e-12))
        self.u.copy_(u)
        self.v.copy_(v)

    def normalized_weight(self, update: Optional[bool] = None) -> torch.Tensor:
        """The soft-normalised weight; runs the power iteration first when ``update`` (default: training)."""
        if update is None:
            update = self.training
        if update:
            self._power_iteration(self.n_power)
        with torch.autocast(device_type=self.weight.device.type, enabled=False):
            w = self._full(self.weight)
            # clones: a later power iteration updates u, v in place, which must not invalidate this
            # graph (two training forwards before one backward, gradient checkpointing)
            sigma = torch.dot(self._full(self.u).clone(), w @ self._full(self.v).clone())
            factor = torch.clamp(sigma / self.coeff, min=1.0)
            with torch.no_grad():
                self.sigma.copy_(sigma.detach().reshape(1))
            return (w / factor).to(self.weight.dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.normalized_weight(), self.bias)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"coeff={self.coeff}, n_power={self.n_power}, bias={self.bias is not None}")


def _rel_residual(fz: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """max over the batch of ||f(z) - z|| / ||f(z)|| (per sample, all other dims flattened)."""
    diff = (fz - z).flatten(1).float().norm(dim=1)
    ref = fz.flatten(1).float().norm(dim=1)
    return (diff / (ref + 1e-8)).max()


def _fixed_point(f: Callable, z: torch.Tensor, tol: float, max_iter: int):
    residual = z.new_tensor(float("inf"))
    it = 0
    for it in range(1, max_iter + 1):
        fz = f(z)
        residual = _rel_residual(fz, z)
        z = fz
        if residual.item() < tol:
            break
    return z, it, residual


def _anderson(f: Callable, z0: torch.Tensor, tol: float, max_iter: int, m: int = 5,
              lam: float = 1e-4, beta: float = 1.0):
    """Anderson acceleration of z = f(z), one small least-squares system per sample."""
    shape = z0.shape
    bsz = shape[0]
    flat = lambda t: t.reshape(bsz, -1)  # noqa: E731
    d = z0[0].numel()
    xs = z0.new_zeros(bsz, m, d)
    fs = z0.new_zeros(bsz, m, d)
    xs[:, 0] = flat(z0)
    fs[:, 0] = flat(f(z0))
    xs[:, 1] = fs[:, 0]
    fs[:, 1] = flat(f(fs[:, 0].reshape(shape)))
    h = z0.new_zeros(bsz, m + 1, m + 1)
    h[:, 0, 1:] = 1
    h[:, 1:, 0] = 1
    rhs = z0.new_zeros(bsz, m + 1, 1)
    rhs[:, 0] = 1
    residual = _rel_residual(fs[:, 1], xs[:, 1])
    it, k = 2, 1
    if residual.item() >= tol:
        for k in range(2, max_iter):
            n = min(k, m)
            g = fs[:, :n] - xs[:, :n]
            gg = g @ g.transpose(1, 2)
            # Tikhonov term relative to the residuals' scale, so the regulariser does not dominate
            # (and stall the solve) once the residuals are small
            scale = gg.diagonal(dim1=1, dim2=2).mean(-1).clamp_min(torch.finfo(gg.dtype).tiny)
            h[:, 1:n + 1, 1:n + 1] = gg + lam * scale[:, None, None] * torch.eye(n, dtype=z0.dtype, device=z0.device)
            alpha = torch.linalg.solve(h[:, :n + 1, :n + 1], rhs[:, :n + 1])[:, 1:n + 1, 0]
            new = beta * (alpha[:, None] @ fs[:, :n])[:, 0] + (1 - beta) * (alpha[:, None] @ xs[:, :n])[:, 0]
            xs[:, k % m] = new
            fs[:, k % m] = flat(f(new.reshape(shape)))
            it = k + 1
            residual = _rel_residual(fs[:, k % m], xs[:, k % m])
            if residual.item() < tol:
                break
    # a copy: a view would keep the whole (B, m, D) history alive as long as the solution is (the
    # implicit gradient saves it for the backward pass)
    return fs[:, k % m].reshape(shape).clone(), it, residual


def _act_backward(act: str, grad: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
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


class _UnrolledSolve(torch.autograd.Function):
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
            fn = _ACT_FN[act]
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
        fn = _ACT_FN[act]
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
            ga = _act_backward(act, gc.mm(wb), a)
            gba += ga.sum(0, dtype=acc)
            gwa += ga.t().mm(s).to(acc)
            g = _act_backward(act, ga.mm(wa).to(z.dtype), z)
        grad_u += g  # z_0 = u
        dwa, dwb, dba, dbb = ctx.dtypes
        return (grad_u.view(shape).to(ctx.u_dtype), gwa.to(dwa), gba.to(dba) if ctx.has_bias[0] else None,
                gwb.to(dwb), gbb.to(dbb) if ctx.has_bias[1] else None, None, None, None)


class ImplicitLayer(nn.Module):
    r"""The fixed point :math:`z^\star = u + G(z^\star)`, :math:`G(z) = W_b\sigma(W_a\sigma(z))`.

    This is the one implicit module of the project (see the module docstring for the maths, the
    solvers and the gradients). It maps the internal width ``dim`` to itself.

    Args:
        dim: internal width ``D`` of ``u`` and ``z``.
        h_ratio: ``h``; ``W_a`` maps ``D -> hD`` and ``W_b`` maps ``hD -> D``.
        act: activation inside ``G`` (``'gelu'`` as in the paper, or ``'silu'``, ``'relu'``, ``'tanh'``).
        coeff: spectral-norm cap ``c``; ``None`` picks the mode's default.
        n_power: power-iteration steps per training forward.
        solver: ``'unroll'`` | ``'fixed_point'`` | ``'anderson'``.
        grad: ``'unroll'`` | ``'implicit'`` | ``'phantom'``; ``None``: ``'unroll'`` for the
            unrolled solver, ``'implicit'`` for the convergent ones.
        n_iter: steps of the unrolled solver.
        tol: relative-residual tolerance of the convergent solvers and of the adjoint solve.
        max_iter: iteration cap of the convergent solvers and of the adjoint solve.
        anderson_m: Anderson memory.
        phantom_steps, phantom_damping: the phantom gradient's ``k`` and ``lambda``.
        recompute: backward of the authors' mode (``solver='unroll'``, ``grad='unroll'``):
            ``'all'`` keeps ``z_k`` only and recomputes the hidden layer in the backward pass (one
            extra ``D x hD`` GEMM per step, the least memory); ``'act'`` keeps ``z_k`` and the hidden
            pre-activation and recomputes only the activations; ``None``: plain autograd through the
            loop, which keeps all four intermediate tensors per step; ``'auto'`` (default): ``'all'``
            on a GPU (or any accelerator), ``None`` on the CPU (:func:`resolve_recompute`). Same
            gradients in every case (:class:`_UnrolledSolve`).

    Shapes:
        ``u``: ``(B, *, D)`` -> ``z*``: ``(B, *, D)``.
    """

    def __init__(self, dim: int, h_ratio: float = 1.0, act: str = "gelu",
                 coeff: Optional[float] = None, n_power: int = 8, solver: str = "unroll",
                 grad: Optional[str] = None, n_iter: int = 4, tol: float = 1e-3, max_iter: int = 30,
                 anderson_m: int = 5, phantom_steps: int = 5, phantom_damping: float = 0.5,
                 recompute: Optional[str] = "auto", device=None, dtype=None) -> None:
        super().__init__()
        if solver not in SOLVERS:
            raise ValueError(f"unknown solver {solver!r}; choose one of {SOLVERS}")
        grad = grad or ("unroll" if solver == "unroll" else "implicit")
        if grad not in GRADS:
            raise ValueError(f"unknown grad {grad!r}; choose one of {GRADS}")
        if grad == "unroll" and solver == "anderson":
            raise ValueError("grad='unroll' differentiates through the iterations; it works with "
                             "solver='unroll' or 'fixed_point'. With solver='anderson' use grad='implicit' "
                             "or 'phantom'.")
        if n_iter < 1 or max_iter < 1:
            raise ValueError(f"n_iter and max_iter must be >= 1, got n_iter={n_iter}, max_iter={max_iter}")
        if not tol > 0:
            raise ValueError(f"tol must be > 0, got {tol}")
        if not 0 < phantom_damping <= 1:
            raise ValueError(f"phantom_damping must be in (0, 1], got {phantom_damping}")
        if act not in ACTIVATIONS:
            raise ValueError(f"unknown activation {act!r}; choose one of {sorted(ACTIVATIONS)}")
        if recompute not in RECOMPUTE:
            raise ValueError(f"unknown recompute {recompute!r}; choose one of {RECOMPUTE}")
        self.recompute = recompute
        self.coeff = resolve_coeff(coeff, solver, grad, act)
        hidden = int(dim * h_ratio)
        if hidden < 1:
            raise ValueError(f"h_ratio={h_ratio} gives an empty hidden layer for dim={dim}")
        self.dim, self.hidden = dim, hidden
        self.solver, self.grad, self.act_name = solver, grad, act
        self.n_iter, self.tol, self.max_iter = int(n_iter), float(tol), int(max_iter)
        self.anderson_m = int(anderson_m)
        self.phantom_steps, self.phantom_damping = int(phantom_steps), float(phantom_damping)
        factory = dict(device=device, dtype=dtype)
        self.fc_a = SpectralNormLinear(dim, hidden, self.coeff, n_power, **factory)
        self.fc_b = SpectralNormLinear(hidden, dim, self.coeff, n_power, **factory)
        self.act = make_activation(act)
        self.stats: Dict[str, torch.Tensor] = {}
        self._warned = 0

    def extra_repr(self) -> str:
        it = f"n_iter={self.n_iter}, recompute={self.recompute!r}" if self.solver == "unroll" else \
            f"tol={self.tol}, max_iter={self.max_iter}"
        return (f"dim={self.dim}, hidden={self.hidden}, act={self.act_name!r}, coeff={self.coeff}, "
                f"solver={self.solver!r}, grad={self.grad!r}, {it}")

    # -- G and its inverse -------------------------------------------------------------------------
    def _weights(self):
        return (self.fc_a.normalized_weight(), self.fc_a.bias, self.fc_b.normalized_weight(), self.fc_b.bias)

    def _g(self, z: torch.Tensor, weights) -> torch.Tensor:
        wa, ba, wb, bb = weights
        return F.linear(self.act(F.linear(self.act(z), wa, ba)), wb, bb)

    def residual_map(self, z: torch.Tensor) -> torch.Tensor:
        """G(z) with the current normalised weights (no power-iteration update)."""
        with torch.no_grad():
            weights = (self.fc_a.normalized_weight(False), self.fc_a.bias,
                       self.fc_b.normalized_weight(False), self.fc_b.bias)
        return self._g(z, weights)

    def inverse(self, z: torch.Tensor) -> torch.Tensor:
        """The explicit map ``(1 - G)(z) = z - G(z)``: ``inverse(forward(u)) == u`` up to ``tol``."""
        return z - self.residual_map(z)

    # -- forward -----------------------------------------------------------------------------------
    def forward(self, u: torch.Tensor) -> torch.Tensor:
        weights = self._weights()

        def f(z):
            return u + self._g(z, weights)

        if self.grad == "unroll":  # autograd through every step (solver 'unroll' or 'fixed_point')
            z, iters, residual = self._solve(f, u, weights)
        else:
            with torch.no_grad():
                z, iters, residual = self._solve(f, u.detach(), weights)
            z = self._attach_gradient(z, u, weights)
        self.stats = {"iters": torch.tensor(float(iters)), "residual": residual.detach().float()}
        if self.solver != "unroll" and iters >= self.max_iter and residual.item() >= self.tol:
            self._warn(f"fixed-point solve stopped at max_iter={self.max_iter} with relative residual "
                       f"{residual.item():.3e} > tol={self.tol} ({self.solver}); raise max_iter or lower coeff")
        return z

    def _solve(self, f: Callable, u: torch.Tensor, weights):
        recompute = resolve_recompute(self.recompute, u.device)
        if self.solver == "unroll" and recompute is not None and torch.is_grad_enabled():
            wa, ba, wb, bb = weights
            z, prev = _UnrolledSolve.apply(u, wa, ba, wb, bb, self.n_iter, self.act_name, recompute)
            return z, self.n_iter, _rel_residual(z.detach(), prev.detach())
        if self.solver == "unroll":
            z, prev = u, u
            for _ in range(self.n_iter):
                prev, z = z, f(z)
            return z, self.n_iter, _rel_residual(z.detach(), prev.detach())
        if self.solver == "fixed_point":
            return _fixed_point(f, u, self.tol, self.max_iter)
        return _anderson(f, u, self.tol, self.max_iter, self.anderson_m)

    def _warn(self, msg: str) -> None:
        if self._warned % 100 == 0:
            logger.warning(msg + (f" [seen {self._warned} times before]" if self._warned else ""))
        self._warned += 1

    def _attach_gradient(self, z_star: torch.Tensor, u: torch.Tensor, weights) -> torch.Tensor:
        """Re-attach the detached solution to the graph with the implicit or phantom gradient."""
        if not torch.is_grad_enabled() or not (u.requires_grad or any(
                w is not None and w.requires_grad for w in weights)):
            return z_star
        if self.grad == "phantom":
            z, lam = z_star, self.phantom_damping
            for _ in range(self.phantom_steps):
                z = (1 - lam) * z + lam * (u + self._g(z, weights))
            return z
        # implicit: one differentiable step at the fixed point, whose incoming gradient g is
        # replaced by the adjoint solution v = g + J_G(z*)^T v.
        z_in = z_star.requires_grad_()
        z_out = u + self._g(z_in, weights)
        tol, max_iter = self.tol, self.max_iter
        layer = self

        inside = [False]  # our own autograd.grad below fires this hook again: pass that through

        def adjoint(g: torch.Tensor) -> torch.Tensor:
            if inside[0] or g is None:  # g is None for an undefined (all-zero) incoming gradient
                return g
            inside[0] = True
            try:
                return solve_adjoint(g)
            finally:
                inside[0] = False

        def solve_adjoint(g: torch.Tensor) -> torch.Tensor:
            v = g
            residual = g.new_tensor(0.0)
            for _ in range(max_iter):
                (jtv,) = torch.autograd.grad(z_out, z_in, v, retain_graph=True)
                v_new = g + jtv
                residual = _rel_residual(v_new, v)
                v = v_new
                if residual.item() < tol:
                    break
            else:
                layer._warn(f"adjoint fixed-point solve stopped at max_iter={max_iter} with relative "
                            f"residual {residual.item():.3e} > tol={tol}")
            layer.stats["adjoint_residual"] = residual.detach().float()
            return v

        if z_out.requires_grad:
            z_out.register_hook(adjoint)
        return z_out


class ImplicitMLP(nn.Module):
    r"""The iMixer token mixer ("iMLP"): :math:`y = W_{out}\,\mathrm{Dropout}(\sigma(z^\star))`,
    :math:`z^\star = (1-G)^{-1} W_{in} x`.

    Args:
        in_features: ``N``, the length of the mixed axis (tokens).
        internal_features: ``D``, the width of the fixed point.
        out_features: output length (``N`` when omitted).
        act: activation (also used inside ``G``).
        drop: dropout after the final activation.
        **implicit: options of :class:`ImplicitLayer` (``h_ratio``, ``coeff``, ``n_power``,
            ``solver``, ``grad``, ``n_iter``, ``tol``, ``max_iter``, ...).

    Shapes:
        ``(B, *, N)`` -> ``(B, *, out_features)``.
    """

    def __init__(self, in_features: int, internal_features: int, out_features: Optional[int] = None,
                 act: str = "gelu", drop: float = 0.0, **implicit) -> None:
        super().__init__()
        self.fc_in = nn.Linear(in_features, internal_features)
        self.implicit = ImplicitLayer(internal_features, act=act, **implicit)
        self.act = make_activation(act)
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


TOKEN_MIXERS = ("implicit", "mlp")
IMPLICIT_KEYS = ("h_ratio", "coeff", "n_power", "solver", "grad", "n_iter", "tol", "max_iter",
                 "anderson_m", "phantom_steps", "phantom_damping", "recompute")


def build_token_mixer(token_mixer: str, num_tokens: int, hidden: int, act: str = "gelu",
                      drop: float = 0.0, **implicit) -> nn.Module:
    """The token mixer of every backbone: ``'implicit'`` (iMixer) or ``'mlp'`` (its explicit twin).

    Args:
        token_mixer: ``'implicit'`` or ``'mlp'``.
        num_tokens: length of the mixed axis.
        hidden: ``D`` (implicit) or the MLP's hidden width.
        **implicit: :class:`ImplicitLayer` options; ignored by ``'mlp'``.
    """
    if token_mixer == "implicit":
        return ImplicitMLP(num_tokens, hidden, act=act, drop=drop, **implicit)
    if token_mixer == "mlp":
        return Mlp(num_tokens, hidden, act=act, drop=drop)
    raise ValueError(f"unknown token_mixer {token_mixer!r}; choose 'implicit' (iMixer) or 'mlp' (MLP-Mixer)")


def collect_solver_stats(model: nn.Module) -> Dict[str, float]:
    """Mean / max iterations and the worst relative residual over every :class:`ImplicitLayer`
    that ran since the last call; empty when the model has none."""
    iters, residuals = [], []
    for m in model.modules():
        if isinstance(m, ImplicitLayer) and m.stats:
            iters.append(m.stats["iters"])
            residuals.append(m.stats["residual"])
    if not iters:
        return {}
    it = torch.stack([t.detach().cpu().float() for t in iters])
    res = torch.stack([t.detach().cpu().float().reshape(()) for t in residuals])
    return {"solver_iters": it.mean().item(), "solver_iters_max": it.max().item(),
            "solver_residual": res.max().item()}
