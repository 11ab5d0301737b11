"""The grid runner: a benchmark is a config, every cell is a ``tools/train.py`` command.

``python tools/benchmark.py configs/benchmarks/NAME.py`` reads a benchmark config::

    benchmark = dict(
        task='detection',                       # the section of docs/results.md
        title='RetinaNet on digit scenes, 600 iterations',
        metric='coco/bbox_mAP',                 # a key of test_metrics.json
        seeds=[0, 1],
        runs=[dict(name='iMixer pyramid-T', role='imixer', config='configs/det/....py'),
              dict(name='MLP twin', role='twin', config='configs/det/....py'),
              dict(name='ResNet-18', role='baseline', config='configs/det/....py', cfg_options={})],
        datasets=dict(digits={}, mnist={'some.key': 'value'}),   # optional: name -> cfg-options
        # a run whose config differs per dataset: config=dict(digits='configs/...', mnist='configs/...')
        cfg_options={},                         # optional: every cell's overrides
        higher_is_better=True,                  # optional
    )

and runs every cell (run x dataset x seed) as exactly::

    python tools/train.py CONFIG --work-dir work_dirs/benchmarks/NAME/CELL --cfg-options randomness.seed=S k=v ...

with the overrides of the grid, the dataset and the run, in that order (a later one wins). So a
published number is what a user gets from that command, which the store keeps beside it. A value may
name ``{seed}`` or ``{best:BENCH/RUN}`` (the best checkpoint of run ``RUN``'s cell with the same seed
in benchmark ``BENCH``'s store, e.g. a pretraining run that initialises a detector).

Each finished cell is one row of ``<store>/NAME/cells.csv`` (:mod:`tasks.common.store`: locked,
resumable): the metric, every test metric, the probe's time / memory / solver statistics, the command
and a hash of the cell's resolved config, so a cell is run again only when its config changed. Two
processes on one grid never run the same cell (a lock per cell). ``summary.md`` beside it gives, per
dataset, mean and standard deviation over seeds for every run, and the paired iMixer - twin difference
over the seeds both finished with its 95 % t-interval.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from mmengine.config import Config, DictAction

from .fetch import REPO_ROOT
from .store import append_row, config_hash, locked, read_rows

ROLES = ("imixer", "twin", "baseline")
FIELDS = ["benchmark", "run", "role", "dataset", "seed", "status", "metric", "value", "metrics", "train_s",
          "iters_per_s", "peak_bytes", "params", "solver_iters", "solver_residual", "device", "config_hash",
          "command", "error"]
DEFAULT_STORE = "docs/store"
_PLACEHOLDER = re.compile(r"\{best:([^/{}]+)/([^{}]+)\}")


class GridError(ValueError):
    """A benchmark config is malformed; the message names the key and the fix."""


class WaitingError(GridError):
    """A cell's ``{best:BENCH/RUN}`` checkpoint does not exist yet: run that benchmark's cell first."""


@dataclass
class Run:
    name: str
    role: str
    config: object  # a path, or {dataset: path}
    cfg_options: dict = field(default_factory=dict)
    metric: Optional[str] = None

    def config_for(self, dataset: str) -> str:
        return self.config[dataset] if isinstance(self.config, dict) else self.config


@dataclass
class Benchmark:
    """A parsed benchmark config (see the module doc)."""

    name: str
    task: str
    title: str
    metric: str
    seeds: List[int]
    runs: List[Run]
    datasets: Dict[str, dict]
    cfg_options: dict
    higher_is_better: bool = True
    source: str = ""

    @classmethod
    def fromfile(cls, path: str) -> "Benchmark":
        cfg = Config.fromfile(path, import_custom_modules=False)
        spec = cfg.get("benchmark")
        if not isinstance(spec, dict):
            raise GridError(f"{path} has no `benchmark = dict(...)` (see tasks/common/grid.py)")
        known = {"task", "title", "metric", "seeds", "runs", "datasets", "cfg_options", "higher_is_better"}
        unknown = sorted(set(spec) - known)
        if unknown:
            raise GridError(f"{path}: benchmark has unknown keys {unknown}; valid: {sorted(known)}")
        for key in ("task", "title", "metric", "seeds", "runs"):
            if not spec.get(key):
                raise GridError(f"{path}: benchmark.{key} is missing or empty")
        runs = []
        for i, r in enumerate(spec["runs"]):
            extra = sorted(set(r) - {"name", "role", "config", "cfg_options", "metric"})
            if extra or not r.get("name") or not r.get("config"):
                raise GridError(f"{path}: benchmark.runs[{i}] needs name and config (and takes role, cfg_options, "
                                f"metric){'; unknown: ' + str(extra) if extra else ''}")
            if r.get("role", "baseline") not in ROLES:
                raise GridError(f"{path}: benchmark.runs[{i}].role={r['role']!r}; use one of {list(ROLES)}")
            config = dict(r["config"]) if isinstance(r["config"], dict) else r["config"]
            datasets = list(spec.get("datasets") or ["default"])
            if isinstance(config, dict) and sorted(config) != sorted(datasets):
                raise GridError(f"{path}: benchmark.runs[{i}].config names datasets {sorted(config)}; give one "
                                f"config per dataset of benchmark.datasets ({sorted(datasets)})")
            for file in (config.values() if isinstance(config, dict) else [config]):
                if not (REPO_ROOT / file).is_file():
                    raise GridError(f"{path}: benchmark.runs[{i}].config {file!r} does not exist")
            runs.append(Run(r["name"], r.get("role", "baseline"), config, dict(r.get("cfg_options") or {}),
                            r.get("metric")))
        if len({r.name for r in runs}) < len(runs):
            raise GridError(f"{path}: two runs share a name; every run needs its own")
        return cls(name=Path(path).stem, task=spec["task"], title=spec["title"], metric=spec["metric"],
                   seeds=[int(s) for s in spec["seeds"]], runs=runs,
                   datasets={k: dict(v or {}) for k, v in (spec.get("datasets") or {"default": {}}).items()},
                   cfg_options=dict(spec.get("cfg_options") or {}),
                   higher_is_better=bool(spec.get("higher_is_better", True)), source=str(path))

    def meta(self) -> dict:
        """What the results page needs besides the cells (written to ``benchmark.json``)."""
        return dict(name=self.name, task=self.task, title=self.title, metric=self.metric, seeds=self.seeds,
                    higher_is_better=self.higher_is_better, source=self.source,
                    runs=[dict(name=r.name, role=r.role, config=r.config) for r in self.runs],
                    datasets=list(self.datasets), command=f"python tools/benchmark.py {self.source}")


@dataclass
class Cell:
    bench: Benchmark
    run: Run
    dataset: str
    seed: int

    @property
    def key(self) -> str:
        name = self.run.name if self.dataset == "default" else f"{self.run.name}_{self.dataset}"
        slug = re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-").lower()
        return f"{slug}_seed{self.seed}"

    @property
    def work_dir(self) -> str:
        return f"work_dirs/benchmarks/{self.bench.name}/{self.key}"

    @property
    def metric(self) -> str:
        return self.run.metric or self.bench.metric

    def options(self, store: Path) -> List[str]:
        merged = {"randomness.seed": self.seed, **self.bench.cfg_options, **self.bench.datasets[self.dataset],
                  **self.run.cfg_options}
        return [f"{k}={cli_value(self._fill(v, store))}" for k, v in merged.items()]

    def _fill(self, value, store: Path):
        if not isinstance(value, str):
            return value
        value = value.replace("{seed}", str(self.seed))
        return _PLACEHOLDER.sub(lambda m: _best_checkpoint(store, m.group(1), m.group(2), self.seed, self.dataset),
                                value)

    def command(self, store: Path) -> List[str]:
        return ["python", "tools/train.py", self.run.config_for(self.dataset), "--work-dir", self.work_dir,
                "--cfg-options",
                *self.options(store)]

    def config_hash(self, store: Path) -> str:
        """Hash of the resolved config (the file, its bases and the overrides; the work dir left out)."""
        parser = argparse.ArgumentParser()
        parser.add_argument("--cfg-options", nargs="+", action=DictAction)
        options = parser.parse_args(["--cfg-options", *self.options(store)]).cfg_options
        cfg = Config.fromfile(str(REPO_ROOT / self.run.config_for(self.dataset)), import_custom_modules=False)
        cfg.merge_from_dict(options)
        text = cfg.pretty_text
        return config_hash(text, self.metric)


def cli_value(value) -> str:
    """A value as ``--cfg-options`` (mmengine's DictAction) parses it back."""
    if isinstance(value, (list, tuple)):
        inner = ",".join(cli_value(v) for v in value)
        return f"[{inner}]" if isinstance(value, list) else f"({inner})"
    if isinstance(value, dict):
        raise GridError(f"--cfg-options cannot carry a dict ({value!r}); override its keys one by one "
                        "('a.b=1' instead of 'a={\"b\": 1}')")
    return str(value)


def _best_checkpoint(store: Path, bench: str, run: str, seed: int, dataset: str = "default") -> str:
    """The best checkpoint of ``bench``'s cell of ``run`` and ``seed``, on the same dataset when that
    benchmark has one of this name (a pretraining per dataset), else on its only one."""
    rows = [r for r in read_cells(store / bench / "cells.csv") if r["run"] == run and int(r["seed"]) == seed
            and r["status"] == "ok"]
    meta = store / bench / "benchmark.json"
    declared = json.loads(meta.read_text()).get("datasets", []) if meta.exists() else []
    datasets = set(declared) | {r["dataset"] for r in rows}
    if dataset in datasets:  # the same dataset upstream: wait for that cell, never take another's
        rows = [r for r in rows if r["dataset"] == dataset]
    elif len(datasets) > 1:
        raise GridError(f"benchmark {bench!r} has run {run!r} on {sorted(datasets)}, none "
                        f"named {dataset!r}: name the datasets alike in both grids")
    if not rows:
        raise WaitingError(f"no finished cell of run {run!r}, seed {seed}"
                           f"{'' if dataset == 'default' else f', dataset {dataset!r}'} in benchmark {bench!r}; run "
                           f"`python tools/benchmark.py configs/benchmarks/{bench}.py` first")
    return json.loads(rows[-1]["metrics"])["checkpoint"]


def read_cells(path: Path) -> List[dict]:
    return read_rows(path, FIELDS, lambda r: (r["run"], r["dataset"], r["seed"], r["config_hash"]),
                     lambda r: r.get("status") in ("ok", "error") and r.get("seed", "").isdigit())


def cells(bench: Benchmark) -> List[Cell]:
    return [Cell(bench, run, ds, seed) for ds in bench.datasets for seed in bench.seeds for run in bench.runs]


def _relative(path: Optional[str]) -> Optional[str]:
    """A path under the repository as a relative one (no machine path in the store)."""
    if not path:
        return path
    try:
        return str(Path(path).resolve().relative_to(REPO_ROOT))
    except ValueError:
        return path


def run_cell(cell: Cell, store: Path, timeout: Optional[float] = None, env: Optional[dict] = None,
             config_hash: Optional[str] = None) -> dict:
    """Run one cell's command (from the repository root) and return its store row (``config_hash``: the
    cell's, when the caller has it already)."""
    cmd = cell.command(store)
    work = REPO_ROOT / cell.work_dir
    work.mkdir(parents=True, exist_ok=True)
    for stale in ("test_metrics.json", "probe.json"):
        (work / stale).unlink(missing_ok=True)
    row = dict(benchmark=cell.bench.name, run=cell.run.name, role=cell.run.role, dataset=cell.dataset,
               seed=cell.seed, command=shlex.join(cmd), config_hash=config_hash or cell.config_hash(store))
    with open(work / "grid.log", "w") as log:
        try:
            proc = subprocess.run([sys.executable, *cmd[1:]], cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT,
                                  env=env, timeout=timeout)
            code = proc.returncode
        except subprocess.TimeoutExpired:
            code = None
    metrics_path, probe_path = work / "test_metrics.json", work / "probe.json"
    if code != 0 or not metrics_path.exists():
        tail = (work / "grid.log").read_text(errors="replace").strip().splitlines()[-1:] or [""]
        why = "timed out" if code is None else f"exit {code}" if code else "no test_metrics.json"
        return dict(row, status="error", error=f"{why}: {tail[0][:300]}")
    metrics = json.loads(metrics_path.read_text())
    metrics["checkpoint"] = _relative(metrics.get("checkpoint"))
    probe = json.loads(probe_path.read_text()) if probe_path.exists() else {}
    solver = probe.get("solver") or {}
    if cell.metric not in metrics:
        return dict(row, status="error", metrics=json.dumps(metrics),
                    error=f"metric {cell.metric!r} not in test_metrics.json (has {sorted(metrics)})")
    return dict(row, status="ok", metric=cell.metric, value=metrics[cell.metric], metrics=json.dumps(metrics),
                train_s=probe.get("train_s", ""), iters_per_s=probe.get("iters_per_s") or "",
                peak_bytes=probe.get("peak_bytes") or "", params=probe.get("params", ""),
                solver_iters=solver.get("solver_iters", ""), solver_residual=solver.get("solver_residual", ""),
                device=probe.get("device", platform.machine()))


def run_grid(bench: Benchmark, store: Path = REPO_ROOT / DEFAULT_STORE, max_cells: Optional[int] = None,
             timeout: Optional[float] = None, threads: Optional[int] = None, only: Sequence[str] = ()) -> List[dict]:
    """Run every cell not yet in the store with its current config hash; returns the store's rows."""
    out = Path(store) / bench.name
    out.mkdir(parents=True, exist_ok=True)
    (out / "benchmark.json").write_text(json.dumps(bench.meta(), indent=1) + "\n")
    path = out / "cells.csv"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    if threads:
        env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    todo = [c for c in cells(bench) if not only or c.run.name in only]
    ran = 0
    for i, cell in enumerate(todo, 1):
        done = {(r["run"], r["dataset"], r["seed"], r["config_hash"]) for r in read_cells(path) if r["status"] == "ok"}
        try:
            h = cell.config_hash(store)
        except WaitingError as e:  # its checkpoint comes from a cell of another grid not run yet
            print(f"[grid] {cell.key}: skipped, {e}", flush=True)
            continue
        if (cell.run.name, cell.dataset, str(cell.seed), h) in done:
            continue
        if max_cells is not None and ran >= max_cells:
            print(f"[grid] stopping after {ran} cells (--max-cells)", flush=True)
            break
        with locked(REPO_ROOT / cell.work_dir / "cell", blocking=False) as mine:
            if not mine:
                print(f"[grid] {cell.key}: another process runs it, skipped", flush=True)
                continue
            print(f"[grid] {i}/{len(todo)} {cell.key}: {shlex.join(cell.command(store))}", flush=True)
            t0 = time.time()
            row = run_cell(cell, store, timeout=timeout, env=env, config_hash=h)
            append_row(path, FIELDS, row)
            ran += 1
            print(f"[grid] {cell.key}: {row['status']} {row.get('value') or row.get('error', '')} "
                  f"({time.time() - t0:.0f} s)", flush=True)
    rows = current_rows(bench, Path(store))
    meta = dict(bench.meta(), config_hashes=sorted({r["config_hash"] for r in rows}))
    (out / "benchmark.json").write_text(json.dumps(meta, indent=1) + "\n")  # what the results page reads
    (out / "summary.md").write_text(summary_md(meta, rows))
    return rows


def current_rows(bench: Benchmark, store: Path) -> List[dict]:
    """The store's rows of the benchmark's current cells (those whose config hash is today's; a cell waiting
    for another grid's checkpoint has none)."""
    wanted = set()
    for c in cells(bench):
        try:
            wanted.add((c.run.name, c.dataset, str(c.seed), c.config_hash(store)))
        except WaitingError:
            continue
    return [r for r in read_cells(store / bench.name / "cells.csv")
            if (r["run"], r["dataset"], r["seed"], r["config_hash"]) in wanted]


# -- statistics -------------------------------------------------------------------------------------------
def mean_std(values: Sequence[float]) -> tuple:
    n = len(values)
    if n == 0:
        return math.nan, math.nan
    mean = sum(values) / n
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
    return mean, std


def paired_difference(a: Dict[int, float], b: Dict[int, float]) -> tuple:
    """Mean of ``a[s] - b[s]`` over the seeds both have, the half-width of its 95 % t-interval (``nan`` with
    one seed) and the number of pairs."""
    from scipy.stats import t

    diffs = [a[s] - b[s] for s in sorted(set(a) & set(b))]
    mean, std = mean_std(diffs)
    n = len(diffs)
    half = t.ppf(0.975, n - 1) * std / math.sqrt(n) if n > 1 else math.nan
    return mean, half, n


def _by_seed(rows: Sequence[dict], run: str, dataset: str) -> Dict[int, float]:
    return {int(r["seed"]): float(r["value"]) for r in rows
            if r["run"] == run and r["dataset"] == dataset and r["status"] == "ok"}


def fmt_mean_std(mean: float, std: float, n: int, digits: int = 2) -> str:
    """``mean ± std`` over ``n`` seeds with ``digits`` decimals (the mean alone for one, ``-`` for none)."""
    if n == 0 or math.isnan(mean):
        return "-"
    return f"{mean:.{digits}f} ± {std:.{digits}f}" if n > 1 else f"{mean:.{digits}f}"


def headline(meta: dict, rows: Sequence[dict]) -> List[dict]:
    """Per dataset: the iMixer, its twin and the best baseline (mean, std, n) and the paired difference
    (only where the two share a seed)."""
    out = []
    roles = {r["name"]: r["role"] for r in meta["runs"]}
    sign = 1 if meta.get("higher_is_better", True) else -1
    for ds in meta["datasets"]:
        entry = dict(dataset=ds)
        per_run = {name: _by_seed(rows, name, ds) for name in roles}
        for role in ("imixer", "twin"):
            name = next((n for n, ro in roles.items() if ro == role), None)
            entry[role] = (name, *mean_std(list(per_run[name].values())), len(per_run[name])) if name else None
        baselines = [(n, *mean_std(list(v.values())), len(v)) for n, v in per_run.items()
                     if roles[n] == "baseline" and v]
        entry["baseline"] = max(baselines, key=lambda b: sign * b[1]) if baselines else None
        if entry["imixer"] and entry["twin"]:
            diff = paired_difference(per_run[entry["imixer"][0]], per_run[entry["twin"][0]])
            if diff[2]:  # no seed run by both: nothing to compare
                entry["diff"] = diff
        out.append(entry)
    return out


def summary_md(meta: dict, rows: Sequence[dict]) -> str:
    """The benchmark's own page: every run per dataset, mean ± std over seeds, and the paired difference."""
    lines = [f"# {meta['title']}", "", f"`{meta['command']}`; metric `{meta['metric']}`, seeds {meta['seeds']}.", ""]
    datasets = meta["datasets"]
    lines += ["| run | role | " + " | ".join(datasets) + " |", "|---|---|" + "---|" * len(datasets)]
    for run in meta["runs"]:
        cells_ = []
        for ds in datasets:
            v = list(_by_seed(rows, run["name"], ds).values())
            cells_.append(fmt_mean_std(*mean_std(v), len(v)))
        lines.append(f"| {run['name']} | {run['role']} | " + " | ".join(cells_) + " |")
    for entry in headline(meta, rows):
        if entry.get("diff"):
            mean, half, n = entry["diff"]
            ci = f" ± {half:.2f}" if n > 1 else " (one seed: no interval)"
            lines.append(f"\niMixer - twin on {entry['dataset']}: {mean:+.2f}{ci} (95 % t-interval, {n} paired seeds)")
    errors = [r for r in rows if r["status"] != "ok"]
    if errors:
        lines += ["", "Failed cells:"]
        lines += [f"- {r['run']} / {r['dataset']} / seed {r['seed']}: {r['error']}" for r in errors]
    return "\n".join(lines) + "\n"


__all__ = ["Benchmark", "Cell", "GridError", "run_grid", "run_cell", "read_cells", "current_rows", "cells",
           "headline", "summary_md", "paired_difference", "mean_std", "DEFAULT_STORE", "FIELDS"]
