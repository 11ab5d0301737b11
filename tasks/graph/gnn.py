"""Message-passing baselines (PyG's ``GCNConv`` / ``GATConv``) as registered models, and their runner wrapper.

GCN and GAT see the whole graph at every step, so they train full-batch: ``NodeDataset(mode='graph')``
(one item: features, ``edge_index``, the split's node indices and labels; ``batch_size=1``) and
:class:`GraphNodeClassifier`, which runs the model on the graph and scores the split's nodes. They
train, validate, checkpoint and test through mmengine's Runner like the hop-token iMixer
(``configs/graph/gcn_full_karate.py``, ``gat_full_karate.py``).

On a directed graph (``NodeDataset(directed=True)``) ``edge_index`` keeps its direction and both
layers follow PyG's convention: a node aggregates the messages of its in-neighbours
(``source -> target``).
"""
from __future__ import annotations

from typing import Dict, List, Optional, Union

import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.nn import GATConv, GCNConv

from backbones.registry import MODELS
from tasks.common.models import LogitsClassifier

from .model import NodeClassifier


class _TwoLayers(nn.Module):
    """``conv2(dropout(act(conv1(dropout(x)))))``, the shape of both baselines."""

    conv1: nn.Module
    conv2: nn.Module
    dropout: float

    @staticmethod
    def act(x: Tensor) -> Tensor:
        raise NotImplementedError

    def reset_parameters(self) -> None:
        self.conv1.reset_parameters()
        self.conv2.reset_parameters()

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        x = F.dropout(x, self.dropout, self.training)
        x = self.act(self.conv1(x, edge_index))
        return self.conv2(F.dropout(x, self.dropout, self.training), edge_index)


@MODELS.register_module()
class GCN(_TwoLayers):
    """Kipf & Welling's two-layer GCN (the setting of PyG's citation benchmark).

    Args:
        in_channels: node feature width.
        num_classes: number of classes.
        hidden: hidden width.
        dropout: dropout on the input and the hidden layer.

    Shapes:
        ``x (N, F)``, ``edge_index (2, E)`` -> logits ``(N, num_classes)``.
    """

    act = staticmethod(F.relu)

    def __init__(self, in_channels: int, num_classes: int, hidden: int = 64, dropout: float = 0.5) -> None:
        super().__init__()
        self.conv1, self.conv2, self.dropout = GCNConv(in_channels, hidden), GCNConv(hidden, num_classes), dropout


@MODELS.register_module()
class GAT(_TwoLayers):
    """Velickovic et al.'s two-layer GAT, ``heads`` x ``hidden`` (PyG's citation benchmark: 8 x 8).

    Args:
        in_channels: node feature width.
        num_classes: number of classes.
        hidden: channels per head.
        heads: attention heads of the first layer (the second has one).
        dropout: dropout on the inputs of both layers and on the attention coefficients.

    Shapes:
        ``x (N, F)``, ``edge_index (2, E)`` -> logits ``(N, num_classes)``.
    """

    act = staticmethod(F.elu)

    def __init__(self, in_channels: int, num_classes: int, hidden: int = 8, heads: int = 8,
                 dropout: float = 0.6) -> None:
        super().__init__()
        self.dropout = dropout
        self.conv1 = GATConv(in_channels, hidden, heads=heads, dropout=dropout)
        self.conv2 = GATConv(hidden * heads, num_classes, heads=1, concat=False, dropout=dropout)


@MODELS.register_module()
class GraphNodeClassifier(NodeClassifier):
    """Runner wrapper: a node classifier that runs a ``model(x, edge_index)`` on the whole graph.

    Batches come from ``NodeDataset(mode='graph')`` with ``batch_size=1``: ``inputs (1, N, F)``,
    ``edge_index (1, 2, E)``, ``nodes (1, N_split)``, ``labels (1, N_split)``. The logits of the
    split's nodes are scored, so losses and metrics are per node, as with :class:`NodeClassifier`.

    Args:
        model: the graph model config, e.g. ``dict(type='GCN', in_channels=34, num_classes=4)``.
        label_smoothing: cross-entropy label smoothing.
    """

    def logits(self, inputs: Tensor, edge_index: Optional[Tensor] = None, nodes: Optional[Tensor] = None,
               **extra) -> Tensor:
        if edge_index is None:
            raise ValueError("GraphNodeClassifier needs the graph in the batch: use NodeDataset(mode='graph') "
                             "with batch_size=1 (train_dataloader / val_dataloader / test_dataloader)")
        out = self.model(inputs, edge_index)
        return out if nodes is None else out[nodes]

    def forward(self, inputs: Tensor, labels: Optional[Tensor] = None, mode: str = "tensor",
                edge_index: Optional[Tensor] = None, nodes: Optional[Tensor] = None,
                **extra) -> Union[Dict[str, Tensor], List[dict], Tensor]:
        if inputs.dim() == 3:  # a batch of one graph
            if inputs.size(0) != 1:
                raise ValueError(f"GraphNodeClassifier takes one graph per batch, got {inputs.size(0)}; set "
                                 "batch_size=1 with NodeDataset(mode='graph')")
            inputs = inputs[0]
            edge_index = edge_index[0] if edge_index is not None else None
            nodes = nodes[0] if nodes is not None else None
            labels = labels[0] if labels is not None else None
        return LogitsClassifier.forward(self, inputs, labels, mode, edge_index=edge_index, nodes=nodes, **extra)
