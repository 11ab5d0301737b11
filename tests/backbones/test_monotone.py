"""The monotone-operator mixer (monDEQ): a unique equilibrium for any weights, through the same solvers,
gradients and token-mixer spec as the iMixer."""
import pytest
import torch

import backbones
from backbones import MonotoneLayer, build_backbone, collect_solver_stats
from backbones.token_mixers import resolve_token_mixer


def _layer(scale=1.0, seed=0, **kw):
    torch.manual_seed(seed)
    layer = MonotoneLayer(6, dtype=torch.float64, **kw)
    with torch.no_grad():
        layer.A.mul_(scale)
        layer.B.mul_(scale)
    return layer


@pytest.mark.parametrize("scale", [0.1, 1.0, 100.0])
@pytest.mark.parametrize("seed", [0, 1])
def test_the_same_equilibrium_from_two_starts_for_weights_of_any_scale(scale, seed):
    layer = _layer(scale, seed, solver="anderson", tol=1e-13, max_iter=3000, solver_kwargs=dict(m=8))
    u = torch.randn(3, 4, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(seed)) * scale
    z_a = layer(u)
    assert layer.stats["residual"].item() < 1e-13
    z_b = layer(u, z0=100 * scale * torch.randn_like(u))
    assert layer.stats["residual"].item() < 1e-13
    ref = z_a.abs().max().item()
    assert (z_a - z_b).abs().max().item() < 1e-7 * ref
    # it is the equilibrium z = ReLU(W z + u), with W = (1 - m) I - A^T A + B - B^T
    assert layer.equilibrium_residual(z_a, u).max().item() < 1e-7 * ref
    assert (z_a >= 0).all()
    eye = torch.eye(6, dtype=torch.float64)
    w = (1 - layer.m) * eye - layer.A.t() @ layer.A + layer.B - layer.B.t()
    torch.testing.assert_close(layer.weight(), w)
    sym = eye - (w + w.t()) / 2  # I - W is m-strongly monotone whatever A, B are
    assert torch.linalg.eigvalsh(sym).min().item() >= layer.m - 1e-9 * scale ** 2


