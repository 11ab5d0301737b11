"""Graph classification: pooled hop tokens, GIN / GCN baselines, folds, the user's graphs and their errors,
and tools/train.py on a config (tiny graphs made here, 1-2 epochs)."""
from pathlib import Path

import numpy as np
import pytest
import torch
from torch_geometric.data import Batch, Data

from tasks.graph.graph_data import GraphSetDataset, GraphSetError, kfold_split, load_graph_set, pyg_collate
from tasks.graph.graph_level import GIN, GCNPool, GraphClassifier, GraphHopMixer

ROOT = Path(__file__).resolve().parents[2]


def _cycle(n, label, feat=3):
    ei = torch.tensor([[i for i in range(n)] + [(i + 1) % n for i in range(n)],
                       [(i + 1) % n for i in range(n)] + [i for i in range(n)]])
    return Data(x=torch.randn(n, feat), edge_index=ei, y=torch.tensor([label]))


def _graphs(count=20, feat=3):
    return [_cycle(4 + i % 5, i % 2, feat) for i in range(count)]


def test_hop_tokens_are_node_order_invariant_and_models_shape():
    torch.manual_seed(0)
    g = _cycle(6, 1)
    perm = torch.randperm(6)
    inv = torch.empty_like(perm)
    inv[perm] = torch.arange(6)
    g2 = Data(x=g.x[perm], edge_index=inv[g.edge_index], y=g.y)
    b, b2 = Batch.from_data_list([g, _cycle(4, 0)]), Batch.from_data_list([g2, _cycle(4, 0)])
    b2.x[6:] = b.x[6:]
    for mixer in ("implicit", "mlp"):
        model = GraphHopMixer(3, 2, num_hops=2, node_dim=8, embed_dim=16, num_blocks=1, token_mixer=mixer).eval()
        t, t2 = (model.hop_tokens(x.x, x.edge_index, x.batch, x.num_graphs) for x in (b, b2))
        assert t.shape == (2, 3, 24)
        assert torch.allclose(t, t2, atol=1e-5)
        assert model(b.x, b.edge_index, b.batch, 2).shape == (2, 2)
        assert model.token_mixer == mixer
    for cls in (GIN, GCNPool):
        assert cls(3, 2, num_layers=2, hidden=8).eval()(b.x, b.edge_index, b.batch, 2).shape == (2, 2)


def test_graph_classifier_learns_cycle_sizes():
    """The iMixer must tell 4-cycles from 7-cycles (the sum readout sees the size); it can fail."""
    torch.manual_seed(0)
    data = [Data(x=torch.ones(n, 1), edge_index=_cycle(n, 0).edge_index, y=torch.tensor([int(n == 7)]))
            for n in [4, 7] * 8]
    clf = GraphClassifier(dict(type="GraphHopMixer", in_channels=1, num_classes=2, num_hops=1, node_dim=8,
                               embed_dim=16, num_blocks=1, dropout=0.0))
    opt = torch.optim.Adam(clf.parameters(), lr=1e-2)
    batch = pyg_collate(data)
    for _ in range(60):
        opt.zero_grad()
        clf(**batch, mode="loss")["loss"].backward()
        opt.step()
    preds = [int(p["pred_label"]) for p in clf.eval()(**batch, mode="predict")]
    assert preds == batch["labels"].tolist()


def test_kfold_split_follows_pyg_kernel():
    y = np.array([0] * 30 + [1] * 20)
    folds = [kfold_split(y, k, 10, seed=1) for k in range(10)]
    assert all(len(f["train"]) + len(f["val"]) + len(f["test"]) == 50 for f in folds)
    assert sorted(np.concatenate([f["test"] for f in folds]).tolist()) == list(range(50))
    assert np.array_equal(folds[3]["val"], folds[2]["test"]) and np.array_equal(folds[0]["val"], folds[9]["test"])
    assert np.array_equal(kfold_split(y, 3, 10, 1)["test"], folds[3]["test"])
    with pytest.raises(ValueError, match="fewer graphs than num_folds"):
        kfold_split(np.array([0] * 20 + [1] * 3), 0, 10)


