"""``IMixerRunner``: mmengine's Runner with what every imixer run needs, extended the public way.

Every runtime base (``configs/_base_/default_runtime.py`` and the mmdet / mmseg ones) names it with
``runner_type = 'IMixerRunner'``, so ``tools/train.py``, ``tools/test.py``, the grid runner
(``tools/benchmark.py``) and ``tools/gpu_check.py`` all build the same Runner from the config. It adds,
through overridden public methods only (no private attribute of mmengine is written):

* **split checks before training** (:meth:`train`): the train / val / test loops are built through the
  Runner's own ``train_loop`` / ``val_loop`` / ``test_loop`` properties and every split is checked
  (:func:`tasks.common.testing.check_splits`), so a bad test split fails in seconds;
* **schedules that follow the run** (:meth:`build_param_scheduler`): when ``--cfg-options`` makes the
  run shorter or longer than the config file plans (``train_cfg.max_iters`` / ``max_epochs``), the
  warm-up / cosine boundaries are scaled to the run (:func:`tasks.common.schedules.rescale_schedulers`);
  a schedule the user overrode is left as given;
* **a probe of every run**: a :class:`tasks.common.probe.RunProbeHook` is registered unless the config
  has one, so every run leaves ``<work_dir>/probe.json`` (time, peak memory, losses, solver statistics,
  metrics) whatever its ``custom_hooks``;
* **the test split after training** (``test_after_train=True``, the default): the best checkpoint of
  the ``CheckpointHook``'s ``save_best`` rule (else the last one, else the final weights) is loaded as
  weights only and evaluated with the config's ``test_evaluator``; ``<work_dir>/test_metrics.json`` holds
  the metrics and the checkpoint.

Config keys it reads (top level, all optional): ``test_after_train`` (bool, default ``True``),
``schedule_length`` (the run a base schedule is written for: ``configs/_base_/schedules/*.py``) and
``config_resolvers``: names of functions registered in the ``imixer`` ``FUNCTIONS`` registry that derive
settings after the overrides (``resolve_text_config`` spreads a text run's ``max_length``, ``source``, ...
into every place), called on the config before the Runner is built.
"""
from __future__ import annotations

import json
import os.path as osp
from typing import Optional

from mmengine.config import Config
from mmengine.dist import broadcast_object_list, get_world_size, is_main_process
from mmengine.runner import Runner

from backbones.registry import _CHILDREN

from .probe import RunProbeHook
from .schedules import rescale_for_run
from .testing import TEST_METRICS_FILE, check_splits, json_value, select_checkpoint

RUNNERS = _CHILDREN["RUNNERS"]
FUNCTIONS = _CHILDREN["FUNCTIONS"]  # config resolvers: ``config_resolvers = ['resolve_text_config']``
_KEEP_WEIGHTS = object()  # "test the weights in memory" (no checkpoint was saved)


class ConfigError(ValueError):
    """The config's settings contradict each other; the message names the options and the fix."""


