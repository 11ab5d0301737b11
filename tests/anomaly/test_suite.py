"""The benchmark suite end to end on a tiny config: CSV, summary, plot, resume, a failing detector,
user data, and the Runner config (tools/train.py / tools/test.py)."""
import csv
import json
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

TINY = """
datasets = ['wine', 'ionosphere']
detectors = dict(
    iforest=dict(type='IForestDetector', n_estimators=20),
    # 200 + 1 neighbours: more than wine's 77 training rows (fails), fewer than ionosphere's 210 (works)
    bigknn=dict(type='KNNDetector', n_neighbors=200),
)
seeds = [0, 1]
out_dir = 'unused'
"""


def _main(args):
    """tools/benchmark_anomaly.py's main() in-process (faster than a subprocess)."""
    from tasks.anomaly.cli import main

    return main([str(a) for a in args])


def _rows(out):
    with open(out / "results.csv") as f:
        return list(csv.DictReader(f))


@pytest.fixture
def tiny_cfg(tmp_path):
    path = tmp_path / "tiny.py"
    path.write_text(textwrap.dedent(TINY))
    return path


def test_suite_end_to_end_resume_and_failure(run_tool, tiny_cfg, tmp_path, capsys):
    out = tmp_path / "res"
    # "interrupted" after 3 of the 8 cells
    proc = run_tool(["tools/benchmark_anomaly.py", tiny_cfg, "--out", out, "--max-cells", "3", "--no-progress"])
    assert "stopping after 3 cells" in proc.stdout
    first = _rows(out)
    assert len(first) == 3
    # a run killed mid-write leaves a partial line: it must be dropped, not parsed
    with open(out / "results.csv", "a") as f:
        f.write("ionosphere,iforest,1,ok,0.9")
    assert _main([tiny_cfg, "--out", out, "--no-progress"]) == 0
    assert "resuming: 3 of 8" in capsys.readouterr().out
    rows = _rows(out)
    assert len(rows) == 8
    assert rows[:3] == first  # the earlier cells were kept, not recomputed
    assert len({(r["dataset"], r["detector"], r["seed"]) for r in rows}) == 8
    by = {(r["dataset"], r["detector"], r["seed"]): r for r in rows}
    for seed in ("0", "1"):
        assert by[("wine", "bigknn", seed)]["status"] == "error"
        assert "n_samples" in by[("wine", "bigknn", seed)]["error"] or "sample" in by[("wine", "bigknn", seed)]["error"]
        for key in (("wine", "iforest", seed), ("ionosphere", "iforest", seed), ("ionosphere", "bigknn", seed)):
            r = by[key]
            assert r["status"] == "ok", r
            assert 0.5 < float(r["roc_auc"]) <= 1.0 and 0.0 < float(r["ap"]) <= 1.0
            assert float(r["fit_s"]) >= 0 and float(r["score_s"]) >= 0
            assert int(r["n_train"]) + int(r["n_test"]) == {"wine": 129, "ionosphere": 351}[key[0]]
    # the stratified 60/40 split keeps the outlier rate
    assert int(by[("ionosphere", "iforest", "0")]["train_outliers"]) in (75, 76)
    md = (out / "summary.md").read_text()
    assert "avg. rank" in md and "| wine |" in md and "error" in md and "Failures" in md
    assert (out / "roc_auc.png").stat().st_size > 1000
    # a third run has nothing left to do
    _main([tiny_cfg, "--out", out, "--no-progress"])
    assert "resuming: 8 of 8" in capsys.readouterr().out and len(_rows(out)) == 8


