r"""Graph classification: the pooled-hop-token iMixer, PyG's GIN and GCN baselines, and their runner wrapper.

**Why pooled hop tokens.** A Mixer mixes a fixed number of tokens in a fixed order; the nodes of a graph
have neither. Node tokens in some canonical order would make the prediction depend on the order
(canonical orders are costly and unstable) and the token count on the largest graph. Instead every
graph becomes the :math:`K + 1` tokens of its node states propagated over :math:`0..K` hops and pooled
over the nodes,

.. math::
    H = \mathrm{ReLU}(X W_{node}), \qquad
    t_k = \big[\mathrm{mean}_v (\hat A^k H)_v,\ \max_v (\hat A^k H)_v,\ \textstyle\sum_v (\hat A^k H)_v\big],
    \quad k = 0, \dots, K,

with the GCN-normalised adjacency :math:`\hat A = \tilde D^{-1/2}(A + I)\tilde D^{-1/2}` of
:func:`tasks.graph.transforms.normalized_adjacency` (block-diagonal over the batch, so each graph
propagates alone). The tokens are invariant to node order, their number does not depend on the graph
size, and token :math:`k` summarises the graph at receptive field :math:`k`, as the hop tokens of
the node-level model (NAGphormer's hop aggregation, Chen et al., ICLR 2023; SIGN's parameter-free
propagation, Frasca et al., 2020) pooled per hop with PyG's ``global_{mean,max,add}_pool`` (the
readouts of GIN, Xu et al., ICLR 2019). The shared 1-D iMixer then mixes the hop tokens
(:class:`tasks.graph.model.HopMixer`, which holds :class:`backbones.IMixerSequence`), a readout pools
them, a linear layer classifies. The explicit twin is ``token_mixer='mlp'``.

**Baselines**, as in PyG's ``benchmark/kernel`` (``gin.py``: ``GIN0`` / ``GIN``; ``gcn.py``: ``GCN``):
``num_layers`` graph convolutions, global mean pooling, ``Linear -> ReLU -> Dropout(0.5) -> Linear``.

All three take a PyG ``Batch`` (``x``, ``edge_index``, ``batch``) and train through
:class:`GraphClassifier` with mmengine's Runner (``configs/graph/graphcls_*.py``).
"""
from __future__ import annotations

from typing import Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.nn import GCNConv, GINConv, global_add_pool, global_max_pool, global_mean_pool

from backbones.registry import MODELS
from backbones.token_mixers import TokenMixerSpec
from tasks.common.models import LogitsClassifier

from .model import HopMixer
from .transforms import normalized_adjacency

POOLS = {"mean": global_mean_pool, "max": global_max_pool, "sum": global_add_pool}


@MODELS.register_module()
class GraphHopMixer(nn.Module):
    r"""The iMixer graph classifier on pooled hop tokens (see the module doc).

    Args:
        in_channels: node feature width ``F``.
        num_classes: number of classes.
        num_hops: ``K`` (``K + 1`` tokens per graph).
        node_dim: width of the node encoder ``ReLU(X W_node)`` before the propagation (``0``: propagate
            the raw features).
        pools: per-hop graph readouts, any of ``'mean'``, ``'max'``, ``'sum'`` (concatenated).
        embed_dim, num_blocks, token_mixer, readout, dropout, drop_rate, mlp_ratio: of the
            :class:`~tasks.graph.model.HopMixer` over the hop tokens; ``token_mixer`` is the project's
            one spec (``'implicit'``, ``'mlp'`` or a dict).
        **implicit: implicit-layer options as keywords, merged into ``token_mixer``.

    Shapes:
        ``x (N, F)``, ``edge_index (2, E)``, ``batch (N,)`` -> logits ``(num_graphs, num_classes)``.
    """

    def __init__(self, in_channels: int, num_classes: int, num_hops: int = 3, node_dim: int = 64,
                 pools: Sequence[str] = ("mean", "max", "sum"), embed_dim: int = 64, num_blocks: int = 2,
                 token_mixer: TokenMixerSpec = "implicit", readout: str = "mean", dropout: float = 0.5,
                 drop_rate: float = 0.0, mlp_ratio: Tuple[float, float] = (0.5, 4.0), **implicit) -> None:
        super().__init__()
        unknown = [p for p in pools if p not in POOLS]
        if unknown or not pools:
            raise ValueError(f"pools must be a non-empty subset of {tuple(POOLS)}, got {tuple(pools)}")
        self.in_channels, self.num_hops, self.pools = in_channels, num_hops, tuple(pools)
        self.node = nn.Linear(in_channels, node_dim) if node_dim else None
        width = (node_dim or in_channels) * len(self.pools)
        self.head = HopMixer(width, num_classes, num_hops=num_hops, embed_dim=embed_dim, num_blocks=num_blocks,
                             token_mixer=token_mixer, readout=readout, dropout=dropout, drop_rate=drop_rate,
                             mlp_ratio=mlp_ratio, **implicit)
        self.token_mixer = self.head.token_mixer

    def reset_parameters(self) -> None:
        if self.node is not None:
            self.node.reset_parameters()
        self.head.reset_parameters()

    def hop_tokens(self, x: Tensor, edge_index: Tensor, batch: Tensor, num_graphs: int) -> Tensor:
        """The pooled hop tokens ``(num_graphs, K + 1, width)``."""
        if x.dim() != 2 or x.size(1) != self.in_channels:
            raise ValueError(f"expected node features (N, {self.in_channels}), got {tuple(x.shape)}; set the model's "
                             "in_channels to the dataset's feature width (the training log prints it)")
        h = F.relu(self.node(x)) if self.node is not None else x.float()
        adj = normalized_adjacency(edge_index, x.size(0), dtype=h.dtype)
        tokens = []
        for k in range(self.num_hops + 1):
            if k:
                h = adj @ h
            tokens.append(torch.cat([POOLS[p](h, batch, num_graphs) for p in self.pools], dim=-1))
        return torch.stack(tokens, dim=1)

    def forward(self, x: Tensor, edge_index: Tensor, batch: Tensor, num_graphs: int) -> Tensor:
        return self.head(self.hop_tokens(x, edge_index, batch, num_graphs))


