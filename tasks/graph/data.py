"""Graphs for node classification: the bundled ones, the user's own, cleaning and splits.

Sources (the ``graph`` argument of :func:`load_graph` and of ``NodeDataset``):

* ``'karate'``: Zachary's karate club, built into PyG (34 nodes, 4 classes, one-hot features);
* ``'polblogs'``, ``'football'``: prepared once with ``python tools/prepare_data.py polblogs
  football`` from the Debian package ``python3-graph-tool`` (its ``.gt`` collection, read by
  :mod:`tasks.graph.gt_format`; no graph-tool installation);
* a saved PyG ``Data`` (``torch.save(data, 'my_graph.pt')``) with ``edge_index``, ``y`` (``-1`` for
  unlabelled nodes), optional ``x`` and optional ``train_mask`` / ``val_mask`` / ``test_mask``;
* CSV files, ``dict(edges='edges.csv', labels='labels.csv', features='features.csv')``, or a folder
  holding files of these names (``graph='my_graph/'``): ``edges.csv`` has a header and two columns
  ``source,target`` (an edge from ``source`` to ``target``); ``labels.csv`` has ``node,label`` (an
  empty label marks an unlabelled node); the optional ``features.csv`` has ``node,f1,f2,...``. The
  node set is the ``node`` column of the features file when given, else of the labels file; an edge
  naming any other node is an error, and so is an edge file without edges.

Every graph goes through :func:`prepare_graph`: directed input is symmetrised (logged) unless
``directed=True`` keeps the direction, self-loops and duplicate edges are removed (logged), and
``edge_index`` is checked against ``num_nodes``. Splits come from :func:`stratified_split` (fixed per
seed), a split file, or the masks of a saved ``Data``; a class missing from a split is a warning
naming it (:func:`check_class_coverage`).
"""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
import torch
from mmengine.logging import print_log
from torch_geometric.data import Data
from torch_geometric.utils import coalesce, is_undirected, remove_self_loops, to_undirected

from tasks.common.fetch import MissingDatasetError, apt_fetch, data_root, ensure_prepared, register_preparer

GraphSource = Union[str, Path, Dict[str, str], Data]
SPLITS = ("train", "val", "test")
GT_PACKAGE = "python3-graph-tool"
GT_COLLECTION = "usr/lib/python3/dist-packages/graph_tool/collection"
#: bundled graph-tool networks: name -> (file, vertex property holding the class)
GT_GRAPHS = {"polblogs": ("polblogs.gt.gz", "value"), "football": ("football.gt.gz", "value")}
#: the files of a CSV graph folder (``features`` optional)
CSV_FILES = dict(edges="edges.csv", labels="labels.csv", features="features.csv")


class GraphDataError(ValueError):
    """The user's graph is inconsistent (unknown node ids, missing labels, bad shapes)."""


# ---------------------------------------------------------------------------------------------------
# preparers: polblogs and football from the Debian package python3-graph-tool
# ---------------------------------------------------------------------------------------------------
def _prepare_gt(name: str, force: bool) -> Path:
    from .gt_format import read_gt

    out = data_root() / name / f"{name}.npz"
    if out.exists() and not force:
        return out.parent
    fname, prop = GT_GRAPHS[name]
    root = apt_fetch(GT_PACKAGE)
    src = root / GT_COLLECTION / fname
    if not src.exists():
        raise FileNotFoundError(f"the Debian package {GT_PACKAGE!r} unpacked to {root} has no {GT_COLLECTION}/{fname}; "
                                f"the package layout changed, delete {root} and retry")
    g = read_gt(src)
    if prop not in g.vertex_properties:
        raise KeyError(f"{src} has no vertex property {prop!r}; it has {sorted(g.vertex_properties)}")
    extra = {f"y_{k}": np.asarray(v).astype(np.int64) for k, v in g.vertex_properties.items()
             if k != prop and isinstance(v, np.ndarray) and v.ndim == 1 and k.startswith("value")}
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, edge_index=g.edge_index, y=np.asarray(g.vertex_properties[prop]).astype(np.int64),
                        directed=g.directed, names=np.array(g.vertex_properties.get("label", []), dtype=str),
                        readme=str(g.graph_properties.get("readme", "")), **extra)
    print(f"[{name}] {g.num_nodes} nodes, {g.edge_index.shape[1]} {'directed' if g.directed else 'undirected'} "
          f"edges, {len(np.unique(g.vertex_properties[prop]))} classes -> {out}", flush=True)
    return out.parent


