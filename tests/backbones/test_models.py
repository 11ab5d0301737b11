"""Every registered backbone: build, forward, backward, parameter count, intermediates, registry."""
import pytest
import torch

import backbones
from backbones import IMixer, MLPMixer, build_backbone, convert_reference_state_dict, list_backbones

NAMED = [n for n in list_backbones() if n.endswith("_224")]
# timm's published parameter counts of the MLP-Mixer (millions)
TIMM_MIXER = {"s16": 18.528, "s32": 19.102, "b16": 59.880, "b32": 60.293, "l16": 208.196, "l32": 206.939}


def _count(model):
    return sum(p.numel() for p in model.parameters())


def test_named_variants_are_registered():
    for fam in ("imixer", "mlpmixer"):
        for size in "sbl":
            for patch in (16, 32):
                assert f"{fam}_{size}{patch}_224" in NAMED


@pytest.mark.parametrize("name", NAMED)
def test_parameter_counts_match_the_papers(name):
    with torch.device("meta"):
        model = build_backbone(name)
        twin = build_backbone(name.replace("imixer", "mlpmixer"))
    key = name.split("_")[1]
    # the MLP-Mixer twin has timm's published size
    assert _count(twin) / 1e6 == pytest.approx(TIMM_MIXER[key], abs=0.005)
    if name.startswith("imixer"):  # plus W_a, W_b with bias per block, D = dim / 2, h_ratio 2
        d = model.embed_dim // 2
        assert _count(model) - _count(twin) == len(model.blocks) * (2 * d * 2 * d + d + 2 * d)


def test_the_issue_counts():
    with torch.device("meta"):
        assert round(_count(build_backbone("imixer_s16_224")) / 1e6, 1) == 20.6
        assert round(_count(build_backbone("imixer_b16_224")) / 1e6, 1) == 67.0
        assert round(_count(build_backbone("mlpmixer_s16_224")) / 1e6, 1) == 18.5


SMALL = dict(img_size=32, num_classes=5, embed_dim=32, num_blocks=2)


@pytest.mark.parametrize("name", NAMED)
def test_forward_backward_intermediates(name):
    model = build_backbone(name, **SMALL)
    x = torch.randn(2, 3, 32, 32)
    out = model(x)
    assert out.shape == (2, 5)
    out.sum().backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)
    final, inter = model.forward_intermediates(x)
    g = 32 // model.patch_size
    assert len(inter) == 2 and inter[0].shape == (2, 32, g, g) and final.shape == (2, g * g, 32)
    only = model.forward_intermediates(x, indices=[-1], output_fmt="NLC", intermediates_only=True)
    assert len(only) == 1 and only[0].shape == (2, g * g, 32)
    assert model.forward_head(model.forward_features(x), pre_logits=True).shape == (2, 32)


def test_reset_classifier_and_pooling():
    model = build_backbone("imixer_s16_224", **SMALL)
    model.reset_classifier(7)
    assert model(torch.randn(1, 3, 32, 32)).shape == (1, 7)
    model.reset_classifier(0, global_pool="")
    assert model(torch.randn(1, 3, 32, 32)).shape == (1, 4, 32)


def test_init_matches_timm_mixer():
    model = build_backbone("imixer_s16_224", **SMALL)
    assert torch.count_nonzero(model.head.weight) == 0
    blk = model.blocks[0]
    assert blk.mlp_tokens.fc_in.bias.abs().max() < 1e-4  # N(0, 1e-6) bias inside MLPs
    w = blk.mlp_channels.fc1.weight
    bound = (6 / sum(w.shape)) ** 0.5
    assert w.abs().max() <= bound and w.abs().max() > 0.8 * bound  # xavier-uniform


def test_token_mixers_differ_and_twins_share_the_rest():
    imx, mix = IMixer(**SMALL), MLPMixer(**SMALL)
    assert imx.token_mixer == "implicit" and mix.token_mixer == "mlp"
    extra = set(imx.state_dict()) - set(mix.state_dict())
    assert extra and all(".mlp_tokens." in k for k in extra)


def test_grad_checkpointing_gives_the_same_gradients():
    model = build_backbone("imixer_s32_224", **SMALL)
    x = torch.randn(2, 3, 32, 32)
    model.eval()
    g1 = torch.autograd.grad(model(x).sum() + model.forward_features(x).sum(), model.stem.proj.weight)[0]
    model.set_grad_checkpointing(True)
    g2 = torch.autograd.grad(model(x).sum() + model.forward_features(x).sum(), model.stem.proj.weight)[0]
    torch.testing.assert_close(g1, g2)


@pytest.mark.parametrize("solver", ["fixed_point", "anderson"])
def test_convergent_backbone_trains(solver):
    model = build_backbone("imixer_s16_224", solver=solver, grad="implicit", tol=1e-4, max_iter=50, **SMALL)
    model(torch.randn(2, 3, 32, 32)).sum().backward()
    assert backbones.collect_solver_stats(model)["solver_residual"] < 1e-4


def test_sequence_backbone_ignores_padding():
    seq = backbones.IMixerSequence(seq_len=6, embed_dim=8, num_blocks=2).eval()
    x = torch.randn(1, 6, 8)
    mask = torch.tensor([[1, 1, 1, 1, 0, 0]])
    y1 = seq(x, mask)
    x2 = x.clone()
    x2[:, 4:] = 100 * torch.randn(1, 2, 8)
    y2 = seq(x2, mask)
    torch.testing.assert_close(y1[:, :4], y2[:, :4])
    # a shorter input is padded internally and gives the same real-token outputs
    torch.testing.assert_close(seq(x[:, :4]), y1[:, :4])
    torch.testing.assert_close(seq.pool(y1, mask), y1[:, :4].mean(1))


