"""The detector API shared by every anomaly detector of imixer (scikit-learn estimator conventions).

* Hyper-parameters are ``__init__`` arguments stored unchanged (so ``get_params`` / ``clone`` work);
  everything learnt ends in ``_`` and is set by :meth:`BaseDetector.fit`.
* ``fit(X)`` takes the *unlabelled* training data (a ``y`` argument is accepted and ignored, as in
  scikit-learn's outlier detectors) and returns ``self``.
* :meth:`~BaseDetector.score_samples` and :meth:`~BaseDetector.decision_function` return the
  **anomaly score: higher = more anomalous** (PyOD's convention; note that scikit-learn's own
  ``IsolationForest.score_samples`` is the opposite, which the wrappers here negate).
* :meth:`~BaseDetector.predict` returns 1 for outliers and 0 for inliers, thresholding at the
  ``1 - contamination`` quantile of the training scores (``threshold_``).
* Input is validated with :func:`sklearn.utils.validation.check_array`: NaN / inf, non-2-D input, too
  few rows and a changed feature count raise ``ValueError`` with what is wrong and how to fix it.
"""
from __future__ import annotations

from typing import Optional

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_array, check_is_fitted


class BaseDetector(BaseEstimator):
    """Base class: validation, ``threshold_`` and ``predict`` around ``_fit`` / ``_score``.

    Subclasses implement ``_fit(X)`` (store fitted state) and ``_score(X) -> (n,)`` anomaly scores,
    and may set :attr:`min_samples` (fewest training rows they accept).

    Args:
        contamination: expected outlier fraction of the training data, only used for ``threshold_``
            and :meth:`predict` (scores and the benchmark do not depend on it).
    """

    #: fewest training rows ``fit`` accepts (subclasses raise it, e.g. to ``n_neighbors + 1``)
    min_samples: int = 2
    #: training rows used to estimate ``threshold_`` (a quantile; all rows when fewer)
    MAX_THRESHOLD_ROWS: int = 5000

    def __init__(self, contamination: float = 0.1) -> None:
        self.contamination = contamination

    # -- validation ---------------------------------------------------------------------------------------
    def _min_samples(self) -> int:
        return self.min_samples

    def _validate(self, X, reset: bool) -> np.ndarray:
        name = type(self).__name__
        if X is None:
            raise ValueError(f"{name}: X is None; pass an array of shape (n_samples, n_features)")
        arr = np.asarray(X) if not hasattr(X, "toarray") else X
        if getattr(arr, "ndim", 2) != 2:
            raise ValueError(f"{name}: expected a 2-D array (n_samples, n_features), got shape {np.shape(arr)}; "
                             "use X.reshape(-1, 1) for a single feature or X.reshape(1, -1) for a single sample")
        if isinstance(arr, np.ndarray) and arr.dtype.kind in "fc" and arr.size and not np.isfinite(arr).all():
            n_nan, n_inf = int(np.isnan(arr).sum()), int(np.isinf(arr).sum())
            raise ValueError(f"{name}: X contains {n_nan} NaN and {n_inf} inf values; impute or drop them before "
                             "fitting/scoring (detectors do not handle missing values)")
        minimum = self._min_samples() if reset else 1
        X = check_array(X, dtype=np.float64, ensure_2d=True, ensure_min_samples=minimum, ensure_min_features=1,
                        estimator=name)
        if reset:
            self.n_features_in_ = X.shape[1]
        else:
            check_is_fitted(self, "n_features_in_")
            if X.shape[1] != self.n_features_in_:
                raise ValueError(f"{name}: X has {X.shape[1]} features, but the detector was fitted with "
                                 f"{self.n_features_in_}; score data with the same columns as the training data")
        return X

    def _check_params(self) -> None:
        if not 0.0 < float(self.contamination) <= 0.5:
            raise ValueError(f"contamination must be in (0, 0.5], got {self.contamination}")

    # -- API ----------------------------------------------------------------------------------------------
    def fit(self, X, y=None) -> "BaseDetector":
        """Fit on unlabelled training data ``X (n_samples, n_features)``; ``y`` is ignored. Returns self."""
        self._check_params()
        X = self._validate(X, reset=True)
        self._fit(X)
        self.threshold_ = float(np.quantile(self._threshold_scores(X), 1.0 - float(self.contamination)))
        return self

    def _threshold_scores(self, X: np.ndarray) -> np.ndarray:
        """Training scores whose ``1 - contamination`` quantile is ``threshold_``: those of at most
        :attr:`MAX_THRESHOLD_ROWS` evenly spaced training rows (detectors that already scored training
        rows while fitting return those instead)."""
        rows = X if len(X) <= self.MAX_THRESHOLD_ROWS else X[np.linspace(0, len(X) - 1, self.MAX_THRESHOLD_ROWS).astype(int)]
        return self._train_scores(rows)

    def _train_scores(self, X: np.ndarray) -> np.ndarray:
        """Scores of (a subset of) the training rows for ``threshold_``; k-NN detectors exclude the row itself."""
        return self._score(X)

    def score_samples(self, X) -> np.ndarray:
        """Anomaly scores ``(n_samples,)``: **higher = more anomalous**."""
        check_is_fitted(self, "n_features_in_")
        X = self._validate(X, reset=False)
        scores = np.asarray(self._score(X), dtype=np.float64).ravel()
        if not np.isfinite(scores).all():
            raise FloatingPointError(f"{type(self).__name__} produced non-finite scores; check the input scale "
                                     "(standardise features) or the detector's settings")
        return scores

    def decision_function(self, X) -> np.ndarray:
        """Same as :meth:`score_samples` (higher = more anomalous), PyOD's name for it."""
        return self.score_samples(X)

    def predict(self, X) -> np.ndarray:
        """1 = outlier (score above ``threshold_``), 0 = inlier."""
        check_is_fitted(self, "threshold_")
        return (self.score_samples(X) > self.threshold_).astype(np.int64)

    def fit_predict(self, X, y=None) -> np.ndarray:
        """:meth:`fit` then labels of the training rows (1 = outlier)."""
        return self.fit(X).predict(X)

    # -- to implement -------------------------------------------------------------------------------------
    def _fit(self, X: np.ndarray) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _score(self, X: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError


def resolve_device(device: str) -> str:
    """``'auto'`` -> ``'cuda'`` when available else ``'cpu'``; ``'cuda'`` without CUDA raises."""
    import torch

    if device not in ("auto", "cpu", "cuda") and not str(device).startswith("cuda:"):
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda', got {device!r}")
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device={device!r} but CUDA is not available; use device='cpu' or 'auto'")
    return str(device)


def check_random_state_int(random_state: Optional[int]) -> int:
    """An int seed from ``random_state`` (``None`` -> a fresh random seed)."""
    if random_state is None:
        return int(np.random.randint(0, 2**31 - 1))
    if isinstance(random_state, (int, np.integer)):
        return int(random_state)
    raise TypeError(f"random_state must be an int or None, got {type(random_state).__name__}")
