"""The grid runner (tasks.common.grid), its store and the generated results page (tasks.common.results)."""
import json
import math
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tasks.common.fetch import REPO_ROOT
from tasks.common.grid import DEFAULT_STORE, Benchmark, GridError, cells, paired_difference, read_cells, run_grid
from tasks.common.results import render, solver_table

TINY = textwrap.dedent("""
    benchmark = dict(
        task='classification', title='tiny digits', metric='cls/accuracy', seeds=[0, 1],
        runs=[dict(name='iMixer', role='imixer', config='configs/cls/imixer-t_digits.py'),
              dict(name='twin', role='twin', config='configs/cls/mlpmixer-t_digits.py')],
        cfg_options={'train_cfg.max_epochs': 1, 'train_dataloader.dataset.subset': 32,
                     'val_dataloader.dataset.subset': 32, 'test_dataloader.dataset.subset': 32,
                     'model.backbone.embed_dim': 16, 'model.backbone.num_blocks': 1,
                     'default_hooks.checkpoint.max_keep_ckpts': 1})
""")


def fmt(rows, run):
    """A run's mean ± std test metric over its rows, as the solver table writes it."""
    values = [float(r["value"]) for r in rows if r["run"] == run]
    mean = sum(values) / len(values)
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
    return f"{mean:.2f} ± {std:.2f}"


@pytest.fixture
def tiny(tmp_path):
    path = tmp_path / "tiny_grid.py"
    path.write_text(TINY)
    return Benchmark.fromfile(str(path))


def test_a_grid_runs_every_cell_through_train_py_and_resumes(tiny, tmp_path):
    store = tmp_path / "store"
    rows = run_grid(tiny, store, threads=1)
    assert sorted((r["run"], r["seed"], r["status"]) for r in rows) == [
        ("iMixer", "0", "ok"), ("iMixer", "1", "ok"), ("twin", "0", "ok"), ("twin", "1", "ok")]
    for row in rows:
        metrics = json.loads(row["metrics"])
        assert float(row["value"]) == metrics["cls/accuracy"]
        assert not Path(metrics["checkpoint"]).is_absolute()  # no machine path in the store
        assert row["command"].startswith("python tools/train.py configs/cls/")
        assert f"randomness.seed={row['seed']}" in row["command"] and "train_cfg.max_epochs=1" in row["command"]
        assert float(row["train_s"]) > 0 and int(row["params"]) > 0
    assert (rows[0]["solver_iters"] == "2.0") != (rows[0]["role"] == "twin")  # only the iMixer has a solver
    summary = (store / tiny.name / "summary.md").read_text()
    assert "iMixer - twin on default:" in summary and "2 paired seeds" in summary
    # the implicit-core view: the authors' 2 unrolled steps never reach tol, the twin has no solver
    table = solver_table(tiny, "default", store).splitlines()
    imixer, twin = (next(line for line in table if line.startswith(f"| {name} |")) for name in ("iMixer", "twin"))
    assert imixer.split(" | ")[1:3] == ["2", fmt(rows, "iMixer")] and imixer.endswith("| 100 % | 2 of 2 |")
    assert twin.endswith("| - | - | - | - |") and twin.split(" | ")[2] == fmt(rows, "twin")
    # a second run finds every cell done; a changed setting makes its cells new
    assert len(read_cells(store / tiny.name / "cells.csv")) == 4
    run_grid(tiny, store, threads=1)
    assert len(read_cells(store / tiny.name / "cells.csv")) == 4
    tiny.runs[1].cfg_options = {"model.backbone.embed_dim": 8}
    run_grid(tiny, store, threads=1, max_cells=1)
    assert len(read_cells(store / tiny.name / "cells.csv")) == 5


def test_paired_difference_and_its_interval():
    mean, half, n = paired_difference({0: 1.0, 1: 3.0, 7: 5.0}, {0: 0.0, 1: 1.0})
    # diffs 1 and 2: std 0.7071, t(0.975, 1) = 12.706
    assert n == 2 and mean == 1.5 and half == pytest.approx(12.706 * 0.70711 / math.sqrt(2), rel=1e-4)
    assert math.isnan(paired_difference({0: 1.0}, {0: 0.5})[1])


