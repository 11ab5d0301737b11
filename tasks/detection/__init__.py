"""Object detection with mmdet and the ``imixer.IMixerPyramid`` backbone.

Registers (scope ``imixer``): the datasets :class:`CocoDetDataset` and :class:`DigitScenesDataset`,
the loss :class:`FP32FocalLoss`, the ``digit_scenes`` / ``mnist_scenes`` preparers and the config resolver
``resolve_coco_folder`` (train any detection config on your own COCO folder: ``coco_folder=PATH``).
"""
from .coco_folder import apply_coco_folder, plan_coco_folder, resolve_coco_folder
from .datasets import CocoDetDataset, DigitScenesDataset
from .losses import FP32FocalLoss
from tasks.common.scenes import generate_scenes, prepare_digit_scenes, prepare_mnist_scenes

__all__ = ["apply_coco_folder", "plan_coco_folder", "resolve_coco_folder", "CocoDetDataset", "DigitScenesDataset", "FP32FocalLoss", "generate_scenes", "prepare_digit_scenes",
           "prepare_mnist_scenes"]
