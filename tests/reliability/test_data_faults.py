"""Data under faults: two processes generating the built-in scenes at once, settings that differ from an
existing set, a mistyped data_root, and the anomaly suite killed mid-cell."""
import csv
import subprocess
import sys
import textwrap
import time

import pytest

from helpers import ROOT, env

# each process waits until both are ready, then asks for the scenes through the detection dataset's code path
GENERATE = textwrap.dedent("""
    import json, sys, time
    from pathlib import Path
    from tasks.common.scenes import ensure_scenes
    ready = Path(sys.argv[1]); ready.mkdir(exist_ok=True); (ready / sys.argv[2]).touch()
    while len(list(ready.iterdir())) < 2:
        time.sleep(0.005)
    root = ensure_scenes(None, 'digits', dict(num_train=40, num_val=8))
    for split, n in (('train', 40), ('val', 8)):
        coco = json.loads((root / 'annotations' / f'instances_{split}.json').read_text())
        assert len(coco['images']) == n
        assert all((root / 'img_dir' / split / im['file_name']).is_file() for im in coco['images'])
    print('ok', root)
""")


def test_two_processes_generate_the_same_scenes_at_once(tmp_path):
    data = tmp_path / "data"  # a fresh data folder
    procs = [subprocess.Popen([sys.executable, "-c", GENERATE, str(tmp_path / "ready"), str(i)], cwd=ROOT,
                              env=env(IMIXER_DATA=str(data)), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True) for i in range(2)]
    outs = [p.communicate(timeout=600)[0] for p in procs]
    for p, out in zip(procs, outs):
        assert p.returncode == 0, out[-3000:]
    assert sum(out.count("[digit_scenes] generating") for out in outs) == 1, outs  # one writer
    roots = {out.split("ok ")[-1].strip() for out in outs}
    assert len(roots) == 1
    # nothing half-written is left beside the published set
    assert sorted(p.name for p in data.iterdir() if not p.name.endswith(".lock")) == [roots.pop().split("/")[-1]]


def test_scene_settings_and_a_mistyped_data_root(tmp_path, monkeypatch):
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner

    from tasks.common.scenes import ensure_scenes, generate_scenes

    monkeypatch.setenv("IMIXER_DATA", str(tmp_path / "data"))
    mine = generate_scenes(tmp_path / "mine", num_train=3, num_val=2)
    assert ensure_scenes(mine) == mine  # no settings asked for: the existing set
    with pytest.raises(FileExistsError, match=r"num_train=3 there, 9 wanted.*generate=True"):
        ensure_scenes(mine, scenes=dict(num_train=9))
    assert ensure_scenes(mine, scenes=dict(num_train=4), generate=True) == mine
    assert len(list((mine / "img_dir" / "train").iterdir())) == 4

    # the detection config with a data_root that does not exist: an error naming it, nothing generated
    typo = tmp_path / "dat" / "digit_scenes"
    cfg = Config.fromfile(ROOT / "configs/det/imixer_retinanet.py")
    cfg.train_dataloader.dataset.data_root = str(typo)
    init_default_scope("mmdet")
    with pytest.raises(FileNotFoundError, match=f"data_root {typo} does not exist"):
        Runner.build_dataloader(cfg.train_dataloader)
    assert not typo.exists() and not typo.parent.exists()


SUITE = """
datasets = ['wine', 'ionosphere']
detectors = dict(iforest=dict(type='IForestDetector', n_estimators=150), knn=dict(type='KNNDetector', n_neighbors=5))
seeds = [0, 1, 2]
out_dir = 'unused'
"""


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_anomaly_suite_killed_mid_cell_resumes_without_duplicate_or_partial_rows(tmp_path):
    cfg, out = tmp_path / "suite.py", tmp_path / "out"
    cfg.write_text(SUITE)
    cmd = [sys.executable, "tools/benchmark_anomaly.py", str(cfg), "--out", str(out), "--no-progress"]
    victim = subprocess.Popen(cmd, cwd=ROOT, env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    results = out / "results.csv"
    while not (results.exists() and results.read_bytes().count(b"\n") >= 3):  # header + 2 finished cells
        assert victim.poll() is None, "the suite ended before it could be killed"
        time.sleep(0.01)
    victim.kill()
    victim.wait()
    text = results.read_text()
    first = list(csv.DictReader(text[: text.rfind("\n") + 1].splitlines()))  # a line being written is not a row
    assert 2 <= len(first) < 12, "the suite was not interrupted"
    from tasks.anomaly.cli import main

    assert main(cmd[2:]) == 0  # the same command resumed, in this process
    rows = _rows(results)
    keys = [(r["dataset"], r["detector"], r["seed"]) for r in rows]
    assert len(rows) == 12 and len(set(keys)) == 12
    assert all(r["status"] == "ok" and r["roc_auc"] for r in rows)
    assert rows[:len(first)] == first  # finished cells were kept, not recomputed
    assert results.read_bytes().endswith(b"\n")
