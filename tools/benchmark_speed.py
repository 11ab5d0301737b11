"""Training / inference throughput, peak memory and FLOPs of any registered backbone.

    python tools/benchmark_speed.py --models imixer_s16_224 mlpmixer_s16_224 --impl ours reference

Usage and options: ``python tools/benchmark_speed.py --help`` (tasks/classification/speed.py).
"""
import sys

import _bootstrap  # noqa: F401  (repository root on sys.path)

from tasks.classification.speed import main

if __name__ == "__main__":
    sys.exit(main())
