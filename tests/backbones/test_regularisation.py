"""Jacobian regularisation (Hutchinson), the Jacobian's spectral radius, the fixed-point correction."""
import pytest
import torch
from mmengine.optim import OptimWrapper

from backbones import ImplicitLayer
from backbones.gradients import correction_weights, phantom_gradient, sample_indices
from backbones.implicit import attach_jacobian_loss, collect_jacobian_loss, jacobian_penalty, spectral_radius
from backbones.spectral_norm import ACTIVATIONS
from tests.backbones.implicit_helpers import contractive_layer


def _weights(layer):
    return tuple(layer._weights(False))


@pytest.mark.parametrize("act", sorted(ACTIVATIONS))
def test_the_layers_jvp_is_autograds(act):
    layer = contractive_layer(seed=0, act=act, solver="fixed_point", coeff=0.5)
    z, v = torch.randn(2, 3, 6, dtype=torch.float64), torch.randn(2, 3, 6, dtype=torch.float64)
    w = _weights(layer)
    _, ref = torch.func.jvp(lambda z_: layer._g(z_, w), (z,), (v,))
    torch.testing.assert_close(layer._g_jvp(z, v, w), ref, rtol=1e-12, atol=1e-12)


def test_hutchinson_estimates_the_frobenius_norm():
    layer = contractive_layer(seed=0, solver="fixed_point")
    w = _weights(layer)
    z = torch.randn(1, 1, 6, dtype=torch.float64)
    jac = torch.autograd.functional.jacobian(lambda z_: layer._g(z_, w), z).reshape(6, 6)
    exact = jac.square().sum().item() / 6
    torch.manual_seed(0)
    probes = torch.stack([jacobian_penalty(lambda z_, v: layer._g_jvp(z_, v, w), z) for _ in range(4000)])
    assert probes.mean().item() == pytest.approx(exact, rel=0.05)


def test_jacobian_penalty_gradient_passes_float64_gradcheck():
    layer = contractive_layer(seed=0, solver="fixed_point", tol=1e-12, max_iter=300)
    with torch.no_grad():
        z_star = layer(torch.randn(2, 3, 6, dtype=torch.float64))
    wa, ba, wb, bb = (t.detach().clone().requires_grad_() for t in _weights(layer))

    def penalty(wa_, ba_, wb_, bb_):
        torch.manual_seed(0)  # the same probe at every evaluation
        return jacobian_penalty(lambda z, v: layer._g_jvp(z, v, (wa_, ba_, wb_, bb_)), z_star)

    assert torch.autograd.gradcheck(penalty, (wa, ba, wb, bb))
    assert torch.autograd.gradgradcheck(penalty, (wa, ba, wb, bb))


def _layer_grads(layer, u, seed=0):
    torch.manual_seed(seed)
    out = layer(u)
    loss = out.square().mean() + layer.jac_loss
    return torch.autograd.grad(loss, [layer.fc_a.weight, layer.fc_b.weight]), layer.stats["jac"]


@pytest.mark.parametrize("solver, grad", [("unroll", "unroll"), ("fixed_point", "implicit"), ("anderson", "phantom")])
def test_the_layer_adds_the_weighted_penalty_in_training(solver, grad):
    kw = dict(solver=solver, grad=grad, jac_reg=2.0, coeff=0.7)
    layer = contractive_layer(seed=0, **kw).train()
    u = torch.randn(2, 3, 6, dtype=torch.float64)
    torch.manual_seed(0)
    z = layer(u)
    assert layer.jac_loss is not None and layer.jac_loss.requires_grad
    w = _weights(layer)
    # the same probe: the layer draws exactly one randn_like(z*), after the solve
    torch.manual_seed(0)
    eps = torch.randn_like(z)
    expected = 2.0 * (layer._g_jvp(z.detach(), eps, w).flatten(1).square().sum(1) / 18).mean()
    torch.testing.assert_close(layer.jac_loss, expected)
    assert layer.stats["jac"].item() == pytest.approx(expected.item() / 2)
    (g,) = torch.autograd.grad(layer.jac_loss, layer.fc_a.weight)
    assert g.abs().sum() > 0
    layer.eval()
    layer(u)
    assert layer.jac_loss is None  # training only


def test_penalty_frequency_is_a_deterministic_share():
    layer = contractive_layer(seed=0, solver="fixed_point", jac_reg=1.0, jac_reg_freq=0.25).train()
    u = torch.randn(2, 6, dtype=torch.float64)
    due = []
    for _ in range(8):
        layer(u)
        due.append(layer.jac_loss is not None)
    assert due == [False, False, False, True] * 2


def test_the_penalty_reaches_a_real_models_loss_dict():
    from tasks.classification.model import ImageClassifier

    model = ImageClassifier(backbone=dict(type="IMixer", num_classes=3, img_size=8, in_chans=1, patch_size=4,
                                          embed_dim=8, num_blocks=2,
                                          token_mixer=dict(solver="fixed_point", jac_reg=0.5))).train()
    assert attach_jacobian_loss(model) and attach_jacobian_loss(model)  # idempotent
    batch = dict(inputs=torch.randn(4, 1, 8, 8), labels=torch.tensor([0, 1, 2, 0]))
    log = model.train_step(batch, OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1)))
    assert log["loss_jac"].item() > 0 and log["loss"].item() > log["loss_jac"].item()
    assert collect_jacobian_loss(model) is None  # taken once
    assert len(model._forward_hooks) == 1


