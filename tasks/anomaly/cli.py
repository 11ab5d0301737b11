"""The anomaly suite's command line (``tools/benchmark_anomaly.py``): options, the suite they describe, main.

Callable in-process (``main(argv)``), as tests and notebooks do; the script only calls :func:`main`.
"""
from __future__ import annotations

import argparse
import os
import warnings

from mmengine.config import Config, DictAction

from .benchmark import SuiteConfig, detector_types, run_suite
from .datasets import dataset_key

USAGE = """The anomaly-detection benchmark suite: every dataset x detector x seed, ROC-AUC / AP, resumable.

    python tools/benchmark_anomaly.py configs/anomaly/suite_odds.py                 # the full ODDS suite
    python tools/benchmark_anomaly.py configs/anomaly/suite_odds.py --quick         # a small subset
    python tools/benchmark_anomaly.py configs/anomaly/suite_odds.py --data my.mat other.csv --out results/mine
    python tools/benchmark_anomaly.py configs/anomaly/suite_digits.py --device cuda

Protocol, outputs and the config format: tasks/anomaly/benchmark.py and docs/anomaly.md. Results go to
--out (default: the config's ``out_dir``): results.csv (one row per finished cell, written as it
finishes; rerunning the same command resumes), summary.md, roc_auc.png."""


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=USAGE, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("config", help="suite config (an mmengine Config file, e.g. configs/anomaly/suite_odds.py)")
    p.add_argument("--quick", action="store_true",
                   help="run the config's `quick` subset (fewer datasets / seeds, lighter neural detectors)")
    p.add_argument("--data", nargs="+", default=[], metavar="PATH",
                   help="add the user's dataset files (ODDS .mat / ADBench .npz with X, y; .csv with a label column)")
    p.add_argument("--label-column", default=None, help="label column of --data CSV files (default: y/label/... or the last)")
    p.add_argument("--only-data", action="store_true", help="run only the --data files, not the configured datasets")
    p.add_argument("--datasets", nargs="+", help="run only these configured datasets (names)")
    p.add_argument("--detectors", nargs="+", help="run only these detectors (names in the config)")
    p.add_argument("--seeds", nargs="+", type=int, help="override the seeds")
    p.add_argument("--out", help="output directory (default: the config's out_dir)")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto",
                   help="device of the neural detectors (default: CUDA when available)")
    p.add_argument("--max-cells", type=int, default=None,
                   help="stop after this many new cells (resume later with the same command)")
    p.add_argument("--retry-failed", action="store_true", help="recompute cells recorded as errors or time-outs")
    p.add_argument("--cell-time-limit", type=float, default=None, metavar="S",
                   help="stop a cell (one fit + scoring) after S seconds and record it as 'timeout' "
                        "(default: the config's cell_time_limit, else no limit)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--cfg-options", nargs="+", action=DictAction, help="override config entries, key=value")
    return p.parse_args(argv)


def build_suite(args) -> SuiteConfig:
    if not os.path.isfile(args.config):
        raise SystemExit(f"config file not found: {args.config}")
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    datasets = list(cfg.get("datasets", []))
    detectors = {k: dict(v) for k, v in cfg.get("detectors", {}).items()}
    seeds = list(cfg.get("seeds", [0, 1, 2, 3, 4]))
    out_dir = cfg.get("out_dir", "results/anomaly")
    if args.quick:
        quick = cfg.get("quick", {})
        datasets = list(quick.get("datasets", datasets[:2]))
        seeds = list(quick.get("seeds", seeds[:2]))
        for name, over in quick.get("detector_overrides", {}).items():
            if name in detectors:
                detectors[name].update(over)
        out_dir = quick.get("out_dir", out_dir.rstrip("/") + "_quick")
    if args.datasets:
        unknown = set(args.datasets) - {dataset_key(d) for d in datasets}
        if unknown:
            raise SystemExit(f"--datasets {sorted(unknown)} not in the config's datasets "
                             f"{[dataset_key(d) for d in datasets]}")
        datasets = [d for d in datasets if dataset_key(d) in args.datasets]
    if args.only_data:
        datasets = []
    for path in args.data:
        if not os.path.isfile(path):
            raise SystemExit(f"--data file not found: {path}")
        entry = dict(type="file", path=path)
        if args.label_column is not None and path.lower().endswith(".csv"):
            entry["label_column"] = args.label_column
        datasets.append(entry)
    if args.detectors:
        unknown = set(args.detectors) - set(detectors)
        if unknown:
            raise SystemExit(f"--detectors {sorted(unknown)} not in the config's detectors {list(detectors)}")
        detectors = {k: v for k, v in detectors.items() if k in args.detectors}
    known = set(detector_types())
    for name, d in detectors.items():
        if d.get("type") not in known:
            raise SystemExit(f"detector {name!r}: unknown type {d.get('type')!r}; registered detectors: {sorted(known)}")
    selection = cfg.get("selection", None)
    if selection is not None and args.detectors and \
            not set(selection.get("candidates", [])) | set(selection.get("compare", [])) <= set(detectors):
        print("[suite] --detectors leaves out detectors of `selection`: no leave-one-dataset-out table")
        selection = None
    return SuiteConfig(datasets=datasets, detectors=detectors, seeds=args.seeds or seeds, selection=selection,
                       test_size=cfg.get("test_size", 0.4), standardize=cfg.get("standardize", True),
                       out_dir=args.out or out_dir, device=args.device,
                       cell_time_limit=args.cell_time_limit if args.cell_time_limit is not None
                       else cfg.get("cell_time_limit", None))


def main(argv=None) -> int:
    args = parse_args(argv)
    suite = build_suite(args)
    try:
        suite.validate()
    except ValueError as exc:
        raise SystemExit(str(exc))
    warnings.filterwarnings("ignore", category=UserWarning, module="mmengine")
    print(f"[suite] {len(suite.datasets)} datasets x {len(suite.detectors)} detectors x {len(suite.seeds)} seeds "
          f"-> {suite.out_dir}", flush=True)
    out = run_suite(suite, max_cells=args.max_cells, progress=not args.no_progress,
                    retry_failed=args.retry_failed)
    print((out / "summary.md").read_text())
    return 0
