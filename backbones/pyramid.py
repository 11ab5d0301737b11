r"""IMixerPyramid: a hierarchical (i)Mixer for detection and segmentation.

A Mixer's token-mixing weights fix the number of tokens, so the isotropic Mixer cannot take arbitrary
image sizes. The pyramid mixes tokens inside fixed ``w x w`` windows instead (``N = w^2`` tokens, the
same token mixer for every window), as Swin does with attention, in a MetaFormer (Yu et al.,
*MetaFormer is actually what you need for vision*, CVPR 2022) with the convolutional parts that
hierarchical MetaFormers and dense MLPs use to learn objects that move and change scale:

.. math::
    X_s \in \mathbb{R}^{H_s \times W_s \times C_s}, \quad H_s = \lceil H / 2^{s+2} \rceil, \quad
    C_s = 2^s C_0, \qquad s = 0, 1, 2, 3 \ (\text{strides } 4, 8, 16, 32).

* **Stem** (``stem='conv'``): two overlapping ``3 x 3`` stride-2 convolutions (``C_in -> C_0/2 -> C_0``,
  LayerNorm and GELU between; Xiao et al., *Early convolutions help transformers see better*, 2021),
  then a LayerNorm. ``stem='patch'``: the first design's ``4 x 4`` stride-4 convolution (input
  zero-padded to a multiple of 4).
* **Downsampling** (start of stages 1-3, ``downsample='conv'``): LayerNorm and an overlapping ``3 x 3``
  stride-2 convolution ``C_s -> 2 C_s`` (PVTv2's overlapping patch embedding, Wang et al. 2022, with
  ConvNeXt's norm placement). ``downsample='merge'``: Swin's ``2 x 2`` patch merging (concatenate,
  LayerNorm, linear).
* **Blocks** (:class:`PyramidBlock`), pre-norm,

  .. math::
      x \leftarrow x + \mathrm{WindowTokenMix}(\mathrm{Norm}(x)), \qquad
      x \leftarrow x + \mathrm{ChannelMLP}(\mathrm{Norm}(x)),

  with ``TokenMix`` the implicit module :math:`W_{out}\sigma((1-G)^{-1} W_{in} x)` of the iMixer
  (``token_mixer='implicit'``) or the plain MLP of the MLP-Mixer (``token_mixer='mlp'``, the
  explicit twin: nothing else differs), acting along the ``w^2`` tokens of every window, with internal
  width ``D = round(token_ratio * w^2)``. The channel MLP acts on the map's real tokens only; with
  ``mlp_dwconv=True`` it holds a depthwise ``3 x 3`` convolution, ``fc1 -> DWConv -> GELU -> fc2``
  (SegFormer's Mix-FFN, Xie et al. 2021; PVTv2), the locality and translation equivariance that the
  position-specific token mixing lacks (CycleMLP, AS-MLP and Hire-MLP add local, shift-equivariant
  mixing for the same reason). ``pos_embed=True`` adds CPVT's convolutional position encoding
  ``x + DWConv3x3(x)`` at the start of every stage (Chu et al., 2021).
* **Local, relative-offset token mixing** (``relative_mixing=1``, the default): every token-mixing
  weight (``W_in``, ``W_a``, ``W_b``, ``W_out``; the twin's two layers) depends only on the offset
  between two tokens of a window, and only offsets up to 1 have a weight (:mod:`backbones.relative`).
  Each map of ``G`` is then a ``3 x 3`` convolution of the window, shared over positions, and the
  implicit module :math:`(1 - G)^{-1}` spreads it over the whole window with an influence that decays
  with distance (its Neumann series). Full window matrices (``relative_mixing=False``, the ``*-v2``
  archs) let every position learn its own weights: pretrained on 5,000 scene digits (LayerNorm, seed 0)
  the pyramid reaches 42.9 % on unseen digits with them and 86.9 % with the local relative mixing.
* **Map normalisation** (``norm='gn'``, the default): every norm of the stem, the downsampling, the
  blocks and the outputs is a one-group GroupNorm over each image's whole map (:class:`MapNorm`,
  PoolFormer's Modified Layer Normalisation), so a flat, noisy canvas stays small next to the strokes
  of an object. A per-position LayerNorm (``norm='ln'``, the ``*-v2`` / ``*-v3`` archs) scales every
  token to unit norm, background and object alike: pretrained on 5,000 scene digits the pyramid then
  sits at chance for 150-250 of its 600 iterations (86.9 / 62.3 / 71.8 % on seeds 0 / 1 / 2); with
  MapNorm its loss falls from iteration ~120 on (91.8 / 90.7 / 89.8 %; docs/detection.md). In a detector
  the statistics include the batch's zero padding, as a BatchNorm's include the other images.
* **Windows sized to the maps**: ``window_size`` is one ``w`` or one per stage. The default
  ``(7, 7, 4, 2)`` tiles the maps of a 56 px image (14, 7, 4, 2) without padding and keeps several
  windows, whose token-mixing weights are shared, at every stage of a 112 px image (28, 14, 7, 4).
* **Windows and borders**: the map is zero-padded on the bottom / right to a multiple of ``w``; the
  padded positions are masked (zeroed before token mixing), so real tokens never see padding, and the
  padding is cropped after the token mixer. Nothing at the border is lost.
* **Shifted windows**: every second block shifts the window grid by ``w // 2`` by padding ``w // 2``
  zeros on the top / left (then to a multiple of ``w``) instead of Swin's cyclic roll, so no token is
  mixed with the opposite border; information crosses window borders from block to block. A map that
  fits in one window (``H, W <= w``) is not shifted: all its tokens are mixed together already.

Any input size works (also one smaller than one window: its single window is mostly padding, and the
mask keeps the result exact). The named designs and sizes count parameters without a head
(``num_classes=0``); ``*-v1`` is the first design (``stem='patch'``, ``downsample='merge'``, plain
channel MLP, ``window_size=7``, full window matrices), ``*-v2`` the convolutional design with full
window matrices (``relative_mixing=False``) and ``*-v3`` the relative-offset design with per-position
LayerNorm (``norm='ln'``); ``*-v2`` and ``*-v3`` use LayerNorm, kept for comparison:

============  ===========  ============  ==================  ==============  ==========================
arch          embed_dims   depths        implicit (default)  ``'mlp'`` twin  reference (no fc layer)
============  ===========  ============  ==================  ==============  ==========================
``tiny``      64           2, 2, 10, 2   11.5 M              11.5 M          ResNet-18: 11.2 M (11.7 M)
``small``     96           2, 2, 8, 2    23.4 M              23.4 M          ResNet-50: 23.5 M (25.6 M)
``tiny-v2``   64           2, 2, 10, 2   11.6 M              11.6 M          ResNet-18: 11.2 M (11.7 M)
``small-v2``  96           2, 2, 8, 2    23.5 M              23.4 M          ResNet-50: 23.5 M (25.6 M)
``tiny-v3``   64           2, 2, 10, 2   11.5 M              11.5 M          ResNet-18: 11.2 M (11.7 M)
``small-v3``  96           2, 2, 8, 2    23.4 M              23.4 M          ResNet-50: 23.5 M (25.6 M)
``tiny-v1``   64           2, 2, 10, 2   10.7 M              10.6 M          ResNet-18: 11.2 M (11.7 M)
``small-v1``  96           2, 2, 10, 2   23.8 M              23.7 M          ResNet-50: 23.5 M (25.6 M)
============  ===========  ============  ==================  ==============  ==========================

The backbone follows mmdet's contract (``mmdet/models/backbones/swin.py``): ``out_indices`` with a
norm per output (``norm{i}``), ``frozen_stages`` (re-applied in :meth:`IMixerPyramid.train`),
``norm_eval``, ``init_cfg=dict(type='Pretrained', checkpoint=..., prefix=...)``, and a tuple of NCHW
maps from :meth:`IMixerPyramid.forward`. With ``num_classes > 0`` it is an image classifier
(average-pooled last stage), so :class:`tasks.classification.ImageClassifier` can pretrain it and the
checkpoint loads into a detector with ``prefix='backbone.'``.
"""
from __future__ import annotations

