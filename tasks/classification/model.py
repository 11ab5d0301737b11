"""Image classifier for the runner: any registered backbone with a classification head."""
from __future__ import annotations

from typing import Optional

import torch

from backbones.registry import MODELS
from tasks.common.models import LogitsClassifier


@MODELS.register_module()
class ImageClassifier(LogitsClassifier):
    """A backbone that maps images to logits (``MLPMixer``, ``IMixer``, ``IMixerPyramid`` with a head).

    Args:
        backbone: backbone config, e.g. ``dict(type='IMixer', num_classes=10, img_size=8, patch_size=2)``.
        label_smoothing: cross-entropy label smoothing.

    Shapes:
        ``inputs``: ``(B, C, H, W)``; ``labels``: ``(B,)``.
    """

    def __init__(self, backbone: dict, label_smoothing: float = 0.0, data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(label_smoothing, data_preprocessor, init_cfg)
        self.backbone = MODELS.build(backbone)

    def logits(self, inputs: torch.Tensor, **extra) -> torch.Tensor:
        if not torch.isfinite(inputs).all():
            raise ValueError("input images contain NaN or inf values; check the dataset / normalisation")
        return self.backbone(inputs)