@register_preparer("polblogs", f"political blogs 2005 (1,490 nodes, 2 classes) from the Debian package {GT_PACKAGE}")
def prepare_polblogs(force: bool = False) -> Path:
    """Write ``data/polblogs/polblogs.npz`` (edge_index, y, node names) from graph-tool's collection."""
    return _prepare_gt("polblogs", force)


@register_preparer("football", f"college football 2000 (115 nodes, 12 conferences) from the Debian package "
                               f"{GT_PACKAGE}", for_tests=True)
def prepare_football(force: bool = False) -> Path:
    """Write ``data/football/football.npz`` (edge_index, y, node names) from graph-tool's collection."""
    return _prepare_gt("football", force)


# ---------------------------------------------------------------------------------------------------
# loaders
# ---------------------------------------------------------------------------------------------------
def load_graph(graph: GraphSource, root: Optional[str] = None) -> Data:
    """Load a graph (before :func:`prepare_graph`).

    Args:
        graph: ``'karate'``, ``'polblogs'``, ``'football'``, a ``.pt`` file holding a PyG ``Data``,
            a dict of CSV paths (``edges``, ``labels``, optional ``features``), a folder holding
            ``edges.csv``, ``labels.csv`` and optionally ``features.csv``, or a ``Data``.
        root: directory of the prepared bundled graphs (default: the data root).

    Returns:
        a ``Data`` with ``edge_index``, ``y`` (``-1`` = unlabelled), ``num_nodes`` and possibly
        ``x``, masks, ``node_names``, ``classes``.
    """
    if isinstance(graph, Data):
        return graph.clone()
    if isinstance(graph, dict):
        unknown = set(graph) - {"edges", "labels", "features"}
        if unknown or "edges" not in graph or "labels" not in graph:
            raise ValueError("a CSV graph is dict(edges=..., labels=..., features=... (optional)); "
                             f"got keys {sorted(graph)}")
        return load_csv_graph(graph["edges"], graph["labels"], graph.get("features"))
    name = str(graph)
    if name == "karate":
        from torch_geometric.datasets import KarateClub

        data = KarateClub()[0]
        del data.train_mask  # 4 labelled nodes only; use stratified splits like the other graphs
        return data
    if name in GT_GRAPHS:
        path = Path(root) if root else data_root() / name
        f = path / f"{name}.npz"
        if root is None:
            ensure_prepared(name, f)
        elif not f.exists():
            raise MissingDatasetError(name, f)
        z = np.load(f)
        edge_index = torch.from_numpy(z["edge_index"]).long()
        if not bool(z["directed"]):  # graph-tool stores an undirected edge once
            edge_index = to_undirected(edge_index, num_nodes=len(z["y"]))
        data = Data(edge_index=edge_index, y=torch.from_numpy(z["y"]).long(), num_nodes=len(z["y"]))
        data.node_names = [str(s) for s in z["names"]] if len(z["names"]) else None
        return data
    path = Path(name)
    if path.is_dir():
        return load_csv_graph(*csv_folder(path))
    if path.suffix in (".pt", ".pth"):
        if not path.exists():
            raise FileNotFoundError(f"graph file {path} not found")
        # a user's own pickled Data object; weights_only=False is needed to unpickle it
        data = torch.load(path, map_location="cpu", weights_only=False)
        if not isinstance(data, Data):
            raise GraphDataError(f"{path} holds a {type(data).__name__}, expected a torch_geometric.data.Data "
                                 "(save it with torch.save(data, path))")
        if data.edge_index is None or data.get("y") is None:
            raise GraphDataError(f"{path}: the Data object needs edge_index and y (use -1 for unlabelled nodes)")
        return data
    raise ValueError(f"unknown graph {name!r}: use 'karate', 'polblogs', 'football', a .pt file with a PyG Data, "
                     "a folder with edges.csv and labels.csv (features.csv optional), "
                     "or dict(edges='edges.csv', labels='labels.csv', features='features.csv')")


