r"""The soft spectral norm of the iMixer and the Lipschitz policy that makes its fixed point exist.

:class:`SpectralNormLinear` divides its weight by :math:`\max(1, \sigma_{max}(W)/c)`, with
:math:`\sigma_{max}` from a power iteration on persistent ``u``/``v`` buffers, as the authors'
``spectral_norm_fc``. The two-layer map :math:`G(z) = W_b\sigma(W_a\sigma(z))` then has
:math:`\mathrm{Lip}(G) \le c^2\,\mathrm{Lip}(\sigma)^2`; every mode other than the authors' plain unrolled
one needs that bound below 1 (:func:`resolve_coeff`).

Spectral-norm schedule: in training mode the power iteration (``n_power`` steps) runs **once per forward
of the layer** and the normalised weights are reused for every fixed-point step; in eval mode the stored
vectors are used, :math:`\sigma = u^\top W v`, exactly as in the authors' code. A block under gradient
checkpointing (:func:`checkpoint`) recomputes its forward with the vectors of the original forward, so the
power iteration runs once per step and the backward uses the forward's :math:`\sigma`.
"""
from __future__ import annotations

import contextlib
import math
from typing import Callable, Dict, Iterator, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.utils.checkpoint

#: activations usable inside G with their global Lipschitz constants (max |sigma'|)
ACTIVATIONS: Dict[str, tuple] = {
    # GELU: max of Phi(x) + x phi(x), at x = sqrt 2
    "gelu": (nn.GELU, 0.5 * (1 + math.erf(1.0)) + math.sqrt(2) * math.exp(-1.0) / math.sqrt(2 * math.pi)),
    "silu": (nn.SiLU, 1.0998393),  # max of s(x)(1 + x(1 - s(x))), at x ~ 2.3994
    "relu": (nn.ReLU, 1.0),
    "tanh": (nn.Tanh, 1.0),
}
#: the same activations as functions, for the hand-written backward (no module call inside a backward
#: pass, where module hooks such as FlopCounterMode's tracker cannot follow)
ACT_FUNCTIONS: Dict[str, Callable] = {"gelu": F.gelu, "silu": F.silu, "relu": F.relu, "tanh": torch.tanh}
REFERENCE_COEFF = 0.9  # the authors' c (IMPLICIT_RECIPE['coeff'] is this constant)


def _gelu_slope(x: torch.Tensor) -> torch.Tensor:
    # d/dx x Phi(x) = Phi(x) + x phi(x)
    return 0.5 * (1 + torch.erf(x * (1 / math.sqrt(2)))) + x * torch.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)


def _silu_slope(x: torch.Tensor) -> torch.Tensor:
    s = torch.sigmoid(x)
    return s * (1 + x * (1 - s))