def test_saved_list_of_data_and_its_errors(tmp_path):
    path = tmp_path / "graphs.pt"
    torch.save(_graphs(), path)
    ds = GraphSetDataset(str(path), split="test", fold=1, num_folds=5)
    assert len(ds) == 4 and ds.metainfo["num_features"] == 3 and ds.classes == ["0", "1"]
    bad = _graphs()
    bad[5] = _cycle(4, 1, feat=5)
    torch.save(bad, path)
    with pytest.raises(GraphSetError, match="widths differ.*width 5: 1 graph"):
        load_graph_set(str(path))
    bad = _graphs()
    bad[2].y = None
    with pytest.raises(GraphSetError, match="graph 2 has no label"):
        load_graph_set(bad)
    with pytest.raises(GraphSetError, match="graph 0 is empty"):
        load_graph_set([Data(x=torch.zeros(0, 3), edge_index=torch.zeros(2, 0, dtype=torch.long), y=torch.tensor([0]))])
    torch.save(_graphs()[0], path)
    with pytest.raises(GraphSetError, match="one Data object"):
        load_graph_set(str(path))


def _write_folder(root: Path, count=20):
    (root / "edges").mkdir(parents=True)
    rows = ["graph,label"]
    for i in range(count):
        n = 3 + i % 4
        (root / "edges" / f"g{i}.csv").write_text("source,target\n" + "".join(f"a{j},a{(j + 1) % n}\n" for j in range(n)))
        rows.append(f"g{i},{'ring' if i % 2 else 'chain'}")
    (root / "labels.csv").write_text("\n".join(rows) + "\n")


def test_folder_of_edge_lists_and_its_errors(tmp_path):
    _write_folder(tmp_path / "ok")
    graphs, classes = load_graph_set(str(tmp_path / "ok"))
    assert classes == ["chain", "ring"] and len(graphs) == 20
    assert graphs[0].x.shape == (3, 3)  # one-hot degree: every node has degree 2 -> columns 0..2
    assert graphs[0].edge_index.shape == (2, 6)  # symmetrised
    _write_folder(tmp_path / "nolabel")
    (tmp_path / "nolabel" / "edges" / "extra.csv").write_text("source,target\nx,y\n")
    with pytest.raises(GraphSetError, match=r"have no label in .*labels.csv: \['extra'\]"):
        load_graph_set(str(tmp_path / "nolabel"))
    _write_folder(tmp_path / "empty")
    (tmp_path / "empty" / "edges" / "g3.csv").write_text("source,target\n")
    with pytest.raises(GraphSetError, match="graph 'g3' is empty"):
        load_graph_set(str(tmp_path / "empty"))
    _write_folder(tmp_path / "width")
    (tmp_path / "width" / "features").mkdir()
    (tmp_path / "width" / "features" / "g0.csv").write_text("node,f1\na0,1\na1,2\na2,3\n")
    with pytest.raises(GraphSetError, match="have node features, the others not"):
        load_graph_set(str(tmp_path / "width"))


def test_train_py_on_a_users_folder_twin_config(run_tool, tmp_path):
    _write_folder(tmp_path / "graphs", count=30)
    data = dict(graphs=str(tmp_path / "graphs"))
    cfg = tmp_path / "cfg.py"
    base = (ROOT / "configs/graph/graphcls_hopmlpmixer_solubility.py").as_posix()
    cfg.write_text(f"_base_ = [{base!r}]\n" + "".join(f"{s}_dataloader = dict(dataset={data!r})\n"
                                                      for s in ("train", "val", "test"))
                   + "model = dict(model=dict(in_channels=3, num_classes=2, embed_dim=16, node_dim=16))\n")
    work = tmp_path / "work"
    proc = run_tool(["tools/train.py", cfg, "--work-dir", work, "--cfg-options", "train_cfg.max_epochs=2"])
    out = proc.stdout + proc.stderr
    assert "fold 0/10: train 24" in out and "Epoch(test)" in out
    assert (work / "test_metrics.json").exists()
