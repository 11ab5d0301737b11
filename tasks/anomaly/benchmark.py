"""The anomaly-detection benchmark suite (``tools/benchmark_anomaly.py``).

Protocol (ADBench's unsupervised setting, Han et al., NeurIPS 2022 Datasets & Benchmarks): for every
dataset and seed, a stratified ``1 - test_size`` / ``test_size`` split (60/40 by default); features
standardised with statistics of the training part only; every detector is fitted on the
*unlabelled, contaminated* training part and scores the test part; ROC-AUC and average precision are
computed from the continuous scores (never from thresholded labels).

Every finished cell (dataset x detector x seed) is appended to ``results.csv`` at once, so an
interrupted run resumes where it stopped (cells already in the CSV with the same configuration hash
are skipped). A detector that raises on one dataset is recorded with its error and the suite goes on;
with ``cell_time_limit`` (seconds for one fit + scoring) a slower cell is stopped and recorded as
``timeout``, and the suite goes on too.
At the end ``summary.md`` (mean +- std per dataset, mean over datasets, average rank) and
``roc_auc.png`` are written.

Suite config (an mmengine ``Config`` file)::

    datasets = ['cardio', 'wine', dict(path='my.csv', label_column='label')]
    detectors = dict(imixer=dict(type='IMixerTabularDetector'), iforest=dict(type='IForestDetector'))
    seeds = [0, 1, 2, 3, 4]
    test_size = 0.4
    standardize = True
    cell_time_limit = 60            # optional: seconds per cell (fit + scoring), slower cells time out
    quick = dict(datasets=['wine', 'ionosphere'], seeds=[0, 1], detector_overrides=dict(...))
    selection = dict(candidates=['imixer_a', 'imixer_b'], name='imixer (LODO)')   # optional, see below

**Choosing defaults without scoring on the chosen-on data** (``selection``): the candidates are detectors
of the suite (settings of one detector). For every dataset, the candidate with the best mean ROC-AUC
over the *other* datasets is picked and its result on the held-out dataset reported
(leave-one-dataset-out; datasets built from the same source records,
:func:`~tasks.anomaly.datasets.source_groups`, are left out
together). ``summary.md`` then ranks that held-out column against the other detectors (``compare``,
default: every non-candidate), and names the
candidate that is best over all datasets: the one to make the default, whose expected result on unseen
data is the held-out column.
"""
from __future__ import annotations

import csv
import json
import math
import contextlib
import functools
import os
import signal
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from tasks.common.store import append_row as store_append, config_hash as store_hash, read_rows

from .datasets import AnomalyData, dataset_key, load_dataset, source_groups
from .engine import split_and_scale

CSV_FIELDS = ["dataset", "detector", "seed", "status", "roc_auc", "ap", "fit_s", "score_s", "n_train", "n_test",
              "n_features", "train_outliers", "config_hash", "error"]


@dataclass
class SuiteConfig:
    """A resolved suite: what to run and where results go."""

    datasets: List = field(default_factory=list)
    detectors: Dict[str, dict] = field(default_factory=dict)
    seeds: List[int] = field(default_factory=lambda: [0, 1, 2, 3, 4])
    test_size: float = 0.4
    standardize: bool = True
    out_dir: str = "results/anomaly"
    device: str = "auto"
    cell_time_limit: Optional[float] = None
    selection: Optional[dict] = None

    def validate(self) -> None:
        if not self.datasets:
            raise ValueError("the suite has no datasets: set `datasets` in the config or pass --data PATH")
        if not self.detectors:
            raise ValueError("the suite has no detectors: set `detectors = dict(name=dict(type=...), ...)`")
        if not self.seeds:
            raise ValueError("the suite has no seeds")
        if self.cell_time_limit is not None and not float(self.cell_time_limit) > 0:
            raise ValueError(f"cell_time_limit must be a number of seconds > 0 (or None for no limit), "
                             f"got {self.cell_time_limit}")
        if not 0.0 < float(self.test_size) < 1.0:
            raise ValueError(f"test_size must be in (0, 1), got {self.test_size}")
        keys = [dataset_key(d) for d in self.datasets]
        dup = sorted({k for k in keys if keys.count(k) > 1})
        if dup:
            raise ValueError(f"duplicate dataset names {dup}; give user files distinct names (dict(path=..., name=...))")
        for name, cfg in self.detectors.items():
            if not isinstance(cfg, dict) or "type" not in cfg:
                raise ValueError(f"detector {name!r} needs a config dict with a 'type', got {cfg!r}")
        if self.selection is not None:
            sel = self.selection
            unknown = set(sel) - {"candidates", "name", "groups", "compare"}
            if unknown:
                raise ValueError(f"selection has unknown keys {sorted(unknown)}; use candidates, name, groups, compare")
            cands = list(sel.get("candidates", []))
            missing = [c for c in cands if c not in self.detectors]
            if len(cands) < 2 or missing:
                raise ValueError(f"selection.candidates must name >= 2 detectors of the suite; "
                                 f"{'unknown: ' + str(missing) if missing else 'got ' + str(cands)}")
            missing = [c for c in sel.get("compare", []) if c not in self.detectors or c in cands]
            if missing:
                raise ValueError(f"selection.compare names {missing}, which are not non-candidate detectors of the suite")


