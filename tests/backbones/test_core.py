"""The shared implicit core: one token-mixer spec and recipe, the solver registry, per-sample
convergence with non-finite samples, gradient checkpointing in training mode, solver statistics."""
import copy
import inspect
import logging
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

import backbones
from backbones import IMPLICIT_RECIPE, ImplicitLayer, ImplicitMLP, build_backbone, collect_solver_stats
from backbones.solvers import SOLVERS, SolverInfo, register_solver
from tests.backbones.implicit_helpers import contractive_layer
from backbones.token_mixers import resolve_token_mixer


def _implicit_layers(model):
    return [m for m in model.modules() if isinstance(m, ImplicitLayer)]


def _assert_recipe(model):
    layers = _implicit_layers(model)
    assert layers, "no implicit layer built"
    for layer in layers:
        assert layer.hidden == int(layer.dim * IMPLICIT_RECIPE["h_ratio"])
        assert layer.n_iter == IMPLICIT_RECIPE["n_iter"]
        assert layer.coeff == IMPLICIT_RECIPE["coeff"]
        assert layer.fc_a.n_power == IMPLICIT_RECIPE["n_power"] and layer.act_name == IMPLICIT_RECIPE["act"]


def test_recipe_is_the_authors():
    assert IMPLICIT_RECIPE == dict(h_ratio=2.0, n_iter=2, coeff=0.9, n_power=8, act="gelu")


@pytest.mark.parametrize("build", [
    lambda: backbones.IMixer(num_classes=3, img_size=8, patch_size=4, embed_dim=16, num_blocks=1),
    lambda: build_backbone("imixer_s16_224", num_classes=3, img_size=32, embed_dim=16, num_blocks=1),
    lambda: backbones.IMixerPyramid(embed_dims=8, depths=(1, 1, 1, 1)),
    lambda: backbones.IMixerSequence(seq_len=6, embed_dim=8, num_blocks=1),
    lambda: ImplicitMLP(6, 4),
], ids=["IMixer", "imixer_s16_224", "IMixerPyramid", "IMixerSequence", "ImplicitMLP"])
def test_every_backbone_defaults_to_the_recipe(build):
    _assert_recipe(build())


def test_task_entry_points_default_to_the_recipe():
    import numpy as np

    from tasks.anomaly.detectors import IMixerTabularDetector
    from tasks.graph.model import HopMixer

    _assert_recipe(HopMixer(in_channels=4, num_classes=2, num_hops=2, embed_dim=8, num_blocks=1))
    det = IMixerTabularDetector(embed_dim=8, num_blocks=1, min_iters=1, max_iters=1, device="cpu", random_state=0)
    det.fit(np.random.RandomState(0).randn(16, 3))
    _assert_recipe(det.model_)


def test_text_entry_point_defaults_to_the_recipe():
    from transformers import AutoConfig, AutoModelForSequenceClassification

    import tasks.text  # noqa: F401  (registers model_type 'imixer')

    cfg = AutoConfig.for_model("imixer", vocab_size=50, max_position_embeddings=8, hidden_size=8,
                               num_hidden_layers=1, num_labels=2)
    _assert_recipe(AutoModelForSequenceClassification.from_config(cfg))


def test_spec_forms_agree_and_bad_specs_say_why():
    a = resolve_token_mixer("implicit", n_iter=4)
    b = resolve_token_mixer(dict(type="implicit", n_iter=4))
    c = resolve_token_mixer(dict(n_iter=4))
    assert a == b == c == {"type": "implicit", "n_iter": 4}
    assert resolve_token_mixer(None, default="mlp") == {"type": "mlp"}
    with pytest.raises(ValueError, match="only apply to token_mixer='implicit'"):
        resolve_token_mixer("mlp", n_iter=2)
    with pytest.raises(TypeError, match="unknown arguments \\['n_iters'\\]"):
        resolve_token_mixer("implicit", n_iters=2)
    with pytest.raises(ValueError, match="given twice"):
        resolve_token_mixer(dict(type="implicit", n_iter=3), n_iter=2)
    with pytest.raises(ValueError, match="unknown token_mixer type 'conv'"):
        resolve_token_mixer("conv")
    with pytest.raises(ValueError, match="anderson_m must be >= 2"):
        backbones.IMixerSequence(seq_len=4, embed_dim=8, token_mixer=dict(solver="anderson", anderson_m=1))


