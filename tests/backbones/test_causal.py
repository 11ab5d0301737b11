"""The causal token mixers: MADE-style masks, the masked spectral norm, and causality of IMixerSequence
for every solver (the language models' use is tested in tests/text/test_lm.py)."""
import pytest
import torch

from backbones import IMixerSequence
from backbones.token_mixers import causal_masks, resolve_token_mixer


def test_masks_are_lower_triangular_when_the_widths_equal_the_token_count():
    m_in, m_hidden, m_out = causal_masks(5, 5, 5)
    assert all(torch.equal(m, torch.ones(5, 5).tril()) for m in (m_in, m_hidden, m_out))
    wide = causal_masks(4, 8, 4)  # two units per token: unit j has degree j // 2
    assert wide[0].shape == (8, 4) and wide[1].shape == (4, 8)
    chain = wide[1] @ wide[0]  # which inputs reach each output through the units
    assert torch.equal(chain > 0, torch.ones(4, 4, dtype=torch.bool).tril())


def test_causal_is_a_checked_spec_key_of_both_mixers():
    assert resolve_token_mixer(dict(type="mlp", causal=True)) == {"type": "mlp", "causal": True}
    with pytest.raises(TypeError, match="causal= must be True or False"):
        resolve_token_mixer(dict(type="implicit", causal=1))


@pytest.mark.parametrize("relative", [False, True, 2])
@pytest.mark.parametrize("spec", [dict(solver="unroll"), dict(solver="fixed_point", tol=1e-8, max_iter=80),
                                  dict(solver="anderson", tol=1e-8, max_iter=80), dict(type="mlp")])
def test_sequence_output_ignores_later_tokens(spec, relative):
    """Position-indexed (MADE masks) and relative-offset (past offsets only) causal mixers, every solver."""
    torch.manual_seed(0)
    model = IMixerSequence(seq_len=8, embed_dim=16, num_blocks=2, mlp_ratio=(1.0, 4.0), relative_mixing=relative,
                           token_mixer=dict(dict(type="implicit"), causal=True, **spec)).double().eval()
    # eval: a training forward also moves the power iteration, which would change sigma between the calls
    x = torch.randn(2, 8, 16, dtype=torch.double)
    changed = x.clone()
    changed[:, 5:] = torch.randn(2, 3, 16, dtype=torch.double)
    with torch.no_grad():
        a, b = model(x), model(changed)
    # a convergent solve stops on the residual of the whole sequence: the later tokens can change the step
    # count, so the earlier outputs agree to the solver's tolerance; a fixed step count agrees exactly
    atol = 1e-6 if spec.get("solver", "unroll") != "unroll" else 0.0
    torch.testing.assert_close(a[:, :5], b[:, :5], rtol=0, atol=atol)
    assert (a[:, 5:] - b[:, 5:]).abs().max() > 1e-3


def test_relative_causal_weights_are_lower_triangular_toeplitz_with_their_spectral_norm():
    torch.manual_seed(0)
    model = IMixerSequence(seq_len=6, embed_dim=6, num_blocks=1, mlp_ratio=(1.0, 4.0), relative_mixing=True,
                           token_mixer=dict(type="implicit", causal=True, h_ratio=1))
    mixer = model.blocks[0].mlp_tokens
    for layer in (mixer.fc_in, mixer.implicit.fc_a, mixer.implicit.fc_b, mixer.fc_out):
        w = layer.expand(layer.weight)
        assert torch.equal(w, w.tril()) and w.diagonal().abs().min() > 0  # the past and the present only
        assert torch.allclose(w.diagonal(-2), w[2, 0].expand(4))  # one weight per offset
    wa = mixer.implicit.fc_a.normalized_weight()
    assert torch.equal(wa, wa.tril()) and torch.linalg.matrix_norm(wa, 2) <= mixer.implicit.coeff + 1e-4
    with pytest.raises(ValueError, match="relative_mixing must be True"):
        IMixerSequence(seq_len=6, embed_dim=6, relative_mixing=-1)
