"""Anomaly detection with the iMixer: scikit-learn-style detectors, the ODDS datasets, the suite.

* :mod:`.datasets` - ODDS preparers / loaders (checked against the published sizes), image
  one-vs-rest sets, user ``.mat`` / ``.npz`` / ``.csv`` files.
* :mod:`.base`, :mod:`.baselines` - the detector API and the scikit-learn baselines.
* :mod:`.models`, :mod:`.detectors` - masked-token reconstruction with the iMixer; the tabular and
  image detectors (trained through mmengine's Runner).
* :mod:`.engine` - registered datasets, the ROC-AUC / AP metric and hooks for the Runner.
* :mod:`.benchmark` - the benchmark suite behind ``tools/benchmark_anomaly.py``.
"""
from .base import BaseDetector
from .baselines import IForestDetector, KNNDetector, LOFDetector, OCSVMDetector
from .datasets import (AnomalyData, DatasetSizeError, ODDS_NAMES, ODDS_SIZES, load_dataset, load_file,
                       load_image_one_vs_rest, load_odds)
from .detectors import IMixerImageDetector, IMixerTabularDetector
from .engine import AnomalyCalibrationHook, AnomalyMetric, AnomalySplitDataset, ArrayDataset, TqdmProgressHook
from .models import MaskedTokenIMixer

__all__ = ["BaseDetector", "IForestDetector", "KNNDetector", "LOFDetector", "OCSVMDetector", "AnomalyData",
           "DatasetSizeError", "ODDS_NAMES", "ODDS_SIZES", "load_dataset", "load_file", "load_image_one_vs_rest",
           "load_odds", "IMixerImageDetector", "IMixerTabularDetector", "AnomalyCalibrationHook", "AnomalyMetric",
           "AnomalySplitDataset", "ArrayDataset", "TqdmProgressHook", "MaskedTokenIMixer"]

# the device check's tiny run of this task (tools/gpu_check.py)
from tasks.common.smoke import Task, iters_options, register_smoke_task  # noqa: E402

register_smoke_task(Task("anomaly", "configs/anomaly/maskrecon_imixer-t_cardio.py",
                         "configs/anomaly/maskrecon_mlpmixer-t_cardio.py", iters_options, "anomaly/roc_auc",
                         ("odds_cardio", "odds/cardio.npz")))
