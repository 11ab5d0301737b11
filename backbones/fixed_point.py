"""The implicit core of the iMixer, one file per job; this module gathers its public names.

* :mod:`backbones.spectral_norm`: the soft spectral norm, the activations' Lipschitz constants and the
  ``coeff`` policy, gradient checkpointing that keeps the forward's normalised weights;
* :mod:`backbones.solvers`: the solver registry (``'unroll'``, ``'fixed_point'``, ``'anderson'``,
  ``'broyden'``), one signature, each solver's validated ``solver_kwargs``, per-sample convergence and
  non-finite reporting;
* :mod:`backbones.gradients`: the unrolled backward, the implicit gradient (adjoint solve by any
  registered solver), the phantom gradient, the fixed-point correction's weights;
* :mod:`backbones.implicit`: :class:`FixedPointLayer` (the DEQ machinery: solves, gradients, Jacobian
  penalty, spectral radius, statistics), :class:`ImplicitLayer`, its options and the recipe;
* :mod:`backbones.token_mixers`: the token-mixer spec and builder, :class:`ImplicitMLP`, :class:`Mlp`.

Everything that was importable from here stays importable from here.
"""
from .gradients import (UnrolledSolve, act_backward, correction_weights, implicit_gradient, phantom_gradient,
                        resolve_recompute)
from .implicit import (GRADS, IMPLICIT_KEYS, IMPLICIT_RECIPE, NONFINITE, RECOMPUTE, FixedPointLayer, FixedPointMap,
                       ImplicitLayer, ImplicitOptions, SolveOptions, attach_jacobian_loss, collect_jacobian_loss,
                       collect_solver_stats, jacobian_penalty, name_implicit_layers, spectral_radius)
from .solvers import SOLVER_OPTIONS, SOLVERS, SolverInfo, get_solver, register_solver, relative_residual, solver_kwargs
from .spectral_norm import (ACT_FUNCTIONS, ACT_SLOPES, ACTIVATIONS, REFERENCE_COEFF, SpectralNormLinear, checkpoint,
                            lipschitz_bound, make_activation, needs_contraction, resolve_coeff)
from .token_mixers import TOKEN_MIXERS, ImplicitMLP, Mlp, build_token_mixer, resolve_token_mixer

__all__ = [
    "ACT_SLOPES", "SOLVER_OPTIONS", "solver_kwargs", "correction_weights", "FixedPointLayer", "FixedPointMap",
    "SolveOptions", "attach_jacobian_loss", "collect_jacobian_loss", "jacobian_penalty", "spectral_radius",
    "ACTIVATIONS", "ACT_FUNCTIONS", "REFERENCE_COEFF", "SpectralNormLinear", "checkpoint", "lipschitz_bound",
    "make_activation", "needs_contraction", "resolve_coeff", "SOLVERS", "SolverInfo", "get_solver",
    "register_solver", "relative_residual", "UnrolledSolve", "act_backward", "implicit_gradient",
    "phantom_gradient", "resolve_recompute", "GRADS", "IMPLICIT_KEYS", "IMPLICIT_RECIPE", "NONFINITE",
    "RECOMPUTE", "ImplicitLayer", "ImplicitOptions", "collect_solver_stats", "name_implicit_layers",
    "TOKEN_MIXERS", "ImplicitMLP", "Mlp", "build_token_mixer", "resolve_token_mixer",
]