def csv_folder(path: Union[str, Path]) -> tuple:
    """``(edges, labels, features or None)`` paths of a CSV graph folder (see the module doc).

    Raises:
        FileNotFoundError: the folder, or its ``edges.csv`` / ``labels.csv``, is missing.
    """
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"graph folder {path} not found")
    files = {k: path / f for k, f in CSV_FILES.items()}
    missing = [f.name for k, f in files.items() if k != "features" and not f.is_file()]
    if missing:
        raise FileNotFoundError(f"graph folder {path} lacks {', '.join(missing)}; a CSV graph folder holds "
                                f"{', '.join(CSV_FILES.values())} (the last optional), see docs/graph.md")
    return files["edges"], files["labels"], files["features"] if files["features"].is_file() else None


def load_csv_graph(edges: Union[str, Path], labels: Union[str, Path],
                   features: Optional[Union[str, Path]] = None) -> Data:
    """Read an edge list, node labels and optional node features from CSV files (see the module doc).

    Raises:
        GraphDataError: an edge names a node that is not in the node table, no edges at all, duplicate
            node ids, non-numeric features, or a malformed file.
    """
    import pandas as pd

    def read(path, what):
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"{what} file {path} not found")
        return path, pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)

    epath, edf = read(edges, "edge-list")
    lpath, ldf = read(labels, "labels")
    if edf.shape[1] < 2:
        raise GraphDataError(f"{epath}: expected two columns 'source,target' with a header row, "
                             f"got {list(edf.columns)}")
    if len(edf) == 0:
        raise GraphDataError(f"{epath} has a header but no edges; node classification on a graph needs its "
                             "edges (one 'source,target' row each). Without edges there is nothing for the hop "
                             "tokens, GCN or GAT to propagate: use a tabular classifier on the features instead")
    if ldf.shape[1] != 2:
        raise GraphDataError(f"{lpath}: expected two columns 'node,label' with a header row, got {list(ldf.columns)}")
    lab_ids = ldf.iloc[:, 0].str.strip().tolist()
    if features is not None:
        fpath, fdf = read(features, "features")
        node_ids, node_file = fdf.iloc[:, 0].str.strip().tolist(), fpath
        try:
            x = torch.tensor(fdf.iloc[:, 1:].to_numpy(dtype=np.float32))
        except ValueError as exc:
            raise GraphDataError(f"{fpath}: feature columns must be numeric ({exc})") from exc
        if x.shape[1] == 0:
            raise GraphDataError(f"{fpath}: no feature columns after the node column")
    else:
        node_ids, node_file, x = lab_ids, lpath, None
    if len(set(node_ids)) != len(node_ids):
        dup = pd.Series(node_ids)[pd.Series(node_ids).duplicated()].unique()[:5].tolist()
        raise GraphDataError(f"{node_file}: node ids must be unique, repeated: {dup}")
    index = {n: i for i, n in enumerate(node_ids)}
    unknown_lab = [n for n in lab_ids if n not in index]
    if unknown_lab:
        raise GraphDataError(f"{lpath} labels {len(unknown_lab)} node(s) that are not in {node_file}, e.g. "
                             f"{unknown_lab[:5]}; add them to {node_file.name} or remove them")
    src, dst = edf.iloc[:, 0].str.strip(), edf.iloc[:, 1].str.strip()
    bad = [(r + 2, n) for col in (src, dst) for r, n in enumerate(col) if n not in index]
    if bad:
        rows = ", ".join(f"row {r}: {n!r}" for r, n in sorted(bad)[:5])
        raise GraphDataError(f"{epath}: {len(bad)} edge end(s) name nodes that are not in {node_file} ({rows}"
                             f"{', ...' if len(bad) > 5 else ''}); add the nodes to {node_file.name} (an empty "
                             "label marks an unlabelled node) or remove those edges")
    edge_index = torch.tensor([[index[n] for n in src], [index[n] for n in dst]], dtype=torch.long).reshape(2, -1)
    raw = ldf.iloc[:, 1].str.strip()
    classes = sorted({c for c in raw if c != ""}, key=lambda c: (not _is_int(c), int(c) if _is_int(c) else 0, c))
    cls_index = {c: i for i, c in enumerate(classes)}
    y = torch.full((len(node_ids),), -1, dtype=torch.long)
    for n, c in zip(lab_ids, raw):
        if c != "":
            y[index[n]] = cls_index[c]
    data = Data(x=x, edge_index=edge_index, y=y, num_nodes=len(node_ids))
    data.node_names, data.classes = node_ids, classes
    return data


