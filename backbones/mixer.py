"""MLP-Mixer and iMixer: the isotropic backbones of the paper (image classification).

* MLP-Mixer: Tolstikhin et al., "MLP-Mixer: An all-MLP Architecture for Vision", NeurIPS 2021.
* iMixer: Ota & Taki, "Hierarchical Hopfield network implies an invertible, implicit and iterative
  MLP-Mixer", arXiv 2304.13061. The token-mixing MLP becomes the implicit module
  ``(1 - G)^-1`` of :mod:`backbones.fixed_point`.

Pre-norm block (timm's Mixer)::

    x = x + DropPath(TokenMix(LN(x)^T)^T)     # along tokens, weights shared over channels
    x = x + DropPath(ChannelMLP(LN(x)))       # dim -> 4 dim -> dim

:class:`MixerBlock` is the one block of the project: the pyramid (windows) and the sequence
backbones reuse it, with a token mask for padding.

Named variants (``imixer_{s,b,l}{16,32}_224`` and the twins ``mlpmixer_{s,b,l}{16,32}_224``) follow
timm and the authors, one registered function each; like every entry point the iMixer uses the
published CIFAR-10 recipe :data:`~backbones.implicit.IMPLICIT_RECIPE` (``h_ratio=2``, ``n_iter=2``)
unless told otherwise (iMixer-S/16: 20.6M parameters; Mixer-S/16: 18.5M).
"""
from __future__ import annotations

import math
from functools import partial
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn

from .implicit import name_implicit_layers
from .registry import register_backbone
from .relative import RelativeLinear, RelativeSpectralNormLinear
from .spectral_norm import SpectralNormLinear, checkpoint
from .token_mixers import TokenMixerSpec, build_token_mixer, resolve_token_mixer

LayerNorm = partial(nn.LayerNorm, eps=1e-6)