def test_suite_user_data_and_seeds_reproducible(tiny_cfg, tmp_path):
    rng = np.random.RandomState(0)
    X = rng.randn(120, 5)
    y = np.zeros(120, dtype=int)
    y[:12] = 1
    X[:12] += 5.0
    np.savez(tmp_path / "blobs.npz", X=X, y=y)
    for out in ("a", "b"):
        _main([tiny_cfg, "--only-data", "--data", tmp_path / "blobs.npz", "--detectors", "iforest",
               "--out", tmp_path / out, "--no-progress"])
    ra, rb = _rows(tmp_path / "a"), _rows(tmp_path / "b")
    assert [r["dataset"] for r in ra] == ["blobs", "blobs"]
    assert [r["roc_auc"] for r in ra] == [r["roc_auc"] for r in rb]
    assert float(ra[0]["roc_auc"]) > 0.95
    with pytest.raises(SystemExit, match="not in the config"):
        _main([tiny_cfg, "--detectors", "nope", "--out", tmp_path / "c"])


def test_summary_ranks():
    from tasks.anomaly.benchmark import average_ranks

    means = {"a": {"x": 0.9, "y": 0.6}, "b": {"x": 0.8, "y": 0.7}, "c": {"x": 0.8, "y": float("nan")}}
    assert average_ranks(means, ["x", "y"], ["a", "b"]) == {"a": 1.5, "b": 1.5}
    r = average_ranks(means, ["x", "y"], ["a", "b", "c"])  # y skipped: c has no result there
    assert r == {"a": 1.0, "b": 2.5, "c": 2.5}


def test_runner_config_trains_and_tests(run_tool, tmp_path):
    """configs/anomaly: the same model through tools/train.py and tools/test.py, ROC-AUC / AP metric."""
    cfg = "configs/anomaly/maskrecon_imixer-t_cardio.py"
    opts = ["train_cfg.max_iters=20", "train_cfg.val_interval=20", "default_hooks.checkpoint.interval=20",
            "model.embed_dim=16", "model.num_blocks=1", "model.score_repeats=1",
            "param_scheduler.0.end=2", "param_scheduler.1.begin=2", "param_scheduler.1.end=20"]
    work = tmp_path / "work"
    proc = run_tool(["tools/train.py", cfg, "--work-dir", work, "--cfg-options", *opts])
    assert "anomaly/roc_auc" in proc.stdout + proc.stderr
    ckpt = work / "iter_20.pth"
    # the checkpoint carries the calibration of its own weights (AnomalyCalibrationHook before the save)
    import backbones  # noqa: F401  (allow-lists mmengine's checkpoint classes for torch.load)

    scale = torch.load(ckpt, map_location="cpu")["state_dict"]["error_scale"]
    assert not torch.allclose(scale, torch.ones_like(scale))
    scalars = [json.loads(line) for line in next(work.glob("*/vis_data/scalars.json")).read_text().splitlines()]
    val_auc = [s["anomaly/roc_auc"] for s in scalars if "anomaly/roc_auc" in s][-1]
    # the run's own test after training (no save_best: the last checkpoint) reports the final validation
    tested = json.loads((work / "test_metrics.json").read_text())
    assert Path(tested["checkpoint"]).name == "iter_20.pth"
    assert tested["anomaly/roc_auc"] == pytest.approx(val_auc, abs=1e-9)
    out_csv = tmp_path / "scores.csv"
    proc = run_tool(["tools/test.py", cfg, ckpt, "--work-dir", work, "--out", out_csv, "--cfg-options", *opts])
    out = proc.stdout + proc.stderr
    assert "anomaly/roc_auc" in out and "anomaly/ap" in out
    # --out: one row per test row, its score and label; the same ROC-AUC as the run's final validation
    rows = list(csv.DictReader(out_csv.open()))
    assert len(rows) == 733 and list(rows[0]) == ["id", "score", "label"]  # 40 % of cardio's 1,831 rows, rounded up
    labels, scores = [int(r["label"]) for r in rows], [float(r["score"]) for r in rows]
    assert 100 * roc_auc_score(labels, scores) == pytest.approx(val_auc, abs=1e-9)