def _is_int(s: str) -> bool:
    try:
        int(s)
        return True
    except ValueError:
        return False


# ---------------------------------------------------------------------------------------------------
# cleaning
# ---------------------------------------------------------------------------------------------------
def prepare_graph(data: Data, name: str = "graph", largest_component: bool = False,
                  directed: bool = False) -> Data:
    """Check and clean a graph: valid ids, no self-loops / duplicates (logged), direction as asked.

    Args:
        data: from :func:`load_graph`.
        name: used in messages.
        largest_component: keep only the largest (weakly) connected component (the usual polblogs
            protocol: 1,222 nodes), relabelling nodes and carrying ``x``, ``y``, masks and names along.
        directed: keep the edges as given, ``source -> target`` (``data.directed = True``); by default
            a directed input is symmetrised (logged).

    Raises:
        GraphDataError: ``edge_index`` not ``(2, E)`` integers, ids outside ``[0, num_nodes)``, no edge
            (other than self-loops), ``y`` / ``x`` of the wrong length.
    """
    n = data.num_nodes
    ei = data.edge_index
    if ei.dim() != 2 or ei.size(0) != 2 or ei.dtype not in (torch.int64, torch.int32):
        raise GraphDataError(f"{name}: edge_index must be an integer tensor of shape (2, E), got "
                             f"{tuple(ei.shape)} {ei.dtype}")
    ei = ei.long()
    if ei.numel() and (ei.min() < 0 or ei.max() >= n):
        bad = ((ei < 0) | (ei >= n)).any(0).nonzero().flatten()
        raise GraphDataError(f"{name}: {len(bad)} edge(s) name unknown nodes (ids must be in [0, {n})), e.g. edge "
                             f"{int(bad[0])} = {ei[:, bad[0]].tolist()}; fix edge_index or num_nodes")
    y = data.y.long().flatten() if data.y is not None else None
    if y is None or y.numel() != n:
        raise GraphDataError(f"{name}: y must hold one label per node ({n}), got "
                             f"{None if y is None else tuple(data.y.shape)}; use -1 for unlabelled nodes")
    if data.x is not None and data.x.size(0) != n:
        raise GraphDataError(f"{name}: x has {data.x.size(0)} rows for {n} nodes")
    e0 = ei.size(1)
    ei, _ = remove_self_loops(ei)
    loops = e0 - ei.size(1)
    ei_c = coalesce(ei, num_nodes=n)
    dups = ei.size(1) - ei_c.size(1)
    if ei_c.size(1) == 0:
        raise GraphDataError(f"{name}: the graph has no edges{' other than self-loops' if loops else ''}; node "
                             "classification on a graph needs them (nothing for the hop tokens, GCN or GAT to "
                             "propagate). Check the edge list; without edges use a tabular classifier")
    symmetric = is_undirected(ei_c, num_nodes=n)
    if directed:
        one_way = ei_c.size(1) - _reciprocated(ei_c, n)
        print_log(f"[graph] {name}: directed=True keeps the edge direction: {ei_c.size(1)} directed edges, "
                  f"{one_way} of them without their reverse" + (" (the graph is symmetric, so direction adds "
                                                                 "nothing here)" if symmetric else ""),
                  logger="current")
    elif not symmetric:
        und = to_undirected(ei_c, num_nodes=n)
        print_log(f"[graph] {name}: directed input ({ei_c.size(1)} edges) symmetrised to {und.size(1)} directed "
                  f"pairs ({und.size(1) // 2} undirected edges); directed=True keeps the direction",
                  logger="current")
        ei_c = und
    if loops or dups:
        print_log(f"[graph] {name}: removed {loops} self-loop(s) and {dups} duplicate edge(s)", logger="current")
    data.edge_index, data.y, data.directed = ei_c, y, bool(directed)
    if largest_component:
        data = _largest_component(data, name)
    return data


