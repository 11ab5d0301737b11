"""The solver registry as torchdeq has it, checked once: forward and adjoint settings apart, validated
solver_kwargs, eval_max_iter, Broyden's method, per-sample stopping."""
import logging

import pytest
import torch

from backbones import ImplicitLayer, build_backbone, collect_solver_stats
from backbones.solvers import SOLVER_OPTIONS, SOLVERS, SolverInfo, get_solver, register_solver, solver_kwargs
from backbones.token_mixers import resolve_token_mixer
from tests.backbones.implicit_helpers import contractive_layer


def test_a_misspelt_solver_key_is_refused_with_the_valid_names():
    with pytest.raises(ValueError, match=r"solver 'anderson' takes no option 'mm'.*m=5, lam=0.0001, beta=1.0"):
        ImplicitLayer(6, solver="anderson", solver_kwargs=dict(mm=3))
    with pytest.raises(ValueError, match=r"adjoint_solver_kwargs: solver 'fixed_point' takes no option 'stop_mode'.*none"):
        ImplicitLayer(6, solver="fixed_point", adjoint_solver_kwargs=dict(stop_mode="rel"))
    with pytest.raises(ValueError, match=r"'broyden' option m=2.5 must be a int"):
        resolve_token_mixer(dict(solver="broyden", solver_kwargs=dict(m=2.5)))
    with pytest.raises(ValueError, match="Anderson memory m must be >= 2"):  # the solver's own check
        build_backbone("imixer_s16_224", num_classes=2, img_size=32, embed_dim=16, num_blocks=1,
                       token_mixer=dict(solver="anderson", solver_kwargs=dict(m=1)))


def test_defaults_and_the_anderson_m_alias():
    layer = ImplicitLayer(6, solver="anderson", grad="implicit")
    assert layer.solver_kwargs == dict(m=5, lam=1e-4, beta=1.0) and layer.adjoint_solver_kwargs == {}
    assert (layer.adjoint_tol, layer.adjoint_max_iter) == (layer.tol, layer.max_iter) == (1e-3, 30)
    alias = ImplicitLayer(6, solver="anderson", adjoint_solver="anderson", anderson_m=3)
    assert alias.solver_kwargs["m"] == alias.adjoint_solver_kwargs["m"] == 3
    shared = ImplicitLayer(6, solver="anderson", adjoint_solver="anderson", solver_kwargs=dict(m=4))
    assert shared.adjoint_solver_kwargs["m"] == 4  # the forward's kwargs, when it is the same solver
    with pytest.raises(ValueError, match="disagree"):
        ImplicitLayer(6, solver="anderson", anderson_m=3, solver_kwargs=dict(m=4))
    with pytest.raises(ValueError, match="neither solver"):
        ImplicitLayer(6, solver="fixed_point", anderson_m=3)


def test_a_new_solver_with_options_needs_only_the_registry():
    seen = {}

    @register_solver("test_relaxed", options=dict(omega=0.5), differentiable=True)
    def relaxed(f, z0, *, tol, max_iter, omega):
        seen["omega"] = omega
        z = z0
        for _ in range(max_iter):
            z = (1 - omega) * z + omega * f(z)
        return z, SolverInfo.from_last_step(f(z), z, max_iter)

    try:
        assert solver_kwargs("test_relaxed", dict(omega=1)) == dict(omega=1)  # an int is a float
        layer = contractive_layer(solver="test_relaxed", solver_kwargs=dict(omega=0.7), max_iter=200, tol=1e-9)
        ref = contractive_layer(solver="fixed_point", max_iter=200, tol=1e-12)
        ref.load_state_dict(layer.state_dict())
        u = torch.randn(2, 3, 6, dtype=torch.float64)
        torch.testing.assert_close(layer(u), ref(u), rtol=1e-8, atol=1e-8)
        assert seen["omega"] == 0.7
        with pytest.raises(ValueError, match="takes no option 'omga'.*omega=0.5"):
            ImplicitLayer(6, solver="test_relaxed", solver_kwargs=dict(omga=0.7))
    finally:
        SOLVERS.pop("test_relaxed")
        SOLVER_OPTIONS.pop("test_relaxed")