def build_detector(cfg: dict, seed: int, device: str):
    """Build a registered detector; ``random_state`` / ``device`` are filled in when it takes them."""
    import inspect

    from backbones.registry import MODELS

    cfg = dict(cfg)
    cls = MODELS.get(cfg["type"])
    if cls is None:
        raise KeyError(f"unknown detector type {cfg['type']!r}; registered detectors: {', '.join(detector_types())}")
    params = inspect.signature(cls.__init__).parameters
    if "random_state" in params:
        cfg.setdefault("random_state", seed)
    if "device" in params:
        cfg.setdefault("device", device)
    return MODELS.build(cfg)


def detector_types() -> List[str]:
    from backbones.registry import MODELS

    from .base import BaseDetector

    return sorted(k for k, v in MODELS.module_dict.items() if isinstance(v, type) and issubclass(v, BaseDetector))


def config_hash(dataset_spec, detector_cfg: dict, test_size: float, standardize: bool) -> str:
    """Short hash of everything that defines a cell's result except the seed and device: the dataset
    entry, the protocol and the detector's *resolved* parameters (``get_params()``, so a changed
    default invalidates old cells too)."""
    try:
        params = build_detector(detector_cfg, 0, "cpu").get_params()
        params = {k: v for k, v in params.items() if k not in ("random_state", "device", "verbose")}
    except Exception:  # an unbuildable detector: hash its config (its cells are errors anyway)
        params = detector_cfg
    return store_hash(dataset_spec, detector_cfg.get("type"), params, test_size, standardize)


# -- the results file -----------------------------------------------------------------------------------
def _cell_key(row: dict) -> tuple:
    return row["dataset"], row["detector"], row["seed"], row["config_hash"]


def _valid(row: dict) -> bool:
    return row.get("status") in ("ok", "error", "timeout") and row.get("seed", "").lstrip("-").isdigit()


def read_results(path: Path) -> List[dict]:
    """Rows of ``results.csv``, one per cell (the last one written wins, e.g. a retried failure); a
    half-written last line is cut off (:func:`tasks.common.store.read_rows`)."""
    return read_rows(path, CSV_FIELDS, _cell_key, _valid)


def append_row(path: Path, row: dict) -> None:
    """Append one finished cell (locked and fsynced: :func:`tasks.common.store.append_row`)."""
    store_append(path, CSV_FIELDS, row)


# -- running --------------------------------------------------------------------------------------------
class CellTimeout(Exception):
    """A cell ran past ``cell_time_limit``."""


