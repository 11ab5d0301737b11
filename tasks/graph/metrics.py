"""Node-classification metric: ``ClsMetric``'s accuracy and macro-F1, plus the cross-entropy, per node in
every ``NodeDataset`` mode.

Why not ``ClsMetric`` as is: mmengine's loops call ``evaluate(len(dataset))`` and keep only that many
results (``collect_results`` truncates to the dataset size). In ``mode='full'`` / ``'graph'`` the dataset
has one item holding every node of the split, so a metric storing one result per node would be scored
on the first node alone. :class:`NodeClsMetric` stores one result per dataset item (all its nodes) and
scores every node.

Why the cross-entropy: model selection on a small validation split by accuracy alone ties often (30
validation nodes: steps of 3.3 points) and then keeps the first, barely trained, epoch that reached the
top. PyG's citation benchmark selects and stops on the validation loss instead; ``cls/nll`` makes that
available to mmengine's ``CheckpointHook(save_best='cls/nll', rule='less')`` and ``EarlyStoppingHook``.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from backbones.registry import METRICS
from tasks.common.metrics import ClsMetric


@METRICS.register_module()
class NodeClsMetric(ClsMetric):
    """``cls/accuracy``, ``cls/macro_f1`` (percent) and ``cls/nll`` (the mean cross-entropy
    :math:`-\\log p(y_v)` of the predicted class probabilities) over every node of the split.

    Batches of ``NodeDataset``: node mini-batches (``labels (B,)``, one item per node) or whole splits
    (``labels (1, N_split)``, one item per batch); one result is stored per dataset item.
    """

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        labels = data_batch.get("labels") if isinstance(data_batch, dict) else None
        per_item = labels.shape[1] if labels is not None and labels.dim() == 2 else 1
        for start in range(0, len(data_samples), per_item):
            item = data_samples[start:start + per_item]
            if any(s["gt_label"] is None for s in item):
                raise ValueError("NodeClsMetric needs ground-truth labels in the evaluation data")
            gt = np.array([int(s["gt_label"]) for s in item])
            nll = [-np.log(max(float(s["scores"][g]), 1e-12)) for s, g in zip(item, gt)]
            self.results.append((np.array([int(s["pred_label"]) for s in item]), gt, np.array(nll)))

    def compute_metrics(self, results: list) -> dict:
        pred, gt, nll = (np.concatenate(parts) for parts in zip(*results))
        out = super().compute_metrics(list(zip(pred, gt)))
        out["nll"] = float(nll.mean())
        return out