def _reciprocated(edge_index: torch.Tensor, n: int) -> int:
    """How many edges of a coalesced ``edge_index`` have their reverse in it too."""
    key = edge_index[0] * n + edge_index[1]
    return int(torch.isin(edge_index[1] * n + edge_index[0], key).sum())


def num_edges_text(data: Data) -> str:
    """``'E directed edges'`` or ``'E/2 undirected edges'``, as the graph is kept."""
    e = data.edge_index.size(1)
    return f"{e} directed edges" if data.get("directed") else f"{e // 2} undirected edges"


def _largest_component(data: Data, name: str) -> Data:
    import scipy.sparse as sp
    from scipy.sparse.csgraph import connected_components

    n = data.num_nodes
    ei = data.edge_index.numpy()
    adj = sp.coo_matrix((np.ones(ei.shape[1]), (ei[0], ei[1])), shape=(n, n))
    _, comp = connected_components(adj, directed=False)
    keep = torch.from_numpy(comp == np.bincount(comp).argmax())
    if keep.all():
        return data
    sub = data.subgraph(keep)
    names = data.get("node_names")
    if names is not None:
        sub.node_names = [s for s, k in zip(names, keep.tolist()) if k]
    print_log(f"[graph] {name}: kept the largest {'weakly ' if data.get('directed') else ''}connected component, "
              f"{sub.num_nodes} of {n} nodes, {num_edges_text(sub)}", logger="current")
    return sub


# ---------------------------------------------------------------------------------------------------
# splits
# ---------------------------------------------------------------------------------------------------
def stratified_split(y: torch.Tensor, seed: int, ratios: Sequence[float] = (0.1, 0.1, 0.8)) -> Dict[str, torch.Tensor]:
    """A fixed random split of the labelled nodes (``y >= 0``), stratified by class.

    Every class puts ``max(1, round(r_train * n_c))`` nodes in train, ``round(r_val * n_c)`` (at least
    one when two or more remain) in val, the rest in test. The same ``(y, seed, ratios)`` always give the
    same split.

    Returns:
        ``dict(train=..., val=..., test=...)``, sorted int64 node indices.
    """
    if len(ratios) != 3 or any(r < 0 for r in ratios) or not abs(sum(ratios) - 1.0) < 1e-6:
        raise ValueError(f"split ratios must be three non-negative numbers summing to 1, got {tuple(ratios)}")
    gen = torch.Generator().manual_seed(int(seed))
    parts = {k: [] for k in SPLITS}
    for c in torch.unique(y[y >= 0]).tolist():
        idx = (y == c).nonzero().flatten()
        idx = idx[torch.randperm(len(idx), generator=gen)]
        n_c = len(idx)
        n_tr = min(n_c, max(1, round(ratios[0] * n_c)))
        n_va = min(n_c - n_tr, round(ratios[1] * n_c))
        if n_va == 0 and ratios[1] > 0 and n_c - n_tr >= 2:
            n_va = 1
        parts["train"].append(idx[:n_tr])
        parts["val"].append(idx[n_tr:n_tr + n_va])
        parts["test"].append(idx[n_tr + n_va:])
    return {k: torch.sort(torch.cat(v))[0] if v else torch.zeros(0, dtype=torch.long) for k, v in parts.items()}


