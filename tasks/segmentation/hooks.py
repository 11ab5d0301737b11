"""Segmentation hooks: mmseg's visualisation hook with a ``test_out_dir`` (``tools/test.py ... --show-dir DIR``)
and :class:`ClassBalanceHook` (loss weights from the training set's class pixel shares)."""
from __future__ import annotations

import os.path as osp
import time
from typing import Optional, Sequence

import mmcv
import numpy as np
from mmengine import fileio
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmseg.engine.hooks import SegVisualizationHook as _MMSegVisualizationHook
from torch import nn

from backbones.registry import HOOKS


@HOOKS.register_module(name="SegVisualizationHook")
class SegVisualizationHook(_MMSegVisualizationHook):
    """mmseg's ``SegVisualizationHook`` that also saves test predictions as images into ``test_out_dir``.

    Args:
        test_out_dir: folder for the drawn test predictions (ground truth | prediction side by side),
            relative to ``<work_dir>/<timestamp>`` or absolute; ``None``: mmseg's behaviour.
        draw, interval, show, wait_time, backend_args: as mmseg's hook.
    """

    def __init__(self, draw: bool = False, interval: int = 50, show: bool = False, wait_time: float = 0.0,
                 test_out_dir: Optional[str] = None, backend_args: Optional[dict] = None) -> None:
        super().__init__(draw=draw, interval=interval, show=show, wait_time=wait_time, backend_args=backend_args)
        self.test_out_dir = test_out_dir

    def after_test_iter(self, runner, batch_idx: int, data_batch: dict, outputs: Sequence) -> None:
        if not self.draw or self.test_out_dir is None:
            return super().after_test_iter(runner, batch_idx, data_batch, outputs)
        out_dir = osp.join(runner.work_dir, runner.timestamp, self.test_out_dir)
        for output in outputs:
            img = mmcv.imfrombytes(fileio.get(output.img_path, backend_args=self.backend_args), channel_order="rgb")
            name = osp.basename(output.img_path)
            self._visualizer.add_datasample(f"test_{name}", img, data_sample=output, show=self.show,
                                            wait_time=self.wait_time, out_file=osp.join(out_dir, name),
                                            step=runner.iter)


#: class-weighting rules of :class:`ClassBalanceHook`: pixel shares ``p`` (sum 1) -> unnormalised weights
BALANCE_RULES = {
    # ENet (Paszke et al. 2016, arXiv 1606.02147): w_c = 1 / ln(c + p_c), bounded for rare classes
    "enet": lambda p, c: 1.0 / np.log(c + p),
    # median frequency balancing (Eigen & Fergus 2015, arXiv 1411.4734): w_c = median(p) / p_c
    "median_freq": lambda p, c: _median_freq(p),
}


def _median_freq(p: np.ndarray) -> np.ndarray:
    """median(p) / p_c over the classes present; a class with no training pixel gets the largest weight."""
    present = p > 0
    w = np.zeros_like(p)
    w[present] = np.median(p[present]) / p[present]
    w[~present] = w[present].max()
    return w


def _seg_datasets(dataset) -> list:
    """The mmseg datasets inside ``dataset`` (through ``ConcatDataset.datasets`` / ``RepeatDataset.dataset``)."""
    if hasattr(dataset, "datasets"):
        return [d for sub in dataset.datasets for d in _seg_datasets(sub)]
    if hasattr(dataset, "dataset") and not hasattr(dataset, "get_data_info"):
        return _seg_datasets(dataset.dataset)
    return [dataset]


def pixel_counts(dataset, num_classes: int, ignore_index: int = 255) -> np.ndarray:
    """Labelled pixels per class over the segmentation maps of an mmseg dataset (its ``reduce_zero_label``
    and ``label_map`` applied, as mmseg's ``LoadAnnotations`` does); ``ignore_index`` pixels are left out.

    Raises:
        ValueError: a map holds a value that is neither a class index (``< num_classes``) nor ``ignore_index``
            (the file is named).
    """
    from mmseg.datasets.transforms import LoadAnnotations

    load = LoadAnnotations()
    counts = np.zeros(num_classes, dtype=np.int64)
    for ds in _seg_datasets(dataset):
        ds.full_init()
        for i in range(len(ds)):
            info = ds.get_data_info(i)
            gt = load(dict(info, seg_fields=[]))["gt_seg_map"]
            values = gt[gt != ignore_index].astype(np.int64)
            if values.size and values.max() >= num_classes:
                raise ValueError(f"{info['seg_map_path']}: pixel value {values.max()} is not a class index "
                                 f"(0..{num_classes - 1}) nor ignore_index {ignore_index}; fix the map, or the "
                                 f"model's num_classes / the dataset's classes")
            counts += np.bincount(values, minlength=num_classes)
    return counts