def test_dict_spec_reaches_every_layer():
    model = backbones.IMixerPyramid(embed_dims=8, depths=(1, 1, 1, 1),
                                    token_mixer=dict(type="implicit", n_iter=5, solver="fixed_point", tol=1e-4))
    assert {(layer.n_iter, layer.solver, layer.tol) for layer in _implicit_layers(model)} == {(5, "fixed_point", 1e-4)}


_TWINS = sorted(str(p) for p in (Path(__file__).resolve().parents[2] / "configs").rglob("*mlpmixer*.py"))


@pytest.mark.parametrize("twin", _TWINS, ids=[Path(t).name for t in _TWINS])
def test_twin_configs_are_short_and_change_only_the_token_mixer(twin):
    """Every MLP-Mixer twin under configs/ is a short override of its iMixer config (token_mixer='mlp')."""
    name = Path(twin).name
    base = str(Path(twin).with_name(name.replace("hopmlpmixer", "hopimixer").replace("mlpmixer", "imixer")))
    assert Path(base).is_file(), f"{twin}: no iMixer config {base} beside it"
    code = [line for line in open(twin).read().splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert len(code) <= 8 and "_delete_" not in "\n".join(code)
    t, b = Config.fromfile(twin).model.to_dict(), Config.fromfile(base).model.to_dict()

    def strip(d):  # the token_mixer entries removed, wherever they sit
        if isinstance(d, dict):
            return {k: strip(v) for k, v in d.items() if k != "token_mixer"}
        return d

    assert strip(t) == strip(b)
    assert "'mlp'" in repr(t) and "'mlp'" not in repr(b)


def test_named_variants_are_written_out_functions():
    from backbones import mixer, pyramid

    for module, name in ((mixer, "imixer_s16_224"), (mixer, "mlpmixer_l32_224"), (pyramid, "imixer_pyramid_t")):
        fn = getattr(module, name)
        assert inspect.getsource(fn).lstrip().startswith("@register_backbone()\ndef " + name + "(")
        assert fn.__doc__ and name in backbones.list_backbones()


# -- solvers -----------------------------------------------------------------------------------------
def _contractive_layer(**kw):
    return contractive_layer(seed=0, **kw)


@pytest.mark.parametrize("solver", ["anderson", "fixed_point", "unroll"])
def test_a_nan_sample_neither_stops_nor_changes_the_others(solver, caplog):
    layer = _contractive_layer(solver=solver, tol=1e-6, max_iter=200)
    clean = torch.randn(3, 5, 6, dtype=torch.float64)
    batch = torch.cat([clean[:2], torch.full((1, 5, 6), float("nan"), dtype=torch.float64), clean[2:]])
    expected = layer(clean)
    if solver != "unroll":
        assert layer.stats["residual"].item() < 1e-6
    with caplog.at_level(logging.WARNING, logger="imixer"):
        out = layer(batch)
    torch.testing.assert_close(out[[0, 1, 3]], expected, rtol=1e-5, atol=1e-12)
    assert torch.isnan(out[2]).all()
    assert layer.stats["nonfinite"].item() == 1
    if solver != "unroll":
        assert layer.stats["residual"].item() < 1e-6  # converged to tol, not stopped early
    assert any("1 of 4 samples non-finite" in r.getMessage() and "batch indices 2" in r.getMessage()
               for r in caplog.records)
    strict = _contractive_layer(solver=solver, tol=1e-6, max_iter=200, nonfinite="raise")
    with pytest.raises(FloatingPointError, match="batch indices 2.*input was already non-finite"):
        strict(batch)


def test_nonfinite_warning_is_rate_limited(caplog):
    layer = _contractive_layer()
    bad = torch.full((2, 6), float("inf"), dtype=torch.float64)
    with caplog.at_level(logging.WARNING, logger="imixer"):
        for _ in range(150):
            layer(bad)
    msgs = [r.getMessage() for r in caplog.records if "non-finite" in r.getMessage()]
    assert len(msgs) == 2 and "seen 100 times before" in msgs[1]


def test_registered_solver_serves_forward_and_adjoint():
    calls = []

    @register_solver("test_damped")
    def damped(f, z0, *, tol, max_iter, **_):
        calls.append(max_iter)
        z = z0
        for _ in range(max_iter):
            z = 0.5 * z + 0.5 * f(z)
        res = (f(z) - z).flatten(1).norm(dim=1)
        return z, SolverInfo(max_iter, torch.full((z0.shape[0],), max_iter), res, ~torch.isfinite(res))

    try:
        ref = _contractive_layer(solver="fixed_point", grad="implicit", tol=1e-12, max_iter=300)
        new = _contractive_layer(solver="test_damped", grad="implicit", adjoint_solver="test_damped",
                                 tol=1e-12, max_iter=300)
        u = torch.randn(2, 3, 6, dtype=torch.float64, requires_grad=True)
        (g_ref,) = torch.autograd.grad(ref(u).square().sum(), u)
        (g_new,) = torch.autograd.grad(new(u).square().sum(), u)
        torch.testing.assert_close(g_new, g_ref, rtol=1e-9, atol=1e-9)
        assert len(calls) == 2  # one forward solve, one adjoint solve
    finally:
        SOLVERS.pop("test_damped")


@pytest.mark.parametrize("solver", ["anderson", "broyden"])
def test_accelerated_adjoint_gives_the_same_gradient_as_plain_iteration(solver):
    grads = []
    for adjoint in ("fixed_point", solver):
        layer = _contractive_layer(solver=solver, grad="implicit", adjoint_solver=adjoint, tol=1e-12, max_iter=300)
        u = torch.randn(2, 3, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(1), requires_grad=True)
        layer(u).pow(3).sum().backward()
        grads.append((u.grad, layer.fc_a.weight.grad))
        assert layer.stats["adjoint_residual"].item() < 1e-12
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-9)


