"""A run ends like a product: every split checked before training, the test split evaluated after it.

``tools/train.py`` calls, around ``runner.train()``:

* :func:`build_and_check_splits` right after the Runner is built: the datasets of the train, val and
  test dataloaders are built (once: the Runner reuses them), each must be non-empty, yield its first
  item and agree on the class list with the training split, so a bad test split fails in seconds
  instead of after a whole training run;
* :func:`evaluate_after_train` after training: the best checkpoint (the config's ``CheckpointHook``
  ``save_best`` rule; the last checkpoint when there is none) is loaded exactly as ``tools/test.py``
  loads it, the test split is evaluated with the config's ``test_evaluator`` and
  ``<work_dir>/test_metrics.json`` is written (rank 0): metric name -> value, plus ``checkpoint``.
"""
from __future__ import annotations

import contextlib
import json
import os.path as osp
import random
from typing import Dict, List, Optional

import numpy as np
import torch
from mmengine.dist import broadcast_object_list, get_world_size, is_main_process
from mmengine.hooks import CheckpointHook

SPLIT_LOADERS = (("train", "_train_dataloader", "train_dataloader"),
                 ("val", "_val_dataloader", "val_dataloader"),
                 ("test", "_test_dataloader", "test_dataloader"))
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


def build_and_check_splits(runner, config_name: str = "the config") -> Dict[str, object]:
    """Build and check every dataset split the run will use, before the first training step.

    The train / val / test dataloaders are built here, with the arguments the Runner's loops use
    (``seed``, ``diff_rank_seed``), and stored in the Runner, so nothing is built twice. Building the test
    split and loading the first items leave the random state untouched: training draws what it drew
    before this check existed.

    Args:
        runner: an mmengine ``Runner`` that has not trained yet (every rank calls this).
        config_name: the config file, for messages.

    Returns:
        ``{split: dataset}`` of the splits the config has.

    Raises:
        SplitError: a split is empty or its class list differs from the training split's. A dataset
            that cannot be built or whose first item cannot be loaded raises its own error, after an
            error line naming the split's config option.
    """
    built: Dict[str, object] = {}
    diff_rank_seed = runner._randomness_cfg.get("diff_rank_seed", False)
    for split, attr, option in SPLIT_LOADERS:
        loader = getattr(runner, attr, None)
        if loader is None:
            continue
        keep_rng = _rng_preserved() if split == "test" else contextlib.nullcontext()
        try:
            with keep_rng:
                loader = runner.build_dataloader(loader, seed=runner.seed, diff_rank_seed=diff_rank_seed)
        except Exception:
            runner.logger.error(f"[splits] {option}.dataset of {config_name} could not be built (see the error below)")
            raise
        setattr(runner, attr, loader)
        built[split] = loader.dataset
        _check_split(runner, loader.dataset, split, option, config_name)
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


def _json_value(v):
    if isinstance(v, torch.Tensor):
        v = v.detach().cpu().numpy()
    if isinstance(v, np.ndarray):
        return v.item() if v.ndim == 0 else v.tolist()
    if isinstance(v, np.generic):
        return v.item()
    return v


def has_test_split(runner) -> bool:
    return all(getattr(runner, a, None) is not None for a in ("_test_dataloader", "_test_loop", "_test_evaluator"))


def evaluate_after_train(runner) -> Optional[dict]:
    """Evaluate the test split with the checkpoint of :func:`select_checkpoint` and write
    ``<work_dir>/test_metrics.json`` (rank 0). Every rank must call it (the evaluation is distributed).

    Returns:
        the metrics (plus ``checkpoint``), or ``None`` when the config has no test split.
    """
    if not has_test_split(runner):
        runner.logger.info("[test] the config has no test_dataloader / test_cfg / test_evaluator: skipping the "
                           "test after training")
        return None
    choice = list(select_checkpoint(runner))
    if get_world_size() > 1:  # every rank tests what rank 0 chose
        broadcast_object_list(choice)
    ckpt, why = choice
    log = runner.logger.info if ckpt else runner.logger.warning
    log(f"[test] evaluating the test split with {why}: {ckpt or 'in memory'}")
    # Load as tools/test.py does: the weights only (never a resume), after the hooks' before_run.
    runner._resume = False
    runner._load_from = ckpt
    runner._has_loaded = ckpt is None
    metrics = runner.test()
    result = {"checkpoint": osp.abspath(ckpt) if ckpt else None}
    result.update({k: _json_value(v) for k, v in metrics.items()})
    if is_main_process():
        path = osp.join(runner.work_dir, TEST_METRICS_FILE)
        with open(path, "w") as f:
            json.dump(result, f, indent=2)
        runner.logger.info(f"[test] test metrics written to {path}")
    return result


__all__ = ["SplitError", "build_and_check_splits", "select_checkpoint", "evaluate_after_train", "has_test_split",
           "TEST_METRICS_FILE"]
