"""A training guard against NaN / inf: stop with a message naming the iteration, or skip the batch.

:class:`NonFiniteHook` is one of the default hooks of every shipped runtime
(``default_hooks.nonfinite``). It looks at each training batch's float tensors before the forward pass
and at the gradients right before the optimizer steps (a hook on the optimizer's ``step``), so the
parameters are never updated from a non-finite loss and the last checkpoint stays a good one.

* ``action='raise'`` (default): the run stops with :class:`NonFiniteError` (``tools/train.py`` prints its
  one-line message) naming the iteration and the last checkpoint to resume from.
* ``action='skip'``: the batch is dropped: no parameter update, and the model's buffers (batch-norm
  statistics, spectral-norm vectors) are restored to their state before the batch. Each skip is logged;
  ``max_skips`` bounds how many a run may skip before it stops.

In distributed runs the ranks agree on every skip (one all-reduce per step), so they stay identical.
"""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import torch
from mmengine.hooks import Hook

from backbones.registry import HOOKS

from .models import unwrap_model


class NonFiniteError(RuntimeError):
    """Training met NaN / inf (in a batch, the loss or the gradients) with ``action='raise'``."""


def _nonfinite_fields(batch, prefix: str = "") -> List[str]:
    """Names of the float tensors in ``batch`` (dicts, lists, tuples of tensors) that hold NaN / inf."""
    if isinstance(batch, torch.Tensor):
        return [prefix or "batch"] if batch.is_floating_point() and not torch.isfinite(batch).all() else []
    if isinstance(batch, dict):
        items = batch.items()
    elif isinstance(batch, (list, tuple)):
        items = ((str(i), v) for i, v in enumerate(batch))
    else:
        return []
    found = []
    for key, value in items:
        found += _nonfinite_fields(value, f"{prefix}.{key}" if prefix else str(key))
    return found


def _sanitize(batch) -> None:
    """Replace NaN / inf by zeros in place (the batch is skipped; this only keeps the forward pass quiet)."""
    if isinstance(batch, torch.Tensor):
        if batch.is_floating_point():
            batch.nan_to_num_(0.0, 0.0, 0.0)
    elif isinstance(batch, dict):
        for value in batch.values():
            _sanitize(value)
    elif isinstance(batch, (list, tuple)):
        for value in batch:
            _sanitize(value)


@HOOKS.register_module()
class NonFiniteHook(Hook):
    """Stop on (``action='raise'``) or skip (``action='skip'``) training batches with NaN / inf.

    Args:
        action: ``'raise'`` or ``'skip'``.
        check_inputs: also check the batch's float tensors before the forward pass (besides the
            gradients before every optimizer step).
        max_skips: with ``'skip'``, stop once more than this many batches were skipped (``None``: never).
    """

    priority = "ABOVE_NORMAL"

    def __init__(self, action: str = "raise", check_inputs: bool = True, max_skips: Optional[int] = None) -> None:
        if action not in ("raise", "skip"):
            raise ValueError(f"NonFiniteHook action must be 'raise' or 'skip', got {action!r}")
        self.action, self.check_inputs, self.max_skips = action, check_inputs, max_skips
        self.skipped = 0
        self._handles: list = []
        self._problem: Optional[str] = None
        self._where = ""
        self._buffers: Optional[List[torch.Tensor]] = None
        self._runner = None

    # -- wiring ----------------------------------------------------------------------------------------
    def before_train(self, runner) -> None:
        self._runner = runner
        wrappers = runner.optim_wrapper.values() if hasattr(runner.optim_wrapper, "values") else [runner.optim_wrapper]
        self._handles = [w.optimizer.register_step_pre_hook(self._before_step) for w in wrappers]

    def after_train(self, runner) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def _model(self):
        return unwrap_model(self._runner.model)

    # -- checks ----------------------------------------------------------------------------------------
    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        loop = runner.train_loop
        self._where = f"training iteration {runner.iter + 1}"
        if hasattr(loop, "max_epochs"):
            self._where += f" (epoch {runner.epoch + 1}, batch {batch_idx + 1})"
        if self.action == "skip":
            self._buffers = [b.detach().clone() for b in self._model().buffers()]
        if not self.check_inputs:
            return
        fields = _nonfinite_fields(data_batch)
        if fields:
            self._problem = self._problem or f"the batch holds NaN / inf in {', '.join(fields)}"
            if self.action == "raise":
                self._stop(self._problem)
            _sanitize(data_batch)

    def _grads_finite(self, optimizer) -> bool:
        grads = [p.grad for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
        if not grads:
            return True
        return bool(torch.stack([n.float() for n in torch._foreach_norm(grads)]).isfinite().all())

    def _before_step(self, optimizer, args, kwargs) -> None:
        problem = self._problem
        if problem is None and not self._grads_finite(optimizer):
            problem = "the loss or the gradients are NaN / inf"
        self._problem = None
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():  # every rank takes the same decision
            flag = torch.tensor([problem is not None], dtype=torch.float32,
                                device=next(iter(optimizer.param_groups))["params"][0].device)
            dist.all_reduce(flag, op=dist.ReduceOp.MAX)
            if flag.item() and problem is None:
                problem = "another rank met NaN / inf"
        if problem is None:
            return
        if self.action == "raise":
            self._stop(problem)
        self.skipped += 1
        if self.max_skips is not None and self.skipped > self.max_skips:
            self._stop(f"{problem}, and {self.skipped} batches were skipped (more than max_skips={self.max_skips})")
        for group in optimizer.param_groups:  # no gradient: the optimizer leaves the parameter and its state
            for p in group["params"]:
                p.grad = None
        if self._buffers is not None:
            with torch.no_grad():
                for buf, saved in zip(self._model().buffers(), self._buffers):
                    buf.copy_(saved)
        self._runner.logger.warning(f"{self._where}: {problem}; skipped this batch (no update; "
                                    f"{self.skipped} skipped so far)")

    def _stop(self, problem: str) -> None:
        pointer = Path(self._runner.work_dir) / "last_checkpoint"
        last = pointer.read_text().strip() if pointer.is_file() else None
        saved = f"the last checkpoint, {last}, is intact" if last else "no checkpoint was saved yet"
        raise NonFiniteError(f"{self._where}: {problem}. The parameters were not updated and {saved}. "
                             "To skip such batches instead, set default_hooks.nonfinite.action='skip'.")
