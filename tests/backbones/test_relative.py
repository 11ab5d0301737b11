"""Token-mixing weights shared over relative offsets: a Toeplitz matrix is a zero-padded convolution, the
spectral norm acts on the materialised matrix, and the pyramid and the twin take it."""
import pytest
import torch
import torch.nn.functional as F

from backbones import IMixerPyramid
from backbones.relative import RelativeLinear, RelativeSpectralNormLinear, relative_index
from backbones.token_mixers import ImplicitMLP, Mlp, build_token_mixer


def _as_conv(layer, x, h, w):
    """The layer's map as a 2-D convolution of the m_in maps of the grid with the flipped table."""
    kernel = layer.weight.detach().view(layer.m_out, layer.m_in, 2 * h - 1, 2 * w - 1).flip(-1, -2)
    return F.conv2d(x.view(-1, layer.m_in, h, w), kernel, padding=(h - 1, w - 1)).flatten(1)


@pytest.mark.parametrize("grid,m_in,m_out", [((3, 4), 1, 1), ((3, 3), 2, 3), ((1, 5), 1, 2)])
def test_relative_linear_is_a_zero_padded_convolution(grid, m_in, m_out):
    torch.manual_seed(0)
    h, w = grid
    layer = RelativeLinear(grid, m_in * h * w, m_out * h * w, bias=False).double()
    x = torch.randn(4, m_in * h * w, dtype=torch.double)
    assert torch.allclose(layer(x), _as_conv(layer, x, h, w), atol=1e-12)
    assert layer.weight.numel() == m_out * m_in * (2 * h - 1) * (2 * w - 1)


def test_relative_index_depends_on_the_offset_only():
    idx = relative_index((3, 4))
    assert idx.shape == (12, 12) and idx.min() == 0 and idx.max() == 5 * 7 - 1
    assert (idx.diagonal() == idx[0, 0]).all()  # offset 0 everywhere on the diagonal
    # positions (r, c) -> (r, c + 1) and (r + 1, c) -> (r + 1, c + 1) have the same offset
    assert idx[0 * 4 + 1, 0 * 4 + 0] == idx[1 * 4 + 2, 1 * 4 + 1]
    assert idx[0, 1] != idx[1, 0]


def test_relative_bias_is_shared_over_positions():
    layer = RelativeLinear(3, 9, 18)
    with torch.no_grad():
        layer.bias.copy_(torch.tensor([1.0, -2.0]))
    out = layer(torch.zeros(1, 9))
    assert torch.equal(out, torch.tensor([[1.0] * 9 + [-2.0] * 9]))


def test_spectral_norm_caps_the_materialised_matrix():
    torch.manual_seed(0)
    layer = RelativeSpectralNormLinear(4, 16, 32, coeff=0.5)
    with torch.no_grad():
        layer.weight.mul_(50.0)  # far above the cap
    layer.train()
    for _ in range(30):
        w = layer.normalized_weight()
    sigma = torch.linalg.matrix_norm(w.detach(), ord=2)
    assert w.shape == (32, 16)
    assert abs(sigma.item() - 0.5) < 1e-3


def test_every_token_mixer_shares_the_offsets():
    imix = build_token_mixer("implicit", 9, 9, grid=3)
    twin = build_token_mixer("mlp", 9, 9, grid=3)
    mono = build_token_mixer("monotone", 9, 18, grid=3, radius=1)
    assert isinstance(imix, ImplicitMLP) and isinstance(twin, Mlp)
    assert isinstance(imix.fc_in, RelativeLinear) and isinstance(imix.implicit.fc_a, RelativeSpectralNormLinear)
    assert isinstance(twin.fc1, RelativeLinear) and isinstance(twin.fc2, RelativeLinear)
    assert isinstance(mono.fc_in, RelativeLinear) and mono.implicit.A.shape == (2, 2, 25)
    x = torch.randn(2, 5, 9)
    assert imix(x).shape == twin(x).shape == mono(x).shape == (2, 5, 9)
    # the monotone operator keeps its guarantee with shared A, B: S + S^T >= 2 m I
    s = mono.implicit.operator().detach()
    assert torch.linalg.eigvalsh(s + s.t()).min() >= 2 * mono.implicit.m - 1e-5