@functools.lru_cache(maxsize=None)  # once per process
def _import_before_timing() -> None:
    """Import what a neural cell and the report import lazily, before the first cell is timed.

    So the first cell's ``fit_s`` does not include one-off import time (about 2 s for the first Runner),
    and no ``cell_time_limit`` alarm lands inside a first-time import, which leaves that package
    half-initialised in ``sys.modules`` (seen with matplotlib, imported by mmengine's Visualizer during
    the first Runner build: the suite's plot then failed with ``module 'matplotlib' has no attribute
    'artist'``).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot  # noqa: F401
    import mmengine.runner  # noqa: F401
    import mmengine.visualization  # noqa: F401

    import tasks.common  # noqa: F401


@contextlib.contextmanager
def _time_limit(seconds: Optional[float]):
    """Raise :class:`CellTimeout` in this (main) thread after ``seconds`` of wall time (``None``: no limit).

    A real-time interval timer: the exception arrives between Python bytecodes, so a detector is stopped
    at its next Python-level step (a training iteration, a scoring batch), not inside one native call.
    """
    if seconds is None:
        yield
        return
    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError("cell_time_limit works in the main thread only (it uses SIGALRM)")
    _import_before_timing()

    def expire(signum, frame):
        raise CellTimeout(f"exceeded cell_time_limit={seconds:g} s (fit + scoring)")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, float(seconds))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def run_cell(data: AnomalyData, split, det_cfg: dict, seed: int, device: str,
             time_limit: Optional[float] = None) -> dict:
    """Fit one detector on one split and evaluate it; errors and time-outs are returned, not raised."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    X_tr, X_te, y_tr, y_te = split
    row = dict(n_train=len(X_tr), n_test=len(X_te), n_features=X_tr.shape[1], train_outliers=int(y_tr.sum()))
    try:
        det = build_detector(det_cfg, seed, device)
        t0 = time.perf_counter()
        with _time_limit(time_limit):
            det.fit(X_tr)
            t1 = time.perf_counter()
            scores = np.asarray(det.score_samples(X_te), dtype=np.float64)
        t2 = time.perf_counter()
        if scores.shape != (len(X_te),):
            raise ValueError(f"score_samples returned shape {scores.shape}, expected ({len(X_te)},)")
        if not np.isfinite(scores).all():
            raise ValueError("score_samples returned NaN/inf")
        row.update(status="ok", roc_auc=f"{roc_auc_score(y_te, scores):.6f}",
                   ap=f"{average_precision_score(y_te, scores):.6f}", fit_s=f"{t1 - t0:.4f}",
                   score_s=f"{t2 - t1:.4f}", error="")
    except CellTimeout as exc:  # a slow cell is recorded, the suite goes on
        row.update(status="timeout", error=str(exc), fit_s=f"{time.perf_counter() - t0:.4f}")
    except Exception as exc:  # a failing detector is recorded, the suite goes on
        row.update(status="error", error=f"{type(exc).__name__}: {exc}".replace("\n", " ")[:500])
        row["_traceback"] = traceback.format_exc()
    return row


def run_suite(cfg: SuiteConfig, max_cells: Optional[int] = None, progress: bool = True,
              retry_failed: bool = False, log=print) -> Path:
    """Run (or resume) the suite; returns the output directory.

    Args:
        cfg: the suite.
        max_cells: stop after computing this many new cells (split a long run; resume later).
        progress: show a tqdm bar.
        retry_failed: recompute cells recorded as errors or time-outs.
        log: where messages go.
    """
    from tqdm.auto import tqdm

    cfg.validate()
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    csv_path = out / "results.csv"
    done = {}
    for r in read_results(csv_path):
        if retry_failed and r["status"] in ("error", "timeout"):
            continue
        done[(r["dataset"], r["detector"], int(r["seed"]), r["config_hash"])] = r
    cells, wanted = [], set()  # cells to compute; keys of every cell of this suite
    for spec in cfg.datasets:
        dkey = dataset_key(spec)
        for dname, dcfg in cfg.detectors.items():
            h = config_hash(spec, dcfg, cfg.test_size, cfg.standardize)
            for seed in cfg.seeds:
                key = (dkey, dname, int(seed), h)
                wanted.add(key)
                if key not in done:
                    cells.append((spec, dkey, dname, dcfg, int(seed), h))
    total = len(cfg.datasets) * len(cfg.detectors) * len(cfg.seeds)
    if total - len(cells):
        log(f"[suite] resuming: {total - len(cells)} of {total} cells already in {csv_path}")
    if cells:
        _import_before_timing()
    bar = tqdm(total=total, initial=total - len(cells), desc="anomaly suite", disable=not progress,
               dynamic_ncols=True)
    computed = 0
    cache: Dict[str, object] = {}
    splits: Dict[Tuple[str, int], tuple] = {}
    for spec, dkey, dname, dcfg, seed, h in cells:
        if max_cells is not None and computed >= max_cells:
            log(f"[suite] stopping after {computed} cells (--max-cells); rerun the same command to resume")
            break
        bar.set_postfix_str(f"{dkey} / {dname} / seed {seed}")
        base = dict(dataset=dkey, detector=dname, seed=seed, config_hash=h)
        if dkey not in cache:
            try:
                cache = {dkey: load_dataset(spec)}  # keep one dataset in memory at a time
                splits = {}
            except Exception as exc:
                cache = {dkey: exc}
        data = cache[dkey]
        if isinstance(data, Exception):
            row = dict(base, status="error", error=f"dataset: {type(data).__name__}: {data}".replace("\n", " ")[:500])
        else:
            if (dkey, seed) not in splits:
                splits[(dkey, seed)] = split_and_scale(data.X, data.y, seed, cfg.test_size, cfg.standardize)
            row = dict(base, **run_cell(data, splits[(dkey, seed)], dcfg, seed, cfg.device, cfg.cell_time_limit))
        if row["status"] != "ok":
            bar.write(f"[suite] {dkey} / {dname} / seed {seed} {row['status'].upper()}: {row['error']}")
        append_row(csv_path, row)
        computed += 1
        bar.update(1)
    bar.close()
    rows = read_results(csv_path)
    rows = [r for r in rows if (r["dataset"], r["detector"], int(r["seed"]), r["config_hash"]) in wanted]
    md = summarize(rows, [dataset_key(s) for s in cfg.datasets], list(cfg.detectors), len(cfg.seeds),
                   selection=cfg.selection)
    (out / "summary.md").write_text(md)
    plot(rows, [dataset_key(s) for s in cfg.datasets], list(cfg.detectors), out / "roc_auc.png")
    log(f"[suite] {len(rows)} of {total} cells done; results in {out}")
    return out


