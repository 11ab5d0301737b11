"""Graph node classification with the hop-token iMixer (PyG conventions).

Importing this package registers the models (``HopMixer``, runner wrapper ``NodeClassifier``; the
baselines ``GCN`` and ``GAT``, runner wrapper ``GraphNodeClassifier``), the transforms
(``HopTokens``, ``StructuralFeatures``), the dataset ``NodeDataset``, ``SaveSplitHook`` and the
``polblogs`` / ``football`` preparers, and the metric ``NodeClsMetric``.
"""
from .data import GraphDataError, check_class_coverage, load_csv_graph, load_graph, prepare_graph, \
    stratified_split
from .datasets import NodeDataset, SaveSplitHook, build_graph, graph_splits
from .gnn import GAT, GCN, GraphNodeClassifier
from .metrics import NodeClsMetric
from .gt_format import GTFormatError, GTGraph, read_gt
from .model import HopMixer, NodeClassifier
from .transforms import HopTokens, StructuralFeatures, directed_adjacency, normalized_adjacency, spectral_embedding

__all__ = ["GraphDataError", "check_class_coverage", "load_csv_graph", "load_graph", "prepare_graph",
           "stratified_split", "NodeDataset", "SaveSplitHook", "build_graph", "graph_splits", "GAT", "GCN",
           "GraphNodeClassifier", "NodeClsMetric", "GTFormatError", "GTGraph", "read_gt", "HopMixer",
           "NodeClassifier", "HopTokens", "StructuralFeatures", "directed_adjacency", "normalized_adjacency",
           "spectral_embedding"]

# graph classification and link prediction (issue 15): importing registers their datasets, models, metric,
# collate function and the b3db / solubility preparers
from . import graph_data, graph_level, links  # noqa: E402,F401

from . import predictions  # noqa: E402,F401  (its tools/test.py --out writer)

# the device check's tiny run of this task (tools/gpu_check.py)
from tasks.common.smoke import Task, loader_opts, register_smoke_task  # noqa: E402


def _smoke_options(cfg, iters, work):
    # full-graph mode (one iteration = one epoch over every training node); validation at the end only
    return ([f"train_cfg.max_epochs={iters}", f"train_cfg.val_interval={iters}"]
            + loader_opts("batch_size", 1) + loader_opts("dataset.mode", "full"))


register_smoke_task(Task("graph", "configs/graph/hopimixer_full_karate.py", "configs/graph/hopmlpmixer_minibatch_karate.py",
                         _smoke_options, "cls/accuracy"))
