"""The anomaly-detection benchmark suite: every dataset x detector x seed, ROC-AUC / AP, resumable.

Usage and options: ``python tools/benchmark_anomaly.py --help`` (tasks/anomaly/cli.py).
"""
import sys

import _bootstrap  # noqa: F401  (repository root on sys.path)

import tasks.anomaly  # noqa: F401  (registers the detectors)
from tasks.anomaly.cli import main

if __name__ == "__main__":
    sys.exit(main())
