"""Pieces every task shares: data fetching, the digit scenes, the solver-statistics and NaN / inf hooks,
checkpoint checks, schedules that follow the run length, the classifier base and metric, AMP, the Runner
(:class:`IMixerRunner`) and its probe (:class:`RunProbeHook`)."""
from .fetch import (MissingDatasetError, PREPARERS, apt_fetch, cache_dir, data_root, pip_fetch, prepare,
                    register_preparer, wheel_member)
from .guards import NonFiniteError, NonFiniteHook
from .hooks import SolverStatsHook
from .metrics import ClsMetric
from .models import LogitsClassifier, unwrap_model
from .probe import RunProbeHook
from .runner import IMixerRunner, build_runner

__all__ = ["MissingDatasetError", "PREPARERS", "apt_fetch", "cache_dir", "data_root", "pip_fetch", "prepare",
           "register_preparer", "wheel_member", "NonFiniteError", "NonFiniteHook", "SolverStatsHook", "ClsMetric",
           "LogitsClassifier", "unwrap_model", "RunProbeHook", "IMixerRunner", "build_runner"]
