"""Runner plumbing of the anomaly task: datasets, metric and hooks in the imixer registries, and
:func:`train_with_runner`, which the neural detectors' ``fit`` uses to train through mmengine's Runner
in-process (:class:`tasks.common.runner.IMixerRunner`, the Runner ``tools/train.py`` builds from
``configs/anomaly/*.py``).
"""
from __future__ import annotations

import logging
import shutil
import tempfile
import uuid
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.hooks import CheckpointHook, Hook
from sklearn.metrics import average_precision_score, roc_auc_score
from torch.utils.data import Dataset

from backbones._compat import runner_device
from backbones.registry import DATASETS, HOOKS, METRICS
from tasks.common.models import unwrap_model

from .datasets import load_dataset


# -- datasets -------------------------------------------------------------------------------------------
@DATASETS.register_module()
class ArrayDataset(Dataset):
    """In-memory rows for the Runner: ``dict(inputs=float32 (d,) or token_shape, labels=int64)``.

    Args:
        X: ``(n, d)`` features (already scaled).
        y: ``(n,)`` labels (1 = outlier), or ``None`` for unlabelled training data (label -1).
        token_shape: reshape each row to this ``(L, P)`` (image patches); ``None`` keeps ``(d,)``.
    """

    def __init__(self, X, y=None, token_shape: Optional[Sequence[int]] = None) -> None:
        X = torch.as_tensor(np.asarray(X, dtype=np.float32))
        if X.ndim != 2:
            raise ValueError(f"ArrayDataset expects X of shape (n, d), got {tuple(X.shape)}")
        self.X = X.reshape(len(X), *token_shape) if token_shape is not None else X
        self.y = (torch.full((len(X),), -1, dtype=torch.long) if y is None
                  else torch.as_tensor(np.asarray(y), dtype=torch.long))
        if len(self.y) != len(self.X):
            raise ValueError(f"X has {len(self.X)} rows but y has {len(self.y)}")
        self.metainfo = dict(classes=("inlier", "outlier"))

    def __len__(self) -> int:
        return len(self.X)

    def __getitem__(self, idx: int) -> dict:
        return dict(inputs=self.X[idx], labels=self.y[idx])


