"""Parameter schedules that follow the run's length.

The shipped configs plan their schedules (warm-up, cosine decay) for the run length they set
(``train_cfg.max_epochs`` / ``max_iters``). When a user shortens or lengthens the run with
``--cfg-options train_cfg.max_epochs=6``, mmengine would keep the planned boundaries, so a cosine planned
for 30 epochs is still high when the 6 epochs end. :func:`rescale_for_run` (called by
:class:`tasks.common.runner.IMixerRunner` when it builds the schedulers, the epoch length known) rescales
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
    return _length(cfg.get("train_cfg") or {})


def _length(train) -> Optional[tuple]:
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


def rescale_for_run(schedulers, planned_cfg, cfg, epoch_length: int):
    """``schedulers`` (configs, a list or a dict of lists per optimizer) scaled from the run length they
    were written for to the run's (``cfg``, after the overrides).

    The length they were written for is the config's ``schedule_length`` (``dict(max_iters=N)`` /
    ``dict(max_epochs=N)``, set beside the schedule in ``configs/_base_/schedules/*.py``), else the run
    length of the config file as written (``planned_cfg``). So a leaf config that sets its own
    ``train_cfg.max_iters`` over a base schedule gets that schedule scaled to its run, and so does a
    ``--cfg-options`` override. Unchanged when the two lengths agree, when they count different units, or
    when the run's ``param_scheduler`` differs from the file's (the user set the schedule: used as given).
    """
    written = cfg.get("schedule_length")
    planned, actual = (_length(written) if written else run_length(planned_cfg)), run_length(cfg)
    if (planned is None or actual is None or planned[0] != actual[0] or planned[1] == actual[1]
            or _plain(planned_cfg.get("param_scheduler")) != _plain(cfg.get("param_scheduler"))):
        return schedulers
    factor = actual[1] / planned[1]
    epoch_length = epoch_length if actual[0] == "epochs" else 1
    dropped: list = []
    if isinstance(schedulers, dict):  # one list per optimizer of an OptimWrapperDict
        out = {k: rescale_schedulers(v, factor, epoch_length, dropped) for k, v in schedulers.items()}
    else:
        out = rescale_schedulers(schedulers if isinstance(schedulers, list) else [schedulers], factor,
                                 epoch_length, dropped)
    note = f"; too short for this run, dropped: {', '.join(dropped)}" if dropped else ""
    print_log(f"param_scheduler planned for {planned[1]} {planned[0]}, this run has {actual[1]}: its boundaries "
              f"are scaled by {factor:.4g} to follow the run{note}. Now: {out}", logger="current", level=logging.INFO)
    return out


def _plain(value):
    """Config values as plain Python (ConfigDict -> dict) for comparison."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