import math
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.logging import print_log
from mmengine.model import BaseModule

from .implicit import name_implicit_layers
from .mixer import DropPath, LayerNorm, init_mixer_weights, named_apply
from .registry import register_backbone
from .relative import check_relative_mixing, relative_options
from .spectral_norm import SpectralNormLinear, checkpoint, make_activation
from .token_mixers import Mlp, TokenMixerSpec, build_token_mixer, resolve_token_mixer

__all__ = ["IMixerPyramid", "PyramidBlock", "MixFFN", "ConvStem", "ConvDownsample", "PatchMerging", "WindowStage",
           "window_partition", "window_reverse"]


def window_partition(x: torch.Tensor, window: int, shift: int = 0) -> Tuple[torch.Tensor, Optional[torch.Tensor], tuple]:
    """Split a channels-last map into ``window x window`` windows, padding with zeros.

    ``shift`` zeros go on the top / left (shifted windows), then the bottom / right are padded to a
    multiple of ``window``.

    Args:
        x: ``(B, H, W, C)``.
        window: window size ``w``.
        shift: top / left padding (``0 <= shift < w``).

    Returns:
        ``(windows, mask, geometry)``: windows ``(B * nH * nW, w * w, C)``; mask ``(B * nH * nW, w * w)``
        with 1 for real tokens and 0 for padding, or ``None`` when nothing was padded; ``geometry``
        for :func:`window_reverse`.
    """
    b, h, w_, c = x.shape
    hp = math.ceil((h + shift) / window) * window
    wp = math.ceil((w_ + shift) / window) * window
    pad_b, pad_r = hp - h - shift, wp - w_ - shift
    padded = shift > 0 or pad_b > 0 or pad_r > 0
    if padded:
        x = F.pad(x, (0, 0, shift, pad_r, shift, pad_b))
    nh, nw = hp // window, wp // window
    windows = x.view(b, nh, window, nw, window, c).permute(0, 1, 3, 2, 4, 5).reshape(-1, window * window, c)
    mask = None
    if padded:
        m = x.new_zeros(hp, wp)
        m[shift:shift + h, shift:shift + w_] = 1
        mask = m.view(nh, window, nw, window).permute(0, 2, 1, 3).reshape(nh * nw, window * window).repeat(b, 1)
    return windows, mask, (b, h, w_, c, hp, wp, shift)