def load_split_file(path: Union[str, Path]) -> Dict[str, torch.Tensor]:
    """Read a split saved by ``SaveSplitHook`` / :func:`save_split` (json with train/val/test node indices)."""
    obj = json.loads(Path(path).read_text())
    missing = [k for k in SPLITS if k not in obj]
    if missing:
        raise GraphDataError(f"split file {path} lacks {missing}; it needs lists 'train', 'val', 'test' "
                             "of node indices")
    return {k: torch.tensor(obj[k], dtype=torch.long) for k in SPLITS}


def save_split(path: Union[str, Path], splits: Dict[str, torch.Tensor], meta: Optional[dict] = None,
               node_names: Optional[Sequence[str]] = None) -> Path:
    """Write a split as json (node indices, and node names when known)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    obj = dict(meta or {})
    obj.update({k: splits[k].tolist() for k in SPLITS})
    if node_names is not None:
        obj["names"] = {k: [node_names[i] for i in splits[k].tolist()] for k in SPLITS}
    path.write_text(json.dumps(obj))
    return path


def check_split(splits: Dict[str, torch.Tensor], y: torch.Tensor, name: str = "graph") -> None:
    """Raise :class:`GraphDataError` if a split names unknown or unlabelled nodes, or splits overlap."""
    n = y.numel()
    for k in SPLITS:
        idx = splits[k]
        if idx.numel() and (idx.min() < 0 or idx.max() >= n):
            raise GraphDataError(f"{name}: the {k} split names nodes outside [0, {n})")
        unl = idx[y[idx] < 0]
        if unl.numel():
            raise GraphDataError(f"{name}: {unl.numel()} node(s) of the {k} split have no label, e.g. nodes "
                                 f"{unl[:5].tolist()}; label them (y >= 0) or remove them from the split")
    for a in range(3):
        for b in range(a + 1, 3):
            both = np.intersect1d(splits[SPLITS[a]].numpy(), splits[SPLITS[b]].numpy())
            if both.size:
                raise GraphDataError(f"{name}: the {SPLITS[a]} and {SPLITS[b]} splits share {both.size} node(s), "
                                     f"e.g. {both[:5].tolist()}")


def check_class_coverage(splits: Dict[str, torch.Tensor], y: torch.Tensor, classes: Optional[Sequence[str]] = None,
                         name: str = "graph") -> List[str]:
    """Warn (logged at WARNING, and returned) about every class that some split lacks.

    A class with too few labelled nodes (one node: train only; two: train and test, no validation)
    is trained on but never validated or tested, and a class absent from train is never learnt. The
    runs still work, so this is a warning, not an error; it names the class, its node count per split
    and the fix.
    """
    classes = list(classes) if classes is not None else [str(c) for c in range(int(y.max()) + 1 if y.numel() else 0)]
    problems = []
    for c, cname in enumerate(classes):
        counts = {k: int((y[splits[k]] == c).sum()) for k in SPLITS}
        missing = [k for k in SPLITS if counts[k] == 0]
        if not missing:
            continue
        total = int((y == c).sum())
        where = ", ".join(f"{counts[k]} {k}" for k in SPLITS)
        problems.append(f"{name}: class {cname!r} has {total} labelled node(s) ({where}), so it is never "
                        f"{' or '.join(dict(train='trained on', val='validated', test='tested')[k] for k in missing)}; "
                        "label more of its nodes, merge it into another class, or change split_ratios")
    for msg in problems:
        print_log(f"[graph] {msg}", logger="current", level=logging.WARNING)
    return problems