def test_bad_relative_requests_are_refused():
    with pytest.raises(ValueError, match="multiples of 9 tokens.*token_ratio"):
        build_token_mixer("implicit", 9, 12, grid=3)
    with pytest.raises(ValueError, match="3x3 token grid has 9 tokens"):
        build_token_mixer("mlp", 16, 16, grid=3)


def test_a_causal_relative_mixer_on_a_grid_is_causal_in_row_major_order():
    torch.manual_seed(0)
    mixer = build_token_mixer(dict(type="implicit", causal=True), 9, 9, grid=3).double().eval()
    x = torch.randn(2, 4, 9, dtype=torch.double)
    changed = x.clone()
    changed[..., 5:] = torch.randn(2, 4, 4, dtype=torch.double)
    with torch.no_grad():
        a, b = mixer(x), mixer(changed)
    assert torch.equal(a[..., :5], b[..., :5]) and (a[..., 5:] - b[..., 5:]).abs().max() > 1e-3


@pytest.mark.parametrize("token_mixer", ["implicit", "mlp"])
def test_pyramid_with_relative_mixing(token_mixer):
    torch.manual_seed(0)
    model = IMixerPyramid(arch=None, embed_dims=8, depths=(1, 2, 1, 1), window_size=3, relative_mixing=True,
                          token_mixer=token_mixer)
    blocks = [b for s in model.stages for b in s.blocks]
    assert all(isinstance(b.mlp_tokens.fc_in if token_mixer == "implicit" else b.mlp_tokens.fc1, RelativeLinear)
               for b in blocks)
    x = torch.randn(2, 3, 37, 29)
    sum(out.sum() for out in model(x)).backward()
    mixing = [p for n, p in model.named_parameters() if ".mlp_tokens." in n]
    assert mixing and all(p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0
                          for p in mixing)
    clone = IMixerPyramid(arch=None, embed_dims=8, depths=(1, 2, 1, 1), window_size=3, relative_mixing=True,
                          token_mixer=token_mixer)
    clone.load_state_dict(model.state_dict())
    model.eval(), clone.eval()
    assert all(torch.equal(a, b) for a, b in zip(model(x), clone(x)))
    # a checkpoint of full matrices does not load into offsets silently
    full = IMixerPyramid(arch=None, embed_dims=8, depths=(1, 2, 1, 1), window_size=3, token_mixer=token_mixer,
                         relative_mixing=False)
    with pytest.raises(RuntimeError, match="size mismatch"):
        full.load_state_dict(model.state_dict())


def test_a_radius_keeps_a_local_kernel():
    torch.manual_seed(0)
    h = w = 5
    layer = RelativeLinear((h, w), 2 * h * w, h * w, bias=False, radius=1).double()
    x = torch.randn(3, 2 * h * w, dtype=torch.double)
    table = layer.weight.detach().view(1, 2, 2 * h - 1, 2 * w - 1)
    kernel = table[..., h - 2:h + 1, w - 2:w + 1].flip(-1, -2)  # the 3 x 3 offsets around 0
    expected = F.conv2d(x.view(3, 2, h, w), kernel, padding=1).flatten(1)
    assert torch.allclose(layer(x), expected, atol=1e-12)
    # the implicit mixer with a local G still reaches every token of the grid through its fixed point
    mixer = build_token_mixer(dict(type="implicit", solver="fixed_point", tol=1e-8, max_iter=100), 25, 25,
                              grid=5, radius=1).double().eval()
    u = torch.zeros(1, 1, 25, dtype=torch.double, requires_grad=True)
    mixer(u)[0, 0, 24].backward()  # the bottom-right token
    assert u.grad[0, 0, 0] != 0  # depends on the top-left one, four offsets away
    with pytest.raises(ValueError, match="radius must be an int >= 0"):
        RelativeLinear(3, 9, 9, radius=-1)