def test_forward_and_adjoint_tolerances_are_honoured_separately():
    u = torch.randn(4, 3, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(0), requires_grad=True)
    logged = {}
    for name, kw in (("tight_forward", dict(tol=1e-10, adjoint_tol=1e-3)),
                     ("tight_adjoint", dict(tol=1e-3, adjoint_tol=1e-10))):
        layer = contractive_layer(seed=0, solver="fixed_point", grad="implicit", max_iter=400, **kw)
        layer(u).pow(3).sum().backward()
        logged[name] = collect_solver_stats(layer)  # what SolverStatsHook logs
    a, b = logged["tight_forward"], logged["tight_adjoint"]
    assert a["solver_residual"] < 1e-10 < 1e-6 < a["solver_adjoint_residual"] < 1e-3
    assert b["solver_adjoint_residual"] < 1e-10 < 1e-6 < b["solver_residual"] < 1e-3
    assert a["solver_iters"] > a["solver_adjoint_iters"] and b["solver_iters"] < b["solver_adjoint_iters"]


def test_adjoint_max_iter_caps_the_adjoint_and_warns_with_its_own_name(caplog):
    layer = contractive_layer(seed=0, solver="fixed_point", grad="implicit", tol=1e-12, max_iter=400,
                              adjoint_max_iter=3)
    u = torch.randn(2, 3, 6, dtype=torch.float64, requires_grad=True)
    with caplog.at_level(logging.WARNING, logger="imixer"):
        layer(u).sum().backward()
    assert layer.stats["adjoint_iters"].item() == 3 and layer.stats["residual"].item() < 1e-12
    assert "adjoint_max_iter=3" in caplog.text and "adjoint_tol=1e-12" in caplog.text


def test_eval_max_iter_raises_the_cap_in_eval_mode_only():
    layer = contractive_layer(seed=0, solver="fixed_point", tol=1e-14, max_iter=3, eval_max_iter=40)
    u = torch.randn(2, 3, 6, dtype=torch.float64)
    layer.eval()
    layer(u)
    assert 3 < layer.stats["iters"].item() <= 40
    layer.train()
    with torch.no_grad():
        layer(u)
    assert layer.stats["iters"].item() == 3
    with pytest.raises(ValueError, match="eval_max_iter caps a convergent solver"):
        ImplicitLayer(6, eval_max_iter=10)


def _plain_and(solver, **kw):
    u = torch.randn(5, 3, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    plain = contractive_layer(seed=0, solver="fixed_point", tol=1e-13, max_iter=2000, act="tanh", coeff=0.97)
    other = contractive_layer(seed=0, solver=solver, tol=1e-13, max_iter=2000, act="tanh", coeff=0.97, **kw)
    return u, plain, other


def test_broyden_reaches_the_fixed_point_of_plain_iteration():
    u, plain, broyden = _plain_and("broyden")
    z_ref, z = plain(u), broyden(u)
    assert (z - z_ref).abs().max().item() < 1e-6
    assert broyden.stats["residual"].item() < 1e-12
    assert broyden.stats["iters"].item() < plain.stats["iters"].item()  # and faster on a slow contraction
    torch.testing.assert_close(broyden.inverse(z), u, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("solver", ["fixed_point", "anderson", "broyden"])
def test_converged_samples_stop_being_updated(solver):
    """A sample's result is its own solve's: the same alone as in a batch with slower samples."""
    u, _, layer = _plain_and(solver)
    u = u.clone()
    u[0] *= 1e-3  # converges in fewer steps than the rest
    layer.tol = 1e-8
    together = layer(u)
    alone = torch.cat([layer(u[i:i + 1]) for i in range(len(u))])
    torch.testing.assert_close(together, alone, rtol=1e-12, atol=1e-14)


def test_broyden_a_nan_sample_neither_stops_nor_changes_the_others():
    _, _, layer = _plain_and("broyden")
    layer.tol = 1e-10
    clean = torch.randn(3, 3, 6, dtype=torch.float64)
    batch = torch.cat([clean[:1], torch.full((1, 3, 6), float("nan"), dtype=torch.float64), clean[1:]])
    expected = layer(clean)
    out = layer(batch)
    torch.testing.assert_close(out[[0, 2, 3]], expected, rtol=1e-12, atol=1e-14)
    assert torch.isnan(out[1]).all() and layer.stats["nonfinite"].item() == 1
    assert layer.stats["residual"].item() < 1e-10


def test_broyden_refuses_grad_unroll_and_is_registered():
    assert "broyden" in SOLVERS and get_solver("broyden") is SOLVERS["broyden"]
    with pytest.raises(ValueError, match="solver='broyden' use grad='implicit'"):
        ImplicitLayer(6, solver="broyden", grad="unroll")