def test_both_splittings_and_every_solver_find_the_same_point():
    u = torch.randn(2, 3, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    outs = []
    for splitting in ("peaceman_rachford", "forward_backward"):
        for solver in ("fixed_point", "anderson", "broyden"):
            layer = _layer(1.0, 0, solver=solver, splitting=splitting, tol=1e-12, max_iter=2000)
            outs.append(layer(u))
            assert layer.stats["residual"].item() < 1e-12, (splitting, solver)
    for z in outs[1:]:
        torch.testing.assert_close(z, outs[0], rtol=1e-8, atol=1e-9)


@pytest.mark.parametrize("splitting", ["peaceman_rachford", "forward_backward"])
def test_implicit_gradient_is_the_converged_unrolled_gradient(splitting):
    kw = dict(splitting=splitting, tol=1e-13, max_iter=3000)
    implicit = _layer(solver="fixed_point", grad="implicit", **kw)
    unrolled = _layer(solver="fixed_point", grad="unroll", **kw)
    u = torch.randn(2, 3, 6, dtype=torch.float64, requires_grad=True)
    w = torch.randn(2, 3, 6, dtype=torch.float64)
    gi = torch.autograd.grad((implicit(u) * w).sum(), [u, implicit.A, implicit.B])
    gu = torch.autograd.grad((unrolled(u) * w).sum(), [u, unrolled.A, unrolled.B])
    for a, b in zip(gi, gu):
        torch.testing.assert_close(a, b, rtol=1e-7, atol=1e-9)
    assert implicit.stats["adjoint_residual"].item() < 1e-13


def test_gradcheck_float64_and_the_phantom_gradient_runs():
    layer = _layer(solver="fixed_point", grad="implicit", tol=1e-13, max_iter=3000)
    u = torch.randn(2, 2, 6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(layer, (u,), atol=1e-6, rtol=1e-5)
    phantom = _layer(solver="broyden", grad="phantom", tol=1e-10, max_iter=200)
    phantom(u).sum().backward()
    assert phantom.A.grad is not None and torch.isfinite(phantom.A.grad).all()


def test_jvp_jacobian_penalty_and_spectral_radius():
    for splitting in ("peaceman_rachford", "forward_backward"):
        layer = _layer(splitting=splitting, jac_reg=1.0, spectral_radius=50, tol=1e-10, max_iter=500).train()
        u = torch.randn(2, 3, 6, dtype=torch.float64)
        fmap = layer.fixed_point_map(u)
        x, v = torch.randn_like(u), torch.randn_like(u)
        _, ref = torch.func.jvp(fmap.f, (x,), (v,))
        torch.testing.assert_close(fmap.jvp(x, v), ref, rtol=1e-10, atol=1e-12)
        layer(u)
        assert layer.jac_loss is not None and layer.jac_loss.requires_grad
        stats = collect_solver_stats(layer)
        assert 0 < stats["solver_spectral_radius"] < 1  # the splitting's map is a contraction
        assert stats["solver_jac"] > 0


def test_monotone_through_the_one_token_mixer_spec_in_every_backbone():
    x = torch.randn(2, 3, 32, 32)
    iso = build_backbone("imixer_s16_224", num_classes=3, img_size=32, embed_dim=16, num_blocks=1,
                         token_mixer="monotone")
    pyr = backbones.IMixerPyramid(embed_dims=8, depths=(1, 1, 1, 1), token_mixer=dict(type="monotone", m=0.5))
    seq = backbones.IMixerSequence(seq_len=6, embed_dim=8, num_blocks=1, token_mixer=dict(type="monotone"),
                                   solver="anderson")
    for model, inp in ((iso, x), (pyr, x), (seq, torch.randn(2, 6, 8))):
        layers = [m for m in model.modules() if isinstance(m, MonotoneLayer)]
        assert layers and not any(isinstance(m, backbones.ImplicitLayer) for m in model.modules())
        out = model(inp)
        sum(o.sum() for o in out).backward() if isinstance(out, (tuple, list)) else out.sum().backward()
        assert layers[0].A.grad is not None
    assert {m.m for m in pyr.modules() if isinstance(m, MonotoneLayer)} == {0.5}
    assert {m.solver for m in seq.modules() if isinstance(m, MonotoneLayer)} == {"anderson"}


def test_monotone_options_are_checked_with_the_right_names():
    with pytest.raises(TypeError, match=r"unknown arguments \['coeff'\]; monotone-mixer options are"):
        resolve_token_mixer("monotone", coeff=0.5)
    with pytest.raises(ValueError, match="m \\(the monotonicity margin\\) must be > 0"):
        resolve_token_mixer(dict(type="monotone", m=0.0))
    with pytest.raises(ValueError, match="unknown splitting 'douglas'"):
        MonotoneLayer(4, splitting="douglas")
    with pytest.raises(ValueError, match="takes no option 'mm'"):
        MonotoneLayer(4, solver="anderson", solver_kwargs=dict(mm=2))
    assert resolve_token_mixer("monotone") == {"type": "monotone"}


def test_the_text_and_graph_entry_points_take_the_monotone_mixer():
    from transformers import AutoConfig, AutoModelForSequenceClassification

    import tasks.text  # noqa: F401  (registers model_type 'imixer')
    from tasks.graph.model import HopMixer

    cfg = AutoConfig.for_model("imixer", vocab_size=50, max_position_embeddings=8, hidden_size=8,
                               num_hidden_layers=1, num_labels=2, token_mixer=dict(type="monotone", m=0.5))
    text = AutoModelForSequenceClassification.from_config(cfg)
    graph = HopMixer(in_channels=4, num_classes=2, num_hops=2, embed_dim=8, num_blocks=1, token_mixer="monotone")
    for model in (text, graph):
        assert any(isinstance(m, MonotoneLayer) for m in model.modules())
    assert text(input_ids=torch.randint(0, 50, (2, 8))).logits.shape == (2, 2)