# -- reporting ------------------------------------------------------------------------------------------
def _stats(rows: Sequence[dict], ds: str, det: str, key: str) -> Tuple[float, float, int, int]:
    vals = [float(r[key]) for r in rows if r["dataset"] == ds and r["detector"] == det and r["status"] == "ok"]
    errs = sum(1 for r in rows if r["dataset"] == ds and r["detector"] == det and r["status"] != "ok")
    if not vals:
        return math.nan, math.nan, 0, errs
    return float(np.mean(vals)), float(np.std(vals)), len(vals), errs


def average_ranks(means: Dict[str, Dict[str, float]], datasets: Sequence[str],
                  detectors: Sequence[str]) -> Dict[str, float]:
    """Average rank (1 = best mean ROC-AUC, ties share the mean rank) over the datasets every detector
    finished."""
    from scipy.stats import rankdata

    ranks = {d: [] for d in detectors}
    for ds in datasets:
        vals = [means[det].get(ds, math.nan) for det in detectors]
        if any(math.isnan(v) for v in vals):
            continue
        for det, r in zip(detectors, rankdata([-v for v in vals])):
            ranks[det].append(float(r))
    return {d: (float(np.mean(v)) if v else math.nan) for d, v in ranks.items()}


def leave_one_group_out(means: Dict[str, Dict[str, float]], datasets: Sequence[str], candidates: Sequence[str],
                        groups: Optional[Sequence[Sequence[str]]] = None) -> Dict[str, Tuple[str, float]]:
    """Leave-one-dataset-out choice among ``candidates``.

    Args:
        means: ``means[detector][dataset]`` = mean ROC-AUC over seeds (NaN where a cell failed).
        datasets: the datasets.
        candidates: detector names to choose among.
        groups: datasets left out together (near-copies of one source); others are left out alone.

    Returns:
        ``{dataset: (candidate chosen on the datasets outside its group, that candidate's ROC-AUC on
        it)}``; the choice maximises the mean ROC-AUC over the other datasets that every candidate
        finished (ties: the earlier candidate).
    """
    if not datasets:
        raise ValueError("leave-one-dataset-out: no dataset has results of every candidate")
    groups = source_groups() if groups is None else groups
    group_of = {d: set(g) for g in groups for d in g}
    out: Dict[str, Tuple[str, float]] = {}
    for ds in datasets:
        held = group_of.get(ds, set()) | {ds}
        others = [d for d in datasets if d not in held
                  and not any(math.isnan(means[c].get(d, math.nan)) for c in candidates)]
        if not others:
            raise ValueError(f"leave-one-dataset-out for {ds!r}: no other dataset has results of every candidate")
        score = {c: float(np.mean([means[c][d] for d in others])) for c in candidates}
        best = max(candidates, key=lambda c: score[c])  # max keeps the first of equal scores
        out[ds] = (best, means[best].get(ds, math.nan))
    return out


