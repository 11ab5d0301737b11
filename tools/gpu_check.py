"""Every task on one device: a few training iterations of each task's real config through the Runner.

    python tools/gpu_check.py --device cuda                        # float32, all six tasks
    python tools/gpu_check.py --device cuda --amp                  # AmpOptimWrapper, float16 on CUDA
    python tools/gpu_check.py --device cuda --amp --amp-dtype bfloat16
    python tools/gpu_check.py --device cpu --tasks cls graph --iters 4 --out check.md
    python tools/gpu_check.py --device cpu --twin                  # the explicit twins (token_mixer='mlp')

For each task, one subprocess runs ``tools/train.py``'s own ``main()`` (the same argument handling,
``--amp`` and ``--device``) on the task's config with small overrides: ``--iters`` training iterations
on a tiny subset (default 30 on CUDA, 10 on the CPU; the config's batch size, model and optimiser are
kept), then the config's validation loop once at the end. A probe hook added to that Runner records

* the training losses of every iteration (any NaN / inf fails the task),
* the iterations per second after ``warm-up`` iterations (compilation, cuDNN / allocator warm-up):
  ``(n - warmup) / (t_n - t_warmup)``, timed at the end of each training iteration (data loading
  included, validation excluded), with ``torch.cuda.synchronize`` on CUDA,
* the peak memory of training: ``torch.cuda.max_memory_allocated`` on CUDA, the process's peak
  resident set size (``getrusage``) on CPU,
* the compute dtype: the optimiser wrapper's autocast dtype (float16 / bfloat16) or the parameters'
  dtype (float32),
* the metrics the evaluator returned (no metric fails the task).

A task whose subprocess fails, times out, logs a non-finite loss or evaluates to no metric is a FAIL;
the script prints a Markdown table (and writes it to ``--out``) and exits with 1 if any task failed.
Logs and work directories stay under ``--work-dir`` (default ``work_dirs/gpu_check``).

Data: classification (scikit-learn digits), detection / segmentation (digit scenes generated into the
work directory, ``batch x iters`` training and ``2 x batch`` validation scenes) and graph (karate club,
in PyG) are built in. Anomaly (ODDS cardio) and text (BBC News) read the prepared data root
(``$IMIXER_DATA`` or ``data/``); when it is missing the script runs ``tools/prepare_data.py NAME``
(``--no-prepare`` to fail instead), which needs a package registry: on a machine without one, prepare
the data beforehand and bring it along (docs/gpu_check.md).

"""
from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

ROOT = Path(__file__).resolve().parents[1]
TOOLS = ROOT / "tools"


# -- the tasks ---------------------------------------------------------------------------------------------
def _loader_opts(key: str, value, loaders: Sequence[str] = ("train", "val", "test")) -> List[str]:
    return [f"{name}_dataloader.{key}={value}" for name in loaders]


def _cls_opts(cfg, iters: int, work: Path) -> List[str]:
    # one epoch over batch x iters training images; the val split subset to two batches
    bs = cfg.train_dataloader.batch_size
    return ["train_cfg.max_epochs=1", f"train_dataloader.dataset.subset={bs * iters}",
            f"val_dataloader.dataset.subset={2 * cfg.val_dataloader.batch_size}"]


def _scenes_opts(cfg, iters: int, work: Path) -> List[str]:
    # detection and segmentation: tiny digit scenes generated (generate=True) in the work directory
    bs = cfg.train_dataloader.batch_size
    num_train, num_val = bs * iters, 2 * cfg.val_dataloader.batch_size
    root = work / f"digit_scenes_{num_train}_{num_val}"
    return ([f"train_cfg.max_iters={iters}", f"train_cfg.val_interval={iters}"]
            + _loader_opts("dataset.data_root", root) + _loader_opts("dataset.scenes.num_train", num_train)
            + _loader_opts("dataset.scenes.num_val", num_val) + _loader_opts("dataset.generate", True))


def _det_opts(cfg, iters: int, work: Path) -> List[str]:
    # an untrained detector scores below the config's 0.05: CocoMetric would receive no box at all
    return _scenes_opts(cfg, iters, work) + ["model.test_cfg.score_thr=0.0"]


def _anomaly_opts(cfg, iters: int, work: Path) -> List[str]:
    return [f"train_cfg.max_iters={iters}", f"train_cfg.val_interval={iters}",
            f"default_hooks.checkpoint.interval={iters}"]


