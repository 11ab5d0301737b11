"""scikit-learn baselines behind :class:`~tasks.anomaly.base.BaseDetector` (higher = more anomalous).

* :class:`IForestDetector` - Isolation Forest (Liu et al., ICDM 2008): score ``-score_samples``.
* :class:`LOFDetector` - Local Outlier Factor (Breunig et al., SIGMOD 2000) in novelty mode.
* :class:`OCSVMDetector` - one-class SVM (Schölkopf et al., 2001), RBF kernel.
* :class:`KNNDetector` - distance to the k-th nearest training point (Ramaswamy et al., SIGMOD 2000),
  or the mean / median of the k distances.

Defaults follow PyOD's, so results are comparable with ADBench / PyOD tables.
"""
from __future__ import annotations

from typing import Optional, Union

import numpy as np
from sklearn.ensemble import IsolationForest
from sklearn.neighbors import LocalOutlierFactor, NearestNeighbors
from sklearn.svm import OneClassSVM

from backbones.registry import MODELS

from .base import BaseDetector


@MODELS.register_module()
class IForestDetector(BaseDetector):
    """Isolation Forest: anomalies are isolated by fewer random splits.

    Args:
        n_estimators: trees.
        max_samples: rows per tree (``'auto'`` = min(256, n)).
        max_features: features per tree (fraction or count).
        contamination: see :class:`BaseDetector`.
        random_state: seed.
        n_jobs: parallel jobs for scikit-learn.
    """

    def __init__(self, n_estimators: int = 100, max_samples: Union[str, int, float] = "auto",
                 max_features: Union[int, float] = 1.0, contamination: float = 0.1,
                 random_state: Optional[int] = None, n_jobs: Optional[int] = None) -> None:
        super().__init__(contamination)
        self.n_estimators, self.max_samples, self.max_features = n_estimators, max_samples, max_features
        self.random_state, self.n_jobs = random_state, n_jobs

    def _fit(self, X: np.ndarray) -> None:
        self.model_ = IsolationForest(n_estimators=self.n_estimators, max_samples=self.max_samples,
                                      max_features=self.max_features, random_state=self.random_state,
                                      n_jobs=self.n_jobs).fit(X)

    def _score(self, X: np.ndarray) -> np.ndarray:
        return -self.model_.score_samples(X)


@MODELS.register_module()
class LOFDetector(BaseDetector):
    """Local Outlier Factor in novelty mode (fit on training data, score new rows).

    Args:
        n_neighbors: neighbourhood size (capped at ``n_train - 1``).
        metric: distance metric.
        contamination: see :class:`BaseDetector`.
    """

    def __init__(self, n_neighbors: int = 20, metric: str = "minkowski", contamination: float = 0.1) -> None:
        super().__init__(contamination)
        self.n_neighbors, self.metric = n_neighbors, metric

    def _min_samples(self) -> int:
        return 2

    def _fit(self, X: np.ndarray) -> None:
        k = min(int(self.n_neighbors), len(X) - 1)
        self.model_ = LocalOutlierFactor(n_neighbors=k, metric=self.metric, novelty=True).fit(X)

    def _train_scores(self, X: np.ndarray) -> np.ndarray:
        return -self.model_.negative_outlier_factor_

    def _score(self, X: np.ndarray) -> np.ndarray:
        return -self.model_.score_samples(X)


@MODELS.register_module()
class OCSVMDetector(BaseDetector):
    """One-class SVM: distance outside the learnt support (negated signed distance).

    Args:
        kernel: SVM kernel.
        nu: upper bound on the training outlier fraction / lower bound on support vectors.
        gamma: RBF width (``'scale'``, ``'auto'`` or a float).
        max_train_samples: fit on a random subset of this many rows (the SVM is quadratic in n);
            ``None`` = all rows.
        contamination: see :class:`BaseDetector`.
        random_state: seed of the subset.
    """

    def __init__(self, kernel: str = "rbf", nu: float = 0.5, gamma: Union[str, float] = "auto",
                 max_train_samples: Optional[int] = 10000, contamination: float = 0.1,
                 random_state: Optional[int] = None) -> None:
        super().__init__(contamination)
        self.kernel, self.nu, self.gamma = kernel, nu, gamma
        self.max_train_samples, self.random_state = max_train_samples, random_state

    def _fit(self, X: np.ndarray) -> None:
        if self.max_train_samples is not None and len(X) > self.max_train_samples:
            idx = np.random.RandomState(self.random_state).choice(len(X), self.max_train_samples, replace=False)
            X = X[idx]
        self.model_ = OneClassSVM(kernel=self.kernel, nu=self.nu, gamma=self.gamma).fit(X)

    def _score(self, X: np.ndarray) -> np.ndarray:
        return -self.model_.decision_function(X)


@MODELS.register_module()
class KNNDetector(BaseDetector):
    """k-nearest-neighbour distance to the training data.

    Args:
        n_neighbors: ``k``.
        method: ``'largest'`` (distance to the k-th neighbour), ``'mean'`` or ``'median'`` of the k.
        metric: distance metric (scikit-learn ``NearestNeighbors``).
        contamination: see :class:`BaseDetector`.

    Training rows are scored without themselves (``k + 1`` neighbours, the first dropped).
    """

    def __init__(self, n_neighbors: int = 5, method: str = "largest", metric: str = "minkowski",
                 contamination: float = 0.1) -> None:
        super().__init__(contamination)
        self.n_neighbors, self.method, self.metric = n_neighbors, method, metric

    def _min_samples(self) -> int:
        return int(self.n_neighbors) + 1

    def _check_params(self) -> None:
        super()._check_params()
        if self.method not in ("largest", "mean", "median"):
            raise ValueError(f"method must be 'largest', 'mean' or 'median', got {self.method!r}")
        if int(self.n_neighbors) < 1:
            raise ValueError(f"n_neighbors must be >= 1, got {self.n_neighbors}")

    def _fit(self, X: np.ndarray) -> None:
        self.model_ = NearestNeighbors(n_neighbors=int(self.n_neighbors) + 1, metric=self.metric).fit(X)

    def _reduce(self, dist: np.ndarray) -> np.ndarray:
        if self.method == "largest":
            return dist[:, -1]
        return dist.mean(1) if self.method == "mean" else np.median(dist, 1)

    def _train_scores(self, X: np.ndarray) -> np.ndarray:
        dist, _ = self.model_.kneighbors(X, n_neighbors=int(self.n_neighbors) + 1)
        return self._reduce(dist[:, 1:])

    def _score(self, X: np.ndarray) -> np.ndarray:
        dist, _ = self.model_.kneighbors(X, n_neighbors=int(self.n_neighbors))
        return self._reduce(dist)
