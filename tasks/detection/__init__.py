"""Object detection with mmdet and the ``imixer.IMixerPyramid`` backbone.

Registers (scope ``imixer``): the datasets :class:`CocoDetDataset` and :class:`DigitScenesDataset`,
the loss :class:`FP32FocalLoss`, the ``digit_scenes`` / ``mnist_scenes`` preparers and the config resolver
``resolve_coco_folder`` (train any detection config on your own COCO folder: ``coco_folder=PATH``).
"""
from .coco_folder import apply_coco_folder, plan_coco_folder, resolve_coco_folder
from .datasets import CocoDetDataset, DigitScenesDataset
from .losses import FP32FocalLoss
from tasks.common.scenes import generate_scenes, prepare_digit_scenes, prepare_mnist_scenes

__all__ = ["apply_coco_folder", "plan_coco_folder", "resolve_coco_folder", "CocoDetDataset", "DigitScenesDataset",
           "FP32FocalLoss", "generate_scenes", "prepare_digit_scenes", "prepare_mnist_scenes"]

from . import predictions  # noqa: E402,F401  (its tools/test.py --out writer)

# the device check's tiny run of this task (tools/gpu_check.py)
from tasks.common.smoke import Task, register_smoke_task, scenes_options  # noqa: E402


def _smoke_options(cfg, iters, work):
    # an untrained detector scores below the config's 0.05: CocoMetric would receive no box at all
    return scenes_options(cfg, iters, work) + ["model.test_cfg.score_thr=0.0"]


register_smoke_task(Task("det", "configs/det/imixer_retinanet.py",
                         "configs/det/retinanet_mlpmixer-pyramid-t_fpn_600i_digits.py", _smoke_options,
                         "coco/bbox_mAP"))