def test_a_malformed_grid_is_refused_by_name(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text(TINY.replace("seeds=[0, 1]", "seeds=[0, 1], seed=3"))
    with pytest.raises(GridError, match=r"unknown keys \['seed'\]; valid: .*'seeds'"):
        Benchmark.fromfile(str(bad))
    bad.write_text(TINY.replace("role='twin'", "role='mlp'"))
    with pytest.raises(GridError, match=r"runs\[1\].role='mlp'; use one of \['imixer', 'twin', 'baseline'\]"):
        Benchmark.fromfile(str(bad))


def test_a_cell_can_start_from_another_benchmarks_best_checkpoint(tiny, tmp_path):
    store = tmp_path / "store"
    other = tmp_path / "finetune.py"
    other.write_text(TINY.replace("'default_hooks.checkpoint.max_keep_ckpts': 1",
                                  f"'load_from': '{{best:{tiny.name}/iMixer}}'"))
    finetune = Benchmark.fromfile(str(other))
    with pytest.raises(GridError, match=f"no finished cell of run 'iMixer', seed 0 in benchmark '{tiny.name}'"):
        cells(finetune)[0].command(store)
    # a worker skips (and names) the cells still waiting for their checkpoint, and still writes its summary
    rows = run_grid(finetune, store, threads=1, only=["twin"])
    assert rows == [] and (store / finetune.name / "summary.md").exists()
    run_grid(tiny, store, threads=1, only=["iMixer"])
    ckpts = {c.seed: c.options(store)[-1] for c in cells(finetune)}
    assert ckpts[0] != ckpts[1] and all(v.startswith("load_from=work_dirs/benchmarks/tiny_grid/imixer_seed") for v in
                                        ckpts.values())


def _published():
    store = REPO_ROOT / DEFAULT_STORE
    return store, sorted(p.parent.name for p in store.glob("*/benchmark.json"))


def test_the_results_page_is_what_the_store_holds():
    store, names = _published()
    assert names, "docs/store holds no benchmark: run tools/benchmark.py"
    page = (REPO_ROOT / "docs" / "results.md").read_text()
    assert page == render(store), "docs/results.md disagrees with docs/store: run `python tools/benchmark.py --results`"
    assert len(page.splitlines()) <= 200


def test_a_stored_cell_reruns_to_its_stored_metric(tmp_path):
    store, names = _published()
    rows = [r for n in names for r in read_cells(store / n / "cells.csv")
            if r["status"] == "ok" and "karate" in r["command"]]
    assert rows, "no stored karate cell (configs/benchmarks/graph_nodes.py) to rerun"
    row = rows[0]
    args = shlex.split(row["command"])
    args[args.index("--work-dir") + 1] = str(tmp_path)
    subprocess.run([sys.executable, *args[1:]], cwd=REPO_ROOT, check=True, capture_output=True,
                   env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"})
    metrics = json.loads((tmp_path / "test_metrics.json").read_text())
    assert metrics[row["metric"]] == pytest.approx(float(row["value"]), abs=1e-6)


def test_a_checkpoint_placeholder_takes_the_same_dataset(tmp_path):
    from tasks.common.grid import FIELDS
    from tasks.common.store import append_row

    store = tmp_path / "store"
    for ds, ckpt in (("digits", "pre_digits.pth"), ("mnist", "pre_mnist.pth")):
        append_row(store / "pre" / "cells.csv", FIELDS, dict(run="A", dataset=ds, seed=0, status="ok", config_hash="h",
                                                             metrics=json.dumps({"checkpoint": ckpt})))
    path = tmp_path / "fine.py"
    path.write_text(TINY.replace("seeds=[0, 1]", "seeds=[0], datasets=dict(digits={}, mnist={})")
                    .replace("'default_hooks.checkpoint.max_keep_ckpts': 1", "'load_from': '{best:pre/A}'"))
    fine = Benchmark.fromfile(str(path))
    got = {c.dataset: c.options(store)[-1] for c in cells(fine) if c.run.name == "iMixer"}
    assert got == {"digits": "load_from=pre_digits.pth", "mnist": "load_from=pre_mnist.pth"}
    # an upstream grid that declares the dataset but has not run it yet: wait, never take another dataset's
    (store / "pre2").mkdir()
    (store / "pre2" / "benchmark.json").write_text(json.dumps(dict(datasets=["digits", "mnist"])))
    append_row(store / "pre2" / "cells.csv", FIELDS, dict(run="A", dataset="digits", seed=0, status="ok",
                                                          config_hash="h", metrics=json.dumps({"checkpoint": "d.pth"})))
    path.write_text(path.read_text().replace("{best:pre/A}", "{best:pre2/A}"))
    mnist = [c for c in cells(Benchmark.fromfile(str(path))) if c.dataset == "mnist"][0]
    with pytest.raises(GridError, match="no finished cell of run 'A', seed 0, dataset 'mnist' in benchmark 'pre2'"):
        mnist.options(store)


def test_summary_states_no_difference_without_paired_seeds():
    """A dataset where the iMixer and its twin share no seed gets no 'iMixer - twin' line (not a nan)."""
    from tasks.common.grid import summary_md

    meta = dict(title="t", command="c", metric="m", seeds=[0, 1], datasets={"a": {}, "b": {}},
                runs=[dict(name="i", role="imixer"), dict(name="w", role="twin")])
    rows = [dict(run=n, dataset=d, seed=s, status="ok", value=v)
            for n, d, s, v in (("i", "a", 0, 1.0), ("w", "a", 0, 0.5), ("i", "b", 1, 2.0), ("w", "b", 0, 1.0))]
    text = summary_md(meta, rows)
    assert "iMixer - twin on a: +0.50 (one seed: no interval)" in text
    assert "on b:" not in text and "nan" not in text
