"""The .gt reader on a real file, the CSV / .pt loaders, cleaning, splits and bad inputs."""
import gzip
import json
import logging

import numpy as np
import pytest
import torch
from mmengine.logging import MMLogger
from torch_geometric.data import Data
from torch_geometric.utils import is_undirected

from tasks.common.fetch import apt_fetch, data_root
from tasks.graph import GraphDataError, NodeDataset, build_graph, load_csv_graph, load_graph, prepare_graph, \
    read_gt, stratified_split
from tasks.graph.data import GT_COLLECTION, GT_PACKAGE, check_split, load_split_file, save_split
from tasks.graph.gt_format import GTFormatError


@pytest.fixture(scope="module")
def football_gt():
    """football.gt.gz from the cached Debian package (``python tools/prepare_data.py football`` fetched it)."""
    if not (data_root() / "football" / "football.npz").exists():
        pytest.fail("football is not prepared; run: python tools/prepare_data.py football")
    return apt_fetch(GT_PACKAGE) / GT_COLLECTION / "football.gt.gz"


def test_gt_reader_on_football(football_gt):
    g = read_gt(football_gt)
    assert g.num_nodes == 115 and not g.directed
    assert g.edge_index.shape == (2, 613)
    assert sorted(np.unique(g.vertex_properties["value"]).tolist()) == list(range(12))
    assert g.vertex_properties["label"][2] == "Iowa"
    assert "Girvan" in g.graph_properties["readme"] and "115 vertices, 613 edges" in g.comment
    data = load_graph("football")  # the prepared npz agrees with the raw file
    assert data.num_nodes == 115 and data.edge_index.size(1) == 2 * 613 and is_undirected(data.edge_index)
    assert torch.equal(data.y, torch.from_numpy(g.vertex_properties["value"]).long())


def test_gt_reader_rejects_bad_files(tmp_path, football_gt):
    bad = tmp_path / "bad.gt"
    bad.write_bytes(b"not a graph-tool file")
    with pytest.raises(GTFormatError, match="magic"):
        read_gt(bad)
    raw = gzip.decompress(football_gt.read_bytes())
    cut = tmp_path / "cut.gt"
    cut.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(GTFormatError, match="truncated"):
        read_gt(cut)


def _write(path, text):
    path.write_text(text)
    return path


@pytest.fixture
def csv_graph(tmp_path):
    edges = _write(tmp_path / "edges.csv", "source,target\na,b\nb,c\nc,a\nc,d\nd,e\ne,f\nf,d\n")
    labels = _write(tmp_path / "labels.csv", "node,label\na,red\nb,red\nc,red\nd,blue\ne,blue\nf,\n")
    feats = _write(tmp_path / "features.csv", "node,f1,f2\na,1,0\nb,1,0.5\nc,1,1\nd,0,1\ne,0,2\nf,0,3\n")
    return dict(edges=str(edges), labels=str(labels), features=str(feats))


def test_csv_loader(csv_graph):
    data = load_csv_graph(**csv_graph)
    assert data.num_nodes == 6 and data.node_names == list("abcdef")
    assert data.classes == ["blue", "red"]
    assert data.y.tolist() == [1, 1, 1, 0, 0, -1]  # f is unlabelled
    assert data.x.shape == (6, 2) and data.x[4, 1] == 2.0
    assert data.edge_index[:, 3].tolist() == [2, 3]
    no_feat = load_csv_graph(csv_graph["edges"], csv_graph["labels"])
    assert no_feat.x is None and no_feat.num_nodes == 6


def test_directed_input_is_symmetrised_and_logged(csv_graph):
    records = []

    class Grab(logging.Handler):
        def emit(self, record):
            records.append(record.getMessage())

    logger = MMLogger.get_current_instance()
    handler = Grab()
    logger.addHandler(handler)
    try:
        data = prepare_graph(load_csv_graph(**csv_graph), "toy")
    finally:
        logger.removeHandler(handler)
    assert is_undirected(data.edge_index) and data.edge_index.size(1) == 14
    assert any("symmetrised" in r for r in records), records