def window_reverse(windows: torch.Tensor, window: int, geometry: tuple) -> torch.Tensor:
    """Inverse of :func:`window_partition`: ``(B * nH * nW, w * w, C) -> (B, H, W, C)`` (padding cropped)."""
    b, h, w_, c, hp, wp, shift = geometry
    x = windows.view(b, hp // window, wp // window, window, window, c).permute(0, 1, 3, 2, 4, 5)
    x = x.reshape(b, hp, wp, c)
    return x[:, shift:shift + h, shift:shift + w_]


class MapNorm(nn.Module):
    """Normalisation over a whole map, channels last: GroupNorm with one group (the Modified Layer
    Normalisation of PoolFormer / MetaFormer, Yu et al., CVPR 2022), statistics over ``(H, W, C)`` of each
    image and a per-channel affine. Unlike a per-position LayerNorm it keeps the contrast between
    positions: a flat background stays small next to the strokes instead of being scaled to unit norm.

    Shapes:
        ``(B, H, W, C) -> (B, H, W, C)``.
    """

    def __init__(self, dim: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))
        self.bias = nn.Parameter(torch.zeros(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        var, mean = torch.var_mean(x, dim=(1, 2, 3), unbiased=False, keepdim=True)
        return (x - mean) * torch.rsqrt(var + self.eps) * self.weight + self.bias


NORMS = ("ln", "gn")


def make_norm(kind: str, dim: int) -> nn.Module:
    """``'ln'``: LayerNorm over each position's channels; ``'gn'``: :class:`MapNorm` (channels last)."""
    return MapNorm(dim) if kind == "gn" else LayerNorm(dim)


class PatchMerging(nn.Module):
    """``2 x 2`` patch merging (Swin): concatenate neighbours (``4C``), LayerNorm, linear ``4C -> out``.

    Shapes:
        ``(B, H, W, C) -> (B, ceil(H / 2), ceil(W / 2), out_dim)`` (odd sizes are zero-padded).
    """

    def __init__(self, dim: int, out_dim: Optional[int] = None, norm: str = "ln") -> None:
        super().__init__()
        self.dim, self.out_dim = dim, out_dim or 2 * dim
        self.norm = make_norm(norm, 4 * dim)
        self.reduction = nn.Linear(4 * dim, self.out_dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, h, w, _ = x.shape
        if h % 2 or w % 2:
            x = F.pad(x, (0, 0, 0, w % 2, 0, h % 2))
        x = torch.cat([x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]], dim=-1)
        return self.reduction(self.norm(x))


class ConvDownsample(nn.Module):
    """Overlapping strided-convolution downsampling: LayerNorm, ``3 x 3`` convolution with stride 2.

    PVTv2's overlapping patch embedding (a ``3 x 3``, stride-2 convolution between stages) with
    ConvNeXt's placement of the norm before it.

    Shapes:
        ``(B, H, W, C) -> (B, ceil(H / 2), ceil(W / 2), out_dim)``.
    """

    def __init__(self, dim: int, out_dim: Optional[int] = None, norm: str = "ln") -> None:
        super().__init__()
        self.dim, self.out_dim = dim, out_dim or 2 * dim
        self.norm = make_norm(norm, dim)
        self.reduction = nn.Conv2d(dim, self.out_dim, kernel_size=3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.reduction(self.norm(x).permute(0, 3, 1, 2)).permute(0, 2, 3, 1)


class ConvStem(nn.Module):
    """Overlapping convolutional stem: ``3 x 3`` stride-2 convolution to ``dim / 2``, a norm, GELU,
    ``3 x 3`` stride-2 convolution to ``dim`` (Xiao et al., *Early convolutions help transformers see
    better*, NeurIPS 2021; the overlapping patch embedding of PVTv2).

    ``norm='bn'``: BatchNorm, as Xiao et al.'s stem (statistics over the batch and the map, so a flat
    canvas stays small next to the strokes); ``'ln'``: LayerNorm over each position's channels; ``'gn'``:
    :class:`MapNorm` over the whole map.

    Shapes:
        ``(B, C_in, H, W) -> (B, dim, ceil(H / 4), ceil(W / 4))`` (NCHW, like the ``4 x 4`` patch stem).
    """

    def __init__(self, in_channels: int, dim: int, norm: str = "ln") -> None:
        super().__init__()
        mid = max(1, dim // 2)
        self.norm_type = norm
        self.conv1 = nn.Conv2d(in_channels, mid, kernel_size=3, stride=2, padding=1)
        self.norm = nn.BatchNorm2d(mid) if norm == "bn" else make_norm(norm, mid)
        self.act = nn.GELU()
        self.conv2 = nn.Conv2d(mid, dim, kernel_size=3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1(x)
        if self.norm_type == "bn":
            x = self.act(self.norm(x))
        else:
            x = self.act(self.norm(x.permute(0, 2, 3, 1))).permute(0, 3, 1, 2)
        return self.conv2(x)


class MixFFN(nn.Module):
    """Channel MLP with a depthwise ``3 x 3`` convolution between its layers: ``fc1 -> DWConv -> act ->
    fc2`` (SegFormer's Mix-FFN, PVTv2's convolutional feed-forward). Without ``dwconv`` it is the Mixer's
    channel MLP (:class:`~backbones.token_mixers.Mlp`, the same parameter names ``fc1`` / ``fc2``).

    Shapes:
        ``(B, H, W, C) -> (B, H, W, C)`` (channels last).
    """

    def __init__(self, dim: int, hidden: int, act: str = "gelu", drop: float = 0.0) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.dwconv = nn.Conv2d(hidden, hidden, kernel_size=3, padding=1, groups=hidden)
        self.act = make_activation(act)
        self.drop1 = nn.Dropout(drop)
        self.fc2 = nn.Linear(hidden, dim)
        self.drop2 = nn.Dropout(drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.dwconv(self.fc1(x).permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
        return self.drop2(self.fc2(self.drop1(self.act(x))))


class PyramidBlock(nn.Module):
    r"""Pre-norm MetaFormer block of the pyramid: token mixing inside windows, channel mixing on the map.

    .. math::
        x \leftarrow x + \mathrm{DropPath}(\mathrm{WindowTokenMix}(\mathrm{LN}(x))), \qquad
        x \leftarrow x + \mathrm{DropPath}(\mathrm{ChannelMLP}(\mathrm{LN}(x)))

    ``WindowTokenMix`` splits the map into ``w x w`` windows (:func:`window_partition`, padded tokens
    zeroed) and applies the token mixer along the ``w^2`` tokens of each window; the channel MLP
    (``Mlp``, or :class:`MixFFN` with ``dwconv=True``) acts on the real tokens of the map only. The
    parameter names are :class:`~backbones.mixer.MixerBlock`'s (``norm1``, ``mlp_tokens``, ``norm2``,
    ``mlp_channels``), so checkpoints of either load into the other.

    Shapes:
        ``x``: ``(B, H, W, C)`` -> ``(B, H, W, C)``.
    """

    def __init__(self, dim: int, window_size: int, token_hidden: int, token_mixer: TokenMixerSpec,
                 mlp_ratio: float = 4.0, dwconv: bool = True, act: str = "gelu", drop: float = 0.0,
                 drop_path: float = 0.0, layer_scale: Optional[float] = None,
                 relative: Union[bool, int] = False, norm: str = "ln") -> None:
        super().__init__()
        self.window_size = window_size
        self.norm1 = make_norm(norm, dim)
        self.mlp_tokens = build_token_mixer(token_mixer, window_size * window_size, token_hidden, act=act, drop=drop,
                                            **relative_options(relative, window_size))
        self.drop_path = DropPath(drop_path)
        self.norm2 = make_norm(norm, dim)
        hidden = int(mlp_ratio * dim)
        self.mlp_channels = MixFFN(dim, hidden, act, drop) if dwconv else Mlp(dim, hidden, act=act, drop=drop)
        # LayerScale (Touvron et al., CaiT, 2021): learnable per-channel gains on both branches
        self.gamma1 = nn.Parameter(torch.full((dim,), float(layer_scale))) if layer_scale else None
        self.gamma2 = nn.Parameter(torch.full((dim,), float(layer_scale))) if layer_scale else None

    def forward(self, x: torch.Tensor, shift: int = 0) -> torch.Tensor:
        windows, mask, geometry = window_partition(self.norm1(x), self.window_size, shift)
        if mask is not None:
            windows = windows * mask.unsqueeze(-1).to(windows.dtype)
        mixed = self.mlp_tokens(windows.transpose(1, 2)).transpose(1, 2)
        mixed = window_reverse(mixed, self.window_size, geometry)
        x = x + self.drop_path(mixed if self.gamma1 is None else self.gamma1 * mixed)
        h = self.mlp_channels(self.norm2(x))
        return x + self.drop_path(h if self.gamma2 is None else self.gamma2 * h)


class WindowStage(nn.Module):
    """One pyramid stage: optional downsampling, optional convolutional position encoding, then
    ``depth`` :class:`PyramidBlock` s.

    Block ``j`` uses shifted windows (shift ``w // 2``) when ``j`` is odd, unless the map fits in one window.

    Args:
        dim: channel width of the stage.
        depth: number of blocks.
        window_size: ``w``.
        token_hidden: token-mixer internal width ``D``.
        token_mixer: a token-mixer spec (:mod:`backbones.token_mixers`).
        mlp_ratio: channel-MLP hidden width as a multiple of ``dim``.
        dwconv: a depthwise ``3 x 3`` convolution in the channel MLP (:class:`MixFFN`).
        pos_embed: CPVT's position-encoding generator (``x + DWConv3x3(x)``, Chu et al. 2021) before the blocks.
        drop_path: per-block stochastic-depth rates.
        downsample: a :class:`PatchMerging` / :class:`ConvDownsample` applied first, or ``None``.
        relative: token-mixing weights shared over the relative offsets of the window (:mod:`backbones.relative`):
            ``True`` every offset, an int ``r`` the offsets up to ``r``; ``False``: full matrices.

    Shapes:
        ``(B, H, W, C_in) -> (B, H', W', dim)`` (channels last).
    """

    def __init__(self, dim: int, depth: int, window_size: int, token_hidden: int, token_mixer: TokenMixerSpec,
                 mlp_ratio: float, act: str, drop: float, drop_path: Sequence[float],
                 downsample: Optional[nn.Module] = None, dwconv: bool = True, pos_embed: bool = False,
                 layer_scale: Optional[float] = None, relative: Union[bool, int] = False, norm: str = "ln") -> None:
        super().__init__()
        self.window_size = window_size
        self.downsample = downsample
        self.pos_embed = nn.Conv2d(dim, dim, kernel_size=3, padding=1, groups=dim) if pos_embed else None
        self.blocks = nn.ModuleList([
            PyramidBlock(dim, window_size, token_hidden, token_mixer, mlp_ratio, dwconv=dwconv, act=act, drop=drop,
                         drop_path=drop_path[j], layer_scale=layer_scale, relative=relative, norm=norm)
            for j in range(depth)])
        self.grad_checkpointing = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.downsample is not None:
            x = self.downsample(x)
        if self.pos_embed is not None:
            x = x + self.pos_embed(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
        # a map that fits in one window is mixed as a whole already: shifting would only add padding
        single = x.shape[1] <= self.window_size and x.shape[2] <= self.window_size
        for j, block in enumerate(self.blocks):
            shift = self.window_size // 2 if j % 2 and not single else 0
            if self.grad_checkpointing and torch.is_grad_enabled():
                x = checkpoint(block, x, shift)
            else:
                x = block(x, shift)
        return x


class IMixerPyramid(BaseModule):
    """Hierarchical windowed (i)Mixer with four stages at strides 4, 8, 16, 32 (see the module docstring).

    Args:
        arch: a name of :attr:`arch_zoo` (``'tiny'``, ``'small'``; the first design ``'tiny-v1'``,
            ``'small-v1'``), or ``None`` to use ``embed_dims`` / ``depths`` with :attr:`design`. The design
            options below (``window_size``, ``stem``, ``downsample``, ``mlp_dwconv``, ``pos_embed``) left at
            ``None`` come from the arch.
        embed_dims: width of stage 0 (doubled at every stage), or the four widths.
        depths: blocks per stage (four integers).
        in_channels: input channels.
        window_size: ``w``, or one ``w`` per stage; token mixers act on ``w * w`` tokens.
        token_ratio: token-mixer internal width ``D = round(token_ratio * w * w)``.
        mlp_ratio: channel-MLP hidden width as a multiple of the stage width.
        stem: ``'conv'`` (two overlapping ``3 x 3`` stride-2 convolutions, :class:`ConvStem`) or
            ``'patch'`` (a ``4 x 4`` stride-4 convolution).
        downsample: ``'conv'`` (overlapping ``3 x 3`` stride-2 convolution, :class:`ConvDownsample`) or
            ``'merge'`` (Swin's ``2 x 2`` patch merging, :class:`PatchMerging`).
        mlp_dwconv: a depthwise ``3 x 3`` convolution in every channel MLP (:class:`MixFFN`).
        pos_embed: a convolutional position encoding (``x + DWConv3x3(x)``) at the start of every stage.
        layer_scale: initial value of LayerScale's per-channel gains on both residual branches of every
            block, or ``False`` for none.
        relative_mixing: share every token-mixing weight over the relative offsets inside a window
            (2-D Toeplitz matrices, :mod:`backbones.relative`): translation-equivariant token mixing.
            ``True``: every offset of the window; an int ``r``: offsets up to ``r`` (a local kernel,
            which the implicit fixed point still spreads over the window). Needs an integer
            ``token_ratio`` (and ``h_ratio``).
        norm: ``'gn'`` (:class:`MapNorm`, statistics over each image's map) or ``'ln'`` (LayerNorm over
            each position's channels), for every norm of the backbone.
        token_mixer: ``'implicit'`` (iMixer), ``'mlp'`` (the explicit twin) or a dict spec
            ``dict(type='implicit', n_iter=4, ...)`` (:mod:`backbones.token_mixers`).
        act: activation.
        drop_rate: dropout inside the MLPs.
        drop_path_rate: stochastic depth, linearly increasing over all blocks.
        out_indices: stages whose outputs :meth:`forward` returns (each with its own norm ``norm{i}``).
        frozen_stages: ``-1`` trains everything; ``k >= 0`` freezes the stem and stages ``0 .. k-1``
            (no gradients, eval mode), re-applied by :meth:`train`.
        norm_eval: keep normalisation statistics frozen in training: BatchNorm running statistics and the
            spectral-norm power-iteration vectors of the implicit layers (LayerNorm has no statistics).
        num_classes: ``> 0`` adds a LayerNorm + average-pool + linear head and makes :meth:`forward`
            return logits (classification pretraining).
        with_cp: gradient checkpointing per block (saves memory, costs a second forward).
        init_cfg: ``dict(type='Pretrained', checkpoint=PATH, prefix='backbone.')`` loads a checkpoint
            (e.g. from ``tools/train.py`` with an ``ImageClassifier``); missing and unexpected keys are
            logged. ``None``: the Mixer initialisation (xavier-uniform linears, LeCun-normal convolutions).
        **implicit: implicit options as keywords (``h_ratio``, ``n_iter``, ``solver``, ...), merged into
            ``token_mixer``; default :data:`~backbones.implicit.IMPLICIT_RECIPE`. Rejected with ``'mlp'``.

    Shapes:
        input ``(B, in_channels, H, W)``, any ``H, W >= 1`` -> a tuple with one
        ``(B, C_i, ceil(H / 2^(i+2)), ceil(W / 2^(i+2)))`` map per ``i`` in ``out_indices``
        (``(B, num_classes)`` logits when ``num_classes > 0``).
    """

    #: the design options (what ``arch=None`` uses; an arch may override any of them)
    design: Dict[str, object] = dict(stem="conv", downsample="conv", mlp_dwconv=True, pos_embed=False,
                                     window_size=(7, 7, 4, 2), layer_scale=False, relative_mixing=1,
                                     norm="gn")
    _v1 = dict(stem="patch", downsample="merge", mlp_dwconv=False, pos_embed=False, window_size=7, layer_scale=False,
               relative_mixing=False, norm="ln")
    _v2 = dict(design, relative_mixing=False, norm="ln")
    _v3 = dict(design, norm="ln")
    #: named sizes: widths, depths and design (parameter counts in the module docstring)
    arch_zoo: Dict[str, dict] = {
        "tiny": dict(embed_dims=64, depths=(2, 2, 10, 2)),
        "small": dict(embed_dims=96, depths=(2, 2, 8, 2)),
        "tiny-v1": dict(embed_dims=64, depths=(2, 2, 10, 2), **_v1),
        "small-v1": dict(embed_dims=96, depths=(2, 2, 10, 2), **_v1),
        "tiny-v2": dict(embed_dims=64, depths=(2, 2, 10, 2), **_v2),
        "small-v2": dict(embed_dims=96, depths=(2, 2, 8, 2), **_v2),
        "tiny-v3": dict(embed_dims=64, depths=(2, 2, 10, 2), **_v3),
        "small-v3": dict(embed_dims=96, depths=(2, 2, 8, 2), **_v3),
    }
    num_stages = 4

    def __init__(self, arch: Optional[str] = "tiny", embed_dims: Union[int, Sequence[int], None] = None,
                 depths: Optional[Sequence[int]] = None, in_channels: int = 3,
                 window_size: Union[int, Sequence[int], None] = None, token_ratio: float = 1.0,
                 mlp_ratio: float = 4.0, stem: Optional[str] = None, downsample: Optional[str] = None,
                 mlp_dwconv: Optional[bool] = None, pos_embed: Optional[bool] = None,
                 layer_scale: Union[float, bool, None] = None, relative_mixing: Union[bool, int, None] = None,
                 norm: Optional[str] = None, token_mixer: TokenMixerSpec = "implicit", act: str = "gelu",
                 drop_rate: float = 0.0,
                 drop_path_rate: float = 0.1, out_indices: Sequence[int] = (0, 1, 2, 3), frozen_stages: int = -1,
                 norm_eval: bool = False, num_classes: int = 0, with_cp: bool = False,
                 init_cfg: Optional[Union[dict, List[dict]]] = None, **implicit) -> None:
        super().__init__(init_cfg=init_cfg)
        spec = resolve_token_mixer(token_mixer, **implicit)
        dims, depths = self._resolve_arch(arch, embed_dims, depths)
        given = dict(stem=stem, downsample=downsample, mlp_dwconv=mlp_dwconv, pos_embed=pos_embed,
                     window_size=window_size, layer_scale=layer_scale, relative_mixing=relative_mixing, norm=norm)
        base = {**self.design, **{k: v for k, v in self.arch_zoo.get(arch or "", {}).items() if k in self.design}}
        design = {k: base[k] if v is None else v for k, v in given.items()}
        if design["stem"] not in ("conv", "conv_bn", "patch"):
            raise ValueError(f"stem must be 'conv' (overlapping 3x3 convolutions, LayerNorm), 'conv_bn' (the same with "
                             f"BatchNorm) or 'patch' (4x4), got {design['stem']!r}")
        if design["norm"] not in NORMS:
            raise ValueError(f"norm must be 'ln' (LayerNorm over each position's channels) or 'gn' (one-group "
                             f"GroupNorm over the whole map, MapNorm), got {design['norm']!r}")
        if design["downsample"] not in ("conv", "merge"):
            raise ValueError(f"downsample must be 'conv' (3x3 stride 2) or 'merge' (2x2 patch merging), got "
                             f"{design['downsample']!r}")
        windows = design["window_size"]
        windows = (int(windows),) * self.num_stages if isinstance(windows, (int, float)) else tuple(int(w) for w in windows)
        if len(windows) != self.num_stages or min(windows) < 1:
            raise ValueError(f"window_size must be >= 1, one int or {self.num_stages} (one per stage), got "
                             f"{design['window_size']}")
        token_hidden = tuple(int(round(token_ratio * w * w)) for w in windows)
        if min(token_hidden) < 1:
            raise ValueError(f"token_ratio={token_ratio} gives an empty token mixer for window_size={windows}")
        out_indices = self._check_out_indices(out_indices)
        if not -1 <= frozen_stages <= self.num_stages:
            raise ValueError(f"frozen_stages must be in [-1, {self.num_stages}] (-1: train everything), "
                             f"got {frozen_stages}")
        if num_classes < 0:
            raise ValueError(f"num_classes must be >= 0, got {num_classes}")

        self.arch, self.embed_dims, self.depths = arch, dims, depths
        self.stem, self.downsample = design["stem"], design["downsample"]
        self.mlp_dwconv, self.pos_embed = bool(design["mlp_dwconv"]), bool(design["pos_embed"])
        self.layer_scale = float(design["layer_scale"] or 0.0)
        self.relative_mixing = check_relative_mixing(design["relative_mixing"])
        self.norm = norm = design["norm"]
        if self.layer_scale < 0:
            raise ValueError(f"layer_scale must be > 0 (the initial LayerScale gain) or False, got {layer_scale}")
        #: per stage: the window size ``w`` and the token mixer's internal width ``D``
        self.in_channels, self.window_size, self.token_hidden = in_channels, windows, token_hidden
        self.token_mixer, self.token_mixer_cfg = spec["type"], spec
        self.out_indices, self.frozen_stages, self.norm_eval = out_indices, frozen_stages, norm_eval
        self.num_classes = num_classes
        self.num_features = dims[-1]

        if self.stem in ("conv", "conv_bn"):
            self.patch_embed = ConvStem(in_channels, dims[0], norm="bn" if self.stem == "conv_bn" else norm)
        else:
            self.patch_embed = nn.Conv2d(in_channels, dims[0], kernel_size=4, stride=4)
        self.patch_norm = make_norm(norm, dims[0])
        merge = ConvDownsample if self.downsample == "conv" else PatchMerging
        dpr = torch.linspace(0, drop_path_rate, sum(depths)).tolist()
        self.stages = nn.ModuleList()
        for i in range(self.num_stages):
            start = sum(depths[:i])
            self.stages.append(WindowStage(
                dims[i], depths[i], windows[i], token_hidden[i], spec, mlp_ratio, act, drop_rate,
                dpr[start:start + depths[i]], downsample=merge(dims[i - 1], dims[i], norm) if i else None,
                dwconv=self.mlp_dwconv, pos_embed=self.pos_embed, layer_scale=self.layer_scale or None,
                relative=self.relative_mixing, norm=norm))
        for i in out_indices:
            self.add_module(f"norm{i}", make_norm(norm, dims[i]))
        if num_classes > 0:
            self.head_norm = make_norm(norm, dims[-1])
            self.head_drop = nn.Dropout(drop_rate)
            self.head = nn.Linear(dims[-1], num_classes)
        #: timm-style description of the outputs
        self.feature_info = [dict(num_chs=dims[i], reduction=2 ** (i + 2), module=f"stages.{i}") for i in out_indices]
        self.set_grad_checkpointing(with_cp)
        self._init_mixer()
        self._freeze_stages()
        name_implicit_layers(self)

    @property
    def _stem_conv(self) -> nn.Conv2d:
        """The convolution that sees the image (its input channels adapt on loading, its bias is uniform)."""
        return self.patch_embed.conv1 if self.stem != "patch" else self.patch_embed

    def _init_mixer(self) -> None:
        """timm's Mixer initialisation, except the stem bias (PyTorch's default uniform init).

        A zero stem bias maps zero-padded image regions (batch padding in detection) to exact zero
        vectors, and LayerNorm's gradient at a zero vector is ``1 / sqrt(eps)``: gradient norms of 1e9.
        """
        named_apply(init_mixer_weights, self)
        stem = self._stem_conv
        bound = 1.0 / math.sqrt(stem.weight[0].numel())
        nn.init.uniform_(stem.bias, -bound, bound)

    # -- construction helpers ------------------------------------------------------------------------
    def _resolve_arch(self, arch, embed_dims, depths) -> Tuple[List[int], List[int]]:
        if embed_dims is None and depths is None:
            if arch is None:
                raise ValueError(f"give arch (one of {sorted(self.arch_zoo)}) or both embed_dims and depths")
            if arch not in self.arch_zoo:
                raise ValueError(f"unknown arch {arch!r}; choose one of {sorted(self.arch_zoo)} or give "
                                 "embed_dims and depths")
            embed_dims, depths = self.arch_zoo[arch]["embed_dims"], self.arch_zoo[arch]["depths"]
        elif embed_dims is None or depths is None:
            base = self.arch_zoo.get(arch or "", {})
            embed_dims = embed_dims if embed_dims is not None else base.get("embed_dims")
            depths = depths if depths is not None else base.get("depths")
            if embed_dims is None or depths is None:
                raise ValueError("give both embed_dims and depths (or a known arch)")
        if arch is not None and arch not in self.arch_zoo:
            raise ValueError(f"unknown arch {arch!r}; choose one of {sorted(self.arch_zoo)} or give "
                             "embed_dims and depths")
        dims = [int(embed_dims) * 2 ** i for i in range(self.num_stages)] if isinstance(embed_dims, int) \
            else [int(d) for d in embed_dims]
        depths = [int(d) for d in depths]
        if len(dims) != self.num_stages or len(depths) != self.num_stages:
            raise ValueError(f"embed_dims and depths need {self.num_stages} entries (one per stage), got "
                             f"embed_dims={dims}, depths={depths}")
        if min(dims) < 1 or min(depths) < 0:
            raise ValueError(f"embed_dims must be >= 1 and depths >= 0, got embed_dims={dims}, depths={depths}")
        return dims, depths

    def _check_out_indices(self, out_indices) -> Tuple[int, ...]:
        if isinstance(out_indices, int):
            out_indices = (out_indices,)
        out = []
        for i in out_indices:
            j = i + self.num_stages if i < 0 else i
            if not 0 <= j < self.num_stages:
                raise ValueError(f"out_indices={tuple(out_indices)}: index {i} is out of range; IMixerPyramid has "
                                 f"{self.num_stages} stages (valid indices 0..{self.num_stages - 1} or -"
                                 f"{self.num_stages}..-1)")
            out.append(j)
        if not out:
            raise ValueError("out_indices is empty; give at least one stage index (0..3)")
        if len(set(out)) != len(out):
            raise ValueError(f"out_indices={tuple(out_indices)} names a stage twice")
        return tuple(out)

    # -- mmdet contract --------------------------------------------------------------------------------
    def _freeze_stages(self) -> None:
        if self.frozen_stages < 0:
            return
        frozen = [self.patch_embed, self.patch_norm] + [self.stages[i] for i in range(self.frozen_stages)]
        frozen += [getattr(self, f"norm{i}") for i in range(self.frozen_stages) if i in self.out_indices]
        for module in frozen:
            module.eval()
            for p in module.parameters():
                p.requires_grad = False

    def train(self, mode: bool = True) -> "IMixerPyramid":
        """Switch mode, keeping frozen stages (and, with ``norm_eval``, normalisation statistics) in eval mode."""
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, (nn.modules.batchnorm._BatchNorm, SpectralNormLinear)):
                    m.eval()
        return self

    def init_weights(self) -> None:
        """Mixer initialisation, or the checkpoint of ``init_cfg=dict(type='Pretrained', ...)``."""
        cfgs = self.init_cfg if isinstance(self.init_cfg, list) else [self.init_cfg] if self.init_cfg else []
        pretrained = [c for c in cfgs if c.get("type") == "Pretrained"]
        others = [c for c in cfgs if c.get("type") != "Pretrained"]
        if others:
            raise ValueError(f"IMixerPyramid supports init_cfg=dict(type='Pretrained', checkpoint=..., prefix=...) "
                             f"or None; got {others}")
        self._init_mixer()
        if pretrained:
            cfg = pretrained[-1]
            if "checkpoint" not in cfg:
                raise ValueError("init_cfg=dict(type='Pretrained') needs checkpoint=PATH (and optionally prefix=...)")
            self.load_pretrained(cfg["checkpoint"], prefix=cfg.get("prefix", ""),
                                 map_location=cfg.get("map_location", "cpu"))
        self._is_init = True

    def load_pretrained(self, checkpoint: str, prefix: str = "", map_location: str = "cpu") -> Dict[str, list]:
        """Load a checkpoint (path or URL, via mmengine's ``CheckpointLoader``) into this backbone.

        ``state_dict`` / ``model`` entries are unwrapped, keys are filtered to ``prefix`` and the prefix
        is stripped (``'backbone.'`` for a checkpoint of :class:`~tasks.classification.ImageClassifier`
        or of an mmdet detector). A stem trained on another number of input channels is adapted
        (``1 -> 3``: the weight is repeated and divided by 3, so a grey image repeated in three channels
        gives the same response). Other shape mismatches are skipped. Missing, unexpected and skipped
        keys are logged.

        Returns:
            ``dict(missing_keys=[...], unexpected_keys=[...], mismatched_keys=[...])``.
        """
        from mmengine.runner.checkpoint import CheckpointLoader

        ckpt = CheckpointLoader.load_checkpoint(checkpoint, map_location=map_location, logger="current")
        state = ckpt.get("state_dict", ckpt.get("model", ckpt)) if isinstance(ckpt, dict) else ckpt
        if prefix:
            if not prefix.endswith("."):
                prefix += "."
            state = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
            if not state:
                raise ValueError(f"checkpoint {checkpoint} has no keys starting with prefix {prefix!r}; check the "
                                 "prefix (e.g. 'backbone.' for an ImageClassifier / detector checkpoint)")
        own = self.state_dict()
        mismatched = []
        stem = "patch_embed.conv1.weight" if self.stem != "patch" else "patch_embed.weight"
        if stem in state and stem in own and state[stem].shape != own[stem].shape \
                and state[stem].shape[0] == own[stem].shape[0] and state[stem].shape[2:] == own[stem].shape[2:]:
            state = dict(state)
            state[stem] = _adapt_input_channels(state[stem], own[stem].shape[1])
        for k in list(state):
            if k in own and state[k].shape != own[k].shape:
                mismatched.append(f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(own[k].shape)}")
                state = {kk: vv for kk, vv in state.items() if kk != k}
        result = self.load_state_dict(state, strict=False)
        report = dict(missing_keys=list(result.missing_keys), unexpected_keys=list(result.unexpected_keys),
                      mismatched_keys=mismatched)
        print_log(f"IMixerPyramid: loaded {len(state) - len(report['unexpected_keys'])} tensors from {checkpoint} "
                  f"(prefix {prefix!r})", logger="current")
        for name, keys in report.items():
            if keys:
                print_log(f"IMixerPyramid: {len(keys)} {name.replace('_', ' ')}: {', '.join(keys)}",
                          logger="current", level=30)
        return report

    # -- timm API ----------------------------------------------------------------------------------------
    def set_grad_checkpointing(self, enable: bool = True) -> None:
        for stage in self.stages:
            stage.grad_checkpointing = enable

    def _check_input(self, x: torch.Tensor) -> None:
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"IMixerPyramid expects images (B, {self.in_channels}, H, W), got {tuple(x.shape)}")
        if x.shape[2] < 1 or x.shape[3] < 1:
            raise ValueError(f"IMixerPyramid got an empty image of size {tuple(x.shape[2:])}")

    def forward_stages(self, x: torch.Tensor) -> List[torch.Tensor]:
        """Raw (un-normalised) outputs of all four stages, channels last ``(B, H_i, W_i, C_i)``."""
        self._check_input(x)
        h, w = x.shape[2:]
        if self.stem == "patch" and (h % 4 or w % 4):
            x = F.pad(x, (0, (-w) % 4, 0, (-h) % 4))
        x = self.patch_norm(self.patch_embed(x).permute(0, 2, 3, 1))
        outs = []
        for stage in self.stages:
            x = stage(x)
            outs.append(x)
        return outs

    def forward_features(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """The normalised NCHW maps of the stages in ``out_indices`` (what a detector neck takes)."""
        stages = self.forward_stages(x)
        return tuple(getattr(self, f"norm{i}")(stages[i]).permute(0, 3, 1, 2).contiguous() for i in self.out_indices)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Classify the last stage's raw output ``(B, H, W, C)``: LayerNorm, average pool, linear."""
        if self.num_classes == 0:
            raise RuntimeError("this IMixerPyramid has no head (num_classes=0); build it with num_classes > 0")
        x = self.head_drop(self.head_norm(x).mean(dim=(1, 2)))
        return x if pre_logits else self.head(x)

    def forward(self, x: torch.Tensor) -> Union[Tuple[torch.Tensor, ...], torch.Tensor]:
        if self.num_classes > 0:
            return self.forward_head(self.forward_stages(x)[-1])
        return self.forward_features(x)


def _adapt_input_channels(weight: torch.Tensor, in_channels: int) -> torch.Tensor:
    """Convert a stem weight ``(C, c_ckpt, k, k)`` to ``in_channels`` input channels (sum / repeat)."""
    c_ckpt = weight.shape[1]
    if in_channels == 1:
        return weight.sum(dim=1, keepdim=True)
    reps = math.ceil(in_channels / c_ckpt)
    return weight.repeat(1, reps, 1, 1)[:, :in_channels] * (c_ckpt / in_channels)


register_backbone()(IMixerPyramid)


@register_backbone()
def imixer_pyramid_t(**kwargs) -> IMixerPyramid:
    """iMixer pyramid, ``arch='tiny'``; keyword overrides as for :class:`IMixerPyramid`."""
    return IMixerPyramid(**{"arch": "tiny", "token_mixer": "implicit", **kwargs})


@register_backbone()
def imixer_pyramid_s(**kwargs) -> IMixerPyramid:
    """iMixer pyramid, ``arch='small'``; keyword overrides as for :class:`IMixerPyramid`."""
    return IMixerPyramid(**{"arch": "small", "token_mixer": "implicit", **kwargs})


@register_backbone()
def mlpmixer_pyramid_t(**kwargs) -> IMixerPyramid:
    """MLP-Mixer pyramid (the explicit twin), ``arch='tiny'``; keyword overrides as for :class:`IMixerPyramid`."""
    return IMixerPyramid(**{"arch": "tiny", "token_mixer": "mlp", **kwargs})


@register_backbone()
def mlpmixer_pyramid_s(**kwargs) -> IMixerPyramid:
    """MLP-Mixer pyramid (the explicit twin), ``arch='small'``; keyword overrides as for :class:`IMixerPyramid`."""
    return IMixerPyramid(**{"arch": "small", "token_mixer": "mlp", **kwargs})