def _text_opts(cfg, iters: int, work: Path) -> List[str]:
    bs = cfg.train_dataloader.batch_size
    return ["train_cfg.max_epochs=1", f"train_dataloader.dataset.subset={bs * iters}",
            f"val_dataloader.dataset.subset={2 * cfg.val_dataloader.batch_size}"]


def _graph_opts(cfg, iters: int, work: Path) -> List[str]:
    # full-graph mode (one iteration = one epoch over every training node); validation at the end only
    return ([f"train_cfg.max_epochs={iters}", f"train_cfg.val_interval={iters}"]
            + _loader_opts("batch_size", 1) + _loader_opts("dataset.mode", "full"))


@dataclass(frozen=True)
class Task:
    """One task of the check: its config, its explicit twin, its data and its small overrides.

    Args:
        name: the task's short name (``--tasks``).
        config: the iMixer config.
        twin: the explicit twin's config (``token_mixer='mlp'``), used with ``--twin``.
        options: ``(cfg, iters, work_dir) -> [key=value, ...]``: the ``--cfg-options`` that make the run
            ``iters`` training iterations on tiny data with one validation at the end.
        metric: the evaluator's key that must come back (shown in the table).
        dataset: ``(preparer, path under the data root)`` of the prepared data it reads, if any.
    """

    name: str
    config: str
    twin: str
    options: Callable
    metric: str
    dataset: Optional[Tuple[str, str]] = None


TASKS: Dict[str, Task] = {t.name: t for t in [
    Task("cls", "configs/cls/imixer-t_digits.py", "configs/cls/mlpmixer-t_digits.py", _cls_opts, "cls/accuracy"),
    Task("det", "configs/det/imixer_retinanet.py", "configs/det/retinanet_mlpmixer-pyramid-t_fpn_600i_digits.py",
         _det_opts, "coco/bbox_mAP"),
    Task("seg", "configs/seg/upernet_imixer-pyramid-t_600i_digits.py",
         "configs/seg/upernet_mlpmixer-pyramid-t_600i_digits.py", _scenes_opts, "mIoU"),
    Task("anomaly", "configs/anomaly/maskrecon_imixer-t_cardio.py", "configs/anomaly/maskrecon_mlpmixer-t_cardio.py",
         _anomaly_opts, "anomaly/roc_auc", ("odds_cardio", "odds/cardio.npz")),
    Task("text", "configs/text/imixer_bbc-news_wordpiece.py", "configs/text/mlpmixer_bbc-news_wordpiece.py", _text_opts,
         "cls/accuracy", ("bbc_news", "bbc_news/train.csv")),
    Task("graph", "configs/graph/hopimixer_full_karate.py", "configs/graph/hopmlpmixer_minibatch_karate.py",
         _graph_opts, "cls/accuracy"),
]}


def probe_rate(probe: dict, warmup: int) -> Optional[float]:
    """Iterations per second after ``warmup`` iterations, from a run's ``probe.json``."""
    times, n = probe.get("train_s_at") or [], probe.get("iters", 0)
    if n <= warmup or not times:
        return None
    start = times[warmup - 1] if warmup else 0.0
    return (n - warmup) / max(probe["train_s"] - start, 1e-9)


# -- the parent: run, judge, tabulate ---------------------------------------------------------------------
def judge(result: Optional[dict], returncode: Optional[int], log_tail: str = "",
          metric: Optional[str] = None) -> Tuple[str, str]:
    """``('ok', '')`` or ``('FAIL', reason)`` for one task's run.

    Args:
        result: the probe's json (``None`` if the run wrote none).
        returncode: the subprocess's exit status (``None``: killed at the timeout).
        log_tail: the end of its output, searched for the error message.
        metric: the evaluator key that must be among the returned metrics (``None``: any metric).
    """
    if returncode is None:
        return "FAIL", "timed out"
    if returncode != 0:
        lines = [ln.strip() for ln in log_tail.splitlines() if ln.strip()]
        errors = [ln for ln in lines if "Error" in ln or "error:" in ln or "Exception" in ln]
        return "FAIL", f"exit {returncode}: {(errors or lines or ['no output'])[-1][:200]}"
    if not result or not result.get("iters"):
        return "FAIL", "no training iteration ran"
    if result.get("nonfinite"):
        bad = result["nonfinite"]
        return "FAIL", f"non-finite loss at iteration {bad['iter']}: {bad['losses']}"
    if not result.get("metrics"):
        return "FAIL", "evaluation returned no metric"
    if metric is not None and metric not in result["metrics"]:
        return "FAIL", f"evaluation returned no {metric} (got {', '.join(result['metrics'])})"
    return "ok", ""


