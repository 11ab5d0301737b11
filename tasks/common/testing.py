"""Split checks and checkpoint choice of :class:`tasks.common.runner.IMixerRunner`.

* :func:`check_splits` (before training): the train, val and test splits are built (once: the Runner
  reuses them), each must be non-empty, yield its first item and agree on the class list with the
  training split, so a bad test split fails in seconds instead of after a whole training run;
* :func:`select_checkpoint` (after training): the best checkpoint of the config's ``CheckpointHook``
  ``save_best`` rule, else the last checkpoint, else the final weights; the runner tests it and writes
  ``<work_dir>/test_metrics.json`` (metric name -> value, plus ``checkpoint``).
"""
from __future__ import annotations

import contextlib
import os.path as osp
import random
from typing import Dict, List, Optional

import numpy as np
import torch
from mmengine.hooks import CheckpointHook

SPLITS = (("train", "train_dataloader"), ("val", "val_dataloader"), ("test", "test_dataloader"))
TEST_METRICS_FILE = "test_metrics.json"


class SplitError(ValueError):
    """A dataset split of the config cannot be used (empty, unreadable, classes disagreeing)."""


@contextlib.contextmanager
def _rng_preserved():
    """Leave Python's, NumPy's and torch's random state as it was (loading an item may augment at
    random; the check must not change what training draws)."""
    states = random.getstate(), np.random.get_state(), torch.get_rng_state()
    try:
        yield
    finally:
        random.setstate(states[0])
        np.random.set_state(states[1])
        torch.set_rng_state(states[2])


def dataset_classes(dataset) -> Optional[List[str]]:
    """The class names of a dataset's ``metainfo`` (as strings), or ``None``."""
    meta = getattr(dataset, "metainfo", None) or {}
    classes = meta.get("classes") if isinstance(meta, dict) else None
    return [str(c) for c in classes] if classes else None


def check_splits(runner, config_name: Optional[str] = None) -> Dict[str, object]:
    """Build and check every dataset split the run will use, before the first training step.

    The train / val / test loops (and so their dataloaders) are built through the Runner's own
    ``train_loop`` / ``val_loop`` / ``test_loop`` properties, exactly as training would build them, so
    nothing is built twice. Building the test split and loading the first items leave the random state
    untouched: training draws what it would draw without this check.

    Args:
        runner: an mmengine ``Runner`` that has not trained yet (every rank calls this).
        config_name: the config file, for messages (default: the runner's config file).

    Returns:
        ``{split: dataset}`` of the splits the config has.

    Raises:
        SplitError: a split is empty or its class list differs from the training split's. A dataset
            that cannot be built or whose first item cannot be loaded raises its own error, after an
            error line naming the split's config option.
    """
    config_name = config_name or getattr(runner.cfg, "filename", None) or "the config"
    built: Dict[str, object] = {}
    for split, option in SPLITS:
        if not runner.cfg.get(option):
            continue
        keep_rng = _rng_preserved() if split == "test" else contextlib.nullcontext()
        try:
            with keep_rng:
                loop = getattr(runner, f"{split}_loop")
        except Exception:
            runner.logger.error(f"[splits] {option}.dataset of {config_name} could not be built (see the error below)")
            raise
        if loop is None:
            continue
        dataset = loop.dataloader.dataset
        built[split] = dataset
        _check_split(runner, dataset, split, option, config_name)
    train_classes = dataset_classes(built.get("train"))
    for split, dataset in built.items():
        classes = dataset_classes(dataset)
        if train_classes is not None and classes is not None and classes != train_classes:
            raise SplitError(f"the {split} split of {config_name} has classes {list(classes)} but the training split "
                             f"has {list(train_classes)}; every split must use the training split's class list "
                             f"(check {split}_dataloader.dataset's metainfo / labels)")
    sizes = ", ".join(f"{k} {_size(v)}" for k, v in built.items())
    runner.logger.info(f"[splits] built and checked before training: {sizes} items")
    return built


def _size(dataset) -> str:
    try:
        return str(len(dataset))
    except TypeError:
        return "?"


def _check_split(runner, dataset, split: str, option: str, config_name: str) -> None:
    try:
        n = len(dataset)
    except TypeError:
        return  # an iterable dataset: nothing to index
    if n == 0:
        raise SplitError(f"the {split} split ({option}.dataset of {config_name}) is empty; check its data path and "
                         "split options")
    try:
        with _rng_preserved():
            dataset[0]
    except Exception:
        runner.logger.error(f"[splits] the first item of the {split} split ({option}.dataset of {config_name}) "
                            "cannot be loaded (see the error below)")
        raise


def _checkpoint_hook(runner) -> Optional[CheckpointHook]:
    return next((h for h in runner.hooks if isinstance(h, CheckpointHook)), None)


def select_checkpoint(runner) -> tuple:
    """The checkpoint to test after training and why: ``(path or None, description)``.

    The best checkpoint of the ``CheckpointHook``'s ``save_best`` rule (its first key indicator when it
    has several), else the last checkpoint saved, else ``None`` (no checkpoint: the final weights).
    """
    hook = _checkpoint_hook(runner)
    hub = runner.message_hub
    if hook is not None and getattr(hook, "save_best", None) is not None:
        keys = getattr(hook, "key_indicators", [])
        best = None
        if len(keys) == 1:
            best = hub.get_info("best_ckpt")
        elif keys:
            best = hub.get_info(f"best_ckpt_{keys[0]}")
        if best is not None and osp.isfile(best):
            return best, f"the best checkpoint by {keys[0]}"
        runner.logger.warning("[test] save_best is set but no best checkpoint was saved (no validation ran?); "
                              "testing the last checkpoint instead")
    last = getattr(hook, "last_ckpt", None) if hook is not None else None
    last = last or hub.get_info("last_ckpt")
    if last is not None and osp.isfile(last):
        return last, "the last checkpoint"
    return None, "the final weights (no checkpoint was saved)"


def json_value(v):
    """A metric value as plain JSON (tensors and numpy scalars / arrays converted)."""
    if isinstance(v, torch.Tensor):
        v = v.detach().cpu().numpy()
    if isinstance(v, np.ndarray):
        return v.item() if v.ndim == 0 else v.tolist()
    if isinstance(v, np.generic):
        return v.item()
    return v


__all__ = ["SplitError", "check_splits", "select_checkpoint", "json_value", "TEST_METRICS_FILE"]
