"""Node-classification datasets for the runner: precomputed hop tokens, node-mini-batch or full-graph.

``NodeDataset`` loads a graph (:mod:`tasks.graph.data`), cleans it, gives it features
(:class:`~tasks.graph.transforms.StructuralFeatures` when it has none), computes the hop tokens once
(:class:`~tasks.graph.transforms.HopTokens`) and serves the nodes of one split:

* ``mode='minibatch'``: one item per node, ``dict(inputs=(K+1, F), labels=())``; the dataloader's
  ``batch_size`` is the number of nodes per step;
* ``mode='full'``: one item holding every node of the split, ``dict(inputs=(N_split, K+1, F),
  labels=(N_split,))``; use ``batch_size=1`` (``NodeClassifier`` flattens the batch);
* ``mode='graph'``: one item holding the whole graph and the split's nodes, ``dict(inputs=x (N, F),
  edge_index=(2, E), nodes=(N_split,), labels=(N_split,))`` for message-passing models (GCN, GAT
  through ``GraphNodeClassifier``); use ``batch_size=1``.

``directed=True`` keeps the edge direction (see :func:`tasks.graph.data.prepare_graph`): ``2K+1`` hop
tokens per node (in- and out-neighbour hops), in- and out-degree structural features, and the
directed ``edge_index`` in ``mode='graph'``.

The processed graph is cached per process, so the train / val / test datasets of one config share
one propagation. ``SaveSplitHook`` writes the split next to the checkpoints.
"""
from __future__ import annotations

import copy
import json
from functools import lru_cache
from pathlib import Path
from typing import Dict, Optional, Sequence, Tuple

import torch
from mmengine.hooks import Hook
from mmengine.logging import print_log
from torch.utils.data import Dataset
from torch_geometric.data import Data

from backbones.registry import DATASETS, HOOKS

from .data import SPLITS, GraphDataError, check_class_coverage, check_split, load_graph, load_split_file, \
    num_edges_text, prepare_graph, save_split, stratified_split
from .transforms import HopTokens, StructuralFeatures, num_hop_tokens

FEATURES = ("auto", "data", "structural", "data+structural")
MODES = ("minibatch", "full", "graph")


def build_graph(graph, num_hops: int = 3, features: str = "auto", structural: Optional[dict] = None,
                largest_component: bool = False, add_self_loops: bool = True, data_root: Optional[str] = None,
                directed: bool = False) -> Data:
    """Load, clean, featurise and propagate a graph (``data.hop_tokens``), cached per arguments.

    Args:
        graph: see :func:`tasks.graph.data.load_graph`.
        num_hops: ``K`` of :class:`HopTokens`.
        features: ``'auto'`` (the graph's ``x`` when it has one, else structural), ``'data'`` (its
            ``x``, required), ``'structural'`` (replace ``x``), ``'data+structural'`` (append).
        structural: :class:`StructuralFeatures` arguments (default ``spectral_dim=16, degree=True``).
        largest_component: keep only the largest connected component.
        add_self_loops: GCN's :math:`A + I` in the propagation.
        data_root: directory of a prepared bundled graph.
        directed: keep the edge direction (in- / out-neighbour hop tokens, in- / out-degree features).
    """
    if isinstance(graph, Data):
        return _build(graph, num_hops, features, structural, largest_component, add_self_loops, data_root, directed)
    key = json.dumps([graph, num_hops, features, structural, largest_component, add_self_loops, data_root,
                      directed], sort_keys=True, default=str)
    return _build_cached(key)


@lru_cache(maxsize=8)
def _build_cached(key: str) -> Data:
    return _build(*json.loads(key))


def _build(graph, num_hops, features, structural, largest_component, add_self_loops, data_root, directed) -> Data:
    if features not in FEATURES:
        raise ValueError(f"unknown features {features!r}; choose one of {FEATURES}")
    name = graph if isinstance(graph, str) else "graph"
    data = prepare_graph(load_graph(graph, data_root), name, largest_component, directed)
    has_x = data.x is not None
    if features == "data" and not has_x:
        raise GraphDataError(f"{name} has no node features; use features='structural' (or 'auto')")
    if features == "structural" or (features == "auto" and not has_x) or features == "data+structural":
        cfg = dict(spectral_dim=16, degree=True)
        cfg.update(structural or {})
        cfg["cat"] = features == "data+structural"
        cfg.setdefault("directed", directed)
        data = StructuralFeatures(**cfg)(data)
    data = HopTokens(num_hops, add_self_loops, directed)(data)
    if data.get("classes") is None:
        data.classes = [str(c) for c in range(int(data.y.max()) + 1)]
    print_log(f"[graph] {name}: {data.num_nodes} nodes, {num_edges_text(data)}, "
              f"{data.x.size(1)} features, {len(data.classes)} classes, {int((data.y >= 0).sum())} labelled; "
              f"hop tokens {tuple(data.hop_tokens.shape)}", logger="current")
    return data


