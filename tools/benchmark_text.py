"""Text classification benchmark: iMixer vs its explicit twin vs TF-IDF + logistic regression.

Usage and options: ``python tools/benchmark_text.py --help`` (tasks/text/benchmark.py).
"""
import sys

import _bootstrap  # noqa: F401  (repository root on sys.path)

from tasks.text.benchmark import main

if __name__ == "__main__":
    sys.exit(main())
