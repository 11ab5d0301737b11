r"""The hop-token iMixer for node classification (a PyG-style module) and its runner wrapper.

Every node :math:`v` is the sequence of its features propagated over :math:`0..K` hops (see
:class:`tasks.graph.transforms.HopTokens`); the shared 1-D iMixer (:class:`backbones.IMixerSequence`)
mixes these :math:`K+1` tokens (:math:`2K+1` on a directed graph: in- and out-neighbour hops), a
readout pools them and a linear layer classifies. Because the propagation is done once, training
needs no graph at all: mini-batches are sets of nodes.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from backbones.mixer import init_mixer_weights, named_apply
from backbones.registry import MODELS
from backbones.sequence import IMixerSequence
from backbones.token_mixers import TokenMixerSpec
from tasks.common.models import LogitsClassifier

from .transforms import num_hop_tokens

READOUTS = ("mean", "attention", "first", "last")


@MODELS.register_module()
class HopMixer(nn.Module):
    r"""The hop-token iMixer node classifier.

    .. math::
        H^{(0)}_v &= \big[x_v,\ (\hat A X)_v,\ \dots,\ (\hat A^K X)_v\big]\, W_{in} + b_{in}
        \in \mathbb{R}^{(K+1)\times C} \\
        H_v &= \mathrm{IMixerSequence}\big(H^{(0)}_v\big) \\
        \hat y_v &= \mathrm{readout}(H_v)\, W_{out} + b_{out},

    where every block of the sequence model mixes the :math:`K+1` hop tokens with the implicit
    token mixer :math:`(1 - G)^{-1}` (``token_mixer='implicit'``, the iMixer) or a plain MLP
    (``'mlp'``, the explicit twin), then mixes channels with an MLP. With ``directed=True`` the
    tokens are :math:`[x_v, (P_{in}^k X)_v, (P_{out}^k X)_v]`, :math:`2K+1` of them
    (:class:`~tasks.graph.transforms.HopTokens` with ``directed=True``). Readouts:
    ``'mean'`` :math:`\frac{1}{K+1}\sum_k H_{v,k}`; ``'attention'``
    :math:`\sum_k \mathrm{softmax}_k(H_{v,k}\, q)\, H_{v,k}` with a learned query :math:`q`;
    ``'first'`` :math:`H_{v,0}` (the node's own token); ``'last'`` :math:`H_{v,K}`.

    Args:
        in_channels: node feature width ``F``.
        num_classes: number of classes.
        num_hops: ``K`` (the model takes ``K + 1`` tokens).
        embed_dim: token width ``C``.
        num_blocks: Mixer blocks.
        token_mixer: the project's token-mixer spec, handed to :class:`backbones.IMixerSequence` as is:
            ``'implicit'`` (default; the authors' recipe :data:`backbones.implicit.IMPLICIT_RECIPE`,
            ``h_ratio=2, n_iter=2, coeff=0.9``), ``'mlp'`` (the explicit twin) or
            ``dict(type='implicit', n_iter=4, solver='anderson', ...)`` (see
            :func:`backbones.token_mixers.resolve_token_mixer`).
        readout: one of ``'mean'``, ``'attention'``, ``'first'``, ``'last'``.
        dropout: dropout on the input features and before the classifier.
        drop_rate: dropout inside the Mixer MLPs.
        mlp_ratio: ``(tokens, channels)`` hidden widths of the blocks as multiples of ``embed_dim``.
        act: activation.
        directed: the hop tokens are directed ones (``2K + 1`` per node).
        **implicit: implicit-layer options as plain keywords (``n_iter=4``, ...), merged into
            ``token_mixer``; kept for older configs, and refused with ``token_mixer='mlp'``.

    Shapes:
        - **input:** hop tokens :math:`(B, K+1, F)` (:math:`(B, 2K+1, F)` when ``directed``)
        - **output:** logits :math:`(B, \mathrm{num\_classes})`
    """

    def __init__(self, in_channels: int, num_classes: int, num_hops: int = 3, embed_dim: int = 64,
                 num_blocks: int = 2, token_mixer: TokenMixerSpec = "implicit", readout: str = "mean",
                 dropout: float = 0.5, drop_rate: float = 0.0, mlp_ratio: Tuple[float, float] = (0.5, 4.0),
                 act: str = "gelu", directed: bool = False, **implicit) -> None:
        super().__init__()
        if readout not in READOUTS:
            raise ValueError(f"unknown readout {readout!r}; choose one of {READOUTS}")
        if in_channels < 1 or num_classes < 2 or num_hops < 0:
            raise ValueError(f"need in_channels >= 1, num_classes >= 2, num_hops >= 0; got {in_channels}, "
                             f"{num_classes}, {num_hops}")
        self.in_channels, self.num_classes, self.num_hops = in_channels, num_classes, num_hops
        self.embed_dim, self.readout, self.dropout, self.directed = embed_dim, readout, dropout, bool(directed)
        self.num_tokens = num_hop_tokens(num_hops, self.directed)
        self.lin_in = nn.Linear(in_channels, embed_dim)
        self.mixer = IMixerSequence(self.num_tokens, embed_dim, num_blocks, mlp_ratio, token_mixer, act,
                                    drop_rate=drop_rate, **implicit)
        #: ``'implicit'`` / ``'mlp'``, and the resolved spec with its options
        self.token_mixer, self.token_mixer_cfg = self.mixer.token_mixer, self.mixer.token_mixer_cfg
        self.query = nn.Parameter(torch.empty(embed_dim)) if readout == "attention" else None
        self.lin_out = nn.Linear(embed_dim, num_classes)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-initialise every weight: xavier-uniform linears, timm's Mixer init inside the blocks
        (which also re-converges the spectral-norm power iterations)."""
        for lin in (self.lin_in, self.lin_out):
            nn.init.xavier_uniform_(lin.weight)
            nn.init.zeros_(lin.bias)
        named_apply(init_mixer_weights, self.mixer)
        if self.query is not None:
            nn.init.normal_(self.query, std=self.embed_dim ** -0.5)

    def forward(self, hop_tokens: Tensor) -> Tensor:
        """Logits ``(B, num_classes)`` from hop tokens ``(B, K + 1, F)`` (``(B, 2K + 1, F)`` when directed)."""
        k1 = self.num_tokens
        if hop_tokens.dim() != 3 or hop_tokens.shape[1:] != (k1, self.in_channels):
            raise ValueError(f"expected hop tokens of shape (B, {k1}, {self.in_channels}) (num_hops={self.num_hops}, "
                             f"directed={self.directed}, in_channels={self.in_channels}), got "
                             f"{tuple(hop_tokens.shape)}; the graph dataset and the model must agree on num_hops, "
                             "directed (2K+1 tokens) and the feature width (the dataset logs it)")
        h = self.lin_in(F.dropout(hop_tokens, self.dropout, self.training))
        h = self.mixer(h)
        if self.readout == "mean":
            z = h.mean(1)
        elif self.readout == "first":
            z = h[:, 0]
        elif self.readout == "last":
            z = h[:, -1]
        else:
            attn = torch.softmax(h @ self.query, dim=1)
            z = (attn.unsqueeze(-1) * h).sum(1)
        return self.lin_out(F.dropout(z, self.dropout, self.training))

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({self.in_channels}, {self.num_classes}, num_hops={self.num_hops}, "
                f"embed_dim={self.embed_dim}, token_mixer={self.token_mixer!r}, readout={self.readout!r}"
                f"{', directed=True' if self.directed else ''})")


@MODELS.register_module()
class NodeClassifier(LogitsClassifier):
    """Runner wrapper: a node classifier on precomputed hop tokens (``NodeDataset`` batches).

    Node-mini-batch mode gives ``inputs`` ``(B, K+1, F)`` and ``labels`` ``(B,)``; full-graph mode
    (``NodeDataset(mode='full')``, ``batch_size=1``) gives ``(1, N_split, K+1, F)`` and ``(1, N_split)``,
    which are flattened to nodes, so losses and metrics are per node in both modes.

    Args:
        model: the node model config, e.g. ``dict(type='HopMixer', in_channels=17, num_classes=2)``.
        label_smoothing: cross-entropy label smoothing.
    """

    def __init__(self, model: dict, label_smoothing: float = 0.0, data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(label_smoothing, data_preprocessor, init_cfg)
        self.model = MODELS.build(model)

    def logits(self, inputs: Tensor, **extra) -> Tensor:
        return self.model(inputs)

    def forward(self, inputs: Tensor, labels: Optional[Tensor] = None, mode: str = "tensor",
                **extra) -> Union[Dict[str, Tensor], List[dict], Tensor]:
        if inputs.dim() == 4:  # full-graph batches: (1, N, K+1, F)
            inputs = inputs.flatten(0, 1)
            labels = labels.flatten() if labels is not None else None
        return super().forward(inputs, labels, mode, **extra)