class DropPath(nn.Module):
    """Stochastic depth: drop the residual branch per sample with probability ``p`` (training only)."""

    def __init__(self, p: float = 0.0) -> None:
        super().__init__()
        self.p = float(p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.p == 0.0 or not self.training:
            return x
        keep = 1.0 - self.p
        mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
        return x * mask / keep

    def extra_repr(self) -> str:
        return f"p={self.p}"


class MixerBlock(nn.Module):
    """Residual token-mixing + channel-mixing block over ``num_tokens`` tokens of width ``dim``.

    Args:
        dim: channel width ``C``.
        num_tokens: ``N``, the fixed token count the token mixer acts on.
        token_mixer: ``'implicit'`` (iMixer), ``'mlp'`` (MLP-Mixer) or a dict spec
            (:func:`~backbones.token_mixers.resolve_token_mixer`).
        mlp_ratio: ``(tokens, channels)`` hidden widths as multiples of ``dim``.
        act: activation.
        drop: dropout inside the MLPs.
        drop_path: stochastic-depth rate.
        grid: the tokens form this ``h x w`` grid and the token-mixing weights are shared over its relative
            offsets (:mod:`backbones.relative`); ``None``: full matrices.
        radius: with ``grid``, the largest offset a weight spans (``None``: all).
        **implicit: implicit options as keywords (merged into ``token_mixer``).

    Shapes:
        ``x``: ``(B, N, C)``; ``mask``: ``(B, N)`` (1 = token, 0 = padding) or ``None`` -> ``(B, N, C)``.
        Padded tokens are zeroed before token mixing, so they never change the other tokens.
    """

    def __init__(self, dim: int, num_tokens: int, token_mixer: TokenMixerSpec = "implicit",
                 mlp_ratio: Tuple[float, float] = (0.5, 4.0), act: str = "gelu", drop: float = 0.0,
                 drop_path: float = 0.0, grid=None, radius: Optional[int] = None, **implicit) -> None:
        super().__init__()
        tokens_dim, channels_dim = int(mlp_ratio[0] * dim), int(mlp_ratio[1] * dim)
        self.num_tokens = num_tokens
        self.norm1 = LayerNorm(dim)
        self.mlp_tokens = build_token_mixer(token_mixer, num_tokens, tokens_dim, act=act, drop=drop, grid=grid,
                                            radius=radius, **implicit)
        self.drop_path = DropPath(drop_path)
        self.norm2 = LayerNorm(dim)
        self.mlp_channels = build_token_mixer("mlp", dim, channels_dim, act=act, drop=drop)

    def forward(self, x: torch.Tensor, mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        h = self.norm1(x)
        if mask is not None:
            h = h * mask.unsqueeze(-1).to(h.dtype)
        x = x + self.drop_path(self.mlp_tokens(h.transpose(1, 2)).transpose(1, 2))
        return x + self.drop_path(self.mlp_channels(self.norm2(x)))


def lecun_normal_(weight: torch.Tensor) -> None:
    """Truncated-normal LeCun init (fan-in), as timm / Flax initialise the Mixer stem."""
    fan_in = weight[0].numel()
    std = math.sqrt(1.0 / fan_in) / 0.87962566103423978
    nn.init.trunc_normal_(weight, 0.0, std, -2 * std, 2 * std)


def init_mixer_weights(module: nn.Module, name: str = "") -> None:
    """timm's Mixer init for one module: xavier-uniform linears (bias N(0, 1e-6) inside MLPs, else
    zero), zero head, LeCun-normal convs, unit norms. Spectral-norm vectors are re-converged. Weights
    shared over relative offsets keep their own initialisation (:mod:`backbones.relative`)."""
    if isinstance(module, (RelativeLinear, RelativeSpectralNormLinear)):
        module.reset_parameters()
        return
    if isinstance(module, (nn.Linear, SpectralNormLinear)):
        if name.startswith("head") or name.endswith(".head"):
            nn.init.zeros_(module.weight)
            nn.init.zeros_(module.bias)
            return
        nn.init.xavier_uniform_(module.weight)
        if module.bias is not None:
            if "mlp" in name:
                nn.init.normal_(module.bias, std=1e-6)
            else:
                nn.init.zeros_(module.bias)
        if isinstance(module, SpectralNormLinear):
            module.refresh(100)
    elif isinstance(module, nn.Conv2d):
        lecun_normal_(module.weight)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, (nn.LayerNorm, nn.GroupNorm, nn.BatchNorm2d)):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


def named_apply(fn, module: nn.Module, name: str = "") -> None:
    """Apply ``fn(module, name)`` depth-first over every submodule."""
    for child_name, child in module.named_children():
        named_apply(fn, child, f"{name}.{child_name}" if name else child_name)
    fn(module, name)


class PatchEmbed(nn.Module):
    """Non-overlapping ``patch_size`` patches -> ``embed_dim`` tokens (a strided convolution).

    Shapes:
        ``(B, in_chans, H, W)`` -> ``(B, embed_dim, H/p, W/p)``.
    """

    def __init__(self, patch_size: int, in_chans: int, embed_dim: int) -> None:
        super().__init__()
        self.patch_size = patch_size
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x)


