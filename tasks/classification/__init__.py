"""Image classification: the paper's own setting (iMixer vs MLP-Mixer) on digits and MNIST."""
from .datasets import DigitsDataset, MNISTDataset
from .model import ImageClassifier

__all__ = ["DigitsDataset", "MNISTDataset", "ImageClassifier"]

# the device check's tiny run of this task (tools/gpu_check.py)
from tasks.common.smoke import Task, register_smoke_task, subset_options  # noqa: E402

register_smoke_task(Task("cls", "configs/cls/imixer-t_digits.py", "configs/cls/mlpmixer-t_digits.py", subset_options,
                         "cls/accuracy"))
