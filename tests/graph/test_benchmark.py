"""tools/benchmark_graph.py --data: iMixer, twin, GCN and GAT on a user's CSV graph through the Runner; each
run reproducible from its printed options; unusable data stops before any training."""
import argparse
import json
import shlex

import pytest
import torch
from mmengine.config import Config, DictAction
from mmengine.runner import Runner


def _csv_graph(folder, n=30, edges=True, classes=3):
    """A small directed graph: a ring of communities, edges pointing 'forward' inside a class."""
    folder.mkdir()
    rows = [f"v{i},v{j}" for i in range(n) for j in (i + classes, i + 1) if j < n] if edges else []
    (folder / "edges.csv").write_text("source,target\n" + "".join(r + "\n" for r in rows))
    (folder / "labels.csv").write_text("node,label\n" + "".join(f"v{i},c{i % classes}\n" for i in range(n)))
    return folder


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory):
    from tests.conftest import _load_tool  # the load_tool fixture's function (this fixture serves two tests)

    tmp = tmp_path_factory.mktemp("bench")
    data = _csv_graph(tmp / "my_graph")
    work = tmp / "work"
    rc = _load_tool("benchmark_graph").main(["--data", str(data), "--runs", "1", "--epochs", "3", "--directed", "yes",
                                            "--data-options", "structural.spectral_dim=4", "--work-dir", str(work)])
    return rc, json.loads((work / "results.json").read_text())


def test_data_runs_all_four_models_through_the_runner(bench_run, capsys):
    rc, out = bench_run
    assert rc == 0
    runs = out["results"]
    assert [r["model"] for r in runs] == ["imixer", "twin", "gcn", "gat"]
    for r in runs:
        assert "error" not in r, r.get("error")
        assert r["dataset"] == "my_graph" and r["directed"] is True and r["epochs"] == 3
        assert 0 <= r["test"]["cls/accuracy"] <= 100 and "cls/nll" in r["val"]
        assert "best_cls_nll_epoch_" in r["checkpoint"]
        assert "train_dataloader.dataset.directed=True" in r["command"]
    assert runs[0]["options"].count("model.model.directed=True") == 1
    assert "model.model.in_channels=6" in runs[2]["options"]  # 4 eigenvectors + log in- and out-degree


def test_a_run_is_reproduced_by_its_printed_options(bench_run, tmp_path):
    """What tools/train.py does with the printed command (Config.fromfile + --cfg-options + Runner) gives
    the same split and the same best checkpoint as the benchmark's run."""
    _, out = bench_run
    gcn = next(r for r in out["results"] if r["model"] == "gcn")
    argv = shlex.split(gcn["command"])
    config, options = argv[2], argv[argv.index("--cfg-options") + 1:]
    ns = argparse.Namespace()
    DictAction(option_strings=["--cfg-options"], dest="opts")(None, ns, options)
    cfg = Config.fromfile(config)
    cfg.merge_from_dict(ns.opts)
    cfg.work_dir, cfg.experiment_name, cfg.log_level = str(tmp_path), "reproduce_gcn", "WARNING"
    runner = Runner.from_cfg(cfg)
    runner.train()
    split = json.loads((tmp_path / "split_seed0.json").read_text())
    assert split == json.loads(open(f"{gcn['work_dir']}/split_seed0.json").read())
    best = runner.message_hub.get_info("best_ckpt")
    assert best.endswith(gcn["checkpoint"].rsplit("/", 1)[-1])
    mine, theirs = (torch.load(p, map_location="cpu", weights_only=False)["state_dict"]
                    for p in (best, gcn["checkpoint"]))
    assert mine.keys() == theirs.keys() and all(torch.equal(mine[k], theirs[k]) for k in mine)


def test_unusable_data_stops_before_training(tmp_path, load_tool):
    bench = load_tool("benchmark_graph")
    empty = _csv_graph(tmp_path / "no_edges", edges=False)
    with pytest.raises(SystemExit, match=r"edges.csv has a header but no edges"):
        bench.main(["--data", str(empty), "--runs", "1", "--work-dir", str(tmp_path / "w")])
    with pytest.raises(SystemExit, match=r"--data .*missing_dir: no such folder or file"):
        bench.main(["--data", str(tmp_path / "missing_dir"), "--work-dir", str(tmp_path / "w")])
    assert not (tmp_path / "w").exists()
