"""Evaluate a checkpoint with mmengine's Runner (the config's test_dataloader / test_evaluator).

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--cfg-options k=v ...] [--show-dir DIR] [--out FILE]
"""
import argparse

import _bootstrap  # noqa: F401  (repository root on sys.path)

from tasks.common import cli


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="Test (evaluate) a checkpoint")
    parser.add_argument("config", help="config file path")
    parser.add_argument("checkpoint", help="checkpoint file")
    parser.add_argument("--show-dir", help="save visualised predictions here (detection / segmentation "
                        "configs with a visualization hook)")
    parser.add_argument("--show-score-thr", type=float, default=None, help="detection: draw boxes scoring at "
                        "least this with --show-dir (mmdet's DetVisualizationHook hides those under 0.3)")
    parser.add_argument("--out", help="also write the test predictions here: a CSV for classification, text, graph "
                        "(every node) and anomaly; COCO result JSON for detection; a folder of label PNGs for "
                        "segmentation (see tasks/common/predictions.py)")
    return cli.parse(cli.add_common_args(parser), argv)


def main(argv=None):
    args = parse_args(argv)
    cli.test(args, out=args.out)


if __name__ == "__main__":
    main()