def test_penalty_gradient_under_torch_compile():
    """torch.compile (dynamo + AOT autograd, the path where torchdeq's jac_loss lost its gradient) gives
    the eager gradients, penalty included."""
    kw = dict(seed=0, solver="unroll", n_iter=3, jac_reg=1.0, recompute=None, dtype=torch.float32)
    eager, compiled_layer = contractive_layer(**kw).train(), contractive_layer(**kw).train()
    compiled = torch.compile(compiled_layer, backend="aot_eager", fullgraph=False)
    u = torch.randn(2, 3, 6)
    g_eager, jac_eager = _layer_grads(eager, u)
    torch._dynamo.reset()
    torch._dynamo.utils.counters.clear()
    torch.manual_seed(0)
    out = compiled(u)
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] >= 1  # really compiled, not skipped
    assert compiled_layer.jac_loss is not None and compiled_layer.jac_loss.requires_grad
    g_comp = torch.autograd.grad(out.square().mean() + compiled_layer.jac_loss,
                                 [compiled_layer.fc_a.weight, compiled_layer.fc_b.weight])
    assert compiled_layer.stats["jac"].item() == pytest.approx(jac_eager.item(), rel=1e-5)
    for a, b in zip(g_comp, g_eager):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


# -- spectral radius ---------------------------------------------------------------------------------
def test_power_method_finds_a_known_spectral_radius():
    q, _ = torch.linalg.qr(torch.randn(8, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(0)))
    mat = q @ torch.diag(torch.tensor([0.9, -0.5, 0.3, 0.2, 0.1, 0.05, 0.01, 0.0], dtype=torch.float64)) @ q.t()
    z = torch.zeros(3, 8, dtype=torch.float64)
    rho = spectral_radius(lambda z_, v: v @ mat.t(), z, 200)
    torch.testing.assert_close(rho, torch.full((3,), 0.9, dtype=torch.float64), rtol=1e-8, atol=1e-8)


def test_spectral_radius_is_in_the_statistics_when_asked():
    from backbones import collect_solver_stats

    layer = contractive_layer(seed=0, solver="fixed_point", spectral_radius=30)
    layer(torch.randn(4, 3, 6, dtype=torch.float64))
    rho = collect_solver_stats(layer)["solver_spectral_radius"]
    assert 0 < rho <= layer.coeff ** 2 * ACTIVATIONS["gelu"][1] ** 2  # rho(J) <= ||J|| <= Lip(G) < 1
    plain = contractive_layer(seed=0, solver="fixed_point")
    plain(torch.randn(4, 3, 6, dtype=torch.float64))
    assert "solver_spectral_radius" not in collect_solver_stats(plain)


# -- fixed-point correction --------------------------------------------------------------------------
def test_correction_weights_are_plain_floats_summing_to_one():
    w = correction_weights(4, 0.5)
    assert all(type(x) is float for x in w) and sum(w) == pytest.approx(1.0)
    assert w == sorted(w) and w[-1] / w[-2] == pytest.approx(2.0)
    assert sample_indices(10, 3) == [2, 6, 9] and sample_indices(2, 5) == [0, 1]


def test_correction_keeps_the_value_and_mixes_the_gradients_of_sampled_states():
    kw = dict(solver="fixed_point", grad="phantom", tol=1e-10, max_iter=200, phantom_steps=2)
    plain = contractive_layer(seed=0, **kw)
    corrected = contractive_layer(seed=0, fp_correction=3, fp_correction_gamma=0.5, **kw)
    u = torch.randn(2, 3, 6, dtype=torch.float64)
    w_out = torch.randn(2, 3, 6, dtype=torch.float64)
    params = lambda layer: [layer.fc_a.weight, layer.fc_b.weight]  # noqa: E731
    z_plain, z_corr = plain(u), corrected(u)
    torch.testing.assert_close(z_corr, z_plain, rtol=0, atol=0)
    g_corr = torch.autograd.grad((z_corr * w_out).sum(), params(corrected))
    # by hand: the trajectory z_0 = u, z_{k+1} = f(z_k); phantom gradients attached at the picks
    steps = int(plain.stats["iters"])
    fmap = plain.fixed_point_map(u)
    traj = [u]
    with torch.no_grad():
        for _ in range(steps - 1):
            traj.append(fmap.f(traj[-1]))
    picks = sample_indices(steps, 3)[:-1]
    weights = correction_weights(len(picks) + 1, 0.5)
    states = [traj[k] for k in picks] + [z_plain.detach()]
    expected = [torch.zeros_like(p) for p in params(plain)]
    for w, s in zip(weights, states):
        gs = torch.autograd.grad((phantom_gradient(s, fmap.f, 2, 0.5) * w_out).sum(), params(plain), retain_graph=True)
        expected = [e + w * g for e, g in zip(expected, gs)]
    assert len(picks) == 2
    for a, b in zip(g_corr, expected):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_correction_with_the_implicit_gradient_runs_one_adjoint_per_state():
    layer = contractive_layer(seed=0, solver="fixed_point", grad="implicit", tol=1e-8, max_iter=100, fp_correction=3)
    u = torch.randn(2, 3, 6, dtype=torch.float64, requires_grad=True)
    layer(u).sum().backward()
    assert u.grad is not None and torch.isfinite(u.grad).all() and "adjoint_residual" in layer.stats
    with pytest.raises(ValueError, match="fp_correction attaches"):
        ImplicitLayer(6, fp_correction=2)