class MLPMixer(nn.Module):
    """Isotropic Mixer with a selectable token mixer; ``token_mixer='mlp'`` is the MLP-Mixer.

    Args:
        num_classes: classifier outputs; 0 for a feature extractor.
        img_size: fixed input size (a Mixer's token count is part of its weights).
        in_chans: input channels.
        patch_size: patch size; must divide ``img_size``.
        num_blocks: depth.
        embed_dim: width ``C``.
        mlp_ratio: ``(tokens, channels)`` hidden widths as multiples of ``embed_dim``.
        token_mixer: ``'mlp'``, ``'implicit'`` or a dict spec ``dict(type='implicit', n_iter=4, ...)``
            (:mod:`backbones.token_mixers`); default ``'mlp'`` here, ``'implicit'`` for :class:`IMixer`.
        act: activation.
        drop_rate: dropout in the MLPs and before the head.
        drop_path_rate: stochastic depth (same rate in every block, as timm's Mixer).
        global_pool: ``'avg'`` or ``''``.
        **implicit: implicit options as keywords (``h_ratio``, ``n_iter``, ``solver``, ...), merged into
            ``token_mixer``; default :data:`~backbones.implicit.IMPLICIT_RECIPE`; rejected for ``'mlp'``.

    Shapes:
        ``(B, in_chans, img_size, img_size)`` -> logits ``(B, num_classes)``.
    """

    default_token_mixer = "mlp"

    def __init__(self, num_classes: int = 1000, img_size: int = 224, in_chans: int = 3, patch_size: int = 16,
                 num_blocks: int = 8, embed_dim: int = 512, mlp_ratio: Tuple[float, float] = (0.5, 4.0),
                 token_mixer: TokenMixerSpec = None, act: str = "gelu", drop_rate: float = 0.0,
                 drop_path_rate: float = 0.0, global_pool: str = "avg", **implicit) -> None:
        super().__init__()
        spec = resolve_token_mixer(token_mixer, default=self.default_token_mixer, **implicit)
        img_size = int(img_size)
        if img_size % patch_size:
            raise ValueError(f"img_size={img_size} is not divisible by patch_size={patch_size}: the Mixer "
                             f"needs a whole number of patches (use e.g. img_size={img_size // patch_size * patch_size or patch_size})")
        if global_pool not in ("avg", ""):
            raise ValueError(f"global_pool must be 'avg' or '', got {global_pool!r}")
        self.num_classes, self.global_pool = num_classes, global_pool
        self.img_size, self.patch_size, self.in_chans = img_size, patch_size, in_chans
        self.grid = img_size // patch_size
        self.num_tokens = self.grid**2
        self.num_features = self.embed_dim = embed_dim
        self.token_mixer, self.token_mixer_cfg = spec["type"], spec
        self.grad_checkpointing = False
        self.stem = PatchEmbed(patch_size, in_chans, embed_dim)
        self.blocks = nn.Sequential(*[
            MixerBlock(embed_dim, self.num_tokens, spec, mlp_ratio, act=act, drop=drop_rate, drop_path=drop_path_rate)
            for _ in range(num_blocks)])
        self.norm = LayerNorm(embed_dim)
        self.head_drop = nn.Dropout(drop_rate)
        self.head = nn.Linear(embed_dim, num_classes) if num_classes > 0 else nn.Identity()
        self.feature_info = [dict(num_chs=embed_dim, reduction=patch_size, module=f"blocks.{i}")
                             for i in range(num_blocks)]
        self.init_weights()
        name_implicit_layers(self)

    def init_weights(self) -> None:
        """timm / the authors' Mixer initialisation."""
        named_apply(init_mixer_weights, self)

    # -- timm API ------------------------------------------------------------------------------------
    def set_grad_checkpointing(self, enable: bool = True) -> None:
        self.grad_checkpointing = enable

    def get_classifier(self) -> nn.Module:
        return self.head

    def reset_classifier(self, num_classes: int, global_pool: Optional[str] = None) -> None:
        """Replace the head with a zero-initialised one for ``num_classes`` (0: identity)."""
        self.num_classes = num_classes
        if global_pool is not None:
            if global_pool not in ("avg", ""):
                raise ValueError(f"global_pool must be 'avg' or '', got {global_pool!r}")
            self.global_pool = global_pool
        self.head = nn.Linear(self.embed_dim, num_classes) if num_classes > 0 else nn.Identity()
        if num_classes > 0:
            nn.init.zeros_(self.head.weight)
            nn.init.zeros_(self.head.bias)

    def _check_input(self, x: torch.Tensor) -> None:
        if x.ndim != 4 or x.shape[1] != self.in_chans:
            raise ValueError(f"expected images of shape (B, {self.in_chans}, {self.img_size}, {self.img_size}), "
                             f"got {tuple(x.shape)}")
        if tuple(x.shape[-2:]) != (self.img_size, self.img_size):
            raise ValueError(
                f"input size {tuple(x.shape[-2:])} differs from the model's fixed size "
                f"({self.img_size}, {self.img_size}): a Mixer's token-mixing weights fix the token count "
                f"({self.num_tokens} = ({self.img_size}/{self.patch_size})^2). Resize the input, build the model "
                f"with img_size={x.shape[-1]} (if square and divisible by {self.patch_size}), or use "
                "IMixerPyramid for arbitrary sizes.")

    def _tokens(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input(x)
        return self.stem(x).flatten(2).transpose(1, 2)

    def _run_block(self, block: nn.Module, x: torch.Tensor) -> torch.Tensor:
        if self.grad_checkpointing and torch.is_grad_enabled():
            return checkpoint(block, x)
        return block(x)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C_in, H, W)`` -> normalised tokens ``(B, N, embed_dim)``."""
        x = self._tokens(x)
        for block in self.blocks:
            x = self._run_block(block, x)
        return self.norm(x)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Pool tokens ``(B, N, C)`` and apply the classifier (or stop before it)."""
        if self.global_pool == "avg":
            x = x.mean(dim=1)
        x = self.head_drop(x)
        return x if pre_logits else self.head(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    def forward_intermediates(self, x: torch.Tensor, indices: Optional[Union[int, Sequence[int]]] = None,
                              norm: bool = False, stop_early: bool = False, output_fmt: str = "NCHW",
                              intermediates_only: bool = False):
        """Block outputs for dense use (timm API).

        Args:
            indices: ``int n`` -> the last ``n`` blocks; a sequence -> those block indices
                (negative allowed); ``None`` -> all blocks.
            norm: apply the final norm to each intermediate.
            stop_early: stop after the last requested block (the final output is then not computed).
            output_fmt: ``'NCHW'`` (``(B, C, H/p, W/p)``) or ``'NLC'`` (``(B, N, C)``).
            intermediates_only: return only the list.

        Returns:
            ``intermediates`` or ``(final_features, intermediates)``.
        """
        if output_fmt not in ("NCHW", "NLC"):
            raise ValueError(f"output_fmt must be 'NCHW' or 'NLC', got {output_fmt!r}")
        take = _feature_indices(indices, len(self.blocks))
        x = self._tokens(x)
        outs: List[torch.Tensor] = []
        last = max(take) if stop_early else len(self.blocks) - 1
        for i, block in enumerate(self.blocks):
            x = self._run_block(block, x)
            if i in take:
                y = self.norm(x) if norm else x
                if output_fmt == "NCHW":
                    y = y.transpose(1, 2).reshape(y.shape[0], -1, self.grid, self.grid)
                outs.append(y)
            if i >= last:
                break
        if intermediates_only:
            return outs
        return self.norm(x), outs


def _feature_indices(indices: Optional[Union[int, Sequence[int]]], n: int) -> List[int]:
    if indices is None:
        return list(range(n))
    if isinstance(indices, int):
        if not 0 < indices <= n:
            raise ValueError(f"indices={indices}: asked for the last {indices} of {n} blocks")
        return list(range(n - indices, n))
    out = []
    for i in indices:
        j = i + n if i < 0 else i
        if not 0 <= j < n:
            raise ValueError(f"block index {i} out of range for {n} blocks")
        out.append(j)
    return out


class IMixer(MLPMixer):
    """The iMixer: :class:`MLPMixer` with the implicit token mixer ``(1 - G)^-1`` by default."""

    default_token_mixer = "implicit"


register_backbone()(MLPMixer)
register_backbone()(IMixer)


# -- named variants (timm's sizes) -----------------------------------------------------------------------
_SIZES: Dict[str, Dict[str, int]] = {
    "s": dict(num_blocks=8, embed_dim=512),
    "b": dict(num_blocks=12, embed_dim=768),
    "l": dict(num_blocks=24, embed_dim=1024),
}


def _create(cls, size: str, patch: int, **kwargs) -> MLPMixer:
    return cls(**{"patch_size": patch, "img_size": 224, **_SIZES[size], **kwargs})


@register_backbone()
def imixer_s16_224(**kwargs) -> MLPMixer:
    """iMixer-S/16 at 224 px (8 blocks x 512, the authors' recipe); keyword overrides as for :class:`IMixer`."""
    return _create(IMixer, "s", 16, **kwargs)


@register_backbone()
def imixer_s32_224(**kwargs) -> MLPMixer:
    """iMixer-S/32 at 224 px (8 blocks x 512, the authors' recipe); keyword overrides as for :class:`IMixer`."""
    return _create(IMixer, "s", 32, **kwargs)


@register_backbone()
def imixer_b16_224(**kwargs) -> MLPMixer:
    """iMixer-B/16 at 224 px (12 blocks x 768, the authors' recipe); keyword overrides as for :class:`IMixer`."""
    return _create(IMixer, "b", 16, **kwargs)


@register_backbone()
def imixer_b32_224(**kwargs) -> MLPMixer:
    """iMixer-B/32 at 224 px (12 blocks x 768, the authors' recipe); keyword overrides as for :class:`IMixer`."""
    return _create(IMixer, "b", 32, **kwargs)


@register_backbone()
def imixer_l16_224(**kwargs) -> MLPMixer:
    """iMixer-L/16 at 224 px (24 blocks x 1024, the authors' recipe); keyword overrides as for :class:`IMixer`."""
    return _create(IMixer, "l", 16, **kwargs)


@register_backbone()
def imixer_l32_224(**kwargs) -> MLPMixer:
    """iMixer-L/32 at 224 px (24 blocks x 1024, the authors' recipe); keyword overrides as for :class:`IMixer`."""
    return _create(IMixer, "l", 32, **kwargs)


@register_backbone()
def mlpmixer_s16_224(**kwargs) -> MLPMixer:
    """MLP-Mixer-S/16 at 224 px (8 blocks x 512); keyword overrides as for :class:`MLPMixer`."""
    return _create(MLPMixer, "s", 16, **kwargs)


@register_backbone()
def mlpmixer_s32_224(**kwargs) -> MLPMixer:
    """MLP-Mixer-S/32 at 224 px (8 blocks x 512); keyword overrides as for :class:`MLPMixer`."""
    return _create(MLPMixer, "s", 32, **kwargs)


@register_backbone()
def mlpmixer_b16_224(**kwargs) -> MLPMixer:
    """MLP-Mixer-B/16 at 224 px (12 blocks x 768); keyword overrides as for :class:`MLPMixer`."""
    return _create(MLPMixer, "b", 16, **kwargs)


@register_backbone()
def mlpmixer_b32_224(**kwargs) -> MLPMixer:
    """MLP-Mixer-B/32 at 224 px (12 blocks x 768); keyword overrides as for :class:`MLPMixer`."""
    return _create(MLPMixer, "b", 32, **kwargs)


@register_backbone()
def mlpmixer_l16_224(**kwargs) -> MLPMixer:
    """MLP-Mixer-L/16 at 224 px (24 blocks x 1024); keyword overrides as for :class:`MLPMixer`."""
    return _create(MLPMixer, "l", 16, **kwargs)


@register_backbone()
def mlpmixer_l32_224(**kwargs) -> MLPMixer:
    """MLP-Mixer-L/32 at 224 px (24 blocks x 1024); keyword overrides as for :class:`MLPMixer`."""
    return _create(MLPMixer, "l", 32, **kwargs)
