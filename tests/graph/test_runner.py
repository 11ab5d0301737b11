"""tools/train.py and tools/test.py on the graph configs (2 epochs, seconds)."""
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_train_and_test_minibatch_karate(run_tool, tmp_path):
    work = tmp_path / "mb"
    run_tool(["tools/train.py", "configs/graph/hopimixer_minibatch_karate.py", "--work-dir", work, "--device", "cpu",
              "--cfg-options", "train_cfg.max_epochs=2", "default_hooks.checkpoint.interval=1"])
    ckpt = work / "epoch_2.pth"
    assert ckpt.exists()
    split = json.loads((work / "split_seed0.json").read_text())
    assert split["graph"] == "karate" and len(split["train"]) + len(split["val"]) + len(split["test"]) == 34
    proc = run_tool(["tools/test.py", "configs/graph/hopimixer_minibatch_karate.py", ckpt, "--work-dir", work])
    assert "cls/accuracy" in proc.stdout + proc.stderr


def test_train_full_graph_twin_on_a_csv_graph(run_tool, tmp_path):
    (tmp_path / "edges.csv").write_text("source,target\n" + "".join(f"n{i},n{(i + 1) % 12}\n" for i in range(12)))
    (tmp_path / "labels.csv").write_text("node,label\n" + "".join(f"n{i},{i % 2}\n" for i in range(12)))
    cfg = tmp_path / "cfg.py"
    base = (ROOT / "configs/graph/hopmlpmixer_minibatch_karate.py").as_posix()
    data = dict(graph=dict(_delete_=True, edges=str(tmp_path / "edges.csv"), labels=str(tmp_path / "labels.csv")),
                features="structural", structural=dict(spectral_dim=3, degree=True), mode="full",
                split_ratios=(0.5, 0.25, 0.25))
    cfg.write_text(f"_base_ = [{base!r}]\n"
                   f"train_dataloader = dict(batch_size=1, dataset={data!r})\n"
                   f"val_dataloader = dict(batch_size=1, dataset={data!r})\n"
                   f"test_dataloader = dict(batch_size=1, dataset={data!r})\n"
                   "model = dict(model=dict(in_channels=4, num_classes=2))\n")
    work = tmp_path / "full"
    proc = run_tool(["tools/train.py", cfg, "--work-dir", work, "--cfg-options", "train_cfg.max_epochs=2"])
    out = proc.stdout + proc.stderr
    assert "symmetrised" in out and "Epoch(val) [2][1/1]" in out
    assert (work / "epoch_2.pth").exists() or (work / "last_checkpoint").exists()
