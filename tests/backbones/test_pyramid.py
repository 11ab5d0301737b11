"""IMixerPyramid: the mmdet backbone contract, windows, the named designs, the twin, pretrained loading,
bad arguments."""
import re

import pytest
import torch

import backbones.pyramid
from backbones import IMixerPyramid, Mlp, build_backbone, collect_solver_stats
from backbones.fixed_point import SpectralNormLinear
from backbones.relative import RelativeSpectralNormLinear
from backbones.mixer import LayerNorm
from backbones.pyramid import (ConvDownsample, ConvStem, MapNorm, MixFFN, PatchMerging, window_partition,
                               window_reverse)

SMALL = dict(arch=None, embed_dims=8, depths=(2, 2, 2, 2), window_size=3)


@pytest.mark.parametrize("token_mixer", ["implicit", "mlp"])
@pytest.mark.parametrize("size", [(33, 33), (112, 137)])
def test_output_shapes_odd_sizes(token_mixer, size):
    model = IMixerPyramid(**SMALL, token_mixer=token_mixer).eval()
    h, w = size
    outs = model(torch.randn(2, 3, h, w))
    assert isinstance(outs, tuple) and len(outs) == 4
    for i, out in enumerate(outs):
        s = 2 ** (i + 2)
        assert out.shape == (2, 8 * 2 ** i, -(-h // s), -(-w // s))
        assert torch.isfinite(out).all()
    assert [f["num_chs"] for f in model.feature_info] == [8, 16, 32, 64]
    assert [f["reduction"] for f in model.feature_info] == [4, 8, 16, 32]


def test_backward_and_solver_stats():
    model = IMixerPyramid(**SMALL, solver="fixed_point", tol=1e-4, max_iter=40)
    outs = model(torch.randn(1, 3, 40, 24))
    sum(o.square().mean() for o in outs).backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)
    stats = collect_solver_stats(model)
    assert stats["solver_residual"] < 1e-4 and stats["solver_iters"] >= 1


def test_implicit_options_forwarded_and_twin_differs():
    with pytest.raises(ValueError, match="multiples of 9 tokens.*relative_mixing=False"):
        IMixerPyramid(**SMALL, h_ratio=1.5)
    imp = IMixerPyramid(**SMALL, h_ratio=1.5, n_iter=3, coeff=0.7, n_power=2, relative_mixing=False)
    layer = imp.stages[0].blocks[0].mlp_tokens.implicit
    assert (layer.n_iter, layer.coeff, layer.hidden, layer.fc_a.n_power) == (3, 0.7, int(1.5 * 9), 2)
    assert imp.stages[0].blocks[0].mlp_tokens.fc_in.out_features == imp.token_hidden[0] == 9
    twin = IMixerPyramid(**SMALL, token_mixer="mlp")
    assert not any(isinstance(m, SpectralNormLinear) for m in twin.modules())
    with pytest.raises(ValueError, match="token_mixer='mlp'"):
        IMixerPyramid(**SMALL, token_mixer="mlp", n_iter=3)
    with pytest.raises(TypeError, match="unknown arguments"):
        IMixerPyramid(**SMALL, n_iters=3)


def _count(model):
    return sum(p.numel() for p in model.parameters())


def test_named_archs_parameter_counts_are_the_published_ones():
    """Every named arch and its twin has the parameter count the module docstring publishes (0.1 M)."""
    table = {}
    for line in backbones.pyramid.__doc__.splitlines():
        m = re.match(r"``([\w-]+)``\s.*?\s([\d.]+) M\s+([\d.]+) M\s", line)
        if m:
            table[m.group(1)] = (float(m.group(2)), float(m.group(3)))
    assert set(table) == set(IMixerPyramid.arch_zoo) >= {"tiny", "small", "tiny-v1", "small-v1", "tiny-v2"}
    for arch, (implicit, mlp) in table.items():
        assert round(_count(IMixerPyramid(arch=arch)) / 1e6, 1) == implicit, arch
        assert round(_count(IMixerPyramid(arch=arch, token_mixer="mlp")) / 1e6, 1) == mlp, arch
    # comparable to ResNet-18 (11.2M without fc) and ResNet-50 (23.5M without fc)
    assert 9.5e6 < _count(IMixerPyramid(arch="tiny")) < 12.5e6
    assert 21e6 < _count(IMixerPyramid(arch="small")) < 27e6
    assert isinstance(build_backbone("mlpmixer_pyramid_t", out_indices=(3,)), IMixerPyramid)


def test_designs_the_archs_name():
    """'tiny' is the convolutional design with local relative-offset token mixing, 'tiny-v2' the same with
    full window matrices, 'tiny-v1' the first one (4x4 patches, 2x2 merging, plain MLP, 7x7 windows); any
    option can be overridden one at a time."""
    new, v1 = IMixerPyramid(arch="tiny"), IMixerPyramid(arch="tiny-v1")
    fc_a = new.stages[2].blocks[0].mlp_tokens.implicit.fc_a
    assert isinstance(fc_a, RelativeSpectralNormLinear) and fc_a.radius == 1 and fc_a.grid == (4, 4)
    v2 = IMixerPyramid(arch="tiny-v2")
    assert type(v2.stages[2].blocks[0].mlp_tokens.implicit.fc_a) is SpectralNormLinear
    assert type(v1.stages[2].blocks[0].mlp_tokens.implicit.fc_a) is SpectralNormLinear
    assert IMixerPyramid(arch="tiny-v1", relative_mixing=True).stages[0].blocks[0].mlp_tokens.fc_in.radius is None
    with pytest.raises(ValueError, match="relative_mixing must be True"):
        IMixerPyramid(**SMALL, relative_mixing=-1)
    assert isinstance(new.patch_embed, ConvStem) and isinstance(new.stages[1].downsample, ConvDownsample)
    assert isinstance(new.stages[0].blocks[0].mlp_channels, MixFFN)
    assert isinstance(v1.patch_embed, torch.nn.Conv2d) and v1.patch_embed.kernel_size == (4, 4)
    assert isinstance(v1.stages[1].downsample, PatchMerging)
    assert type(v1.stages[0].blocks[0].mlp_channels) is Mlp and v1.window_size == (7,) * 4
    assert all(s.pos_embed is None for s in v1.stages)
    mixed = IMixerPyramid(arch="tiny-v1", mlp_dwconv=True, window_size=(7, 7, 4, 2))
    assert isinstance(mixed.stages[3].blocks[0].mlp_channels, MixFFN) and mixed.token_hidden == (49, 49, 16, 4)
    assert isinstance(mixed.patch_embed, torch.nn.Conv2d)
    assert IMixerPyramid(**SMALL, pos_embed=True).stages[2].pos_embed.groups == 32
    scaled = IMixerPyramid(**SMALL, layer_scale=0.1).stages[1].blocks[1]
    assert torch.equal(scaled.gamma1, torch.full((16,), 0.1)) and scaled.gamma2.shape == (16,)
    with pytest.raises(ValueError, match="layer_scale must be > 0"):
        IMixerPyramid(**SMALL, layer_scale=-1.0)


def test_map_norm_is_one_group_groupnorm_and_keeps_contrast():
    """MapNorm (norm='gn') is GroupNorm(1, C) channels last: statistics over the whole map, so a flat
    background stays small next to a stroke, where a per-position LayerNorm scales both to unit norm."""
    norm = MapNorm(8)
    with torch.no_grad():
        norm.weight.uniform_(0.5, 1.5), norm.bias.uniform_(-0.5, 0.5)
    ref = torch.nn.GroupNorm(1, 8, eps=norm.eps)
    ref.load_state_dict(norm.state_dict())
    x = torch.randn(3, 5, 6, 8) * 3 + 1
    torch.testing.assert_close(norm(x), ref(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1))
    canvas = 0.01 * torch.randn(1, 6, 6, 8)
    canvas[:, 2:4, 2:4] += torch.randn(1, 2, 2, 8)
    flat, stroke = MapNorm(8)(canvas).norm(dim=-1), LayerNorm(8)(canvas).norm(dim=-1)
    assert flat[0, 0, 0] < 0.2 * flat[0, 2, 2]
    assert stroke[0, 0, 0] > 0.5 * stroke[0, 2, 2]
    model = IMixerPyramid(**SMALL, norm="gn")
    assert all(isinstance(m, MapNorm) for m in (model.patch_norm, model.stages[1].downsample.norm,
                                                model.stages[0].blocks[0].norm1, model.norm3))
    assert type(IMixerPyramid(**SMALL, norm="ln").stages[0].blocks[0].norm2) is torch.nn.LayerNorm
    with pytest.raises(ValueError, match="norm must be 'ln'"):
        IMixerPyramid(**SMALL, norm="bn")


@pytest.mark.parametrize("arch", ["tiny", "tiny-v1"])
@pytest.mark.parametrize("size", [(33, 33), (112, 137)])
def test_named_archs_any_input_size(arch, size):
    model = IMixerPyramid(arch=arch, out_indices=(0, 1, 2, 3)).eval()
    h, w = size
    with torch.no_grad():
        outs = model(torch.randn(1, 3, h, w))
    for i, out in enumerate(outs):
        s = 2 ** (i + 2)
        assert out.shape == (1, 64 * 2 ** i, -(-h // s), -(-w // s)) and torch.isfinite(out).all()


@pytest.mark.parametrize("arch", ["tiny", "tiny-v1"])
def test_twin_differs_only_in_the_token_mixer(arch):
    """Twin parity: every parameter and buffer outside the token mixers has the same name and shape, and
    the twin's weights load into the iMixer leaving only token-mixer keys out."""
    imp, twin = IMixerPyramid(arch=arch), IMixerPyramid(arch=arch, token_mixer="mlp")

    def outside(model):
        return {k: v.shape for k, v in model.state_dict().items() if ".mlp_tokens." not in k}

    assert outside(imp) == outside(twin)
    result = imp.load_state_dict(twin.state_dict(), strict=False)
    assert result.missing_keys and all(".mlp_tokens." in k for k in result.missing_keys + result.unexpected_keys)
    assert [type(m).__name__ for n, m in imp.named_modules() if ".mlp_tokens" not in n and not n.endswith("mlp_tokens")] \
        == [type(m).__name__ for n, m in twin.named_modules() if ".mlp_tokens" not in n and not n.endswith("mlp_tokens")]


def test_window_partition_roundtrip_and_mask():
    x = torch.randn(2, 5, 8, 4)
    for shift in (0, 1):
        windows, mask, geo = window_partition(x, 3, shift)
        assert windows.shape[1:] == (9, 4)
        assert mask is not None and mask.sum() == 2 * 5 * 8
        # padded positions hold zeros, real ones the input
        assert torch.equal(windows[mask == 0], torch.zeros_like(windows[mask == 0]))
        assert torch.equal(window_reverse(windows, 3, geo), x)
    windows, mask, _ = window_partition(torch.randn(1, 6, 6, 2), 3, 0)
    assert mask is None  # nothing padded: no mask needed


def test_padding_does_not_leak():
    """A map's real tokens give the same output whatever its size is padded to (mask exactness): a block on
    a 4x5 map (padded to one 6x6 window grid of 3x3 windows) equals its token mixing on an explicitly
    zero-padded 6x6 map with those tokens masked, followed by the same channel MLP."""
    model = IMixerPyramid(**SMALL, mlp_dwconv=False).eval()
    block = model.stages[0].blocks[0]
    x = torch.randn(1, 4, 5, 8)
    big = torch.zeros(1, 6, 6, 8)
    with torch.no_grad():
        big[:, :4, :5] = block.norm1(x)  # the map's norm sees the real tokens only
        a = block(x, 0)
        windows, _, geo = window_partition(big, 3, 0)
        mask = torch.zeros(6, 6)
        mask[:4, :5] = 1
        m = mask.view(2, 3, 2, 3).permute(0, 2, 1, 3).reshape(4, 9, 1)
        mixed = block.mlp_tokens((windows * m).transpose(1, 2)).transpose(1, 2)
        b = x + window_reverse(mixed, 3, geo)[:, :4, :5]
        b = b + block.mlp_channels(block.norm2(b))
    torch.testing.assert_close(a, b)


def test_shifted_windows_cross_window_borders():
    """Without the shifted block a token only sees its own window; with it, the neighbour window (the
    windows alone: 4x4 patches, no depthwise convolution, which reach neighbours by themselves, and a
    per-position norm: MapNorm's statistics reach every token)."""

    def reach(depth):
        model = IMixerPyramid(arch=None, embed_dims=8, depths=(depth, 0, 0, 0), window_size=3, out_indices=(0,),
                              token_mixer="mlp", drop_path_rate=0.0, stem="patch", mlp_dwconv=False, norm="ln")
        x = torch.randn(1, 3, 24, 24, requires_grad=True)
        # token (2, 2): last of window (0, 0); random weights (a plain sum of a LayerNorm output is constant)
        (model(x)[0][0, :, 2, 2] * torch.randn(8)).sum().backward()
        return x.grad[0, :, 12:16, 12:16].abs().sum().item()  # token (3, 3): window (1, 1)

    assert reach(1) == 0.0
    assert reach(2) > 0.0


def test_out_indices_and_errors():
    model = IMixerPyramid(**SMALL, out_indices=(1, 3))
    outs = model(torch.randn(1, 3, 32, 32))
    assert [o.shape[1] for o in outs] == [16, 64]
    assert hasattr(model, "norm1") and not hasattr(model, "norm0")
    assert IMixerPyramid(**SMALL, out_indices=(-1,)).out_indices == (3,)
    with pytest.raises(ValueError, match="out of range"):
        IMixerPyramid(**SMALL, out_indices=(0, 4))
    with pytest.raises(ValueError, match="unknown arch"):
        IMixerPyramid(arch="huge")
    with pytest.raises(ValueError, match="stem must be 'conv'"):
        IMixerPyramid(**SMALL, stem="overlap")
    with pytest.raises(ValueError, match="downsample must be 'conv'"):
        IMixerPyramid(**SMALL, downsample="pool")
    with pytest.raises(ValueError, match="one per stage"):
        IMixerPyramid(**SMALL | dict(window_size=(7, 7, 4)))
    with pytest.raises(ValueError, match="frozen_stages"):
        IMixerPyramid(**SMALL, frozen_stages=5)
    with pytest.raises(ValueError, match=r"expects images \(B, 3, H, W\)"):
        model(torch.randn(1, 1, 32, 32))
    with pytest.raises(ValueError, match="empty image"):
        model(torch.randn(1, 3, 0, 32))


def test_images_smaller_than_one_window():
    """3x5 pixels is smaller than one window at every stage: it works (masked padding), exactly as
    if the model saw the image alone (no dependence on the padding)."""
    model = IMixerPyramid(**SMALL).eval()
    x = torch.randn(1, 3, 3, 5)
    outs = model(x)
    assert [tuple(o.shape[2:]) for o in outs] == [(1, 2), (1, 1), (1, 1), (1, 1)]
    torch.testing.assert_close(model(x)[3], outs[3])
    assert all(torch.isfinite(o).all() for o in outs)


def test_frozen_stages_survive_train():
    model = IMixerPyramid(**SMALL, frozen_stages=2)
    for mod in (model.patch_embed, model.stages[0], model.stages[1], model.norm0, model.norm1):
        assert all(not p.requires_grad for p in mod.parameters())
    assert all(p.requires_grad for p in model.stages[2].parameters())
    model.train()
    assert not model.stages[1].training and not model.patch_embed.training and model.stages[2].training
    assert all(not p.requires_grad for p in model.stages[1].parameters())
    # frozen implicit layers keep their power-iteration vectors
    sn = next(m for m in model.stages[0].modules() if isinstance(m, SpectralNormLinear))
    u = sn.u.clone()
    model(torch.randn(1, 3, 32, 32))
    assert torch.equal(sn.u, u)


def test_norm_eval_freezes_statistics():
    model = IMixerPyramid(**SMALL, norm_eval=True).train()
    sns = [m for m in model.modules() if isinstance(m, SpectralNormLinear)]
    assert sns and all(not m.training for m in sns)
    assert model.stages[3].blocks[0].norm1.training  # everything else trains
    before = [m.u.clone() for m in sns]
    model(torch.randn(1, 3, 32, 32))
    assert all(torch.equal(m.u, b) for m, b in zip(sns, before))
    free = IMixerPyramid(**SMALL).train()
    assert all(m.training for m in free.modules() if isinstance(m, SpectralNormLinear))


def test_pretrained_with_prefix_reports_keys(tmp_path):
    src = IMixerPyramid(**SMALL, in_channels=1, num_classes=10)  # a classifier (ImageClassifier layout)
    logits = src(torch.randn(2, 1, 16, 16))
    assert logits.shape == (2, 10)
    ckpt = tmp_path / "cls.pth"
    torch.save({"state_dict": {f"backbone.{k}": v for k, v in src.state_dict().items()}, "meta": {}}, ckpt)

    dst = IMixerPyramid(**SMALL, in_channels=3, out_indices=(1, 2, 3),
                        init_cfg=dict(type="Pretrained", checkpoint=str(ckpt), prefix="backbone."))
    report = dst.load_pretrained(str(ckpt), prefix="backbone.")
    assert any(k.startswith("head.") for k in report["unexpected_keys"])
    assert "norm0.weight" in report["unexpected_keys"] and not report["missing_keys"]
    dst2 = IMixerPyramid(**SMALL, in_channels=3, out_indices=(1, 2, 3),
                         init_cfg=dict(type="Pretrained", checkpoint=str(ckpt), prefix="backbone."))
    dst2.init_weights()
    torch.testing.assert_close(dst2.stages[2].blocks[1].mlp_channels.fc1.weight,
                               src.stages[2].blocks[1].mlp_channels.fc1.weight)
    # 1 -> 3 input channels: a grey image repeated thrice gives the classifier's stem response
    g = torch.randn(1, 1, 8, 8)
    torch.testing.assert_close(dst2.patch_embed(g.repeat(1, 3, 1, 1)), src.patch_embed(g))
    # a missing backbone key is reported
    partial = {k: v for k, v in src.state_dict().items() if not k.startswith("stages.3.")}
    torch.save({"state_dict": {f"backbone.{k}": v for k, v in partial.items()}}, ckpt)
    report = IMixerPyramid(**SMALL).load_pretrained(str(ckpt), prefix="backbone.")
    assert any(k.startswith("stages.3.") for k in report["missing_keys"])
    with pytest.raises(ValueError, match="prefix"):
        IMixerPyramid(**SMALL).load_pretrained(str(ckpt), prefix="model.")


def test_zero_padded_regions_keep_gradients_finite_and_small():
    """Batch padding (exact zeros) must not hit LayerNorm at a zero vector (gradient 1/sqrt(eps))."""
    model = IMixerPyramid(**SMALL)
    x = torch.rand(2, 3, 48, 48)
    x[..., 32:] = 0
    x[..., 32:, :] = 0
    sum(o.mean() for o in model(x)).backward()
    total = torch.sqrt(sum(p.grad.square().sum() for p in model.parameters() if p.grad is not None))
    assert torch.isfinite(total) and total < 100