def _selection_md(means: Dict[str, Dict[str, float]], datasets: Sequence[str], detectors: Sequence[str],
                  selection: dict) -> List[str]:
    cands = list(selection["candidates"])
    name = selection.get("name", "selected")
    groups = selection.get("groups") or source_groups()
    complete = [ds for ds in datasets if not any(math.isnan(means[c].get(ds, math.nan)) for c in cands)]
    try:
        chosen = leave_one_group_out(means, complete, cands, groups)
    except ValueError as exc:  # fewer than two sources with every candidate's results (e.g. one --data set)
        return [f"### Leave-one-dataset-out selection among {len(cands)} candidates\n",
                f"Not computed: {exc} (datasets with every candidate's results: {', '.join(complete) or 'none'}).\n"]
    overall = max(cands, key=lambda c: float(np.mean([means[c][d] for d in complete])))
    out = [f"### Leave-one-dataset-out selection among {len(cands)} candidates\n",
           f"For each dataset the candidate with the best mean ROC-AUC on the other datasets (a source's "
           f"near-copies left out together) and its ROC-AUC on the held-out dataset. Best on all datasets: "
           f"**{overall}**.\n",
           "| dataset | chosen on the others | held-out ROC-AUC (%) |", "|---|---|---:|"]
    out += [f"| {ds} | {chosen[ds][0]} | {100 * chosen[ds][1]:.1f} |" for ds in complete]
    others = list(selection.get("compare", [d for d in detectors if d not in cands]))
    table = {name: {ds: chosen[ds][1] for ds in complete}, **{d: means[d] for d in others}}
    ranks = average_ranks(table, complete, list(table))
    out += ["", f"Held-out column against the other detectors ({len(complete)} datasets):\n",
            "| detector | mean ROC-AUC (%) | avg. rank |", "|---|---:|---:|"]
    for det in table:
        vals = [table[det].get(ds, math.nan) for ds in complete]
        mean = "–" if any(math.isnan(v) for v in vals) else f"{100 * np.mean(vals):.1f}"
        out.append(f"| {det} | {mean} | {'–' if math.isnan(ranks[det]) else f'{ranks[det]:.2f}'} |")
    if "groups" in selection:  # per source: the held-out column next to the other detectors
        out += ["", "Held-out column per source group (mean ROC-AUC %, the group's sets):\n",
                "| group | " + " | ".join(table) + " |", "|---|" + "---:|" * len(table)]
        for label, members in _named_groups(selection["groups"], complete):
            out.append(f"| {label} | " + " | ".join(_pct(np.mean([table[d].get(ds, math.nan) for ds in members]))
                                                    for d in table) + " |")
    return out + [""]


def _pct(v: float) -> str:
    return "–" if math.isnan(v) else f"{100 * v:.1f}"


def _named_groups(groups: Sequence[Sequence[str]], datasets: Sequence[str]) -> List[Tuple[str, List[str]]]:
    """``(label, members among datasets)`` per group (label: the members' common prefix, else the first
    member), then ``('all', datasets)``."""
    named = []
    for g in groups:
        members = [d for d in datasets if d in set(g)]
        if members:
            prefix = os.path.commonprefix(list(g)).rstrip("_-") or members[0]
            named.append((prefix, members))
    return named + [("all", list(datasets))]


def group_table(rows: Sequence[dict], datasets: Sequence[str], detectors: Sequence[str],
                groups: Sequence[Sequence[str]]) -> List[str]:
    """Markdown: per source group and detector, the mean over the group's datasets of ROC-AUC and AP (%,
    each dataset's mean over seeds) and of the seconds per cell (fit + scoring)."""
    out = ["### Per source group (ROC-AUC % / AP % / seconds per cell, fit + scoring)\n",
           "| group | " + " | ".join(detectors) + " |", "|---|" + "---:|" * len(detectors)]
    for label, members in _named_groups(groups, datasets):
        cells = []
        for det in detectors:
            roc, ap = (np.mean([_stats(rows, ds, det, k)[0] for ds in members]) for k in ("roc_auc", "ap"))
            secs = [float(r["fit_s"]) + float(r["score_s"]) for r in rows
                    if r["detector"] == det and r["dataset"] in set(members) and r["status"] == "ok"]
            cells.append(f"{_pct(roc)} / {_pct(ap)} / {np.mean(secs) if secs else math.nan:.2f}")
        out.append(f"| {label} | " + " | ".join(cells) + " |")
    return out + [""]


