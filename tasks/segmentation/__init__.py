"""Semantic segmentation with mmseg and the ``imixer.IMixerPyramid`` backbone.

Registers (scope ``imixer``) the datasets :class:`SegFolderDataset` (any mmseg ``img_dir/ann_dir``
folder), :class:`DigitScenesSegDataset` (the built-in digit scenes of
:mod:`tasks.common.scenes`, shared with detection, whose preparers ``digit_scenes`` / ``mnist_scenes`` also write these masks) and
the hooks :class:`SegVisualizationHook` (mmseg's, plus ``tools/test.py --show-dir``) and
:class:`ClassBalanceHook` (loss weights from the training set's class pixel shares) and the metric
:class:`ForegroundIoUMetric` (binary foreground IoU and the class accuracy on foreground pixels).
"""
from .datasets import DigitScenesSegDataset, SegFolderDataset
from .hooks import ClassBalanceHook, SegVisualizationHook
from .metrics import ForegroundIoUMetric

__all__ = ["ClassBalanceHook", "DigitScenesSegDataset", "ForegroundIoUMetric", "SegFolderDataset",
           "SegVisualizationHook"]

from . import predictions  # noqa: E402,F401  (its tools/test.py --out writer)

# the device check's tiny run of this task (tools/gpu_check.py)
from tasks.common.smoke import Task, register_smoke_task, scenes_options  # noqa: E402

register_smoke_task(Task("seg", "configs/seg/upernet_imixer-pyramid-t_600i_digits.py",
                         "configs/seg/upernet_mlpmixer-pyramid-t_600i_digits.py", scenes_options, "mIoU"))
