"""The device check's library (``tools/gpu_check.py``): every task's real config, a few iterations.

Each task package registers its smoke settings in :data:`TASKS` on import (:func:`register_smoke_task`: its
config, its twin,
the ``--cfg-options`` that make a tiny run, the metric that must come back, the prepared data it reads),
so adding a task touches its own package only. :func:`run_task` runs ``tools/train.py`` in a subprocess;
the run's :class:`tasks.common.probe.RunProbeHook` writes ``probe.json`` (losses, time, memory, dtype,
metrics), which :func:`judge` and :func:`table` read.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from .probe import rate_after

ROOT = Path(__file__).resolve().parents[2]


# -- the tasks ---------------------------------------------------------------------------------------------
def loader_opts(key: str, value, loaders: Sequence[str] = ("train", "val", "test")) -> List[str]:
    return [f"{name}_dataloader.{key}={value}" for name in loaders]


def subset_options(cfg, iters: int, work: Path) -> List[str]:
    """One epoch over ``batch x iters`` training items, the val split subset to two batches."""
    bs = cfg.train_dataloader.batch_size
    return ["train_cfg.max_epochs=1", f"train_dataloader.dataset.subset={bs * iters}",
            f"val_dataloader.dataset.subset={2 * cfg.val_dataloader.batch_size}"]


def iters_options(cfg, iters: int, work: Path) -> List[str]:
    """``iters`` iterations of an iteration-based loop, validated and checkpointed at the end."""
    return [f"train_cfg.max_iters={iters}", f"train_cfg.val_interval={iters}",
            f"default_hooks.checkpoint.interval={iters}"]


def scenes_options(cfg, iters: int, work: Path) -> List[str]:
    """Detection and segmentation: tiny digit scenes generated (``generate=True``) in the work directory,
    ``batch x iters`` training and ``2 x batch`` validation scenes."""
    bs = cfg.train_dataloader.batch_size
    num_train, num_val = bs * iters, 2 * cfg.val_dataloader.batch_size
    root = work / f"digit_scenes_{num_train}_{num_val}"
    return ([f"train_cfg.max_iters={iters}", f"train_cfg.val_interval={iters}"]
            + loader_opts("dataset.data_root", root) + loader_opts("dataset.scenes.num_train", num_train)
            + loader_opts("dataset.scenes.num_val", num_val) + loader_opts("dataset.generate", True))


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


#: name -> Task; each task package registers its own (:func:`register_smoke_task`)
TASKS: Dict[str, Task] = {}


def register_smoke_task(task: Task) -> Task:
    """Add ``task`` to the device check (``tools/gpu_check.py --tasks NAME``)."""
    if task.name in TASKS:
        raise KeyError(f"smoke task {task.name!r} registered twice")
    TASKS[task.name] = task
    return task


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
    proc = subprocess.run([sys.executable, str(ROOT / "tools" / "prepare_data.py"), name], cwd=ROOT, env=env,
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
    cmd = [sys.executable, str(ROOT / "tools" / "train.py"), *train_argv]
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
        rate = rate_after(result, warmup)
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
