"""Foreground metrics for segmentation sets with one background class and thin object masks.

mmseg's mIoU averages over the classes, so a model that has found *where* the objects are but not yet
*which* class they are scores the same as one that found nothing (every pixel predicted background:
mIoU = background IoU / num_classes). :class:`ForegroundIoUMetric` separates the two questions:

* ``fg/IoU``: IoU of the binary mask {pixel is not background}, the prediction being
  :math:`p(\\text{background}) < 0.5` from the soft-max of the logits (not the arg-max over all classes,
  which stays "background" while the object classes share the foreground mass);
* ``fg/class_acc``: on the ground-truth foreground pixels, how often the arg-max over the *object*
  classes only is the right class (chance: ``1 / (num_classes - 1)``).
"""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence

import torch
from mmengine.evaluator import BaseMetric

from backbones.registry import METRICS


@METRICS.register_module()
class ForegroundIoUMetric(BaseMetric):
    """Binary foreground IoU and the class accuracy on foreground pixels (see the module docstring).

    Args:
        background_index: label of the background class.
        ignore_index: label left out of both metrics.
        collect_device, prefix: as in :class:`mmengine.evaluator.BaseMetric` (default prefix ``fg``).

    Needs ``seg_logits`` in the predictions (mmseg's ``EncoderDecoder`` stores them).
    """

    default_prefix: Optional[str] = "fg"

    def __init__(self, background_index: int = 0, ignore_index: int = 255, collect_device: str = "cpu",
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.background_index, self.ignore_index = int(background_index), int(ignore_index)

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            if "seg_logits" not in sample:
                raise KeyError("ForegroundIoUMetric needs 'seg_logits' in the predictions (mmseg's "
                               "EncoderDecoder returns them); this model's outputs have only "
                               f"{sorted(sample)}")
            logits = sample["seg_logits"]["data"].float()
            gt = sample["gt_sem_seg"]["data"].squeeze(0).to(logits.device)
            if logits.shape[-2:] != gt.shape:
                raise ValueError(f"seg_logits {tuple(logits.shape[-2:])} and gt_sem_seg {tuple(gt.shape)} differ in size")
            bg = self.background_index
            if not 0 <= bg < logits.shape[0]:
                raise ValueError(f"background_index={bg} is not one of the model's {logits.shape[0]} classes")
            valid = gt != self.ignore_index
            prob = logits.softmax(0)
            pred_fg = (prob[bg] < 0.5) & valid
            gt_fg = (gt != bg) & valid
            objects = logits.clone()
            objects[bg] = float("-inf")
            correct = (objects.argmax(0) == gt) & gt_fg
            self.results.append(dict(inter=int((pred_fg & gt_fg).sum()), union=int((pred_fg | gt_fg).sum()),
                                     fg=int(gt_fg.sum()), correct=int(correct.sum())))

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        total = {k: sum(r[k] for r in results) for k in ("inter", "union", "fg", "correct")}
        return {"IoU": 100.0 * total["inter"] / max(total["union"], 1),
                "class_acc": 100.0 * total["correct"] / max(total["fg"], 1)}