# -- the authors' checkpoints -------------------------------------------------------------------------------
def _reference_state_dict(model):
    """A state dict laid out as the authors' code saves it (timm keys, spectral_norm_fc hooks)."""
    out = {}
    for k, v in model.state_dict().items():
        k = k.replace("mlp_tokens.fc_in.", "mlp_tokens.fc1.").replace("mlp_tokens.fc_out.", "mlp_tokens.fc2.")
        for ours, theirs in (("fc_a", "fc_sn1"), ("fc_b", "fc_sn2")):
            k = k.replace(f"mlp_tokens.implicit.{ours}.weight", f"mlp_tokens.{theirs}.weight_orig")
            k = k.replace(f"mlp_tokens.implicit.{ours}.u", f"mlp_tokens.{theirs}.weight_u")
            k = k.replace(f"mlp_tokens.implicit.{ours}.v", f"mlp_tokens.{theirs}.weight_v")
            k = k.replace(f"mlp_tokens.implicit.{ours}.sigma", f"mlp_tokens.{theirs}.weight_sigma")
            k = k.replace(f"mlp_tokens.implicit.{ours}.bias", f"mlp_tokens.{theirs}.bias")
        out["module." + k] = v.clone()
    return {"state_dict": out}


def test_convert_reference_state_dict_round_trip():
    src = build_backbone("imixer_s16_224", **SMALL).eval()
    with torch.no_grad():
        for p in src.parameters():
            p.normal_(0, 0.05)
    ref = _reference_state_dict(src)
    assert any("fc_sn1.weight_orig" in k for k in ref["state_dict"])
    dst = build_backbone("imixer_s16_224", **SMALL).eval()
    missing = dst.load_state_dict(convert_reference_state_dict(ref), strict=True)
    assert not missing.missing_keys and not missing.unexpected_keys
    x = torch.randn(2, 3, 32, 32)
    torch.testing.assert_close(dst(x), src(x))


def test_reference_forward_semantics():
    """Our eval forward equals the authors' iMlp recurrence written out by hand."""
    import torch.nn.functional as F

    model = build_backbone("imixer_s16_224", n_iter=3, **SMALL).eval()
    blk = model.blocks[0].mlp_tokens
    x = torch.randn(2, 32, 4)  # (B, C, N): token mixing along the last axis
    sn1, sn2 = blk.implicit.fc_a, blk.implicit.fc_b

    def sn(layer):
        sigma = torch.dot(layer.u, layer.weight @ layer.v)
        return layer.weight / torch.clamp(sigma / 0.9, min=1.0)

    h = blk.fc_in(x)
    h_in = h
    for _ in range(3):
        h = F.linear(F.gelu(F.linear(F.gelu(h), sn(sn1), sn1.bias)), sn(sn2), sn2.bias) + h_in
    ref = blk.fc_out(F.gelu(h))
    torch.testing.assert_close(blk(x), ref)


# -- registry and bad input ---------------------------------------------------------------------------------
def test_build_through_mmdet_and_mmseg_registries_by_scope_prefix():
    from mmdet.registry import MODELS as MMDET_MODELS
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS as MMSEG_MODELS

    init_default_scope("mmdet")
    m = MMDET_MODELS.build(dict(type="imixer.IMixer", **SMALL))
    assert isinstance(m, IMixer)
    init_default_scope("mmseg")
    m = MMSEG_MODELS.build(dict(type="imixer.mlpmixer_s16_224", **SMALL))
    assert isinstance(m, MLPMixer)


def test_unknown_backbone_lists_known_ones():
    with pytest.raises(KeyError, match="imixer_s16_224"):
        build_backbone("imixer_s17_224")


@pytest.mark.parametrize("kw, exc, match", [
    (dict(img_size=30, patch_size=16), ValueError, "not divisible"),
    (dict(coeff=1.0), ValueError, "outside"),
    (dict(solver="fixed_point", coeff=0.95), ValueError, "needs a contraction"),
    (dict(n_iters=3), TypeError, "unknown arguments"),
])
def test_bad_backbone_arguments(kw, exc, match):
    with pytest.raises(exc, match=match):
        build_backbone("imixer_s16_224", **{**SMALL, **kw})


def test_mlp_twin_rejects_implicit_options():
    with pytest.raises(ValueError, match="only apply to token_mixer='implicit'"):
        build_backbone("mlpmixer_s16_224", n_iter=3, **SMALL)


def test_wrong_input_size_is_explained():
    model = build_backbone("imixer_s16_224", **SMALL)
    with pytest.raises(ValueError, match="fixed size"):
        model(torch.randn(1, 3, 48, 48))
    with pytest.raises(ValueError, match="expected images"):
        model(torch.randn(1, 1, 32, 32))


@pytest.mark.parametrize("recompute", ["all", None, "auto"])
def test_authors_mode_traces_into_one_graph_for_torch_compile(recompute):
    """No graph break in a training forward of the unrolled iMixer (fused backward or plain autograd), so
    ``torch.compile`` sees the whole model; the convergent solvers stop on a host-side test by design."""
    torch.manual_seed(0)
    model = MLPMixer(img_size=32, patch_size=8, embed_dim=32, num_blocks=2, num_classes=10, token_mixer="implicit",
                     recompute=recompute)
    explanation = torch._dynamo.explain(lambda x: model(x).square().mean())(torch.randn(2, 3, 32, 32))
    assert explanation.graph_break_count == 0, explanation.break_reasons
    assert explanation.graph_count == 1
