"""Dataset loaders against the published ODDS sizes, image one-vs-rest sets and user files.

The fetched ODDS / ADBench sets are prepared by ``tools/prepare_data.py --for-tests`` (README test command);
a missing one fails here with the prepare command in the message (no skips).
"""
import numpy as np
import pytest
from scipy.io import savemat

from tasks.anomaly.datasets import (DatasetSizeError, ODDS_NAMES, ODDS_SIZES, AnomalyData, check_size,
                                    dataset_key, load_dataset, load_file, load_image_one_vs_rest, load_odds)
from tasks.common.fetch import PREPARERS, MissingDatasetError

PUBLISHED = {  # rows, outliers, features. ODDS (Rayana 2016):
    "cardio": (1831, 176, 21), "shuttle": (49097, 3511, 9), "satellite": (6435, 2036, 36),
    "ionosphere": (351, 126, 33), "pima": (768, 268, 8), "wbc": (378, 21, 30), "wine": (129, 10, 13),
    "breastw": (683, 239, 9), "arrhythmia": (452, 66, 274), "lympho": (148, 6, 18), "glass": (214, 9, 9),
    "satimage-2": (5803, 71, 36),
    # ADBench (Han et al., NeurIPS 2022, Table D1):
    "landsat": (6435, 1333, 36), "spambase": (4207, 1679, 57), "wdbc": (367, 10, 30)}


def test_table_matches_published():
    assert ODDS_SIZES == PUBLISHED and set(ODDS_NAMES) == set(PUBLISHED)


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_odds_loader_published_size(name):
    d = load_odds(name)
    rows, outliers, feats = PUBLISHED[name]
    assert d.X.shape == (rows, feats) and d.y.shape == (rows,)
    assert int(d.y.sum()) == outliers and set(np.unique(d.y)) == {0, 1}
    assert np.isfinite(d.X).all() and d.X.dtype == np.float64
    if name != "arrhythmia":  # ODDS keeps arrhythmia's all-zero columns (274 features); the others have none
        assert (d.X.std(0) > 0).all(), "no constant features (ODDS drops them, e.g. ionosphere's V2)"


def test_preparers_registered_for_tests():
    for name in set(PUBLISHED) - {"wbc", "wine", "wdbc"}:  # those three come from scikit-learn
        assert PREPARERS[f"odds_{name}"].for_tests


def test_size_check_raises():
    d = AnomalyData("toy", np.zeros((10, 2)), np.r_[np.ones(2), np.zeros(8)])
    with pytest.raises(DatasetSizeError, match="published"):
        check_size(d, (10, 3, 2))


def test_missing_dataset_names_prepare_command(tmp_path):
    with pytest.raises(MissingDatasetError, match="prepare_data.py odds_cardio"):
        load_odds("cardio", root=tmp_path)
    with pytest.raises(KeyError, match="known"):
        load_odds("arrythmia")


def test_digits_one_vs_rest():
    d = load_image_one_vs_rest("digits", normal_class=3, contamination=0.1)
    assert d.image_shape == (1, 8, 8) and d.X.shape[1] == 64
    assert 0 <= d.X.min() and d.X.max() <= 1
    assert abs(d.y.mean() - 0.1) < 0.01 and (d.y == 0).sum() == 183  # all 183 threes
    assert dataset_key(dict(type="image", name="digits", normal_class=3)) == d.name == "digits_3"
    with pytest.raises(ValueError, match="normal_class"):
        load_image_one_vs_rest("digits", normal_class=11)


def test_user_files(tmp_path):
    rng = np.random.RandomState(0)
    X, y = rng.randn(50, 4), (rng.rand(50) < 0.2).astype(int)
    savemat(tmp_path / "odds.mat", dict(X=X, y=y[:, None].astype(float)))
    np.savez(tmp_path / "adbench.npz", X=X, y=y)
    import pandas as pd

    df = pd.DataFrame(X, columns=list("abcd"))
    df["label"] = y
    df.to_csv(tmp_path / "mine.csv", index=False)
    df.rename(columns={"label": "is_bad"}).to_csv(tmp_path / "other.csv", index=False)
    for path in ("odds.mat", "adbench.npz", "mine.csv"):
        d = load_file(tmp_path / path)
        np.testing.assert_allclose(d.X, X)
        np.testing.assert_array_equal(d.y, y)
    d = load_dataset(dict(path=str(tmp_path / "other.csv"), label_column="is_bad", name="o"))
    assert d.name == "o" and d.X.shape == (50, 4)
    # bad files: clear errors
    np.savez(tmp_path / "bad.npz", data=X)
    with pytest.raises(ValueError, match="'X' and 'y'"):
        load_file(tmp_path / "bad.npz")
    np.savez(tmp_path / "nan.npz", X=np.where(X > 2, np.nan, X), y=y)
    with pytest.raises(ValueError, match="NaN"):
        load_file(tmp_path / "nan.npz")
    np.savez(tmp_path / "multi.npz", X=X, y=rng.randint(0, 3, 50))
    with pytest.raises(ValueError, match="outlier_label"):
        load_file(tmp_path / "multi.npz")
    assert load_file(tmp_path / "multi.npz", outlier_label=2).y.max() == 1
    (tmp_path / "x.txt").write_text("1,2")
    with pytest.raises(ValueError, match="unsupported"):
        load_file(tmp_path / "x.txt")
    with pytest.raises(FileNotFoundError):
        load_file(tmp_path / "absent.csv")


@pytest.fixture
def one_more_set(tmp_path, monkeypatch):
    """An ADBench-style ``.npz`` (arrays X, y) added to the suite by one record; removed afterwards."""
    from tasks.anomaly import datasets as ds

    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(size=(180, 5)), rng.normal(4.0, 1.0, size=(20, 5))])
    y = np.r_[np.zeros(180, int), np.ones(20, int)]
    src = tmp_path / "19_toy.npz"
    np.savez(src, X=X, y=y)
    monkeypatch.setenv("IMIXER_DATA", str(tmp_path / "data"))
    ds.register_tabular_set("toy", (200, 20, 5), f"ADBench-style {src.name}", group="toy_source",
                            for_tests=False)(lambda: (np.load(src)["X"], np.load(src)["y"]))
    yield "toy"
    for table in (ds.TABULAR_SETS, ds.ODDS_SIZES):
        table.pop("toy")
    PREPARERS.pop("odds_toy")


def test_a_new_npz_set_takes_one_record(one_more_set, tmp_path):
    from tasks.anomaly.benchmark import SuiteConfig, read_results, run_suite

    assert "odds_toy" in PREPARERS and not PREPARERS["odds_toy"].for_tests
    data = load_dataset("toy")  # prepared on first use into data/odds/toy.npz, then its size checked
    assert (tmp_path / "data" / "odds" / "toy.npz").exists() and data.X.shape == (200, 5) and data.y.sum() == 20
    suite = SuiteConfig(datasets=["toy"], detectors={"iforest": dict(type="IForestDetector")}, seeds=[0],
                        out_dir=str(tmp_path / "res"))
    rows = read_results(run_suite(suite, progress=False, log=lambda *a: None) / "results.csv")
    assert [(r["dataset"], r["status"]) for r in rows] == [("toy", "ok")] and float(rows[0]["roc_auc"]) > 0.9
