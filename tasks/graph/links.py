r"""Link prediction: the hop-token iMixer encoder with a pairwise decoder, GCN and Adamic-Adar baselines.

**Splits.** PyG's ``RandomLinkSplit`` (``split_seed`` fixes it) holds out ``val_ratio`` / ``test_ratio``
of the edges, each with as many sampled non-edges (``neg_sampling_ratio=1``). Message passing, the hop
tokens and the structural node features see only the edges each split is allowed to see: training and
validation the training edges, testing the training + validation edges (``RandomLinkSplit``'s
``edge_index`` of each split), so no held-out edge leaks into the encoder. An undirected graph is split
with ``is_undirected=True`` (an edge and its reverse stay together); ``directed=True`` keeps the edge
direction: ``u -> v`` and ``v -> u`` are different links, the hop tokens are the directed ones
(:class:`~tasks.graph.transforms.HopTokens` ``directed=True``) and the decoder is asymmetric.

**Models.** The encoder maps every node to an embedding ``z_v``: the hop-token iMixer
(:class:`~tasks.graph.model.HopMixer` on the node's hop tokens, its classifier layer serving as the
output projection) or PyG's two-layer GCN (:class:`~tasks.graph.gnn.GCN`). The decoder scores a pair
(:class:`PairDecoder`): ``'dot'`` :math:`z_u^\top z_v` (PyG's ``examples/link_pred.py``), ``'hadamard'``
``MLP(z_u * z_v)`` (symmetric) or ``'concat'`` ``MLP([z_u, z_v, z_u * z_v])`` (asymmetric, for directed
graphs). Training is full-batch as PyG's example: every epoch draws fresh negatives with
``torch_geometric.utils.negative_sampling`` (as many as positive training edges) and minimises the
binary cross-entropy. :class:`AdamicAdar` (Adamic & Adar, 2003) is the non-neural baseline:
:math:`\sum_{w \in N(u) \cap N(v)} 1 / \log d_w` over the undirected neighbourhoods of the edges the split
may see.

**Metrics** (:class:`LinkMetric`): ROC-AUC over the split's positive and negative pairs and OGB's
Hits@K (the fraction of positive pairs scored above the K-th highest negative score).
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log
from mmengine.model import BaseModel
from torch import Tensor
from torch.utils.data import Dataset
from torch_geometric.data import Data
from torch_geometric.utils import negative_sampling, to_undirected

from backbones.registry import DATASETS, METRICS, MODELS

from .data import GraphDataError, load_graph, prepare_graph
from .transforms import HopTokens, StructuralFeatures, num_hop_tokens

SPLITS = ("train", "val", "test")
INPUTS = ("hop_tokens", "graph", "edges")


# ---------------------------------------------------------------------------------------------------
# graphs and splits
# ---------------------------------------------------------------------------------------------------
def load_link_graph(graph, root: Optional[str] = None) -> Data:
    """A graph for link prediction: ``'karate'`` / ``'polblogs'`` / ``'football'``, a ``.pt`` PyG ``Data``,
    an ``edges.csv`` (``source,target``, header row) or a folder holding one (plus optional
    ``features.csv`` = ``node,f1,...``; ``labels.csv`` is not needed). Node labels are not used."""
    path = Path(str(graph)) if isinstance(graph, (str, Path)) else None
    if path is not None and (path.suffix == ".csv" or path.is_dir()):
        edges = path / "edges.csv" if path.is_dir() else path
        feats = path / "features.csv" if path.is_dir() and (path / "features.csv").is_file() else None
        if not edges.is_file():
            raise FileNotFoundError(f"edge list {edges} not found; a link-prediction graph is an edges.csv "
                                    "('source,target' with a header row) or a folder holding one")
        import pandas as pd

        edf = pd.read_csv(edges, dtype=str, keep_default_na=False, skipinitialspace=True)
        if edf.shape[1] < 2:
            raise GraphDataError(f"{edges}: expected two columns 'source,target' with a header row, got "
                                 f"{list(edf.columns)}")
        src, dst = edf.iloc[:, 0].str.strip().tolist(), edf.iloc[:, 1].str.strip().tolist()
        if not src:
            raise GraphDataError(f"{edges} has a header but no edges; link prediction needs edges to learn from")
        x = None
        if feats is None:  # the nodes are the edges' ends
            nodes = list(dict.fromkeys(src + dst))
        else:
            fdf = pd.read_csv(feats, dtype=str, keep_default_na=False, skipinitialspace=True)
            nodes = fdf.iloc[:, 0].str.strip().tolist()
            try:
                x = torch.tensor(fdf.iloc[:, 1:].to_numpy(dtype=np.float32))
            except ValueError as exc:
                raise GraphDataError(f"{feats}: feature columns must be numeric ({exc})") from exc
            unknown = sorted({n for n in src + dst} - set(nodes))
            if unknown:
                raise GraphDataError(f"{edges}: {len(unknown)} edge end(s) name nodes that are not in {feats}, e.g. "
                                     f"{unknown[:5]}; add them to {feats.name} or remove those edges")
        index = {n: i for i, n in enumerate(nodes)}
        data = Data(x=x, edge_index=torch.tensor([[index[n] for n in src], [index[n] for n in dst]]),
                    y=torch.full((len(nodes),), -1, dtype=torch.long), num_nodes=len(nodes))
        data.node_names = nodes
        return data
    data = load_graph(graph, root)
    if data.get("y") is None:
        data.y = torch.full((data.num_nodes,), -1, dtype=torch.long)
    return data


def build_link_splits(graph, split_seed: int = 0, val_ratio: float = 0.05, test_ratio: float = 0.1,
                      directed: bool = False, num_hops: int = 3, features: str = "auto",
                      structural: Optional[dict] = None, largest_component: bool = False,
                      data_root: Optional[str] = None) -> Dict[str, Data]:
    """``RandomLinkSplit`` of a graph, with node features and hop tokens per split (cached per arguments).

    Returns:
        ``dict(train=, val=, test=)`` of ``Data`` with ``x``, ``edge_index`` (the edges the split may
        propagate over), ``hop_tokens``, ``edge_label_index`` and ``edge_label`` (1 edge, 0 non-edge;
        the training split holds positives only: negatives are drawn every epoch).
    """
    key = json.dumps([str(graph), split_seed, val_ratio, test_ratio, directed, num_hops, features, structural,
                      largest_component, data_root], sort_keys=True, default=str)
    return _splits_cached(key)


@lru_cache(maxsize=8)
def _splits_cached(key: str) -> Dict[str, Data]:
    from torch_geometric.transforms import RandomLinkSplit

    (graph, split_seed, val_ratio, test_ratio, directed, num_hops, features, structural, largest_component,
     data_root) = json.loads(key)
    name = Path(graph).name if ("/" in graph or graph.endswith(".csv")) else graph
    data = prepare_graph(load_link_graph(graph, data_root), name, largest_component, directed)
    if features not in ("auto", "data", "structural"):
        raise ValueError(f"unknown features {features!r}; choose 'auto', 'data' or 'structural'")
    if features == "data" and data.x is None:
        raise GraphDataError(f"{name} has no node features; use features='structural' (or 'auto')")
    use_structural = features == "structural" or data.x is None
    base = Data(x=None if use_structural else data.x.float(), edge_index=data.edge_index, num_nodes=data.num_nodes)
    with torch.random.fork_rng():
        torch.manual_seed(split_seed)
        split = RandomLinkSplit(num_val=val_ratio, num_test=test_ratio, is_undirected=not directed,
                                add_negative_train_samples=False, neg_sampling_ratio=1.0, split_labels=False)
        train, val, test = split(base)
    if use_structural:  # from the training edges only: held-out edges must not shape the features
        cfg = dict(spectral_dim=16, degree=True)
        cfg.update(structural or {})
        cfg["directed"] = directed
        x = StructuralFeatures(**cfg)(Data(edge_index=train.edge_index, num_nodes=data.num_nodes)).x
        for d in (train, val, test):
            d.x = x
    out = {}
    for k, d in zip(SPLITS, (train, val, test)):
        d = HopTokens(num_hops, directed=directed)(d)
        d.directed = directed
        out[k] = d
    n_pos = {k: int((out[k].edge_label == 1).sum()) for k in SPLITS}
    print_log(f"[links] {name}: {data.num_nodes} nodes, {'directed' if directed else 'undirected'}, "
              f"{x.size(1) if use_structural else data.x.size(1)} features; RandomLinkSplit seed {split_seed}: "
              f"positive edges train {n_pos['train']} / val {n_pos['val']} / test {n_pos['test']} (+ as many "
              f"non-edges in val / test); message passing over {train.edge_index.size(1)} / {val.edge_index.size(1)}"
              f" / {test.edge_index.size(1)} directed pairs", logger="current")
    return out


@DATASETS.register_module()
class LinkDataset(Dataset):
    """One split of a link-prediction graph as one item (full-batch; use ``batch_size=1``).

    Items: ``dict(inputs=, edge_index=(2, E), edge_label_index=(2, M), labels=(M,))`` with ``inputs`` the
    hop tokens ``(N, K+1, F)`` (``input='hop_tokens'``, the iMixer) or the node features ``(N, F)``
    (``'graph'``: GCN; ``'edges'``: heuristics that need no features).

    Args:
        graph: see :func:`load_link_graph`.
        split: ``'train'``, ``'val'`` or ``'test'``.
        input: ``'hop_tokens'``, ``'graph'`` or ``'edges'``.
        split_seed: ``RandomLinkSplit`` seed.
        val_ratio, test_ratio: held-out edge fractions.
        directed: keep the edge direction.
        num_hops: ``K`` of the hop tokens.
        features: ``'auto'`` (the graph's ``x`` if any, else structural), ``'data'`` or ``'structural'``.
        structural: :class:`~tasks.graph.transforms.StructuralFeatures` arguments.
        largest_component: keep the largest connected component.
        data_root: directory of a prepared bundled graph.
    """

    def __init__(self, graph="football", split: str = "train", input: str = "hop_tokens", split_seed: int = 0,
                 val_ratio: float = 0.05, test_ratio: float = 0.1, directed: bool = False, num_hops: int = 3,
                 features: str = "auto", structural: Optional[dict] = None, largest_component: bool = False,
                 data_root: Optional[str] = None) -> None:
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; choose one of {SPLITS}")
        if input not in INPUTS:
            raise ValueError(f"unknown input {input!r}; choose one of {INPUTS}")
        self.split, self.input = split, input
        self.data = build_link_splits(graph, split_seed, val_ratio, test_ratio, directed, num_hops, features,
                                      structural, largest_component, data_root)[split]
        self.metainfo = dict(num_features=int(self.data.x.size(1)), num_hops=num_hops, directed=bool(directed),
                             num_tokens=num_hop_tokens(num_hops, directed), split_seed=split_seed)

    def __len__(self) -> int:
        return 1

    def __getitem__(self, idx: int) -> dict:
        if idx != 0:
            raise IndexError(idx)
        d = self.data
        inputs = d.hop_tokens if self.input == "hop_tokens" else d.x.float()
        return dict(inputs=inputs, edge_index=d.edge_index, edge_label_index=d.edge_label_index,
                    labels=d.edge_label.float())


# ---------------------------------------------------------------------------------------------------
# models
# ---------------------------------------------------------------------------------------------------
@MODELS.register_module()
class PairDecoder(nn.Module):
    """Scores node pairs from embeddings: ``'dot'``, ``'hadamard'`` (MLP on ``z_u * z_v``, symmetric) or
    ``'concat'`` (MLP on ``[z_u, z_v, z_u * z_v]``, asymmetric: for directed links)."""

    def __init__(self, in_channels: int, kind: str = "hadamard", hidden: int = 64) -> None:
        super().__init__()
        if kind not in ("dot", "hadamard", "concat"):
            raise ValueError(f"unknown decoder {kind!r}; choose 'dot', 'hadamard' or 'concat'")
        self.kind = kind
        width = 3 * in_channels if kind == "concat" else in_channels
        self.mlp = None if kind == "dot" else nn.Sequential(nn.Linear(width, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def forward(self, z: Tensor, pairs: Tensor) -> Tensor:
        zu, zv = z[pairs[0]], z[pairs[1]]
        if self.kind == "dot":
            return (zu * zv).sum(-1)
        h = zu * zv if self.kind == "hadamard" else torch.cat([zu, zv, zu * zv], dim=-1)
        return self.mlp(h).squeeze(-1)


@MODELS.register_module()
class AdamicAdar(nn.Module):
    r"""Adamic-Adar index :math:`\sum_{w \in N(u) \cap N(v)} 1 / \log d_w` over the undirected
    neighbourhoods of ``edge_index`` (no parameters; nodes of degree 1 cannot be common neighbours)."""

    def forward(self, num_nodes: int, edge_index: Tensor, pairs: Tensor) -> Tensor:
        ei = to_undirected(edge_index, num_nodes=num_nodes)
        adj = torch.sparse_coo_tensor(ei, torch.ones(ei.size(1), device=ei.device), (num_nodes, num_nodes)).coalesce()
        deg = torch.sparse.sum(adj, 1).to_dense()
        w = torch.where(deg > 1, 1.0 / torch.log(deg.clamp_min(2.0)), torch.zeros_like(deg))
        a = adj.to_dense()
        return ((a[pairs[0]] * w) * a[pairs[1]]).sum(-1)


@MODELS.register_module()
class LinkPredictor(BaseModel):
    """Runner wrapper for link prediction: an encoder, a :class:`PairDecoder`, BCE with fresh negatives.

    Batches come from :class:`LinkDataset` (``batch_size=1``). Modes: ``'loss'`` (positive training
    edges + as many ``negative_sampling`` non-edges, drawn every step), ``'predict'`` (one
    ``dict(scores, labels)`` per split for :class:`LinkMetric`), ``'tensor'`` (the pair scores).

    Args:
        encoder: the node encoder config: ``dict(type='HopMixer', ...)`` (``input='hop_tokens'``),
            ``dict(type='GCN', ...)`` (``input='graph'``) or ``dict(type='AdamicAdar')`` (``input='edges'``,
            no decoder, nothing to train).
        decoder: :class:`PairDecoder` arguments (``in_channels`` = the encoder's output width).
        input: what the encoder takes, as the dataset's ``input``.
    """

    def __init__(self, encoder: dict, decoder: Optional[dict] = None, input: str = "hop_tokens",
                 data_preprocessor: Optional[dict] = None, init_cfg: Optional[dict] = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if input not in INPUTS:
            raise ValueError(f"unknown input {input!r}; choose one of {INPUTS}")
        self.input = input
        self.encoder = MODELS.build(encoder)
        self.decoder = MODELS.build(dict(type="PairDecoder", **decoder)) if input != "edges" else None

    def scores(self, inputs: Tensor, edge_index: Tensor, pairs: Tensor) -> Tensor:
        if self.input == "edges":
            return self.encoder(inputs.size(0), edge_index, pairs)
        z = self.encoder(inputs) if self.input == "hop_tokens" else self.encoder(inputs, edge_index)
        return self.decoder(z, pairs)

    def forward(self, inputs: Tensor, edge_index: Tensor = None, edge_label_index: Tensor = None,
                labels: Optional[Tensor] = None, mode: str = "tensor", **extra):
        if inputs.dim() == (4 if self.input == "hop_tokens" else 3):  # a batch of one graph
            if inputs.size(0) != 1:
                raise ValueError("LinkPredictor takes one graph per batch: set batch_size=1 with LinkDataset")
            inputs, edge_index, edge_label_index = inputs[0], edge_index[0], edge_label_index[0]
            labels = labels[0] if labels is not None else None
        if mode == "loss":
            pos = edge_label_index[:, labels > 0.5] if labels is not None else edge_label_index
            neg = negative_sampling(edge_index, num_nodes=inputs.size(0), num_neg_samples=pos.size(1),
                                    force_undirected=False)
            pairs = torch.cat([pos, neg], dim=1)
            target = torch.cat([pos.new_ones(pos.size(1)), pos.new_zeros(neg.size(1))]).float()
            return {"loss": F.binary_cross_entropy_with_logits(self.scores(inputs, edge_index, pairs), target)}
        out = self.scores(inputs, edge_index, edge_label_index)
        if mode == "tensor":
            return out
        if mode == "predict":
            return [dict(scores=out.detach().float().cpu(), labels=None if labels is None else labels.cpu())]
        raise ValueError(f"unknown mode {mode!r}; use 'loss', 'predict' or 'tensor'")


# ---------------------------------------------------------------------------------------------------
# metric
# ---------------------------------------------------------------------------------------------------
def hits_at_k(pos: np.ndarray, neg: np.ndarray, k: int) -> float:
    """OGB's Hits@K: the fraction of positive scores above the K-th highest negative score (all positives
    count when there are fewer than K negatives)."""
    if len(neg) < k:
        return 1.0
    threshold = np.sort(neg)[-k]
    return float((pos > threshold).mean())


@METRICS.register_module()
class LinkMetric(BaseMetric):
    """``link/auc`` (ROC-AUC, percent) and ``link/hits@K`` (percent) over a split's positive and negative pairs.

    Args:
        ks: the K of Hits@K (default 10, 20, 50).
    """

    default_prefix = "link"

    def __init__(self, ks: Sequence[int] = (10, 20, 50), collect_device: str = "cpu",
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.ks = tuple(ks)

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for s in data_samples:
            if s["labels"] is None:
                raise ValueError("LinkMetric needs the split's edge labels (LinkDataset provides them)")
            self.results.append((np.asarray(s["scores"]), np.asarray(s["labels"])))

    def compute_metrics(self, results: list) -> Dict[str, float]:
        from sklearn.metrics import roc_auc_score

        scores = np.concatenate([r[0] for r in results])
        labels = np.concatenate([r[1] for r in results]) > 0.5
        out = {"auc": 100.0 * float(roc_auc_score(labels, scores))}
        for k in self.ks:
            out[f"hits@{k}"] = 100.0 * hits_at_k(scores[labels], scores[~labels], k)
        return out


__all__: List[str] = ["AdamicAdar", "LinkDataset", "LinkMetric", "LinkPredictor", "PairDecoder",
                      "build_link_splits", "hits_at_k", "load_link_graph"]
