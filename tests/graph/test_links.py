"""Link prediction: splits without leakage, directed CSV graphs, Adamic-Adar, Hits@K, the Runner on a config
(tiny graphs made here, 2 epochs)."""
from pathlib import Path

import numpy as np
import pytest
import torch

from tasks.graph.data import GraphDataError
from tasks.graph.links import AdamicAdar, LinkDataset, LinkPredictor, build_link_splits, hits_at_k, load_link_graph

ROOT = Path(__file__).resolve().parents[2]


def _two_cliques(path: Path, directed_extra=True) -> Path:
    """Two 6-cliques joined by one edge, plus one-way edges a0 -> b1 .. (when directed_extra)."""
    rows = [(f"{c}{i}", f"{c}{j}") for c in "ab" for i in range(6) for j in range(i + 1, 6)] + [("a0", "b0")]
    if directed_extra:
        rows += [("a1", "b2"), ("a2", "b3")]
    path.write_text("source,target\n" + "".join(f"{u},{v}\n" for u, v in rows))
    return path


def test_csv_graph_directed_kept_and_splits_do_not_leak(tmp_path):
    edges = _two_cliques(tmp_path / "edges.csv")
    data = load_link_graph(str(edges))
    assert data.num_nodes == 12 and data.edge_index.size(1) == 33 and data.x is None
    s = build_link_splits(str(edges), split_seed=1, val_ratio=0.1, test_ratio=0.2, directed=True, num_hops=2,
                          structural=dict(spectral_dim=3))
    train, val, test = s["train"], s["val"], s["test"]
    assert train.directed and train.hop_tokens.shape == (12, 5, 5)  # 2K+1 directed tokens; 3 eigvecs + in/out degree
    key = lambda ei: set(map(tuple, ei.t().tolist()))  # noqa: E731
    held_out = key(test.edge_label_index[:, test.edge_label == 1]) | key(val.edge_label_index[:, val.edge_label == 1])
    assert not held_out & key(train.edge_index)  # held-out edges never propagate in training
    assert not key(test.edge_label_index[:, test.edge_label == 1]) & key(test.edge_index)
    assert (val.edge_label == 0).sum() == (val.edge_label == 1).sum()
    assert torch.equal(train.x, test.x)  # features from the training edges, shared by every split
    und = build_link_splits(str(edges), split_seed=1, val_ratio=0.1, test_ratio=0.2, directed=False, num_hops=2,
                            structural=dict(spectral_dim=3))
    assert und["train"].hop_tokens.shape == (12, 3, 4)


def test_csv_errors(tmp_path):
    (tmp_path / "empty.csv").write_text("source,target\n")
    with pytest.raises(GraphDataError, match="no edges"):
        load_link_graph(str(tmp_path / "empty.csv"))
    (tmp_path / "g").mkdir()
    _two_cliques(tmp_path / "g" / "edges.csv")
    (tmp_path / "g" / "features.csv").write_text("node,f\na0,1\n")
    with pytest.raises(GraphDataError, match="not in .*features.csv"):
        load_link_graph(str(tmp_path / "g"))
    with pytest.raises(FileNotFoundError, match="edges.csv"):
        load_link_graph(str(tmp_path / "missing.csv"))


def test_adamic_adar_and_hits():
    # path 0-1-2 and 0-3-2: nodes 1 and 3 have degree 2 -> AA(0, 2) = 2 / log 2; AA(0, 1) = 0
    ei = torch.tensor([[0, 1, 0, 3], [1, 2, 3, 2]])
    s = AdamicAdar()(4, ei, torch.tensor([[0, 0], [2, 1]]))
    assert torch.allclose(s, torch.tensor([2 / np.log(2), 0.0], dtype=s.dtype))
    assert hits_at_k(np.array([0.9, 0.5, 0.1]), np.array([0.8, 0.6, 0.2]), 2) == pytest.approx(1 / 3)
    assert hits_at_k(np.array([0.1]), np.array([0.8]), 5) == 1.0


def test_link_predictor_loss_and_predict(tmp_path):
    edges = _two_cliques(tmp_path / "edges.csv", directed_extra=False)
    ds = LinkDataset(str(edges), split="train", num_hops=2, structural=dict(spectral_dim=3), val_ratio=0.1,
                     test_ratio=0.2)
    model = LinkPredictor(dict(type="HopMixer", in_channels=4, num_classes=8, num_hops=2, embed_dim=8, num_blocks=1),
                          dict(in_channels=8, kind="hadamard", hidden=8))
    item = {k: v.unsqueeze(0) for k, v in ds[0].items()}
    loss = model(**item, mode="loss")["loss"]
    loss.backward()
    assert torch.isfinite(loss) and model.encoder.lin_in.weight.grad is not None
    test = LinkDataset(str(edges), split="test", num_hops=2, structural=dict(spectral_dim=3), val_ratio=0.1,
                       test_ratio=0.2)[0]
    out = model.eval()(**{k: v.unsqueeze(0) for k, v in test.items()}, mode="predict")
    assert len(out) == 1 and out[0]["scores"].shape == test["labels"].shape


def test_train_py_link_config_on_a_users_directed_csv(run_tool, tmp_path):
    edges = _two_cliques(tmp_path / "edges.csv")
    data = dict(graph=str(edges), directed=True, structural=dict(spectral_dim=3), val_ratio=0.1, test_ratio=0.2,
                num_hops=2)
    cfg = tmp_path / "cfg.py"
    base = (ROOT / "configs/graph/link_hopmlpmixer_football.py").as_posix()
    cfg.write_text(f"_base_ = [{base!r}]\n" + "".join(f"{s}_dataloader = dict(dataset={data!r})\n"
                                                      for s in ("train", "val", "test"))
                   + "model = dict(encoder=dict(in_channels=5, num_hops=2, directed=True, embed_dim=16), "
                     "decoder=dict(kind='concat'))\n")
    work = tmp_path / "work"
    proc = run_tool(["tools/train.py", cfg, "--work-dir", work, "--cfg-options", "train_cfg.max_epochs=2"])
    out = proc.stdout + proc.stderr
    assert "directed=True keeps the edge direction" in out and "link/auc" in out
    assert (work / "test_metrics.json").exists()
