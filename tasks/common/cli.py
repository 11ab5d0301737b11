"""What ``tools/train.py`` and ``tools/test.py`` share: their common options, how the options reach the
config, and one clear line (not a traceback) for the mistakes a user makes.

The scripts call :func:`train_main` / :func:`test_main` (their parsers are :func:`train_parser` /
:func:`test_parser`, so tests call the same functions in-process); everything else happens in
:class:`tasks.common.runner.IMixerRunner`, which the config names (``runner_type``).
"""
from __future__ import annotations

import argparse
import contextlib
import os
import os.path as osp
from typing import Iterator, Optional

from mmengine.config import Config, DictAction

from .checkpoint import CheckpointError, check_checkpoint, resolve_resume
from .fetch import FetchError, MissingDatasetError
from .guards import NonFiniteError
from .runner import ConfigError, build_runner
from .testing import SplitError

#: errors that are the user's to fix: printed as one line naming the file / option and the fix
USER_ERRORS = (CheckpointError, ConfigError, NonFiniteError, SplitError, MissingDatasetError, FetchError)


def add_common_args(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The options both scripts take: ``--work-dir``, ``--device``, ``--cfg-options``, ``--launcher``."""
    parser.add_argument("--work-dir", help="where logs and checkpoints go (default: work_dirs/<config name>)")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto",
                        help="force a device (default: CUDA when available)")
    parser.add_argument("--cfg-options", nargs="+", action=DictAction,
                        help="override config entries, e.g. train_cfg.max_iters=2 (xxx=[a,b] for lists)")
    parser.add_argument("--launcher", choices=["none", "pytorch", "slurm", "mpi"], default="none",
                        help="job launcher ('pytorch' under torchrun)")
    parser.add_argument("--local_rank", "--local-rank", type=int, default=0)
    return parser


def parse(parser: argparse.ArgumentParser, argv=None) -> argparse.Namespace:
    args = parser.parse_args(argv)
    os.environ.setdefault("LOCAL_RANK", str(args.local_rank))
    return args


def load_config(args: argparse.Namespace) -> Config:
    """The config file with ``--cfg-options``, ``--work-dir``, ``--device`` and the launcher applied."""
    if not osp.isfile(args.config):
        raise SystemExit(f"config file not found: {args.config}")
    try:
        cfg = Config.fromfile(args.config)
    except (SyntaxError, KeyError, ImportError, FileNotFoundError) as exc:
        raise SystemExit(f"{args.config} cannot be loaded: {type(exc).__name__}: {exc}")
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get("work_dir", None) is None:
        cfg.work_dir = osp.join("./work_dirs", osp.splitext(osp.basename(args.config))[0])
    if args.device == "cpu":
        os.environ["CUDA_VISIBLE_DEVICES"] = ""
    if args.launcher == "pytorch":
        _cpu_launcher(cfg)
    return cfg


def _cpu_launcher(cfg: Config) -> None:
    """mmengine's pytorch launcher calls ``torch.cuda.set_device`` and wraps DDP with
    ``device_ids=[LOCAL_RANK]``; CPU-only processes instead talk over gloo with ``device_ids=None``."""
    import torch

    if torch.cuda.is_available():
        return
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group(backend="gloo")
    wrapper = cfg.get("model_wrapper_cfg") or dict(type="MMDistributedDataParallel")
    wrapper["device_ids"] = None
    cfg.model_wrapper_cfg = wrapper


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Turn :data:`USER_ERRORS` into ``SystemExit`` with their message: one line with the fix."""
    try:
        yield
    except USER_ERRORS as exc:
        raise SystemExit(f"error: {exc}")


def train_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Train a model with mmengine's Runner")
    parser.add_argument("config", help="config file path")
    parser.add_argument("--resume", nargs="?", type=str, const="auto",
                        help="resume from CKPT, or from the latest checkpoint in the work dir when no CKPT is given")
    parser.add_argument("--amp", action="store_true",
                        help="mixed precision (AmpOptimWrapper; float16 on CUDA, bfloat16 on CPU)")
    parser.add_argument("--no-test", action="store_true",
                        help="skip the test split after training (default: evaluate it with the best checkpoint "
                             "and write <work_dir>/test_metrics.json)")
    return add_common_args(parser)


def test_parser() -> argparse.ArgumentParser:
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
    return add_common_args(parser)


def train_main(argv=None):
    """``tools/train.py``'s whole behaviour, for ``argv`` (default ``sys.argv[1:]``)."""
    return train(parse(train_parser(), argv))


def test_main(argv=None):
    """``tools/test.py``'s whole behaviour, for ``argv`` (default ``sys.argv[1:]``)."""
    args = parse(test_parser(), argv)
    return test(args, out=args.out)


def train(args: argparse.Namespace):
    """``tools/train.py``: build the config's Runner and train (it tests the best checkpoint after)."""
    cfg = load_config(args)
    if args.amp:
        from .amp import enable_amp
        enable_amp(cfg)
    if args.no_test:
        cfg.test_after_train = False
    with user_errors():
        resolve_resume(cfg, args.resume)  # broken files are named; --resume skips a broken latest one
        runner = build_runner(cfg)
        runner.train()
    return runner


def test(args: argparse.Namespace, out: Optional[str] = None):
    """``tools/test.py``: evaluate ``args.checkpoint`` with the config's test split."""
    from .predictions import configure_prediction_output

    with user_errors():
        check_checkpoint(args.checkpoint)
    cfg = load_config(args)
    cfg.load_from = args.checkpoint
    if args.show_dir:
        vis = cfg.get("default_hooks", {}).get("visualization")
        if vis is None:
            raise SystemExit("--show-dir needs a 'visualization' hook in default_hooks (detection / segmentation "
                             "configs)")
        vis.update(draw=True, test_out_dir=args.show_dir)
        if args.show_score_thr is not None:
            vis.update(score_thr=args.show_score_thr)
    if out:
        try:
            what = configure_prediction_output(cfg, out)
        except ValueError as exc:
            raise SystemExit(str(exc))
        print(f"--out: {what}", flush=True)
    with user_errors():
        runner = build_runner(cfg)
        return runner.test()


__all__ = ["USER_ERRORS", "add_common_args", "parse", "load_config", "user_errors", "train", "test", "train_parser",
           "test_parser", "train_main", "test_main"]