@HOOKS.register_module()
class ClassBalanceHook(Hook):
    """Weight the segmentation loss per class by how rare the class is among the training pixels.

    Before training, counts the labelled pixels of every class over the training set's maps
    (:func:`pixel_counts`), turns the shares ``p_c`` into weights by ``rule`` and sets them as the
    ``class_weight`` of every loss of the decode and auxiliary heads that takes one (mmseg's
    ``CrossEntropyLoss``, ``FocalLoss``, ...; others, e.g. ``DiceLoss``, are left as they are), so a
    rare class's pixels count for more (mmseg's cross-entropy then averages with the pixels' weights).
    The weights are rescaled so that the mean weight per training pixel is 1 (``sum_c p_c w_c = 1``).
    Without it a thin-object set (digit strokes: 5 % of the pixels) trains to "background everywhere"
    (docs/segmentation.md).

    Args:
        rule: ``'enet'`` (``1 / ln(c + p_c)``, Paszke et al. 2016; bounded, the default) or
            ``'median_freq'`` (``median(p) / p_c``, Eigen & Fergus 2015).
        c: the ENet constant (1.02 in the paper); only for ``rule='enet'``.

    Raises (at the start of training):
        ValueError: a loss already has a ``class_weight`` (give the weights in one place), no training
            pixel is labelled, or a map holds a value that is no class (named).
        TypeError: none of the heads' losses takes a ``class_weight``.
    """

    priority = "NORMAL"

    def __init__(self, rule: str = "enet", c: float = 1.02) -> None:
        if rule not in BALANCE_RULES:
            raise ValueError(f"ClassBalanceHook: unknown rule {rule!r}; use one of {sorted(BALANCE_RULES)}")
        if rule == "enet" and not c > 1.0:
            raise ValueError(f"ClassBalanceHook: c must be > 1 (ln(c + p) > 0 for every share p), got {c}; "
                             "the ENet paper uses 1.02")
        self.rule, self.c = rule, float(c)
        self.class_weight: Optional[list] = None

    def weights(self, counts: np.ndarray) -> np.ndarray:
        """Class weights from per-class pixel counts, rescaled to mean 1 per pixel."""
        counts = np.asarray(counts, dtype=np.float64)
        if counts.sum() <= 0:
            raise ValueError("ClassBalanceHook: the training maps hold no labelled pixel")
        p = counts / counts.sum()
        w = BALANCE_RULES[self.rule](p, self.c)
        return w / float((p * w).sum())

    def before_train(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        heads = [model.decode_head, getattr(model, "auxiliary_head", None)]  # each a head, a ModuleList or None
        heads = [h for head in heads if head is not None
                 for h in (head if isinstance(head, nn.ModuleList) else [head])]
        losses = [loss for h in heads
                  for loss in (h.loss_decode if isinstance(h.loss_decode, nn.ModuleList) else [h.loss_decode])]
        weighted = [loss for loss in losses if hasattr(loss, "class_weight")]
        if not weighted:
            names = sorted({type(loss).__name__ for loss in losses})
            raise TypeError(f"ClassBalanceHook: none of the heads' losses ({names}) takes a class_weight; use "
                            "e.g. mmseg's CrossEntropyLoss or drop the hook")
        if any(loss.class_weight is not None for loss in weighted):
            raise ValueError("ClassBalanceHook: a loss already sets class_weight; remove it from the loss or "
                             "drop the hook (the weights are given in one place)")
        start = time.time()
        dataset = runner.train_dataloader.dataset
        runner.logger.info(f"ClassBalanceHook: counting the class pixels of the "
                           f"{sum(len(d) for d in _seg_datasets(dataset))} training maps")
        counts = pixel_counts(dataset, heads[0].num_classes, heads[0].ignore_index)
        self.class_weight = [float(w) for w in self.weights(counts)]
        for loss in weighted:
            loss.class_weight = self.class_weight
        runner.logger.info(f"ClassBalanceHook ({self.rule}): class pixel shares "
                           f"{np.round(counts / counts.sum(), 4).tolist()} -> class_weight "
                           f"{np.round(self.class_weight, 3).tolist()} ({counts.sum()} pixels, "
                           f"{time.time() - start:.1f} s)")
