"""Train any imixer config with mmengine's Runner (every task: cls, det, seg, anomaly, text, graph).

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp] [--no-test] [--cfg-options k=v ...]
    bash tools/dist_train.sh CONFIG NUM_GPUS [args]        # torchrun, --launcher pytorch

Every split is built and checked before training; after it, the test split is evaluated with the best
checkpoint and <work_dir>/test_metrics.json written (--no-test skips that).
"""
import argparse
import importlib
import os
import os.path as osp

import _bootstrap  # noqa: F401  (repository root on sys.path)
from mmengine.config import Config, DictAction
from mmengine.runner import Runner

import backbones  # noqa: F401  (registries, the torch.load allow-list for --resume)
from tasks.common.checkpoint import CheckpointError, resolve_resume
from tasks.common.guards import NonFiniteError
from tasks.common.schedules import follow_run_length, run_length
from tasks.common.testing import build_and_check_splits, evaluate_after_train


def parse_args():
    parser = argparse.ArgumentParser(description="Train a model with mmengine's Runner")
    parser.add_argument("config", help="config file path")
    parser.add_argument("--work-dir", help="where logs and checkpoints go (default: work_dirs/<config name>)")
    parser.add_argument("--resume", nargs="?", type=str, const="auto",
                        help="resume from CKPT, or from the latest checkpoint in the work dir when no CKPT is given")
    parser.add_argument("--amp", action="store_true",
                        help="mixed precision (AmpOptimWrapper; float16 on CUDA, bfloat16 on CPU)")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto",
                        help="force a device (default: CUDA when available)")
    parser.add_argument("--cfg-options", nargs="+", action=DictAction,
                        help="override config entries, e.g. train_cfg.max_iters=2 (xxx=[a,b] for lists)")
    parser.add_argument("--launcher", choices=["none", "pytorch", "slurm", "mpi"], default="none",
                        help="job launcher ('pytorch' under torchrun)")
    parser.add_argument("--no-test", action="store_true",
                        help="skip the test split after training (default: evaluate it with the best checkpoint "
                             "and write <work_dir>/test_metrics.json)")
    parser.add_argument("--local_rank", "--local-rank", type=int, default=0)
    args = parser.parse_args()
    if "LOCAL_RANK" not in os.environ:
        os.environ["LOCAL_RANK"] = str(args.local_rank)
    return args


def apply_common_args(cfg: Config, args) -> Config:
    """--work-dir, --device, --cfg-options and the launcher: shared by train.py and test.py."""
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    for path in cfg.get("config_resolvers", []):  # settings a task derives after the overrides (text)
        module, _, name = path.rpartition(".")
        getattr(importlib.import_module(module), name)(cfg)
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get("work_dir", None) is None:
        cfg.work_dir = osp.join("./work_dirs", osp.splitext(osp.basename(args.config))[0])
    if args.device == "cpu":
        os.environ["CUDA_VISIBLE_DEVICES"] = ""
    if args.launcher == "pytorch":
        import torch

        if not torch.cuda.is_available():
            # mmengine's pytorch launcher calls torch.cuda.set_device and wraps DDP with
            # device_ids=[LOCAL_RANK]; CPU-only processes instead talk over gloo with device_ids=None.
            import torch.distributed as dist

            if not dist.is_initialized():
                dist.init_process_group(backend="gloo")
            wrapper = cfg.get("model_wrapper_cfg") or dict(type="MMDistributedDataParallel")
            wrapper["device_ids"] = None
            cfg.model_wrapper_cfg = wrapper
    return cfg


def main():
    args = parse_args()
    if not osp.isfile(args.config):
        raise SystemExit(f"config file not found: {args.config}")
    cfg = Config.fromfile(args.config)
    planned = run_length(cfg)  # the schedules follow a run made shorter / longer by --cfg-options
    cfg = apply_common_args(cfg, args)
    if args.amp:
        from tasks.common.amp import enable_amp
        enable_amp(cfg)
    try:
        resolve_resume(cfg, args.resume)  # broken files are named; --resume skips a broken latest one
        runner = Runner.from_cfg(cfg)
        follow_run_length(runner, planned, args.cfg_options)
        build_and_check_splits(runner, args.config)  # a bad split fails now, not after training
        runner.train()
        if not args.no_test:
            evaluate_after_train(runner)
    except (CheckpointError, NonFiniteError) as exc:
        raise SystemExit(str(exc))


if __name__ == "__main__":
    main()