def test_collect_solver_stats_reports_counts_and_clears():
    layer = _contractive_layer(solver="fixed_point", grad="implicit", tol=1e-8, max_iter=100)
    u = torch.randn(3, 6, dtype=torch.float64, requires_grad=True)
    u_bad = u.detach().clone()
    u_bad[1] = float("nan")
    layer(u).sum().backward()
    stats = collect_solver_stats(layer)
    assert stats["solver_adjoint_residual"] < 1e-8 and stats["solver_nonfinite"] == 0
    assert collect_solver_stats(layer) == {}  # cleared by the first call
    layer(u_bad)
    assert collect_solver_stats(layer)["solver_nonfinite"] == 1


def test_solver_stats_hook_runs_before_the_logger():
    from mmengine.hooks import LoggerHook
    from mmengine.runner.priority import get_priority

    from tasks.common.hooks import SolverStatsHook

    assert get_priority(SolverStatsHook.priority) < get_priority(LoggerHook.priority)


# -- gradient checkpointing in training mode -------------------------------------------------------
@pytest.mark.parametrize("kind", ["mixer", "pyramid"])
def test_gradient_checkpointing_in_training_mode_matches_plain_backward(kind):
    torch.manual_seed(0)
    if kind == "mixer":
        model = backbones.IMixer(num_classes=3, img_size=8, patch_size=2, embed_dim=8, num_blocks=2,
                                 drop_path_rate=0.2).double().train()
        x = torch.randn(2, 3, 8, 8, dtype=torch.float64)
    else:
        model = backbones.IMixerPyramid(embed_dims=8, depths=(1, 2, 1, 1), window_size=2, num_classes=3,
                                        drop_path_rate=0.2).double().train()
        x = torch.randn(2, 3, 16, 16, dtype=torch.float64)
    twin = copy.deepcopy(model)
    twin.set_grad_checkpointing(True)
    for m, seed in ((model, 1), (twin, 1)):
        torch.manual_seed(seed)  # the same drop-path draws
        m(x).square().sum().backward()
    for (name, p), (_, q) in zip(model.named_parameters(), twin.named_parameters()):
        torch.testing.assert_close(q.grad, p.grad, rtol=1e-10, atol=1e-12, msg=name)
    for (name, b), (_, c) in zip(model.named_buffers(), twin.named_buffers()):
        assert torch.equal(b, c), name  # u, v (and sigma) updated once, as without checkpointing
