"""Hooks that inject faults into real training runs (imported by the tests' configs through
``custom_imports=['fault_hooks']`` with this folder on ``PYTHONPATH``)."""
import os

import torch
from mmengine.hooks import Hook

from backbones.registry import HOOKS


@HOOKS.register_module()
class PoisonBatchHook(Hook):
    """Write NaN into the first element of the batch's ``inputs`` before training iteration ``at_iter``
    (0-based, ``runner.iter``). Runs before the NonFiniteHook (higher priority)."""

    priority = "HIGHEST"

    def __init__(self, at_iter: int) -> None:
        self.at_iter = at_iter

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if runner.iter == self.at_iter:
            data_batch["inputs"].view(-1)[0] = float("nan")


@HOOKS.register_module()
class DumpRankStateHook(Hook):
    """After training, every rank saves its model and optimizer state to ``<out_dir>/rank<r>.pth``."""

    priority = "LOWEST"

    def __init__(self, out_dir: str) -> None:
        self.out_dir = out_dir

    def after_train(self, runner):
        model = runner.model.module if hasattr(runner.model, "module") else runner.model
        os.makedirs(self.out_dir, exist_ok=True)
        torch.save(dict(state_dict=model.state_dict(), optimizer=runner.optim_wrapper.state_dict()),
                   os.path.join(self.out_dir, f"rank{runner.rank}.pth"))
