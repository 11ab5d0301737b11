"""Runner hooks shared by every task."""
from __future__ import annotations

from typing import Optional

from mmengine.hooks import Hook

from backbones import collect_solver_stats, name_implicit_layers
from backbones.implicit import attach_jacobian_loss
from backbones.registry import HOOKS

from .models import unwrap_model


@HOOKS.register_module()
class SolverStatsHook(Hook):
    """Log the implicit layers' solver statistics (iterations, worst relative residual, non-finite
    samples, and the adjoint residual of the implicit gradient).

    After every training iteration (and every validation / test iteration, averaged by the log
    processor) the statistics gathered since the previous iteration are written to the message hub as
    ``train/solver_iters``, ``train/solver_residual``, ``train/solver_nonfinite``, ... (``val/...``,
    ``test/...``), so the logger and every visualisation backend show them next to the loss. The hook
    runs before the ``LoggerHook`` (priority ``NORMAL`` < ``BELOW_NORMAL``), so every logged iteration
    carries them. Before the run it names every implicit layer by its module path, for warnings, and
    when a layer has a Jacobian penalty (``jac_reg > 0``) makes the model's loss dict carry it as
    ``loss_jac`` (:func:`~backbones.implicit.attach_jacobian_loss`), so it is optimised and logged with
    the other losses. Models without implicit layers log nothing.
    """

    priority = "NORMAL"

    def before_run(self, runner) -> None:
        name_implicit_layers(unwrap_model(runner.model))
        attach_jacobian_loss(unwrap_model(runner.model))

    def _log(self, runner, mode: str) -> None:
        for key, value in collect_solver_stats(unwrap_model(runner.model)).items():
            runner.message_hub.update_scalar(f"{mode}/{key}", value)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs: Optional[dict] = None) -> None:
        self._log(runner, "train")

    def after_val_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        self._log(runner, "val")

    def after_test_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        self._log(runner, "test")