#: the activations' derivatives written in differentiable ops (Jacobian-vector products whose own
#: gradient autograd can take: Jacobian regularisation, gradcheck, torch.compile)
ACT_SLOPES: Dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "gelu": _gelu_slope,
    "silu": _silu_slope,
    "relu": lambda x: (x > 0).to(x.dtype),
    "tanh": lambda x: 1 - torch.tanh(x).square(),
}


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
    """Validate ``coeff`` for the mode, or pick the default.

    ``None`` is the authors' ``c = 0.9`` in their mode (``solver='unroll'``, ``grad='unroll'``) and
    ``0.9 / Lip(act)`` (Lipschitz bound 0.81) in the modes that need a contraction.

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
            f"solver='unroll', grad='unroll' (the authors' mode, which does not require convergence), or "
            f"leave coeff unset to get that value.")
    return float(coeff)


# -- gradient checkpointing ------------------------------------------------------------------------
# A counter, not a thread-local flag: the autograd engine may run the recomputation on a device thread.
_RECOMPUTE_DEPTH = [0]


def _recomputing() -> bool:
    return _RECOMPUTE_DEPTH[0] > 0


@contextlib.contextmanager
def _reusing_power_iteration() -> Iterator[None]:
    _RECOMPUTE_DEPTH[0] += 1
    try:
        yield
    finally:
        _RECOMPUTE_DEPTH[0] -= 1


def checkpoint(fn: Callable, *args, **kwargs):
    """``torch.utils.checkpoint.checkpoint(fn, *args, use_reentrant=False)`` for blocks with
    :class:`SpectralNormLinear` layers.

    The recomputed forward skips the training-mode power iteration and uses the ``u``/``v`` vectors the
    original forward left, so the backward sees the forward's normalised weights and the vectors are
    updated once per step, as without checkpointing. Use this instead of calling torch's checkpoint.
    """
    return torch.utils.checkpoint.checkpoint(
        fn, *args, use_reentrant=False,
        context_fn=lambda: (contextlib.nullcontext(), _reusing_power_iteration()), **kwargs)


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
        factory = dict(device=device, dtype=dtype)
        self._init_layer(in_features, out_features, coeff, n_power,
                         nn.Parameter(torch.empty(out_features, in_features, **factory)),
                         nn.Parameter(torch.empty(out_features, **factory)) if bias else None, factory)

    def _init_layer(self, in_features: int, out_features: int, coeff: float, n_power: int,
                    weight: nn.Parameter, bias: Optional[nn.Parameter], factory: dict) -> None:
        """Set the parameters (``weight`` may be any parametrisation :meth:`structured` turns into the
        ``(out_features, in_features)`` matrix), the power-iteration buffers, and initialise."""
        if n_power < 1:
            raise ValueError(f"n_power must be >= 1 (power-iteration steps), got {n_power}")
        self.in_features, self.out_features = in_features, out_features
        self.coeff, self.n_power = float(coeff), int(n_power)
        self.weight, self.bias = weight, bias
        self.register_buffer("u", F.normalize(torch.randn(out_features, **factory), dim=0))
        self.register_buffer("v", F.normalize(torch.randn(in_features, **factory), dim=0))
        self.register_buffer("sigma", torch.ones(1, **factory))
        self.register_buffer("mask", None)  # a fixed 0/1 connectivity mask, see set_mask
        self.reset_parameters()

    def set_mask(self, mask: torch.Tensor) -> None:
        r"""Keep only the connections where ``mask`` (``(out_features, in_features)``, 0/1) is 1.

        The layer then uses :math:`M \odot W` everywhere, and the power iteration and the cap act on
        the masked weight, so :math:`\sigma_{max}(M \odot W) \le c` still bounds the layer's Lipschitz
        constant (used by the causal token mixers, :mod:`backbones.token_mixers`). Saved as a buffer.
        """
        if tuple(mask.shape) != (self.out_features, self.in_features):
            raise ValueError(f"mask shape {tuple(mask.shape)} != weight shape {(self.out_features, self.in_features)}")
        self.register_buffer("mask", mask.to(self.weight.dtype).to(self.weight.device))
        self.refresh(100)

    def structured(self, w: torch.Tensor) -> torch.Tensor:
        """The ``(out_features, in_features)`` matrix of the parameter ``w`` (masked when a mask is set)."""
        return w if self.mask is None else w * self.mask.to(w.dtype)

    def effective_bias(self) -> Optional[torch.Tensor]:
        """The ``(out_features,)`` bias (``None`` without one)."""
        return self.bias

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
        w = self.structured(self._full(self.weight.detach()))
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
            update = self.training and not _recomputing()
        if update:
            self._power_iteration(self.n_power)
        with torch.autocast(device_type=self.weight.device.type, enabled=False):
            w = self.structured(self._full(self.weight))
            # clones: a later power iteration updates u, v in place, which must not invalidate this
            # graph (two training forwards before one backward, gradient checkpointing)
            sigma = torch.dot(self._full(self.u).clone(), w @ self._full(self.v).clone())
            factor = torch.clamp(sigma / self.coeff, min=1.0)
            with torch.no_grad():
                self.sigma.copy_(sigma.detach().reshape(1))
            return (w / factor).to(self.weight.dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.normalized_weight(), self.effective_bias())

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"coeff={self.coeff}, n_power={self.n_power}, bias={self.bias is not None}")
