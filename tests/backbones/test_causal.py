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


@pytest.mark.parametrize("spec", [dict(solver="unroll"), dict(solver="fixed_point", tol=1e-8, max_iter=80),
                                  dict(solver="anderson", tol=1e-8, max_iter=80)])
def test_sequence_output_ignores_later_tokens(spec):
    torch.manual_seed(0)
    model = IMixerSequence(seq_len=8, embed_dim=16, num_blocks=2, mlp_ratio=(1.0, 4.0),
                           token_mixer=dict(type="implicit", causal=True, **spec)).double()
    x = torch.randn(2, 8, 16, dtype=torch.double)
    changed = x.clone()
    changed[:, 5:] = torch.randn(2, 3, 16, dtype=torch.double)
    with torch.no_grad():
        a, b = model(x), model(changed)
    torch.testing.assert_close(a[:, :5], b[:, :5], rtol=0, atol=1e-10)
    assert (a[:, 5:] - b[:, 5:]).abs().max() > 1e-3