def summarize(rows: Sequence[dict], datasets: Sequence[str], detectors: Sequence[str], n_seeds: int,
              selection: Optional[dict] = None) -> str:
    """Markdown tables: ROC-AUC and AP (percent, mean +- std over seeds), mean, average rank, times, and
    the leave-one-dataset-out selection when ``selection`` is given."""
    out = []
    means: Dict[str, Dict[str, float]] = {d: {} for d in detectors}
    for key, title in (("roc_auc", "ROC-AUC"), ("ap", "Average precision")):
        out.append(f"### {title} (%, mean ± std over seeds)\n")
        out.append("| dataset | " + " | ".join(detectors) + " |")
        out.append("|---|" + "---:|" * len(detectors))
        for ds in datasets:
            cells = []
            best = max((_stats(rows, ds, d, key)[0] for d in detectors), default=math.nan,
                       key=lambda v: -1 if math.isnan(v) else v)
            for det in detectors:
                m, s, n, errs = _stats(rows, ds, det, key)
                if key == "roc_auc":
                    means[det][ds] = m
                if n == 0:
                    statuses = {r["status"] for r in rows if r["dataset"] == ds and r["detector"] == det}
                    cells.append("timeout" if statuses == {"timeout"} else "error" if errs else "–")
                    continue
                txt = f"{100 * m:.1f} ± {100 * s:.1f}"
                if m == best:
                    txt = f"**{txt}**"
                if n < n_seeds:
                    txt += f" ({n}/{n_seeds} seeds)"
                cells.append(txt)
            out.append(f"| {ds} | " + " | ".join(cells) + " |")
        avg = []
        for det in detectors:
            vals = [_stats(rows, ds, det, key)[0] for ds in datasets]
            avg.append("–" if any(math.isnan(v) for v in vals) else f"{100 * np.mean(vals):.1f}")
        out.append("| **mean** | " + " | ".join(avg) + " |")
        if key == "roc_auc":
            ranks = average_ranks(means, datasets, detectors)
            out.append("| **avg. rank** | " + " | ".join("–" if math.isnan(ranks[d]) else f"{ranks[d]:.2f}"
                                                         for d in detectors) + " |")
        out.append("")
    if selection is not None:
        out += _selection_md(means, datasets, detectors, selection)
        if "groups" in selection:
            out += group_table(rows, datasets, detectors, selection["groups"])
    out.append("### Time (seconds per fit / per scoring of the test part, mean over cells)\n")
    out.append("| detector | fit s | score s | cells ok | cells failed / timed out |")
    out.append("|---|---:|---:|---:|---:|")
    for det in detectors:
        ok = [r for r in rows if r["detector"] == det and r["status"] == "ok"]
        bad = sum(1 for r in rows if r["detector"] == det and r["status"] != "ok")
        fit = np.mean([float(r["fit_s"]) for r in ok]) if ok else math.nan
        sc = np.mean([float(r["score_s"]) for r in ok]) if ok else math.nan
        out.append(f"| {det} | {fit:.2f} | {sc:.2f} | {len(ok)} | {bad} |")
    errors = [r for r in rows if r["status"] != "ok"]
    if errors:
        out.append("\n### Failures\n")
        seen = set()
        for r in errors:
            key = (r["dataset"], r["detector"], r["error"])
            if key not in seen:
                seen.add(key)
                out.append(f"- {r['dataset']} / {r['detector']}: `{r['error']}`")
    return "\n".join(out) + "\n"


def plot(rows: Sequence[dict], datasets: Sequence[str], detectors: Sequence[str], path: Path) -> None:
    """Grouped bars: mean ROC-AUC per dataset and detector, std as error bars (matplotlib, Agg)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    width = 0.8 / max(1, len(detectors))
    fig, ax = plt.subplots(figsize=(max(6.0, 1.2 * len(datasets) + 2), 4.0))
    x = np.arange(len(datasets))
    for i, det in enumerate(detectors):
        st = [_stats(rows, ds, det, "roc_auc") for ds in datasets]
        ax.bar(x + (i - (len(detectors) - 1) / 2) * width, [s[0] for s in st], width,
               yerr=[s[1] for s in st], label=det, capsize=2)
    ax.set_xticks(x, datasets, rotation=20)
    ax.set_ylabel("ROC-AUC (test, mean ± std over seeds)")
    ax.set_ylim(0.0, 1.0)
    ax.axhline(0.5, color="grey", lw=0.8, ls="--")
    ax.legend(ncol=min(len(detectors), 6), fontsize=8, loc="lower center", bbox_to_anchor=(0.5, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
