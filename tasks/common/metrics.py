"""Classification metrics shared by the image, text and graph tasks (mmengine ``BaseMetric``)."""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from sklearn.metrics import accuracy_score, f1_score

from backbones.registry import METRICS


@METRICS.register_module()
class ClsMetric(BaseMetric):
    """Top-1 accuracy and macro-F1 (in percent) from ``LogitsClassifier`` predictions.

    Args:
        collect_device: ``'cpu'`` or ``'gpu'`` for gathering results across processes.
        prefix: metric-name prefix (default ``'cls'``: ``cls/accuracy``, ``cls/macro_f1``).
    """

    default_prefix = "cls"

    def __init__(self, collect_device: str = "cpu", prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for s in data_samples:
            if s["gt_label"] is None:
                raise ValueError("ClsMetric needs ground-truth labels in the evaluation data")
            self.results.append((int(s["pred_label"]), int(s["gt_label"])))

    def compute_metrics(self, results: list) -> dict:
        pred, gt = np.array(results).T
        return {"accuracy": 100.0 * accuracy_score(gt, pred),
                "macro_f1": 100.0 * f1_score(gt, pred, average="macro", zero_division=0)}