def split_and_scale(X: np.ndarray, y: np.ndarray, seed: int, test_size: float = 0.4,
                    standardize: bool = True) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The benchmark protocol's split: stratified ``1 - test_size`` / ``test_size`` by ``seed``, then
    (optionally) standardisation with mean / std fitted on the training part only.

    Returns:
        ``X_train, X_test, y_train, y_test``.
    """
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=test_size, stratify=y, random_state=seed)
    if standardize:
        scaler = StandardScaler().fit(X_tr)
        X_tr, X_te = scaler.transform(X_tr), scaler.transform(X_te)
    return X_tr, X_te, y_tr, y_te


@DATASETS.register_module()
class AnomalySplitDataset(ArrayDataset):
    """One split of a benchmark dataset under the suite's protocol, for ``tools/train.py`` configs.

    Args:
        dataset: a dataset entry as in the suite config (``'cardio'``, ``dict(path='my.csv')``, ...).
        split: ``'train'`` (unlabelled to the model: labels are only kept for evaluation) or ``'test'``.
        seed: split seed.
        test_size: test fraction.
        standardize: standardise with training statistics.
        max_train_samples: keep a random subset of this many training rows (seeded).
    """

    def __init__(self, dataset, split: str = "train", seed: int = 0, test_size: float = 0.4,
                 standardize: bool = True, max_train_samples: Optional[int] = None) -> None:
        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test', got {split!r}")
        data = load_dataset(dataset)
        X_tr, X_te, y_tr, y_te = split_and_scale(data.X, data.y, seed, test_size, standardize)
        if split == "train" and max_train_samples is not None and len(X_tr) > max_train_samples:
            idx = np.random.RandomState(seed).choice(len(X_tr), max_train_samples, replace=False)
            X_tr, y_tr = X_tr[idx], y_tr[idx]
        X, y = (X_tr, y_tr) if split == "train" else (X_te, y_te)
        super().__init__(X, y)
        self.name = data.name


# -- metric ---------------------------------------------------------------------------------------------
@METRICS.register_module()
class AnomalyMetric(BaseMetric):
    """ROC-AUC and average precision (in percent) from continuous anomaly scores.

    Expects the model's ``'predict'`` outputs ``dict(pred_score, gt_label)`` with ``gt_label`` 1 for
    outliers. Keys: ``anomaly/roc_auc``, ``anomaly/ap``.
    """

    default_prefix = "anomaly"

    def __init__(self, collect_device: str = "cpu", prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for s in data_samples:
            if s["gt_label"] is None or int(s["gt_label"]) < 0:
                raise ValueError("AnomalyMetric needs ground-truth labels (0/1) in the evaluation data")
            self.results.append((float(s["pred_score"]), int(s["gt_label"])))

    def compute_metrics(self, results: list) -> Dict[str, float]:
        scores, labels = np.array(results).T
        if len(set(labels.tolist())) < 2:
            raise ValueError("AnomalyMetric needs both inliers and outliers in the evaluation data")
        return {"roc_auc": 100.0 * roc_auc_score(labels, scores),
                "ap": 100.0 * average_precision_score(labels, scores)}


# -- hooks ----------------------------------------------------------------------------------------------
@HOOKS.register_module()
class AnomalyCalibrationHook(Hook):
    """Set the model's per-token error scale (``calibrate``) from the training data, so that every saved
    checkpoint and every validation uses the scale of the weights it holds.

    Calibrates after a training iteration / epoch at which a ``CheckpointHook`` saves (this hook's
    priority is above the checkpoint hook's, so the saved ``error_scale`` buffer is the calibrated one),
    before every validation and after training, each time only when the weights changed since the last
    calibration. ``tools/test.py`` on a checkpoint therefore reports exactly what the run's validation
    reported at that point. Uses the training rows (at most ``max_samples`` of them, evenly spaced;
    contaminated and unlabelled: the per-token median is robust to the outliers among them).
    """

    priority = "HIGH"

    def __init__(self, max_samples: int = 10000, batch_size: int = 512) -> None:
        self.max_samples, self.batch_size = max_samples, batch_size
        self._fresh = False  # calibrated since the weights last changed

    def _calibrate(self, runner) -> None:
        model = unwrap_model(runner.model)
        if self._fresh or not hasattr(model, "calibrate") or runner._train_dataloader is None:
            return
        dataset = runner.train_dataloader.dataset
        idx = np.unique(np.linspace(0, len(dataset) - 1, min(len(dataset), self.max_samples)).astype(int))
        was_training = model.training
        model.eval()
        batches = [torch.stack([dataset[int(i)]["inputs"] for i in idx[s:s + self.batch_size]])
                   for s in range(0, len(idx), self.batch_size)]
        model.calibrate(batches)
        model.train(was_training)
        self._fresh = True

    @staticmethod
    def _checkpoint_due(runner, by_epoch: bool) -> bool:
        """Whether a ``CheckpointHook`` saves at the end of this iteration (epoch), by its own rule."""
        for h in runner.hooks:
            if not isinstance(h, CheckpointHook) or h.by_epoch != by_epoch:
                continue
            if by_epoch and (h.every_n_epochs(runner, h.interval, h.save_begin)
                             or (h.save_last and h.is_last_train_epoch(runner))):
                return True
            if not by_epoch and (h.every_n_train_iters(runner, h.interval, h.save_begin)
                                 or (h.save_last and h.is_last_train_iter(runner))):
                return True
        return False

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        self._fresh = False  # this step changes the weights

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if self._checkpoint_due(runner, by_epoch=False):
            self._calibrate(runner)

    def after_train_epoch(self, runner) -> None:
        if self._checkpoint_due(runner, by_epoch=True):
            self._calibrate(runner)

    def after_train(self, runner) -> None:
        self._calibrate(runner)

    def before_val(self, runner) -> None:
        self._calibrate(runner)


@HOOKS.register_module()
class LossPlateauHook(Hook):
    """Stop an iteration-based run when the training loss stops improving (early stopping on the
    training objective, for self-supervised models that have no validation labels).

    The loss is smoothed with an exponential moving average (``smoothing``; the masks are random, so
    single-step losses are noisy). Every ``patience`` steps after ``min_iters`` the smoothed loss is
    compared with its value ``patience`` steps earlier; when it fell by less than ``min_delta``
    (relative), ``runner.train_loop.stop_training`` is set and the loop ends after this step. The step
    at which it stopped is ``stopped_iter`` (``None`` when it ran to ``max_iters``).

    Args:
        patience: steps between two comparisons.
        min_delta: smallest relative improvement that counts (0.01 = 1 %).
        min_iters: never stop before this many steps.
        smoothing: EMA weight of the past (0 = raw losses).
    """

    priority = "LOW"

    def __init__(self, patience: int = 50, min_delta: float = 0.01, min_iters: int = 100,
                 smoothing: float = 0.9) -> None:
        if int(patience) < 1:
            raise ValueError(f"patience must be >= 1 step, got {patience}")
        if not 0.0 <= float(min_delta) < 1.0:
            raise ValueError(f"min_delta is a relative improvement in [0, 1), got {min_delta}")
        if not 0.0 <= float(smoothing) < 1.0:
            raise ValueError(f"smoothing must be in [0, 1), got {smoothing}")
        self.patience, self.min_delta = int(patience), float(min_delta)
        self.min_iters, self.smoothing = int(min_iters), float(smoothing)
        self.ema: Optional[float] = None
        self.reference: Optional[float] = None
        self.stopped_iter: Optional[int] = None

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if not outputs or "loss" not in outputs:
            return
        loss = float(outputs["loss"].detach())
        self.ema = loss if self.ema is None else self.smoothing * self.ema + (1.0 - self.smoothing) * loss
        step = runner.iter + 1
        if step % self.patience:
            return
        if self.reference is not None and step >= self.min_iters \
                and self.ema > self.reference * (1.0 - self.min_delta):
            runner.train_loop.stop_training = True
            self.stopped_iter = step
        self.reference = self.ema


@HOOKS.register_module()
class TqdmProgressHook(Hook):
    """A tqdm progress bar over training iterations with the current loss (``desc`` as its label)."""

    priority = "LOW"

    def __init__(self, desc: str = "train", leave: bool = False) -> None:
        self.desc, self.leave, self.bar = desc, leave, None

    def before_train(self, runner) -> None:
        from tqdm.auto import tqdm

        self.bar = tqdm(total=runner.max_iters, desc=self.desc, leave=self.leave, dynamic_ncols=True)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if self.bar is not None:
            self.bar.update(1)
            if outputs and "loss" in outputs and runner.iter % 10 == 0:
                self.bar.set_postfix(loss=f"{float(outputs['loss'].detach()):.4f}")

    def after_train(self, runner) -> None:
        if self.bar is not None:
            self.bar.refresh()  # draw the final count even when tqdm's mininterval skipped it
            self.bar.close()
            self.bar = None


# -- in-process training --------------------------------------------------------------------------------
def _release_runner(runner) -> None:
    """Close the Runner's log file handlers and drop its global mmengine instances."""
    from mmengine.logging import MessageHub, MMLogger
    from mmengine.registry import DefaultScope
    from mmengine.visualization import Visualizer

    name = runner.experiment_name
    for cls in (MMLogger, MessageHub, Visualizer, DefaultScope):
        inst = cls._instance_dict.pop(name, None)
        if isinstance(inst, logging.Logger):
            for h in list(inst.handlers):
                h.close()
                inst.removeHandler(h)


def train_with_runner(model_cfg: dict, train_dataset: dict, *, max_iters: int, batch_size: int,
                      lr: float, weight_decay: float, seed: int, device: str = "cpu", progress: bool = False,
                      desc: str = "train", work_dir: Optional[str] = None,
                      extra_hooks: Sequence[dict] = (),
                      early_stop: Optional[dict] = None) -> Tuple[torch.nn.Module, int]:
    """Train ``model_cfg`` on ``train_dataset`` with an mmengine Runner built in-process.

    Iteration-based (``IterBasedTrainLoop``, infinite shuffled sampler), AdamW with a cosine schedule and
    gradient clipping, quiet logging (errors only), no checkpoints, a temporary work dir removed after
    training (unless ``work_dir`` is given), the imixer ``SolverStatsHook``, :class:`LossPlateauHook`
    with ``early_stop`` and :class:`TqdmProgressHook` when ``progress``. The caller calibrates the
    returned model (``tools/train.py`` configs use :class:`AnomalyCalibrationHook` instead).

    Args:
        model_cfg: a ``MODELS`` config (``dict(type='MaskedTokenIMixer', ...)``).
        train_dataset: a ``DATASETS`` config (``dict(type='ArrayDataset', X=..., ...)``).
        max_iters: optimisation steps.
        batch_size: rows per step.
        lr: AdamW peak learning rate.
        weight_decay: AdamW weight decay.
        seed: the Runner's seed (model init, masks, shuffling).
        device: ``'cpu'`` or ``'cuda'``.
        progress: show a tqdm bar.
        desc: the bar's label.
        work_dir: keep logs there (default: a temporary directory, deleted).
        extra_hooks: more custom hooks.
        early_stop: :class:`LossPlateauHook` arguments (``dict(patience=..., min_delta=...)``): stop
            when the smoothed training loss stops improving; ``None`` runs all ``max_iters`` steps.

    Returns:
        the trained model (eval mode) and the number of optimisation steps run.
    """
    from tasks.common.runner import IMixerRunner  # also registers SolverStatsHook (tasks.common)

    tmp = None
    if work_dir is None:
        tmp = work_dir = tempfile.mkdtemp(prefix="imixer_anomaly_")
    if max_iters < 1:
        raise ValueError(f"max_iters must be >= 1, got {max_iters}")
    warmup = max(1, min(50, max_iters // 10))
    schedule = [dict(type="LinearLR", start_factor=0.01, by_epoch=False, begin=0, end=warmup)]
    if max_iters > warmup:
        schedule.append(dict(type="CosineAnnealingLR", by_epoch=False, begin=warmup, end=max_iters, eta_min=lr * 0.01))
    hooks = [dict(type="SolverStatsHook")]
    if early_stop is not None:
        hooks.append(dict(type="LossPlateauHook", **early_stop))
    if progress:
        hooks.append(dict(type="TqdmProgressHook", desc=desc))
    cfg = dict(
        model=model_cfg,
        work_dir=work_dir,
        experiment_name=f"anomaly_{uuid.uuid4().hex[:12]}",
        train_dataloader=dict(batch_size=batch_size, num_workers=0, dataset=train_dataset,
                              sampler=dict(type="InfiniteSampler", shuffle=True, seed=seed),
                              collate_fn=dict(type="default_collate")),
        train_cfg=dict(type="IterBasedTrainLoop", max_iters=max_iters, val_interval=max_iters + 1),
        optim_wrapper=dict(type="OptimWrapper", optimizer=dict(type="AdamW", lr=lr, weight_decay=weight_decay),
                           clip_grad=dict(max_norm=1.0)),
        param_scheduler=schedule,
        default_hooks=dict(timer=dict(type="IterTimerHook"),
                           logger=dict(type="LoggerHook", interval=max(1, max_iters)),
                           param_scheduler=dict(type="ParamSchedulerHook"), checkpoint=None),
        custom_hooks=hooks + list(extra_hooks),
        default_scope="imixer",
        env_cfg=dict(cudnn_benchmark=False),
        randomness=dict(seed=seed),
        log_level="ERROR",  # quiet; the solver warnings of the implicit layers still reach the "imixer" logger
        visualizer=dict(type="Visualizer", vis_backends=[]),
    )
    runner = None
    try:
        with runner_device(device):
            # the project's Runner (split checks, probe); the detector scores its own test rows
            runner = IMixerRunner(**cfg, cfg=dict(test_after_train=False))
            runner.train()
        model = unwrap_model(runner.model)
        model.eval()
        return model, int(runner.iter)
    finally:
        if runner is not None:
            _release_runner(runner)
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)

