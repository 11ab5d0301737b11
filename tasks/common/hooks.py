"""Runner hooks shared by every task."""
from __future__ import annotations

from typing import Optional

from mmengine.hooks import Hook

from backbones import collect_solver_stats
from backbones.registry import HOOKS


@HOOKS.register_module()
class SolverStatsHook(Hook):
    """Log the implicit layers' solver statistics (mean / max iterations, worst relative residual).

    After every training iteration (and every validation / test iteration, averaged by the log
    processor) the statistics of the last forward are written to the message hub as
    ``train/solver_iters``, ``train/solver_residual`` (``val/...``, ``test/...``), so the logger and
    every visualisation backend show them next to the loss. Models without implicit layers log nothing.
    """

    priority = "LOW"

    def _log(self, runner, mode: str) -> None:
        model = runner.model.module if hasattr(runner.model, "module") else runner.model
        for key, value in collect_solver_stats(model).items():
            runner.message_hub.update_scalar(f"{mode}/{key}", value)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs: Optional[dict] = None) -> None:
        self._log(runner, "train")

    def after_val_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        self._log(runner, "val")

    def after_test_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        self._log(runner, "test")