def graph_splits(data: Data, split_seed: int = 0, split_ratios: Sequence[float] = (0.1, 0.1, 0.8),
                 split_file: Optional[str] = None, use_masks: bool = False,
                 name: str = "graph") -> Dict[str, torch.Tensor]:
    """The train / val / test node indices: a split file, the graph's masks, or a stratified split per seed.

    A class missing from a split (e.g. a class of one node) is logged as a warning naming it
    (:func:`~tasks.graph.data.check_class_coverage`)."""
    if split_file is not None:
        splits = load_split_file(split_file)
    elif use_masks:
        missing = [f"{k}_mask" for k in SPLITS if data.get(f"{k}_mask") is None]
        if missing:
            raise GraphDataError(f"{name}: use_masks=True but the graph has no {missing}")
        splits = {k: data[f"{k}_mask"].nonzero().flatten() for k in SPLITS}
    else:
        splits = stratified_split(data.y, split_seed, split_ratios)
    check_split(splits, data.y, name)
    check_class_coverage(splits, data.y, data.get("classes"), name)
    return splits


@DATASETS.register_module()
class NodeDataset(Dataset):
    """The nodes of one split of a graph, as precomputed hop tokens (see the module doc).

    Args:
        graph: ``'karate'`` (default, built in), ``'polblogs'``, ``'football'``, a ``.pt`` PyG ``Data``
            file, or ``dict(edges=..., labels=..., features=...)`` CSV paths.
        split: ``'train'``, ``'val'`` or ``'test'``.
        mode: ``'minibatch'`` (one item per node), ``'full'`` (one item = the whole split) or
            ``'graph'`` (one item = the whole graph and the split's node indices, for GCN / GAT).
        num_hops: ``K``.
        features: ``'auto'``, ``'data'``, ``'structural'`` or ``'data+structural'`` (see :func:`build_graph`).
        structural: :class:`~tasks.graph.transforms.StructuralFeatures` arguments.
        largest_component: keep only the largest connected component.
        add_self_loops: propagate over :math:`A + I`.
        split_seed: seed of the stratified split.
        split_ratios: train / val / test fractions of the labelled nodes of every class.
        split_file: a json split (``SaveSplitHook`` output) instead of a random one.
        use_masks: use the graph's ``train_mask`` / ``val_mask`` / ``test_mask``.
        data_root: directory of a prepared bundled graph (default ``data/<name>``).
        directed: keep the edge direction (the model needs ``directed=True`` too: ``2K+1`` hop tokens).
    """

    def __init__(self, graph="karate", split: str = "train", mode: str = "minibatch", num_hops: int = 3,
                 features: str = "auto", structural: Optional[dict] = None, largest_component: bool = False,
                 add_self_loops: bool = True, split_seed: int = 0,
                 split_ratios: Tuple[float, float, float] = (0.1, 0.1, 0.8), split_file: Optional[str] = None,
                 use_masks: bool = False, data_root: Optional[str] = None, directed: bool = False) -> None:
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; choose one of {SPLITS}")
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; choose one of {MODES}")
        self.split, self.mode, self.split_seed = split, mode, split_seed
        self.data = build_graph(graph, num_hops, features, structural, largest_component, add_self_loops, data_root,
                                directed)
        name = graph if isinstance(graph, str) else "graph"
        self.splits = graph_splits(self.data, split_seed, split_ratios, split_file, use_masks, name)
        self.nodes = self.splits[split]
        if self.nodes.numel() == 0:
            raise GraphDataError(f"{name}: the {split} split is empty; change split_ratios")
        self.metainfo = dict(classes=tuple(self.data.classes), num_classes=len(self.data.classes),
                             num_features=self.data.x.size(1), num_hops=num_hops, graph=str(name),
                             split_seed=split_seed, directed=bool(directed),
                             num_tokens=num_hop_tokens(num_hops, directed))

    def __len__(self) -> int:
        return self.nodes.numel() if self.mode == "minibatch" else 1

    def __getitem__(self, idx: int) -> dict:
        if self.mode != "minibatch" and idx != 0:
            raise IndexError(idx)
        if self.mode == "graph":
            return dict(inputs=self.data.x.float(), edge_index=self.data.edge_index, nodes=self.nodes,
                        labels=self.data.y[self.nodes])
        if self.mode == "full":
            return dict(inputs=self.data.hop_tokens[self.nodes], labels=self.data.y[self.nodes])
        v = self.nodes[idx]
        return dict(inputs=self.data.hop_tokens[v], labels=self.data.y[v])

    def all_nodes(self) -> "NodeDataset":
        """This dataset over every node of the graph, in node order, unlabelled ones included (label -1),
        same mode: what ``tools/test.py --out`` predicts (``NodePredictionWriterHook``)."""
        other = copy.copy(self)
        other.split, other.nodes = "all", torch.arange(int(self.data.num_nodes))
        return other

    def save_split(self, path) -> Path:
        """Write this graph's train / val / test node indices (and names) as json."""
        meta = dict(graph=self.metainfo["graph"], split_seed=self.split_seed, num_nodes=self.data.num_nodes)
        return save_split(path, self.splits, meta, self.data.get("node_names"))


@HOOKS.register_module()
class SaveSplitHook(Hook):
    """Save the node split of a ``NodeDataset`` as ``<work_dir>/split_seed<seed>.json`` before
    training / testing, so every result can be traced to (and re-run on) its exact split with
    ``NodeDataset(split_file=...)``."""

    priority = "LOW"

    def _save(self, runner, loader) -> None:
        ds = loader.dataset
        if isinstance(ds, NodeDataset):
            path = ds.save_split(Path(runner.work_dir) / f"split_seed{ds.split_seed}.json")
            runner.logger.info(f"[graph] split saved to {path}")

    def before_train(self, runner) -> None:
        self._save(runner, runner.train_dataloader)

    def before_test(self, runner) -> None:
        self._save(runner, runner.test_dataloader)
