"""Graph node classification with the hop-token iMixer (PyG conventions).

Importing this package registers the model (``HopMixer``, runner wrapper ``NodeClassifier``), the
transforms (``HopTokens``, ``StructuralFeatures``), the dataset ``NodeDataset``, ``SaveSplitHook``
and the ``polblogs`` / ``football`` preparers.
"""
from .data import GraphDataError, load_csv_graph, load_graph, prepare_graph, stratified_split
from .datasets import NodeDataset, SaveSplitHook, build_graph, graph_splits
from .gt_format import GTFormatError, GTGraph, read_gt
from .model import HopMixer, NodeClassifier
from .transforms import HopTokens, StructuralFeatures, normalized_adjacency, spectral_embedding

__all__ = ["GraphDataError", "load_csv_graph", "load_graph", "prepare_graph", "stratified_split", "NodeDataset",
           "SaveSplitHook", "build_graph", "graph_splits", "GTFormatError", "GTGraph", "read_gt", "HopMixer",
           "NodeClassifier", "HopTokens", "StructuralFeatures", "normalized_adjacency", "spectral_embedding"]
