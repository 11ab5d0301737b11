"""Evaluate a checkpoint with mmengine's Runner (the config's test_dataloader / test_evaluator).

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--cfg-options k=v ...] [--show-dir DIR] [--out FILE]
"""
import argparse
import os
import os.path as osp

import _bootstrap  # noqa: F401
from mmengine.config import Config, DictAction
from mmengine.runner import Runner

import backbones  # noqa: F401
from tasks.common.checkpoint import CheckpointError, check_checkpoint
from tasks.common.predictions import configure_prediction_output
from train import apply_common_args


def parse_args():
    parser = argparse.ArgumentParser(description="Test (evaluate) a checkpoint")
    parser.add_argument("config", help="config file path")
    parser.add_argument("checkpoint", help="checkpoint file")
    parser.add_argument("--work-dir", help="where the evaluation logs go")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    parser.add_argument("--show-dir", help="save visualised predictions here (detection / segmentation "
                        "configs with a visualization hook)")
    parser.add_argument("--show-score-thr", type=float, default=None, help="detection: draw boxes scoring at "
                        "least this with --show-dir (mmdet's DetVisualizationHook hides those under 0.3)")
    parser.add_argument("--out", help="also write the test predictions here: a CSV for classification, text, graph "
                        "(every node) and anomaly; COCO result JSON for detection; a folder of label PNGs for "
                        "segmentation (see tasks/common/predictions.py)")
    parser.add_argument("--cfg-options", nargs="+", action=DictAction, help="override config entries")
    parser.add_argument("--launcher", choices=["none", "pytorch", "slurm", "mpi"], default="none")
    parser.add_argument("--local_rank", "--local-rank", type=int, default=0)
    args = parser.parse_args()
    if "LOCAL_RANK" not in os.environ:
        os.environ["LOCAL_RANK"] = str(args.local_rank)
    return args


def main():
    args = parse_args()
    if not osp.isfile(args.config):
        raise SystemExit(f"config file not found: {args.config}")
    try:  # empty, truncated or foreign files: one line naming the file and the problem
        check_checkpoint(args.checkpoint)
    except CheckpointError as exc:
        raise SystemExit(str(exc))
    cfg = apply_common_args(Config.fromfile(args.config), args)
    cfg.load_from = args.checkpoint
    if args.show_dir:
        vis = cfg.get("default_hooks", {}).get("visualization")
        if vis is None:
            raise SystemExit("--show-dir needs a 'visualization' hook in default_hooks (detection / segmentation configs)")
        vis.update(draw=True, test_out_dir=args.show_dir)
        if args.show_score_thr is not None:
            vis.update(score_thr=args.show_score_thr)
    if args.out:
        try:
            what = configure_prediction_output(cfg, args.out)
        except ValueError as exc:
            raise SystemExit(str(exc))
        print(f"--out: {what}", flush=True)
    runner = Runner.from_cfg(cfg)
    runner.test()


if __name__ == "__main__":
    main()
