"""``RunProbeHook``: one JSON record of what a run measured, for benchmarks and device checks.

Every runtime base adds it (``custom_hooks``), so every ``tools/train.py`` run leaves
``<work_dir>/probe.json`` (rank 0), rewritten atomically as the run goes:

* ``model``, ``params``, ``dtype`` (the optimiser wrapper's autocast dtype, else the parameters'),
  ``optim_wrapper``, ``device``, ``torch``, ``python``;
* ``iters`` (training iterations run by this process), ``train_s`` (wall time of training, validation
  excluded), ``iters_per_s`` after ``warmup`` iterations (``(n - warmup) / (t_n - t_warmup)``, timed at
  the end of each training iteration, data loading included, with ``torch.cuda.synchronize`` on CUDA),
  and ``train_s_at``: the training time at the end of each of the first :data:`TIMED_ITERS` iterations, so
  a reader can leave out another warm-up;
* ``peak_bytes``: ``torch.cuda.max_memory_allocated`` on CUDA, the process's peak resident set size on the
  CPU;
* ``losses`` (the last iteration's), ``nonfinite`` (the first iteration whose loss was NaN / inf);
* ``solver``: the mean of every logged implicit-solver statistic over training
  (``train/solver_iters``, ``train/solver_residual``, ...; see :class:`tasks.common.hooks.SolverStatsHook`);
* ``val`` (the last validation's metrics) and ``test`` (the test split's metrics).
"""
from __future__ import annotations

import json
import math
import os
import platform
import resource
import time
from pathlib import Path
from typing import Optional

import torch
from mmengine.dist import is_main_process
from mmengine.hooks import Hook

from backbones.registry import HOOKS

from .models import unwrap_model
from .testing import json_value

PROBE_FILE = "probe.json"
TIMED_ITERS = 64


def cpu_name() -> str:
    """The CPU's model name and core count."""
    try:
        with open("/proc/cpuinfo") as f:
            model = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), "cpu")
    except OSError:
        model = platform.processor() or "cpu"
    return f"{model}, {os.cpu_count()} cores"


def rate_after(probe: dict, warmup: int) -> Optional[float]:
    """Training iterations per second after the first ``warmup`` ones (``warmup <= TIMED_ITERS``), from a
    probe record (``probe.json``); ``None`` until more than ``warmup`` iterations ran."""
    times, n = probe.get("train_s_at") or [], probe.get("iters", 0)
    if n <= warmup or len(times) < warmup:
        return None
    start = times[warmup - 1] if warmup else 0.0
    return (n - warmup) / max(probe["train_s"] - start, 1e-9)


def _number(value):
    value = json_value(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return value


@HOOKS.register_module()
class RunProbeHook(Hook):
    """Write ``<work_dir>/probe.json`` (see the module doc).

    Args:
        warmup: training iterations left out of ``iters_per_s`` (compilation, allocator warm-up).
    """

    priority = "VERY_LOW"

    def __init__(self, warmup: int = 2) -> None:
        if not isinstance(warmup, int) or not 0 <= warmup <= TIMED_ITERS:
            raise ValueError(f"RunProbeHook(warmup={warmup!r}): use a whole number of iterations in 0..{TIMED_ITERS}")
        self.warmup = warmup
        self.res: dict = {}
        self._cuda = False
        self._t0: Optional[float] = None
        self._solver: dict = {}

    def _now(self) -> float:
        if self._cuda:
            torch.cuda.synchronize()
        return time.perf_counter()

    def before_train(self, runner) -> None:
        model = unwrap_model(runner.model)
        param = next(model.parameters(), None)
        self._cuda = param is not None and param.device.type == "cuda"
        if self._cuda:
            torch.cuda.reset_peak_memory_stats()
        ow = runner.optim_wrapper
        if "Amp" in type(ow).__name__:  # mmengine's AmpOptimWrapper autocasts to float16 when no dtype is given
            dtype = getattr(ow, "cast_dtype", None) or (torch.float16 if self._cuda else torch.bfloat16)
        else:
            dtype = param.dtype if param is not None else None
        parts = [type(model).__name__]
        for attr in ("backbone", "hf_model", "model"):
            if isinstance(getattr(model, attr, None), torch.nn.Module):
                parts.append(type(getattr(model, attr)).__name__)
                break
        self.res.update(
            model="/".join(parts), params=sum(p.numel() for p in model.parameters()),
            dtype=str(dtype).replace("torch.", ""), optim_wrapper=type(ow).__name__,
            device=torch.cuda.get_device_name(param.device) if self._cuda else cpu_name(),
            torch=torch.__version__, python=platform.python_version(), warmup=self.warmup,
            iters=0, train_s=0.0, train_s_at=[], iters_per_s=None, peak_bytes=None, losses={}, nonfinite=None,
            solver={},
            val=None, test=None)
        self._t0 = self._now()
        self._dump(runner)

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        if self._t0 is None:
            self._t0 = self._now()

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        n = self.res["iters"] = self.res.get("iters", 0) + 1
        losses = {k: _number(v) for k, v in (outputs or {}).items() if "loss" in k}
        self.res["losses"] = losses
        bad = {k: v for k, v in losses.items() if isinstance(v, float) and not math.isfinite(v)}
        if bad and self.res.get("nonfinite") is None:
            self.res["nonfinite"] = dict(iter=n, losses=bad)
        for key, buf in runner.message_hub.log_scalars.items():
            if key.startswith("train/solver_"):
                total, count = self._solver.get(key, (0.0, 0))
                self._solver[key] = (total + float(buf.current()), count + 1)
        now = self._now()
        self.res["train_s"] = self.res.get("train_s", 0.0) + (now - self._t0)
        if n <= TIMED_ITERS:
            self.res.setdefault("train_s_at", []).append(self.res["train_s"])
        self.res["iters_per_s"] = rate_after(self.res, self.warmup)
        self._t0 = None  # validation between iterations is not training time
        if self._cuda:
            self.res["peak_bytes"] = torch.cuda.max_memory_allocated()
        else:  # Linux reports kibibytes
            self.res["peak_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

    def after_train(self, runner) -> None:
        self.res["solver"] = {k.split("/", 1)[1]: total / count for k, (total, count) in self._solver.items()}
        self._dump(runner)

    def after_val_epoch(self, runner, metrics: Optional[dict] = None) -> None:
        self.res["val"] = {k: _number(v) for k, v in (metrics or {}).items()}
        self._dump(runner)

    def after_test_epoch(self, runner, metrics: Optional[dict] = None) -> None:
        self.res["test"] = {k: _number(v) for k, v in (metrics or {}).items()}
        self._dump(runner)

    def _dump(self, runner) -> None:
        if not is_main_process() or not self.res:
            return
        path = Path(runner.work_dir) / PROBE_FILE
        tmp = path.with_name(f"{PROBE_FILE}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(self.res, indent=1))
        os.replace(tmp, path)


__all__ = ["RunProbeHook", "PROBE_FILE", "TIMED_ITERS", "cpu_name", "rate_after"]
