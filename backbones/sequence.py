"""IMixerSequence: the 1-D iMixer over a padded token sequence of fixed maximum length.

Used by the text (word-piece tokens), graph (hop tokens) and anomaly (feature tokens) tasks. The
block is :class:`backbones.mixer.MixerBlock` with a padding mask: padded tokens are zeroed before
every token-mixing step, so neither their content nor their number changes the real tokens' outputs.
"""
from __future__ import annotations

from typing import Optional, Tuple, Union

import torch
import torch.nn as nn

from .implicit import name_implicit_layers
from .mixer import LayerNorm, MixerBlock, init_mixer_weights, named_apply
from .registry import register_backbone
from .relative import relative_options
from .token_mixers import TokenMixerSpec, resolve_token_mixer


@register_backbone()
class IMixerSequence(nn.Module):
    """A stack of Mixer blocks over ``seq_len`` tokens of width ``embed_dim``.

    Args:
        seq_len: the fixed (maximum) token count ``L`` the token mixers are built for.
        embed_dim: token width ``C``.
        num_blocks: depth.
        mlp_ratio: ``(tokens, channels)`` hidden widths as multiples of ``embed_dim``.
        token_mixer: ``'implicit'`` (iMixer), ``'mlp'`` (the explicit twin) or a dict spec
            (:mod:`backbones.token_mixers`).
        act: activation.
        drop_rate: dropout in the MLPs.
        drop_path_rate: stochastic depth.
        relative_mixing: share every token-mixing weight over the offsets between positions (Toeplitz
            matrices over the ``1 x seq_len`` grid, :mod:`backbones.relative`): ``True`` every offset, an int
            ``r`` offsets up to ``r``; ``False`` (default) position-indexed matrices, the Mixer's. With
            ``causal=True`` in the token mixer only the past offsets have weights (a causal convolution
            that the implicit fixed point spreads further back). Needs token-mixing widths that are whole
            multiples of ``seq_len`` (``mlp_ratio[0] * embed_dim``, and the implicit ``h_ratio``).
        **implicit: implicit options as keywords (``n_iter``, ``solver``, ...), merged into ``token_mixer``;
            default :data:`~backbones.implicit.IMPLICIT_RECIPE`.

    Shapes:
        ``x``: ``(B, L', C)`` with ``L' <= seq_len`` (shorter inputs are padded and masked);
        ``mask``: ``(B, L')``, 1 for real tokens, 0 for padding, or ``None`` (all real)
        -> ``(B, L', C)``, normalised.
    """

    def __init__(self, seq_len: int, embed_dim: int = 256, num_blocks: int = 4,
                 mlp_ratio: Tuple[float, float] = (0.5, 4.0), token_mixer: TokenMixerSpec = "implicit",
                 act: str = "gelu", drop_rate: float = 0.0, drop_path_rate: float = 0.0,
                 relative_mixing: Union[bool, int] = False, **implicit) -> None:
        super().__init__()
        spec = resolve_token_mixer(token_mixer, **implicit)
        if seq_len < 1:
            raise ValueError(f"seq_len must be >= 1, got {seq_len}")
        rel = relative_options(relative_mixing, (1, seq_len))
        self.relative_mixing = relative_mixing
        self.seq_len, self.embed_dim, self.num_features = seq_len, embed_dim, embed_dim
        self.token_mixer, self.token_mixer_cfg = spec["type"], spec
        dpr = torch.linspace(0, drop_path_rate, num_blocks).tolist() if num_blocks else []
        self.blocks = nn.ModuleList([
            MixerBlock(embed_dim, seq_len, spec, mlp_ratio, act=act, drop=drop_rate, drop_path=dpr[i], **rel)
            for i in range(num_blocks)])
        self.norm = LayerNorm(embed_dim)
        named_apply(init_mixer_weights, self)
        name_implicit_layers(self)

    def forward(self, x: torch.Tensor, mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        if x.ndim != 3 or x.shape[-1] != self.embed_dim:
            raise ValueError(f"expected tokens of shape (B, L, {self.embed_dim}), got {tuple(x.shape)}")
        b, length, _ = x.shape
        if length > self.seq_len:
            raise ValueError(f"sequence length {length} exceeds the model's seq_len={self.seq_len}: "
                             "truncate the input or build the model with a larger seq_len")
        if mask is None:
            mask = x.new_ones(b, length)
        elif mask.shape != (b, length):
            raise ValueError(f"mask shape {tuple(mask.shape)} does not match tokens {(b, length)}")
        mask = mask.to(x.dtype)
        if length < self.seq_len:
            pad = self.seq_len - length
            x = torch.cat([x, x.new_zeros(b, pad, self.embed_dim)], dim=1)
            mask = torch.cat([mask, mask.new_zeros(b, pad)], dim=1)
        for block in self.blocks:
            x = block(x, mask)
        return self.norm(x)[:, :length]

    @staticmethod
    def pool(x: torch.Tensor, mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Mean over real tokens: ``(B, L, C), (B, L) -> (B, C)``."""
        if mask is None:
            return x.mean(dim=1)
        m = mask.to(x.dtype).unsqueeze(-1)
        return (x * m).sum(1) / m.sum(1).clamp_min(1.0)