def test_csv_edges_naming_unknown_nodes(csv_graph, tmp_path):
    edges = _write(tmp_path / "bad_edges.csv", "source,target\na,b\nb,zz\n")
    with pytest.raises(GraphDataError, match=r"row 3: 'zz'"):
        load_csv_graph(edges, csv_graph["labels"], csv_graph["features"])
    with pytest.raises(GraphDataError, match="unknown nodes"):
        prepare_graph(Data(edge_index=torch.tensor([[0, 1], [1, 5]]), y=torch.zeros(3, dtype=torch.long),
                           num_nodes=3))


def test_missing_labels_in_a_split(csv_graph, tmp_path):
    data = prepare_graph(load_csv_graph(**csv_graph), "toy")
    split = save_split(tmp_path / "split.json", dict(train=torch.tensor([0, 3]), val=torch.tensor([1, 4]),
                                                       test=torch.tensor([2, 5])))
    with pytest.raises(GraphDataError, match=r"test split have no label.*\[5\]"):
        check_split(load_split_file(split), data.y, "toy")
    with pytest.raises(GraphDataError, match="no label"):
        NodeDataset(graph=csv_graph, split="train", num_hops=1, split_file=str(split))


def test_stratified_split_is_fixed_per_seed_and_stratified():
    y = torch.tensor([0] * 20 + [1] * 10 + [2] * 5 + [-1] * 3)
    a, b, c = stratified_split(y, 0), stratified_split(y, 0), stratified_split(y, 1)
    assert all(torch.equal(a[k], b[k]) for k in a) and not torch.equal(a["train"], c["train"])
    allnodes = torch.cat([a["train"], a["val"], a["test"]])
    assert sorted(allnodes.tolist()) == list(range(35))  # every labelled node once, no unlabelled one
    assert set(y[a["train"]].tolist()) == {0, 1, 2}
    assert (y[a["train"]] == 0).sum() == 2 and (y[a["test"]] == 0).sum() == 16
    with pytest.raises(ValueError, match="sum"):
        stratified_split(y, 0, (0.5, 0.5, 0.5))


def test_saved_pyg_data_and_node_dataset_modes(tmp_path):
    n = 10
    ei = torch.tensor([[i for i in range(n - 1)], [i + 1 for i in range(n - 1)]])
    y = torch.tensor([0] * 5 + [1] * 5)
    mask = lambda idx: torch.zeros(n, dtype=torch.bool).index_fill_(0, torch.tensor(idx), True)  # noqa: E731
    data = Data(x=torch.randn(n, 3), edge_index=ei, y=y, num_nodes=n, train_mask=mask([0, 9]),
                val_mask=mask([1, 8]), test_mask=mask([2, 3, 4, 5, 6, 7]))
    path = tmp_path / "g.pt"
    torch.save(data, path)
    mb = NodeDataset(graph=str(path), split="test", num_hops=2, use_masks=True)
    assert len(mb) == 6 and mb[0]["inputs"].shape == (3, 3) and mb.metainfo["num_classes"] == 2
    full = NodeDataset(graph=str(path), split="test", mode="full", num_hops=2, use_masks=True)
    assert len(full) == 1 and full[0]["inputs"].shape == (6, 3, 3)
    torch.testing.assert_close(full[0]["inputs"][0], mb[0]["inputs"])
    out = mb.save_split(tmp_path / "s.json")
    assert json.loads(out.read_text())["test"] == [2, 3, 4, 5, 6, 7]
    torch.save({"not": "a graph"}, tmp_path / "bad.pt")
    with pytest.raises(GraphDataError, match="expected a torch_geometric.data.Data"):
        load_graph(str(tmp_path / "bad.pt"))


def test_featureless_graph_gets_structural_features():
    data = build_graph("football", num_hops=2, structural=dict(spectral_dim=4, degree=True))
    assert data.x.shape == (115, 5) and data.hop_tokens.shape == (115, 3, 5)
    with pytest.raises(GraphDataError, match="no node features"):
        build_graph("football", features="data")