def _fmt_bytes(n: Optional[int]) -> str:
    if n is None:
        return "-"
    return f"{n / 2**30:.2f} GiB" if n >= 2**30 else f"{n / 2**20:.0f} MiB"


def _metric(metrics: Optional[dict], key: Optional[str]) -> str:
    """``key``'s value, else the first numeric metric, as ``'name value'``."""
    metrics = metrics or {}
    items = ([(key, metrics[key])] if key in metrics else []) + list(metrics.items())
    for name, value in items:
        if isinstance(value, float):
            return f"{name} {value:.3g}"
    return "-"


def table(rows: List[dict], device: str) -> str:
    """The Markdown table of the results (one row per task)."""
    mem = "peak mem (max_memory_allocated)" if device == "cuda" else "peak mem (process RSS)"
    head = ["task", "config", "model (params)", "iters", "it/s", mem, "dtype", "eval", "status"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        res = r.get("result") or {}
        timed = res.get("iters", 0) - res.get("warmup", 0)
        speed = f"{timed / res['time_s']:.2f}" if res.get("time_s") and timed > 0 else "-"
        model = f"{res['model']} ({res['params'] / 1e6:.2f}M)" if res.get("model") else "-"
        status = r["status"] if r["status"] == "ok" else f"FAIL: {r['reason']}".replace("|", "/")
        lines.append("| " + " | ".join([r["task"], f"`{r['config']}`", model, str(res.get("iters", 0)), speed,
                                        _fmt_bytes(res.get("peak_bytes")), res.get("dtype", "-"),
                                        _metric(res.get("metrics"), r.get("metric")), status]) + " |")
    return "\n".join(lines)


def _data_root() -> Path:
    # the same rule as tasks.common.fetch.data_root (not imported: it would load torch into this process)
    return Path(os.environ.get("IMIXER_DATA") or ROOT / "data")


def ensure_dataset(task: Task, prepare: bool, env: dict) -> Optional[str]:
    """``None`` when the task's prepared data is present (preparing it if allowed), else why not."""
    if task.dataset is None:
        return None
    name, rel = task.dataset
    path = _data_root() / rel
    if path.exists():
        return None
    if not prepare:
        return f"{path} missing: run `python tools/prepare_data.py {name}` (and carry data/ to this machine)"
    print(f"[gpu_check] {task.name}: {path} missing, running tools/prepare_data.py {name}", flush=True)
    proc = subprocess.run([sys.executable, str(TOOLS / "prepare_data.py"), name], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    if proc.returncode != 0 or not path.exists():
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1][:200]
        return f"`python tools/prepare_data.py {name}` failed ({last}); prepare data/ where a registry is reachable"
    return None


def run_task(task: Task, config: str, args, env: dict) -> dict:
    """Run one task in its own process; returns ``dict(task, config, status, reason, result, log)``."""
    from mmengine.config import Config

    row = dict(task=task.name, config=config, metric=task.metric, result=None)
    work = Path(args.work_dir).resolve()
    task_dir = work / task.name
    shutil.rmtree(task_dir, ignore_errors=True)
    task_dir.mkdir(parents=True)
    log_path = task_dir / "log.txt"
    row["log"] = str(log_path)
    missing = ensure_dataset(task, args.prepare, env)
    if missing:
        row.update(status="FAIL", reason=missing)
        return row
    cfg = Config.fromfile(str(ROOT / config), import_custom_modules=False)
    opts = task.options(cfg, args.iters, work) + ["default_hooks.logger.interval=1"] + list(args.cfg_options or [])
    if args.amp_dtype:
        opts.append(f"optim_wrapper.dtype={args.amp_dtype}")
    warmup = min(args.warmup, args.iters - 1)
    train_argv = [config, "--work-dir", str(task_dir / "work"), "--device", args.device,
                  *(["--amp"] if args.amp else []), "--cfg-options", *opts]
    cmd = [sys.executable, str(TOOLS / "train.py"), *train_argv]
    print(f"[gpu_check] {task.name}: {' '.join(cmd[2:])}", flush=True)
    start = time.perf_counter()
    with open(log_path, "w") as log:
        try:
            proc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                  timeout=args.timeout)
            returncode: Optional[int] = proc.returncode
        except subprocess.TimeoutExpired:
            returncode = None
    tail = log_path.read_text(errors="replace")[-6000:]
    probe_path = task_dir / "work" / "probe.json"  # written by the config's RunProbeHook
    result = json.loads(probe_path.read_text()) if probe_path.exists() else None
    if result is not None:
        result.update(time_s=None, warmup=warmup, metrics=result.get("val"))
        rate = probe_rate(result, warmup)
        if rate is not None:
            result["time_s"] = (args.iters - warmup) / rate
    row["result"] = result
    row["status"], row["reason"] = judge(result, returncode, tail, task.metric)
    row["wall_s"] = time.perf_counter() - start
    print(f"[gpu_check] {task.name}: {row['status']} {row['reason']} ({row['wall_s']:.0f} s, log {log_path})",
          flush=True)
    if row["status"] != "ok":
        print("\n".join(tail.splitlines()[-25:]), flush=True)
    return row


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", choices=["cuda", "cpu"], default="cuda", help="device to check (default cuda)")
    parser.add_argument("--iters", type=int,
                        help="training iterations per task (default 30 on CUDA, 10 on the CPU)")
    parser.add_argument("--warmup", type=int, default=2,
                        help="iterations left out of the iterations/s (default 2; at most iters - 1)")
    parser.add_argument("--amp", action="store_true", help="tools/train.py --amp (float16 on CUDA, bfloat16 on CPU)")
    parser.add_argument("--amp-dtype", choices=["float16", "bfloat16"],
                        help="with --amp: the autocast dtype instead of the device's default")
    parser.add_argument("--tasks", nargs="+", choices=list(TASKS), default=list(TASKS), help="tasks to check")
    parser.add_argument("--twin", action="store_true", help="check the explicit twins (token_mixer='mlp') instead")
    parser.add_argument("--config", nargs="+", default=[], metavar="TASK=PATH",
                        help="use another config for a task (the task's overrides still apply)")
    parser.add_argument("--cfg-options", nargs="+", metavar="KEY=VALUE",
                        help="extra overrides for every task's config, after the check's own")
    parser.add_argument("--no-prepare", dest="prepare", action="store_false",
                        help="fail a task whose prepared data is missing instead of running tools/prepare_data.py")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per task (default 900)")
    parser.add_argument("--work-dir", default=str(ROOT / "work_dirs" / "gpu_check"),
                        help="logs, work directories and generated scenes (default work_dirs/gpu_check)")
    parser.add_argument("--out", help="also write the Markdown table (with a header) to this file")
    args = parser.parse_args(argv)
    if args.iters is None:
        args.iters = 30 if args.device == "cuda" else 10
    if args.iters < 1:
        parser.error(f"--iters must be >= 1, got {args.iters}")
    if args.amp_dtype and not args.amp:
        parser.error("--amp-dtype needs --amp")
    overrides = {}
    for item in args.config:
        task, sep, path = item.partition("=")
        if not sep or task not in TASKS:
            parser.error(f"--config takes TASK=PATH with TASK one of {list(TASKS)}, got {item!r}")
        if not (ROOT / path).is_file() and not Path(path).is_file():
            parser.error(f"--config {item}: no such file")
        overrides[task] = path
    args.config = overrides
    return args


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("TRANSFORMERS_OFFLINE", "1")
    if args.device == "cpu":
        env["CUDA_VISIBLE_DEVICES"] = ""
    else:
        probe = subprocess.run([sys.executable, "-c", "import torch; print(torch.cuda.is_available())"],
                               capture_output=True, text=True, env=env)
        if probe.stdout.strip() != "True":
            print("gpu_check: --device cuda but torch sees no CUDA device (use --device cpu)", file=sys.stderr)
            return 2
    rows = []
    for name in args.tasks:
        task = TASKS[name]
        config = args.config.get(name) or (task.twin if args.twin else task.config)
        rows.append(run_task(task, config, args, env))
    info = next((r["result"] for r in rows if r.get("result") and r["result"].get("torch")), {})
    mode = f"amp ({args.amp_dtype or 'device default'})" if args.amp else "fp32"
    header = (f"gpu_check --device {args.device} --iters {args.iters}{' --amp' if args.amp else ''}"
              f"{' --amp-dtype ' + args.amp_dtype if args.amp_dtype else ''}{' --twin' if args.twin else ''}: "
              f"{info.get('device', args.device)}, torch {info.get('torch', '?')}, "
              f"Python {info.get('python', platform.python_version())}, {mode}, "
              f"{datetime.date.today().isoformat()}")
    text = f"{header}\n\n{table(rows, args.device)}\n"
    print("\n" + text, flush=True)
    if args.out:
        Path(args.out).write_text(text)
    return 0 if all(r["status"] == "ok" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
