"""Parameter schedules that follow the run's length.

The shipped configs plan their schedules (warm-up, cosine decay) for the run length they set
(``train_cfg.max_epochs`` / ``max_iters``). When a user shortens or lengthens the run with
``--cfg-options train_cfg.max_epochs=6``, mmengine would keep the planned boundaries, so a cosine planned
for 30 epochs is still high when the 6 epochs end. :func:`follow_run_length` (called by
``tools/train.py`` between building the Runner and training, when the epoch length is known) rescales
every scheduler's ``begin`` / ``end`` / ``T_max`` / ``milestones`` / ``step_size`` by
``actual length / planned length``. Epoch-based schedulers that convert to iterations are resolved to
iterations here (exact phase lengths in steps); a phase left with fewer than two steps is dropped.
"""
from __future__ import annotations

import copy
import logging
from typing import Iterable, List, Optional

from mmengine.logging import print_log

INF = int(1e9)  # mmengine's open end
STEP_KEYS = ("T_max", "step_size")


def run_length(cfg) -> Optional[tuple]:
    """``('epochs', max_epochs)`` or ``('iters', max_iters)`` of the config's training loop (or ``None``)."""
    train = cfg.get("train_cfg") or {}
    if train.get("max_epochs") is not None:
        return ("epochs", train["max_epochs"])
    if train.get("max_iters") is not None:
        return ("iters", train["max_iters"])
    return None


def _scale(value, factor: float, per_unit: int) -> int:
    """``value * factor`` in steps (iterations, or whole epochs for epoch-stepped schedulers)."""
    return max(int(round(value * factor * per_unit)), 0)


def rescale_schedulers(schedulers: Iterable[dict], factor: float, epoch_length: int,
                       dropped: Optional[list] = None) -> List[dict]:
    """Scheduler configs with their boundaries times ``factor``; epoch-based ones that convert to
    iterations come back iteration-based (``epoch_length`` iterations per epoch). A phase left with
    fewer than two steps is dropped (its type appended to ``dropped``)."""
    out = []
    dropped = [] if dropped is None else dropped
    for sched in schedulers:
        s = copy.deepcopy(dict(sched))
        to_iters = s.get("by_epoch", True) and s.pop("convert_to_iter_based", False)
        per_unit = epoch_length if to_iters else 1
        begin = _scale(s.get("begin", 0), factor, per_unit)
        end = s.get("end", INF)
        if end < INF:
            end = _scale(end, factor, per_unit)
            if end - begin < 2:  # one step would only apply the phase's first factor (a warm-up's 0.01, forever)
                dropped.append(s["type"])
                continue
            s["end"] = end
        s["begin"] = begin
        for key in STEP_KEYS:
            if s.get(key) is not None:
                s[key] = max(_scale(s[key], factor, per_unit), 1)
        if s.get("milestones") is not None:
            s["milestones"] = [max(_scale(m, factor, per_unit), begin + 1) for m in s["milestones"]]
        if to_iters:
            s["by_epoch"] = False
        out.append(s)
    return out


def follow_run_length(runner, planned: Optional[tuple], cfg_options: Optional[dict] = None) -> None:
    """Rescale ``runner``'s (not yet built) param schedulers from the ``planned`` run length (the
    config's, see :func:`run_length`) to the run's actual one; nothing changes when they agree, when
    the user set ``param_scheduler`` in ``cfg_options``, or when the schedulers are already built.
    """
    actual = run_length(runner.cfg)
    schedulers = runner.param_schedulers
    if (planned is None or actual is None or planned[0] != actual[0] or planned[1] == actual[1]
            or any(k.startswith("param_scheduler") for k in (cfg_options or {}))):
        return
    if isinstance(schedulers, dict):
        if not all(isinstance(v, list) and all(isinstance(s, dict) for s in v) for v in schedulers.values()):
            return
    elif not isinstance(schedulers, list) or not schedulers or not all(isinstance(s, dict) for s in schedulers):
        return
    factor = actual[1] / planned[1]
    epoch_length = len(runner.train_dataloader) if actual[0] == "epochs" else 1
    dropped: list = []
    if isinstance(schedulers, dict):  # one list per optimizer of an OptimWrapperDict
        runner.param_schedulers = {k: rescale_schedulers(v, factor, epoch_length, dropped)
                                   for k, v in schedulers.items()}
    else:
        runner.param_schedulers = rescale_schedulers(schedulers, factor, epoch_length, dropped)
    note = f"; too short for this run, dropped: {', '.join(dropped)}" if dropped else ""
    print_log(f"param_scheduler planned for {planned[1]} {planned[0]}, this run has {actual[1]}: its boundaries "
              f"are scaled by {factor:.4g} to follow the run{note}. Now: {runner.param_schedulers}",
              logger="current", level=logging.INFO)
