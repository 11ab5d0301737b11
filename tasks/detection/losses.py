"""Losses that keep mmdet's heads working under mixed precision.

mmcv's CUDA ``sigmoid_focal_loss`` has no bfloat16 kernel, so a RetinaNet under bf16 autocast fails
in its loss. :class:`FP32FocalLoss` is mmdet's ``FocalLoss`` evaluated in float32 with autocast
disabled (the logits are upcast; the loss value is the same as the float32 one):

.. math::
    \\mathrm{FL}(p_t) = -\\alpha_t (1 - p_t)^\\gamma \\log p_t .
"""
from __future__ import annotations

from typing import Optional

import torch
from mmdet.models.losses import FocalLoss

from backbones.registry import MODELS


@MODELS.register_module()
class FP32FocalLoss(FocalLoss):
    """mmdet's sigmoid focal loss computed in float32 under any autocast (``type='imixer.FP32FocalLoss'``).

    Takes exactly mmdet ``FocalLoss``'s arguments (``use_sigmoid``, ``gamma``, ``alpha``,
    ``reduction``, ``loss_weight``, ``activated``).

    Shapes:
        ``pred``: ``(N, C)`` logits (any float dtype); ``target``: ``(N,)`` labels or ``(N, C)``
        -> a float32 scalar (or ``(N, C)`` with ``reduction='none'``).
    """

    def forward(self, pred: torch.Tensor, target: torch.Tensor, weight: Optional[torch.Tensor] = None,
                avg_factor: Optional[float] = None, reduction_override: Optional[str] = None) -> torch.Tensor:
        if weight is not None and weight.is_floating_point():
            weight = weight.float()
        if target.is_floating_point():
            target = target.float()
        with torch.autocast(device_type=pred.device.type, enabled=False):
            return super().forward(pred.float(), target, weight, avg_factor, reduction_override)
