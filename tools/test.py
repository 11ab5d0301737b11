"""Evaluate a checkpoint with mmengine's Runner (the config's test_dataloader / test_evaluator).

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--cfg-options k=v ...] [--show-dir DIR] [--out FILE]
"""
import _bootstrap  # noqa: F401  (repository root on sys.path)

from tasks.common.cli import test_main

if __name__ == "__main__":
    test_main()