def _gin_mlp(in_channels: int, hidden: int) -> nn.Module:
    return nn.Sequential(nn.Linear(in_channels, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                         nn.BatchNorm1d(hidden))


class _PooledGNN(nn.Module):
    """``num_layers`` convolutions with ReLU, global mean pooling, ``Linear -> ReLU -> Dropout -> Linear``
    (the body of PyG ``benchmark/kernel``'s models)."""

    def __init__(self, convs: nn.ModuleList, hidden: int, num_classes: int, dropout: float, act_after_conv: bool):
        super().__init__()
        self.convs, self.dropout, self.act_after_conv = convs, dropout, act_after_conv
        self.lin1, self.lin2 = nn.Linear(hidden, hidden), nn.Linear(hidden, num_classes)

    def reset_parameters(self) -> None:
        for m in [*self.convs, self.lin1, self.lin2]:
            m.reset_parameters()

    def forward(self, x: Tensor, edge_index: Tensor, batch: Tensor, num_graphs: int) -> Tensor:
        for conv in self.convs:
            x = conv(x, edge_index)
            x = F.relu(x) if self.act_after_conv else x
        x = global_mean_pool(x, batch, num_graphs)
        x = F.dropout(F.relu(self.lin1(x)), self.dropout, self.training)
        return self.lin2(x)


@MODELS.register_module()
class GIN(_PooledGNN):
    """PyG ``benchmark/kernel``'s GIN (Xu et al., ICLR 2019): ``GINConv`` with the MLP
    ``Linear -> ReLU -> Linear -> ReLU -> BatchNorm``, ``train_eps=False`` (GIN-0) by default.

    Args:
        in_channels, num_classes: feature width, classes.
        num_layers: GIN layers (the kernel benchmark searches 1..5).
        hidden: width (searched over 16..128 there).
        dropout: before the last linear layer (0.5).
        train_eps: learn GIN's epsilon (PyG's ``GIN``) instead of 0 (``GIN0``).
    """

    def __init__(self, in_channels: int, num_classes: int, num_layers: int = 3, hidden: int = 64,
                 dropout: float = 0.5, train_eps: bool = False) -> None:
        convs = nn.ModuleList([GINConv(_gin_mlp(in_channels if i == 0 else hidden, hidden), train_eps=train_eps)
                               for i in range(num_layers)])
        super().__init__(convs, hidden, num_classes, dropout, act_after_conv=False)


@MODELS.register_module()
class GCNPool(_PooledGNN):
    """PyG ``benchmark/kernel``'s GCN for graph classification (Kipf & Welling's ``GCNConv``, ReLU, global
    mean pooling).

    Args:
        in_channels, num_classes: feature width, classes.
        num_layers: GCN layers.
        hidden: width.
        dropout: before the last linear layer (0.5).
    """

    def __init__(self, in_channels: int, num_classes: int, num_layers: int = 3, hidden: int = 64,
                 dropout: float = 0.5) -> None:
        convs = nn.ModuleList([GCNConv(in_channels if i == 0 else hidden, hidden) for i in range(num_layers)])
        super().__init__(convs, hidden, num_classes, dropout, act_after_conv=True)


@MODELS.register_module()
class GraphClassifier(LogitsClassifier):
    """Runner wrapper for graph classification: ``model(x, edge_index, batch, num_graphs)`` on PyG batches.

    Batches come from ``GraphSetDataset`` with ``collate_fn=dict(type='imixer.pyg_collate')``:
    ``dict(inputs=torch_geometric.data.Batch, labels=(B,))``; the batch is moved to the model's device
    here (mmengine's data preprocessor moves tensors, not PyG batches). Losses, predictions and
    ``ClsMetric`` / ``NodeClsMetric`` results are per graph.

    Args:
        model: the graph model config, e.g. ``dict(type='GraphHopMixer', in_channels=35, num_classes=3)``.
        label_smoothing: cross-entropy label smoothing.
    """

    def __init__(self, model: dict, label_smoothing: float = 0.0, data_preprocessor=None, init_cfg=None) -> None:
        super().__init__(label_smoothing, data_preprocessor, init_cfg)
        self.model = MODELS.build(model)

    def logits(self, inputs, **extra) -> Tensor:
        if not hasattr(inputs, "batch") or not hasattr(inputs, "edge_index"):
            raise TypeError(f"GraphClassifier takes PyG batches, got {type(inputs).__name__}; use "
                            "GraphSetDataset with collate_fn=dict(type='imixer.pyg_collate')")
        device = next(self.parameters()).device
        b = inputs.to(device)
        return self.model(b.x.float(), b.edge_index, b.batch, b.num_graphs)

    def forward(self, inputs, labels=None, mode: str = "tensor", **extra):
        if labels is not None:
            labels = labels.to(next(self.parameters()).device)
        return super().forward(inputs, labels, mode, **extra)