def _grab_log():
    """Collect the messages of the current MMLogger (returns the list and a remover)."""
    records = []

    class Grab(logging.Handler):
        def emit(self, record):
            records.append((record.levelno, record.getMessage()))

    logger, handler = MMLogger.get_current_instance(), Grab()
    logger.addHandler(handler)
    return records, lambda: logger.removeHandler(handler)


def test_directed_true_keeps_the_edges_as_given(csv_graph):
    records, stop = _grab_log()
    try:
        data = prepare_graph(load_csv_graph(**csv_graph), "toy", directed=True)
    finally:
        stop()
    assert data.directed and not is_undirected(data.edge_index) and data.edge_index.size(1) == 7
    assert data.edge_index[:, (data.edge_index[0] == 2) & (data.edge_index[1] == 3)].size(1) == 1  # c -> d kept
    assert data.edge_index[:, (data.edge_index[0] == 3) & (data.edge_index[1] == 2)].size(1) == 0  # no d -> c
    assert any("keeps the edge direction: 7 directed edges, 7 of them without their reverse" in m for _, m in records)
    # the whole pipeline: 2K+1 hop tokens, in- and out-degree features, the directed edge_index in mode='graph'
    ds = NodeDataset(graph=csv_graph, split="train", mode="graph", num_hops=2, features="structural",
                     structural=dict(spectral_dim=2, degree=True), directed=True, split_ratios=(0.6, 0.2, 0.2))
    assert ds.data.hop_tokens.shape == (6, 5, 4) and ds.metainfo["num_tokens"] == 5
    item = ds[0]
    assert torch.equal(item["edge_index"], data.edge_index) and item["inputs"].shape == (6, 4)
    assert torch.equal(item["labels"], ds.data.y[item["nodes"]])
    und = build_graph(csv_graph, num_hops=2, features="structural", structural=dict(spectral_dim=2, degree=True))
    assert und.hop_tokens.shape == (6, 3, 3) and is_undirected(und.edge_index)


def test_a_header_only_edge_file_is_an_error(csv_graph, tmp_path):
    edges = _write(tmp_path / "empty_edges.csv", "source,target\n")
    with pytest.raises(GraphDataError, match=r"empty_edges.csv has a header but no edges"):
        load_csv_graph(edges, csv_graph["labels"])
    loops = Data(edge_index=torch.tensor([[0, 1], [0, 1]]), y=torch.zeros(2, dtype=torch.long), num_nodes=2)
    with pytest.raises(GraphDataError, match="no edges other than self-loops"):
        prepare_graph(loops, "loops")


def test_a_class_too_small_for_every_split_is_a_warning_naming_it(tmp_path):
    # 'rare' has one node: it can only be in train, so it is never validated or tested
    n = 20
    _write(tmp_path / "edges.csv", "source,target\n" + "".join(f"n{i},n{(i + 1) % n}\n" for i in range(n)))
    _write(tmp_path / "labels.csv", "node,label\n" + "".join(f"n{i},{'rare' if i == 0 else 'ab'[i % 2]}\n"
                                                             for i in range(n)))
    records, stop = _grab_log()
    try:
        ds = NodeDataset(graph=str(tmp_path), split="train", num_hops=1, features="structural",
                         structural=dict(spectral_dim=2, degree=True), split_ratios=(0.5, 0.25, 0.25))
    finally:
        stop()
    warnings = [m for level, m in records if level == logging.WARNING]
    assert len(warnings) == 1, warnings
    assert ("class 'rare' has 1 labelled node(s) (1 train, 0 val, 0 test), so it is never validated or tested"
            in warnings[0]) and "split_ratios" in warnings[0]
    assert ds.data.classes == ["a", "b", "rare"]


def test_a_graph_folder(csv_graph, tmp_path):
    folder = tmp_path / "g"
    folder.mkdir()
    for key in ("edges", "labels", "features"):
        (folder / f"{key}.csv").write_text(open(csv_graph[key]).read())
    data = load_graph(str(folder))
    assert data.num_nodes == 6 and data.x.shape == (6, 2) and data.classes == ["blue", "red"]
    (folder / "labels.csv").unlink()
    with pytest.raises(FileNotFoundError, match=r"lacks labels.csv"):
        load_graph(str(folder))
