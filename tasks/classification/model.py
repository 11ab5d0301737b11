"""Image classifier for the runner: any registered backbone with a classification head."""
from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from backbones.registry import MODELS
from tasks.common.models import LogitsClassifier


@MODELS.register_module()
class ImageClassifier(LogitsClassifier):
    """A backbone that maps images to logits (``MLPMixer``, ``IMixer``, ``IMixerPyramid`` with a head), or a
    dense backbone (feature maps, e.g. ``IMixerPyramid(out_indices=...)``, ``mmdet.ResNet``) with ``head``.

    Args:
        backbone: backbone config, e.g. ``dict(type='IMixer', num_classes=10, img_size=8, patch_size=2)``.
        head: ``dict(in_channels=C, num_classes=K)`` for a backbone that returns feature maps: the last map is
            average-pooled and a linear layer gives the logits. The backbone's weights then load into a
            detector or segmentor unchanged (``init_cfg=dict(type='Pretrained', prefix='backbone.')``).
        label_smoothing: cross-entropy label smoothing.

    Shapes:
        ``inputs``: ``(B, C, H, W)``; ``labels``: ``(B,)``.
    """

    def __init__(self, backbone: dict, head: Optional[dict] = None, label_smoothing: float = 0.0,
                 data_preprocessor: Optional[dict] = None, init_cfg: Optional[dict] = None) -> None:
        super().__init__(label_smoothing, data_preprocessor, init_cfg)
        self.backbone = MODELS.build(backbone)
        self.head = None
        if head is not None:
            unknown = set(head) - {"in_channels", "num_classes"}
            if unknown or len(head) != 2:
                raise ValueError(f"head={head!r}: give exactly dict(in_channels=C, num_classes=K) (C: channels of "
                                 f"the backbone's last feature map)")
            self.head = nn.Linear(int(head["in_channels"]), int(head["num_classes"]))

    def logits(self, inputs: torch.Tensor, **extra) -> torch.Tensor:
        if not torch.isfinite(inputs).all():
            raise ValueError("input images contain NaN or inf values; check the dataset / normalisation")
        out = self.backbone(inputs)
        if self.head is None:
            return out
        feats = out[-1] if isinstance(out, (tuple, list)) else out
        if feats.dim() != 4 or feats.shape[1] != self.head.in_features:
            raise ValueError(f"head expects the backbone's last feature map as (B, {self.head.in_features}, H, W), "
                             f"got {tuple(feats.shape)}; set head.in_channels to its channel count")
        return self.head(feats.mean(dim=(2, 3)))