def test_quick_and_data_options(tmp_path):
    """--quick selects the config's subset and lighter neural settings; --data appends user files."""
    from tasks.anomaly import cli as mod
    np.savez(tmp_path / "u.npz", X=np.zeros((4, 2)), y=np.array([0, 0, 0, 1]))
    suite = mod.build_suite(mod.parse_args(["configs/anomaly/suite_odds.py", "--quick", "--data",
                                            str(tmp_path / "u.npz"), "--device", "cpu"]))
    assert suite.datasets[:2] == ["ionosphere", "wine"] and suite.datasets[2]["path"].endswith("u.npz")
    assert suite.seeds == [0, 1] and suite.device == "cpu" and suite.out_dir.endswith("_quick")
    assert suite.detectors["imixer"]["max_iters"] == 100 and "max_iters" not in suite.detectors["iforest"]
    full = mod.build_suite(mod.parse_args(["configs/anomaly/suite_odds.py"]))
    assert len(full.datasets) == 15 and len(full.seeds) >= 5 and len(full.detectors) == 6
    assert full.test_size == 0.4 and full.standardize and full.selection is None
    sel = mod.build_suite(mod.parse_args(["configs/anomaly/select_tabular.py"]))
    assert sel.datasets == full.datasets and set(sel.selection["candidates"]) < set(sel.detectors)
    assert all(sel.detectors[c]["type"] == "IMixerTabularDetector" for c in sel.selection["candidates"])
    sel.validate()
    assert mod.build_suite(mod.parse_args(["configs/anomaly/select_tabular.py", "--detectors", "iforest",
                                           "knn"])).selection is None  # candidates filtered out: no LODO table
    assert set(sel.selection["compare"]) == set(full.detectors) - {"imixer"}  # the suite's other detectors
    image = mod.build_suite(mod.parse_args(["configs/anomaly/select_image.py"]))
    image.validate()
    assert len(image.datasets) == 30 and not image.standardize  # three sources, every class normal in turn
    groups = image.selection["groups"]  # a whole source is left out: the choice never sees its classes
    assert [len(g) for g in groups] == [10, 10, 10] and sorted(sum(groups, [])) == sorted(
        f"{d['name']}_{d['normal_class']}" for d in image.datasets)
    unseen = mod.build_suite(mod.parse_args(["configs/anomaly/suite_images.py"]))
    assert {d["name"] for d in unseen.datasets} == {"animal_shapes"} and unseen.selection is None
    assert not {d["name"] for d in unseen.datasets} & {d["name"] for d in image.datasets}
    sel.selection = dict(candidates=["imixer_b64_i100_refine1", "nope"])
    with pytest.raises(ValueError, match="unknown"):
        sel.validate()
    sel.selection = dict(candidates=["imixer_b64_i100_refine1", "imixer_b64_i100_refine1_lr2e3"],
                         compare=["imixer_b64_i100_refine1_lr2e3"])
    with pytest.raises(ValueError, match="non-candidate"):
        sel.validate()


def test_slow_cell_times_out_and_the_suite_goes_on(tmp_path):
    cfg = tmp_path / "slow.py"
    cfg.write_text(textwrap.dedent("""
        datasets = ['wine']
        detectors = dict(
            iforest=dict(type='IForestDetector', n_estimators=20),
            slow=dict(type='IMixerTabularDetector', min_iters=100000, max_iters=100000, device='cpu'),
        )
        seeds = [0]
        cell_time_limit = 1.5
    """))
    out = tmp_path / "res"
    assert _main([cfg, "--out", out, "--no-progress"]) == 0
    rows = {r["detector"]: r for r in _rows(out)}
    assert rows["iforest"]["status"] == "ok"
    assert rows["slow"]["status"] == "timeout" and "cell_time_limit=1.5" in rows["slow"]["error"]
    assert 1.5 <= float(rows["slow"]["fit_s"]) < 30  # stopped soon after the limit, not at the end
    summary = (out / "summary.md").read_text()
    assert "| wine | **" in summary and "| timeout |" in summary and "exceeded cell_time_limit" in summary
    # a resume keeps the timed-out cell (no duplicate row, not recomputed)
    assert _main([cfg, "--out", out, "--no-progress"]) == 0
    assert [r["status"] for r in _rows(out)] == ["ok", "timeout"]
    with pytest.raises(SystemExit, match="cell_time_limit must be"):
        _main([cfg, "--out", out, "--no-progress", "--cell-time-limit", "0"])
