"""The implicit fixed-point layer: solvers, gradients, invertibility, contraction, statistics."""
import logging

import pytest
import torch
import torch.nn.functional as F

from tests.backbones.implicit_helpers import contractive_layer

from backbones.fixed_point import (ACTIVATIONS, ImplicitLayer, ImplicitMLP, SpectralNormLinear, collect_solver_stats,
                                   lipschitz_bound, resolve_coeff, resolve_recompute)

_layer = contractive_layer


def test_gelu_lipschitz_constant_is_the_max_slope():
    x = torch.linspace(-6, 6, 200001, dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(F.gelu(x).sum(), x)
    assert g.max().item() == pytest.approx(ACTIVATIONS["gelu"][1], abs=1e-6)


def test_spectral_norm_caps_sigma_max_and_leaves_small_weights():
    sn = SpectralNormLinear(20, 30, coeff=0.7, dtype=torch.float64)
    with torch.no_grad():
        sn.weight.mul_(10)
    sn.train()
    for _ in range(20):
        w = sn.normalized_weight()
    assert torch.linalg.matrix_norm(w, ord=2).item() == pytest.approx(0.7, rel=1e-6)
    with torch.no_grad():
        sn.weight.mul_(0.01)
        sn.refresh(100)
    w = sn.normalized_weight(update=False)
    assert torch.equal(w, sn.weight)  # below the cap: untouched (soft normalisation)


def test_eval_mode_uses_stored_vectors_without_updating():
    sn = SpectralNormLinear(8, 8, dtype=torch.float64).eval()
    u, v = sn.u.clone(), sn.v.clone()
    sn(torch.randn(3, 8, dtype=torch.float64))
    assert torch.equal(u, sn.u) and torch.equal(v, sn.v)
    sigma = torch.dot(sn.u, sn.weight @ sn.v)
    assert sn.sigma.item() == pytest.approx(sigma.item())


def test_unroll_equals_hand_written_steps():
    layer = _layer(solver="unroll", n_iter=3)
    u = torch.randn(4, 5, 6, dtype=torch.float64)
    wa, wb = layer.fc_a.normalized_weight(False), layer.fc_b.normalized_weight(False)
    act = F.gelu
    z = u
    for _ in range(3):
        z = u + F.linear(act(F.linear(act(z), wa, layer.fc_a.bias)), wb, layer.fc_b.bias)
    torch.testing.assert_close(layer(u), z, rtol=0, atol=0)
    assert layer.stats["iters"].item() == 3


@pytest.mark.parametrize("solver", ["fixed_point", "anderson"])
def test_convergent_solvers_invert_one_minus_g(solver):
    layer = _layer(solver=solver, tol=1e-10, max_iter=200)
    u = torch.randn(4, 5, 6, dtype=torch.float64)
    z = layer(u)
    assert layer.stats["residual"].item() < 1e-10
    torch.testing.assert_close(layer.inverse(z), u, rtol=1e-8, atol=1e-8)


def test_anderson_needs_fewer_iterations_than_plain_iteration():
    u = torch.randn(8, 5, 6, dtype=torch.float64)
    # a slowly contracting G (Lip close to 1), where plain iteration crawls
    kw = dict(act="tanh", coeff=0.99, tol=1e-8, max_iter=500)
    fp, aa = _layer(solver="fixed_point", **kw), _layer(solver="anderson", **kw)
    aa.load_state_dict(fp.state_dict())
    torch.testing.assert_close(fp(u), aa(u), rtol=1e-6, atol=1e-6)
    assert aa.stats["iters"].item() < fp.stats["iters"].item()


@pytest.mark.parametrize("solver", ["fixed_point", "anderson"])
def test_measured_lipschitz_below_one_in_convergent_modes(solver):
    layer = ImplicitLayer(16, h_ratio=2.0, solver=solver, dtype=torch.float64).train()
    with torch.no_grad():
        layer.fc_a.weight.mul_(5.0)
        layer.fc_b.weight.mul_(5.0)
    for _ in range(5):  # training forwards run the power iteration
        layer(torch.randn(2, 16, dtype=torch.float64))
    bound = lipschitz_bound(layer.coeff, "gelu")
    assert bound < 1
    # empirical Lipschitz ratio of G over random pairs, and the exact spectral norms
    z1, z2 = torch.randn(2000, 16, dtype=torch.float64), torch.randn(2000, 16, dtype=torch.float64)
    ratio = ((layer.residual_map(z1) - layer.residual_map(z2)).norm(dim=1) / (z1 - z2).norm(dim=1)).max()
    assert ratio.item() < 1.0
    for fc in (layer.fc_a, layer.fc_b):
        assert torch.linalg.matrix_norm(fc.normalized_weight(False), ord=2).item() <= layer.coeff * (1 + 1e-6)


@pytest.mark.parametrize("grad", ["unroll", "implicit", "phantom"])
def test_gradcheck_float64(grad):
    solver = "unroll" if grad == "unroll" else "fixed_point"
    kw = dict(n_iter=3) if solver == "unroll" else dict(tol=1e-13, max_iter=400)
    layer = _layer(solver=solver, grad=grad, phantom_steps=3, **kw)
    u = torch.randn(2, 3, 6, dtype=torch.float64, requires_grad=True)
    if grad == "phantom":
        # the phantom gradient is an approximation of the implicit one: check it is the exact
        # derivative of its own k-step damped map from the (fixed) solution
        with torch.no_grad():
            z_star = layer(u)
        wts = (layer.fc_a.normalized_weight(False), layer.fc_a.bias, layer.fc_b.normalized_weight(False), layer.fc_b.bias)

        def phantom(u_):
            z = z_star
            for _ in range(3):
                z = 0.5 * z + 0.5 * (u_ + layer._g(z, wts))
            return z

        g_layer = torch.autograd.grad(layer(u).sum(), u)[0]
        g_ref = torch.autograd.grad(phantom(u).sum(), u)[0]
        torch.testing.assert_close(g_layer, g_ref)
        assert torch.autograd.gradcheck(phantom, (u,))
    else:
        assert torch.autograd.gradcheck(layer, (u,), atol=1e-6, rtol=1e-5)


def _saved_bytes(fn):
    """Bytes of the distinct storages autograd saves for backward while ``fn()`` runs."""
    seen = {}

    def pack(t):
        seen[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn()
    return sum(seen.values())


@pytest.mark.parametrize("act, n_iter", [(a, 3) for a in sorted(ACTIVATIONS)] + [("gelu", 1)])
@pytest.mark.parametrize("recompute", ["act", "all"])
def test_fused_unrolled_backward_equals_autograd_through_the_loop(act, n_iter, recompute):
    """The hand-written backward of the authors' mode gives autograd's gradients (float64), for u and
    every weight and bias, in training mode (power iteration on)."""
    torch.manual_seed(0)
    ref = _layer(act=act, n_iter=n_iter, recompute=None).train()
    fused = _layer(act=act, n_iter=n_iter, recompute=recompute).train()
    fused.load_state_dict(ref.state_dict())
    u = torch.randn(2, 5, 6, dtype=torch.float64, requires_grad=True)
    w = torch.randn(2, 5, 6, dtype=torch.float64)
    grads = []
    for layer in (ref, fused):
        out = layer(u)
        grads.append(torch.autograd.grad((out * w).sum(), [u] + list(layer.parameters())))
        grads[-1] += (out.detach(),)
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_auto_recompute_is_autograd_on_the_cpu_and_the_fused_backward_elsewhere():
    assert resolve_recompute("auto", torch.device("cpu")) is None
    assert resolve_recompute("auto", torch.device("cuda", 0)) == "all"
    for mode in ("all", "act", None):
        assert resolve_recompute(mode, torch.device("cpu")) == resolve_recompute(mode, torch.device("cuda")) == mode
    u = torch.randn(2, 3, 6, dtype=torch.float64, requires_grad=True)
    grad_fns = {}
    for recompute in ("auto", "all"):
        z = _layer(n_iter=2, recompute=recompute).train()(u)
        grad_fns[recompute] = type(z.grad_fn).__name__
    assert grad_fns["all"] == "UnrolledSolveBackward" and grad_fns["auto"] != grad_fns["all"]
    assert ImplicitLayer(8).recompute == "auto"


def test_fused_backward_refuses_double_backward_and_plain_autograd_allows_it():
    u = torch.randn(2, 3, 6, dtype=torch.float64, requires_grad=True)
    for recompute in ("all", None):
        layer = _layer(n_iter=2, recompute=recompute).train()
        (g,) = torch.autograd.grad(layer(u).square().sum(), u, create_graph=True)
        if recompute is None:
            torch.autograd.grad(g.sum(), u)  # second derivative through plain autograd
        else:  # e.g. a gradient penalty: an error, not silently missing second-order terms
            with pytest.raises(RuntimeError, match="differentiate twice"):
                g.sum().backward()


@pytest.mark.parametrize("u_dtype", [torch.float32, torch.bfloat16])
def test_fused_unrolled_backward_keeps_less_and_works_under_bf16_autocast(u_dtype):
    """u is bfloat16 when it comes from an autocast linear (the layer's W_in), float32 otherwise."""
    u = torch.randn(4, 16, 32).to(u_dtype).requires_grad_()

    def run(recompute, autocast=False):
        torch.manual_seed(0)
        layer = ImplicitLayer(32, h_ratio=2.0, n_iter=2, recompute=recompute)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            nbytes = _saved_bytes(lambda: run.out.__setitem__(0, layer(u)))
            out = run.out[0]
        grads = torch.autograd.grad(out.float().square().sum(), [u] + list(layer.parameters()))
        return nbytes, out, grads

    run.out = [None]
    sizes = {r: run(r, autocast=True)[0] for r in (None, "act", "all")}
    # per step autograd keeps z, sigma(z) (D each), a, sigma(a) (2D each); 'act' keeps z and a, 'all' z only
    assert sizes["all"] < sizes["act"] < sizes[None]
    _, out_ref, g_ref = run(None, autocast=True)
    _, out, g = run("act", autocast=True)
    assert out.dtype == out_ref.dtype == u_dtype
    for a, b in zip(g, g_ref):
        assert a.dtype == b.dtype
        torch.testing.assert_close(a, b, rtol=0.05, atol=0.05 * b.abs().max().item())


def test_implicit_gradient_matches_gradient_of_converged_unrolled_solve():
    kw = dict(tol=1e-13, max_iter=500)
    implicit = _layer(solver="anderson", grad="implicit", **kw)
    unrolled = _layer(solver="fixed_point", grad="unroll", **kw)
    unrolled.load_state_dict(implicit.state_dict())
    u = torch.randn(3, 4, 6, dtype=torch.float64, requires_grad=True)
    w = torch.randn(3, 4, 6, dtype=torch.float64)
    params_i = [implicit.fc_a.weight, implicit.fc_b.weight, implicit.fc_a.bias]
    params_u = [unrolled.fc_a.weight, unrolled.fc_b.weight, unrolled.fc_a.bias]
    gi = torch.autograd.grad((implicit(u) * w).sum(), [u, *params_i])
    gu = torch.autograd.grad((unrolled(u) * w).sum(), [u, *params_u])
    for a, b in zip(gi, gu):
        torch.testing.assert_close(a, b, rtol=1e-7, atol=1e-9)


def test_implicit_gradient_memory_does_not_grow_with_iterations():
    """The implicit mode keeps one step's graph whatever max_iter is: count saved tensors."""
    def saved_tensors(max_iter):
        layer = ImplicitLayer(8, solver="fixed_point", tol=1e-30, max_iter=max_iter, grad="implicit")
        count = [0]

        def pack(t):
            count[0] += 1
            return t

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            layer(torch.randn(2, 8, requires_grad=True))
        return count[0]

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(logging.getLogger("imixer"), "disabled", True)
        assert saved_tensors(4) == saved_tensors(16)


def test_anderson_solution_does_not_keep_its_history_alive():
    """The implicit gradient saves the solution; a view into Anderson's (B, m, D) history would keep all
    of it alive: both convergent solvers must leave the same bytes for the backward pass."""
    u = torch.randn(4, 8, 16, requires_grad=True)
    sizes = {}
    for solver in ("fixed_point", "anderson"):
        layer = ImplicitLayer(16, h_ratio=2.0, solver=solver, grad="implicit", tol=1e-4, max_iter=50)
        sizes[solver] = _saved_bytes(lambda: layer(u))
    assert sizes["anderson"] == sizes["fixed_point"]


def test_non_convergence_warns_with_residual(caplog):
    layer = _layer(solver="fixed_point", tol=1e-14, max_iter=2)
    with caplog.at_level(logging.WARNING, logger="imixer"):
        layer(torch.randn(2, 3, 6, dtype=torch.float64))
    assert "max_iter=2" in caplog.text and "relative residual" in caplog.text


def test_stats_collected_from_every_layer():
    mlp = torch.nn.Sequential(ImplicitMLP(5, 4, n_iter=2), ImplicitMLP(5, 4, solver="anderson", tol=1e-4))
    mlp(torch.randn(3, 5))
    stats = collect_solver_stats(mlp)
    assert stats["solver_iters_max"] >= 2 and stats["solver_residual"] < 1
    assert collect_solver_stats(torch.nn.Linear(2, 2)) == {}


def test_default_coeffs():
    assert resolve_coeff(None, "unroll", "unroll", "gelu") == 0.9  # the authors' c
    c = resolve_coeff(None, "anderson", "implicit", "gelu")
    assert lipschitz_bound(c, "gelu") < 0.82


@pytest.mark.parametrize("kw, match", [
    (dict(coeff=1.0), "outside \\(0, 1\\)"),
    (dict(coeff=1.5, solver="unroll"), "outside"),
    (dict(coeff=0.9, solver="fixed_point"), "coeff < 0.8858"),
    (dict(coeff=0.9, solver="unroll", grad="implicit"), "needs a contraction"),
    (dict(solver="newton"), "unknown solver"),
    (dict(grad="exact"), "unknown grad"),
    (dict(solver="anderson", grad="unroll"), "grad='unroll' differentiates"),
    (dict(act="swish"), "unknown activation"),
    (dict(n_iter=0), "n_iter must be >= 1"),
    (dict(max_iter=0), "max_iter must be >= 1"),
    (dict(recompute="some"), "unknown recompute"),
    (dict(solver="anderson", anderson_m=1), "anderson_m must be >= 2"),
    (dict(adjoint_solver="newton"), "unknown adjoint_solver"),
    (dict(nonfinite="ignore"), "unknown nonfinite"),
    (dict(phantom_steps=0), "phantom_steps must be >= 1"),
    (dict(tol=0.0), "tol must be > 0"),
    (dict(h_ratio=0), "h_ratio must be > 0"),
])
def test_bad_configs_are_refused_with_a_reason(kw, match):
    with pytest.raises(ValueError, match=match):
        ImplicitLayer(4, **kw)


def test_relu_allows_the_authors_coeff_in_convergent_mode():
    layer = ImplicitLayer(4, act="relu", coeff=0.9, solver="fixed_point")
    assert layer.coeff == 0.9


def test_two_training_forwards_before_one_backward():
    """Power-iteration updates are in place; earlier graphs must stay valid (GAN-style / checkpointing)."""
    layer = ImplicitMLP(5, 4, n_iter=2).train()
    x = torch.randn(3, 5)
    loss = layer(x).sum() + layer(x).sum()
    loss.backward()
    assert layer.implicit.fc_a.weight.grad is not None
