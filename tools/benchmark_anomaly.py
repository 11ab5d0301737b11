"""The anomaly-detection benchmark suite: every dataset x detector x seed, ROC-AUC / AP, resumable.

    python tools/benchmark_anomaly.py configs/anomaly/suite_odds.py                 # the full ODDS suite
    python tools/benchmark_anomaly.py configs/anomaly/suite_odds.py --quick         # a small subset
    python tools/benchmark_anomaly.py configs/anomaly/suite_odds.py --data my.mat other.csv --out results/mine
    python tools/benchmark_anomaly.py configs/anomaly/suite_digits.py --device cuda

Protocol, outputs and the config format: tasks/anomaly/benchmark.py and docs/anomaly.md. Results go to
--out (default: the config's ``out_dir``): results.csv (one row per finished cell, written as it
finishes; rerunning the same command resumes), summary.md, roc_auc.png.
"""
import sys

import _bootstrap  # noqa: F401  (repository root on sys.path)

import tasks.anomaly  # noqa: F401  (registers the detectors)
from tasks.anomaly.cli import main

if __name__ == "__main__":
    sys.exit(main())
