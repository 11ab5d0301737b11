"""tools/test.py --out on a node-classification config: a prediction for every node of the graph,
unlabelled ones included (the test metrics stay those of the labelled test nodes)."""
import copy
import csv
import uuid
from pathlib import Path

import pytest
from mmengine.config import Config
from mmengine.runner import Runner

from tasks.common.predictions import configure_prediction_output

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("mode", ["minibatch", "full"])
def test_out_predicts_every_node_of_a_partly_labelled_graph(tmp_path, mode):
    # a ring of 14 nodes; n12 and n13 carry no label (an empty label in labels.csv)
    (tmp_path / "edges.csv").write_text("source,target\n" + "".join(f"n{i},n{(i + 1) % 14}\n" for i in range(14)))
    (tmp_path / "labels.csv").write_text("node,label\n" + "".join(f"n{i},{'ab'[i % 2] if i < 12 else ''}\n"
                                                                  for i in range(14)))
    cfg = Config.fromfile(ROOT / "configs/graph/hopimixer_minibatch_karate.py")
    data = dict(graph=dict(_delete_=True, edges=str(tmp_path / "edges.csv"), labels=str(tmp_path / "labels.csv")),
                features="structural", structural=dict(spectral_dim=3, degree=True), mode=mode,
                split_ratios=(0.5, 0.25, 0.25))
    batch = 1 if mode == "full" else 4
    cfg.merge_from_dict({f"{k}_dataloader": dict(batch_size=batch, dataset=copy.deepcopy(data))
                         for k in ("train", "val", "test")})
    cfg.merge_from_dict({"model.model.in_channels": 4, "model.model.num_classes": 2, "model.model.embed_dim": 8})
    cfg.work_dir, cfg.experiment_name = str(tmp_path / "work"), f"graph_out_{uuid.uuid4().hex[:8]}"
    out = tmp_path / "nodes.csv"
    configure_prediction_output(cfg, str(out))
    metrics = Runner.from_cfg(cfg).test()  # the initial weights: the file's shape is what is tested
    assert "cls/accuracy" in metrics
    rows = list(csv.DictReader(out.open()))
    assert [r["node"] for r in rows] == [str(v) for v in range(14)]
    assert [r["name"] for r in rows] == [f"n{v}" for v in range(14)]
    assert [r["label"] for r in rows] == ["ab"[v % 2] for v in range(12)] + ["", ""]
    assert {r["split"] for r in rows[:12]} == {"train", "val", "test"} and [r["split"] for r in rows[12:]] == ["", ""]
    assert all(r["pred_label"] in ("a", "b") for r in rows)
    for r in rows:
        assert float(r["prob_a"]) + float(r["prob_b"]) == pytest.approx(1.0, abs=1e-5)
        assert r["pred_label"] == ("a" if float(r["prob_a"]) >= float(r["prob_b"]) else "b")
