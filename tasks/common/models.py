"""The runner-facing classifier base shared by the image, text and graph tasks, and model helpers."""
from __future__ import annotations

from typing import Dict, List, Optional, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModel, is_model_wrapper


def unwrap_model(model: nn.Module) -> nn.Module:
    """The model inside a (distributed) wrapper such as mmengine's ``MMDistributedDataParallel``."""
    return model.module if is_model_wrapper(model) or isinstance(model, nn.DataParallel) else model


class LogitsClassifier(BaseModel):
    """mmengine model around a ``logits(inputs, **extra)`` function.

    Batches are dicts ``dict(inputs=..., labels=..., **extra)`` (the datasets return them and
    ``default_collate`` stacks them). Modes, as mmengine's Runner calls them:

    * ``'loss'`` -> ``dict(loss=cross_entropy)``;
    * ``'predict'`` -> one ``dict(pred_label, gt_label, scores)`` per sample, for :class:`ClsMetric`;
    * ``'tensor'`` -> the logits.

    Args:
        label_smoothing: cross-entropy label smoothing.
        data_preprocessor: mmengine data preprocessor config (moves batches to the device).
    """

    def __init__(self, label_smoothing: float = 0.0, data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.label_smoothing = label_smoothing

    def logits(self, inputs: torch.Tensor, **extra) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def forward(self, inputs: torch.Tensor, labels: Optional[torch.Tensor] = None, mode: str = "tensor",
                **extra) -> Union[Dict[str, torch.Tensor], List[dict], torch.Tensor]:
        logits = self.logits(inputs, **extra)
        if mode == "tensor":
            return logits
        if mode == "loss":
            if labels is None:
                raise ValueError("mode='loss' needs labels in the batch")
            return {"loss": F.cross_entropy(logits.float(), labels.long(), label_smoothing=self.label_smoothing)}
        if mode == "predict":
            scores = logits.float().softmax(-1)
            preds = scores.argmax(-1)
            gts = labels if labels is not None else [None] * len(preds)
            return [dict(pred_label=p, gt_label=g, scores=s) for p, g, s in zip(preds, gts, scores)]
        raise ValueError(f"unknown mode {mode!r}; use 'loss', 'predict' or 'tensor'")