@RUNNERS.register_module()
class IMixerRunner(Runner):
    """mmengine's ``Runner`` plus split checks, run-length schedules and the test after training.

    Built from a config by ``RUNNERS.build(cfg)`` (``runner_type='IMixerRunner'``) or
    ``IMixerRunner.from_cfg(cfg)``; the constructor is mmengine's.
    """

    _pending_test_checkpoint = None  # set by :meth:`train`, consumed by :meth:`load_or_resume`

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not any(isinstance(h, RunProbeHook) for h in self.hooks):
            self.register_hook(RunProbeHook())

    @classmethod
    def from_cfg(cls, cfg: Config) -> "IMixerRunner":
        """mmengine's ``from_cfg``, after the config's ``config_resolvers`` have run on ``cfg``."""
        for name in cfg.get("config_resolvers") or []:
            resolver = FUNCTIONS.get(name)
            if resolver is None:
                raise ConfigError(f"config_resolvers names {name!r}, which is not registered; known: "
                                  f"{', '.join(sorted(FUNCTIONS.module_dict)) or 'none'} (is the task in "
                                  "custom_imports?)")
            try:
                resolver(cfg)
            except (ValueError, FileNotFoundError) as exc:  # the user's settings or files: one line with the fix
                raise ConfigError(str(exc)) from exc
        return super().from_cfg(cfg)

    # -- what the config file planned ------------------------------------------------------------------
    def _planned_config(self) -> Optional[Config]:
        """The config file as written (before ``--cfg-options``), or ``None`` for an in-memory config."""
        filename = getattr(self.cfg, "filename", None)
        if not filename or not osp.isfile(filename):
            return None
        return Config.fromfile(filename, import_custom_modules=False)

    def build_param_scheduler(self, scheduler):
        """Build the schedulers, first scaling their boundaries to this run's length (see the module doc)."""
        if isinstance(scheduler, (list, dict)) and not self._built(scheduler):
            planned = self._planned_config()
            if planned is not None:
                epoch_length = len(self.train_dataloader) if self.train_dataloader is not None else 1
                scheduler = rescale_for_run(scheduler, planned, self.cfg, epoch_length)
        return super().build_param_scheduler(scheduler)

    @staticmethod
    def _built(scheduler) -> bool:
        items = scheduler.values() if isinstance(scheduler, dict) else [scheduler]
        flat = [s for v in items for s in (v if isinstance(v, list) else [v])]
        return not all(isinstance(s, dict) for s in flat)

    # -- train: check the splits first, test the chosen checkpoint after ---------------------------------
    def train(self):
        """Check every split, train, then (``test_after_train``) test the best checkpoint. A model without
        trainable parameters (a non-parametric baseline such as Adamic-Adar) is tested as it is."""
        check_splits(self)
        trainable = any(p.requires_grad for p in self.model.parameters())
        if not trainable:
            self.logger.info("[train] the model has no trainable parameters: nothing to train, it is tested as it is")
            model = self.model
        else:
            model = super().train()
        if self.cfg.get("test_after_train", True):
            self.test_after_train(trained=trainable)
        return model

    def has_test_split(self) -> bool:
        return all(self.cfg.get(k) for k in ("test_dataloader", "test_cfg", "test_evaluator"))

    def test_after_train(self, trained: bool = True) -> Optional[dict]:
        """Evaluate the test split with :func:`select_checkpoint`'s choice and write ``test_metrics.json``
        (rank 0). Every rank calls it (the evaluation is distributed).

        Returns:
            the metrics (plus ``checkpoint``), or ``None`` when the config has no test split.
        """
        if not self.has_test_split():
            self.logger.info("[test] the config has no test_dataloader / test_cfg / test_evaluator: skipping the "
                             "test after training")
            return None
        choice = list(select_checkpoint(self)) if trained else [None, "the model as built (nothing to train)"]
        if get_world_size() > 1:  # every rank tests what rank 0 chose
            broadcast_object_list(choice)
        ckpt, why = choice
        (self.logger.info if ckpt else self.logger.warning)(
            f"[test] evaluating the test split with {why}: {ckpt or 'in memory'}")
        self._pending_test_checkpoint = ckpt or _KEEP_WEIGHTS
        metrics = self.test()
        result = {"checkpoint": osp.abspath(ckpt) if ckpt else None}
        result.update({k: json_value(v) for k, v in metrics.items()})
        if is_main_process():
            path = osp.join(self.work_dir, TEST_METRICS_FILE)
            with open(path, "w") as f:
                json.dump(result, f, indent=2)
            self.logger.info(f"[test] test metrics written to {path}")
        return result

    def load_or_resume(self) -> None:
        """As mmengine's, except that the test after training loads its chosen checkpoint as weights only
        (after the hooks' ``before_run``, as ``tools/test.py`` does), never a resume."""
        pending, self._pending_test_checkpoint = self._pending_test_checkpoint, None
        if pending is None:
            return super().load_or_resume()
        if pending is not _KEEP_WEIGHTS:
            self.load_checkpoint(pending)
        return None


def build_runner(cfg: Config) -> Runner:
    """The config's Runner: ``RUNNERS.build`` when it names a ``runner_type``, else mmengine's ``Runner``."""
    if cfg.get("runner_type"):
        from mmengine.registry import RUNNERS as ROOT_RUNNERS

        return ROOT_RUNNERS.build(cfg)
    return Runner.from_cfg(cfg)


__all__ = ["ConfigError", "IMixerRunner", "RUNNERS", "FUNCTIONS", "build_runner"]
