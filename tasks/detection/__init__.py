"""Object detection with mmdet and the ``imixer.IMixerPyramid`` backbone.

Registers (scope ``imixer``): the datasets :class:`CocoDetDataset` and :class:`DigitScenesDataset`,
the loss :class:`FP32FocalLoss`, and the ``digit_scenes`` / ``mnist_scenes`` preparers.
"""
from .datasets import CocoDetDataset, DigitScenesDataset
from .losses import FP32FocalLoss
from tasks.common.scenes import generate_scenes, prepare_digit_scenes, prepare_mnist_scenes

__all__ = ["CocoDetDataset", "DigitScenesDataset", "FP32FocalLoss", "generate_scenes", "prepare_digit_scenes",
           "prepare_mnist_scenes"]
