"""Predictions out of ``tools/test.py CONFIG CKPT --out FILE``, in the format each field expects.

:func:`configure_prediction_output` adds to a config what writes the test split's predictions, through the
writer its task registered (:func:`register_prediction_writer`; detection, segmentation and graphs
register theirs in their own packages):

==================  =============================================================================
task                ``--out`` writes
==================  =============================================================================
classification,     a CSV, one row per test item: ``id`` (the dataset's row id, else the index),
text                ``pred_label``, ``label`` (the true class when known), ``prob_<class>`` per class
anomaly             a CSV, one row per test row: ``id``, ``score`` (higher = more anomalous),
                    ``label`` (1 outlier / 0 inlier, when known)
graph (nodes)       a CSV with *every* node of the graph, unlabelled ones included: ``node``,
                    ``name``, ``split`` (train / val / test, empty for unlabelled), ``label``,
                    ``pred_label``, ``prob_<class>``
detection           mmdet's COCO result JSON (``CocoMetric(outfile_prefix=...)``):
                    ``[{image_id, category_id, bbox: [x, y, w, h], score}, ...]``
segmentation        a folder with one label PNG per image (mmseg's ``IoUMetric(output_dir=...)``),
                    pixel value = class index
==================  =============================================================================

The test metrics are computed as without ``--out``. In distributed runs the rows are gathered in
dataset order and rank 0 writes the file.
"""
from __future__ import annotations

import csv
import os
import os.path as osp
from dataclasses import dataclass
from typing import Callable, List, Optional, Sequence

import torch
from mmengine.dist import collect_results, is_main_process
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from backbones.registry import HOOKS

from .testing import dataset_classes as _classes


def _label(value) -> Optional[int]:
    """A ground-truth label as an int, ``None`` when unknown (``None`` or negative)."""
    if value is None:
        return None
    value = int(value)
    return value if value >= 0 else None


def _row(sample: dict) -> tuple:
    """One model output (``'predict'`` mode) as a picklable row."""
    if "pred_score" in sample:  # anomaly: dict(pred_score, gt_label)
        return ("score", float(sample["pred_score"]), _label(sample.get("gt_label")))
    if "scores" in sample and "pred_label" in sample:  # classifiers: dict(pred_label, gt_label, scores)
        scores = sample["scores"]
        scores = scores.float().cpu().tolist() if isinstance(scores, torch.Tensor) else list(scores)
        return ("cls", int(sample["pred_label"]), _label(sample.get("gt_label")), scores)
    raise TypeError(f"--out: cannot write model outputs with keys {sorted(sample)}; the prediction writer "
                    "knows classifier outputs (pred_label, scores, gt_label) and anomaly outputs (pred_score, "
                    "gt_label)")


def _cls_header(classes: Optional[Sequence[str]], num_scores: int) -> List[str]:
    names = list(classes) if classes and len(classes) == num_scores else [str(i) for i in range(num_scores)]
    return [f"prob_{c}" for c in names]


def _class_name(index: Optional[int], classes: Optional[Sequence[str]]) -> str:
    if index is None:
        return ""
    return str(classes[index]) if classes and index < len(classes) else str(index)


class _CsvWriterHook(Hook):
    """A test hook that writes one CSV (rank 0)."""

    def __init__(self, out_file: str) -> None:
        if not out_file:
            raise ValueError(f"{type(self).__name__} needs out_file (the CSV to write)")
        self.out_file = str(out_file)

    def _write(self, header: List[str], rows) -> None:
        os.makedirs(osp.dirname(osp.abspath(self.out_file)), exist_ok=True)
        with open(self.out_file, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(header)
            writer.writerows(rows)


@HOOKS.register_module()
class PredictionWriterHook(_CsvWriterHook):
    """Write one CSV row per test item (classification, text, anomaly); see the module docstring.

    Args:
        out_file: the CSV to write.
    """

    priority = "LOW"

    def __init__(self, out_file: str) -> None:
        super().__init__(out_file)
        self._rows: list = []

    def before_test(self, runner) -> None:
        self._rows = []
        sampler = getattr(runner.test_dataloader, "sampler", None)
        if getattr(sampler, "shuffle", False):
            raise ValueError("--out: test_dataloader.sampler.shuffle=True, so predictions cannot be matched to their "
                             "rows; set test_dataloader.sampler.shuffle=False")

    def after_test_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        self._rows.extend(_row(s) for s in outputs or [])

    def after_test_epoch(self, runner, metrics=None) -> None:
        dataset = runner.test_dataloader.dataset
        rows = collect_results(self._rows, len(dataset), device="cpu")
        self._rows = []
        if not is_main_process():
            return
        if len(rows) != len(dataset):
            raise RuntimeError(f"--out: got {len(rows)} predictions for {len(dataset)} test items; each item must give "
                               "one prediction (test_dataloader.drop_last must be False)")
        ids = getattr(dataset, "ids", None)
        ids = list(ids) if ids is not None and len(ids) == len(rows) else list(range(len(rows)))
        classes = _classes(dataset)
        if rows and rows[0][0] == "score":
            self._write(["id", "score", "label"],
                        ([i, repr(score), "" if gt is None else gt] for i, (_, score, gt) in zip(ids, rows)))
        else:
            self._write(["id", "pred_label", "label", *_cls_header(classes, len(rows[0][3]) if rows else 0)],
                        ([i, _class_name(pred, classes), _class_name(gt, classes), *(f"{p:.6g}" for p in scores)]
                         for i, (_, pred, gt, scores) in zip(ids, rows)))
        runner.logger.info(f"[predictions] {len(rows)} test predictions written to {self.out_file}")


@HOOKS.register_module()
class NodePredictionWriterHook(_CsvWriterHook):
    """Write a prediction for every node of the test graph, unlabelled ones included (a CSV).

    The test split's metrics stay those of its labelled test nodes; after them, the model predicts every
    node of ``test_dataloader.dataset.all_nodes()`` (:meth:`tasks.graph.datasets.NodeDataset.all_nodes`)
    on rank 0. Columns: ``node, name, split, label, pred_label, prob_<class>...``.

    Args:
        out_file: the CSV to write.
    """

    # Before EMAHook's after_test_epoch (NORMAL) swaps the averaged weights back out.
    priority = "ABOVE_NORMAL"

    def after_test_epoch(self, runner, metrics=None) -> None:
        if not is_main_process():
            return
        test_set = runner.test_dataloader.dataset
        if not hasattr(test_set, "all_nodes"):
            raise TypeError(f"--out for node classification needs a test dataset with all_nodes() (NodeDataset); "
                            f"{type(test_set).__name__} has none")
        dataset = test_set.all_nodes()
        loader = torch.utils.data.DataLoader(dataset, batch_size=runner.test_dataloader.batch_size, shuffle=False,
                                             collate_fn=runner.test_dataloader.collate_fn)
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        rows = []
        with torch.no_grad():
            for batch in loader:
                rows.extend(_row(s) for s in model.test_step(batch))
        data = dataset.data
        n = int(data.num_nodes)
        if len(rows) != n:
            raise RuntimeError(f"--out: the model gave {len(rows)} predictions for a graph of {n} nodes")
        split_of = [""] * n
        for name, idx in getattr(dataset, "splits", {}).items():
            for v in idx.tolist():
                split_of[v] = name
        names = data.get("node_names") if hasattr(data, "get") else None
        classes = _classes(dataset)
        self._write(["node", "name", "split", "label", "pred_label", *_cls_header(classes, len(rows[0][3]))],
                    ([v, names[v] if names is not None else v, split_of[v], _class_name(gt, classes),
                      _class_name(pred, classes), *(f"{p:.6g}" for p in scores)]
                     for v, (_, pred, gt, scores) in enumerate(rows)))
        labelled = sum(1 for r in rows if r[2] is not None)
        runner.logger.info(f"[predictions] predictions for all {n} nodes ({n - labelled} unlabelled) written to "
                           f"{self.out_file}")


@HOOKS.register_module()
class MoveFileHook(Hook):
    """After the test, move a file a metric wrote (``src``) to where the user asked for it (``dst``); rank 0."""

    priority = "LOWEST"

    def __init__(self, src: str, dst: str) -> None:
        self.src, self.dst = str(src), str(dst)

    def after_test_epoch(self, runner, metrics=None) -> None:
        if not is_main_process():
            return
        if not osp.isfile(self.src):
            raise FileNotFoundError(f"--out: the evaluator did not write {self.src}")
        if osp.abspath(self.src) != osp.abspath(self.dst):
            os.replace(self.src, self.dst)
        runner.logger.info(f"[predictions] written to {self.dst}")


def _evaluators(cfg) -> list:
    ev = cfg.get("test_evaluator")
    if ev is None:
        return []
    if isinstance(ev, dict) and "metrics" in ev and "type" not in ev:
        ev = ev["metrics"]
    return list(ev) if isinstance(ev, (list, tuple)) else [ev]


def _type_name(obj) -> str:
    t = obj.get("type", "") if isinstance(obj, dict) else ""
    return (t if isinstance(t, str) else getattr(t, "__name__", str(t))).split(".")[-1]


def _dataset_types(dataset_cfg) -> List[str]:
    """Type names of a dataset config and of the datasets it wraps."""
    if not isinstance(dataset_cfg, dict):
        return []
    names = [_type_name(dataset_cfg)]
    for key in ("dataset", "datasets"):
        inner = dataset_cfg.get(key)
        for d in inner if isinstance(inner, (list, tuple)) else [inner]:
            names += _dataset_types(d)
    return names


@dataclass(frozen=True)
class PredictionWriter:
    """How ``--out`` writes one task's predictions.

    Args:
        name: the task, for messages.
        matches: ``(evaluator type names, test dataset type names) -> bool``: the config is this task's.
        configure: ``(cfg, evaluators, out) -> description``: adds to ``cfg`` what writes to ``out``.
        generic: tried after every specific writer (the per-item CSV any classifier can write).
    """

    name: str
    matches: Callable[[List[str], List[str]], bool]
    configure: Callable[[object, list, str], str]
    generic: bool = False


#: the writers in registration order; each task registers its own (:func:`register_prediction_writer`)
WRITERS: List[PredictionWriter] = []


def register_prediction_writer(name: str, matches, configure, generic: bool = False) -> PredictionWriter:
    """Add a task's ``--out`` writer; ``generic`` ones are tried after every specific one."""
    if any(w.name == name for w in WRITERS):
        raise KeyError(f"prediction writer {name!r} registered twice")
    writer = PredictionWriter(name, matches, configure, generic)
    WRITERS.append(writer)
    return writer


def add_hook(cfg, hook: dict) -> None:
    """Append ``hook`` to the config's ``custom_hooks``."""
    cfg.custom_hooks = [*(cfg.get("custom_hooks") or []), hook]


def evaluators_of(evaluators: list, type_name: str) -> list:
    """The evaluator configs of ``type_name``."""
    return [e for e in evaluators if _type_name(e) == type_name]


def configure_prediction_output(cfg, out: str) -> str:
    """Make the config's test run also write its predictions to ``out`` (see the module docstring).

    Args:
        cfg: an mmengine ``Config`` with ``test_dataloader`` and ``test_evaluator``.
        out: the file to write (a folder for segmentation).

    Returns:
        what will be written, for the log.

    Raises:
        ValueError: the config has no test split, or no writer knows its task.
    """
    evaluators = _evaluators(cfg)
    if cfg.get("test_dataloader") is None or not evaluators:
        raise ValueError("--out needs a config with test_dataloader and test_evaluator")
    types = [_type_name(e) for e in evaluators]
    datasets = _dataset_types(cfg.test_dataloader.get("dataset"))
    for writer in sorted(WRITERS, key=lambda w: w.generic):  # specific writers first (a stable sort)
        if writer.matches(types, datasets):
            return writer.configure(cfg, evaluators, out)
    raise ValueError(f"--out: no prediction writer for a config evaluated by {types}; registered: "
                     f"{', '.join(w.name for w in WRITERS)}")


def _rows_csv(cfg, evaluators, out: str) -> str:
    add_hook(cfg, dict(type="imixer.PredictionWriterHook", out_file=out))
    return f"one row per test item (CSV) to {out}"


# classification, text and anomaly: one CSV row per test item (the generic writer, tried last)
register_prediction_writer("classification / text / anomaly (CSV per item)",
                           lambda types, datasets: "AnomalyMetric" in types or "ClsMetric" in types, _rows_csv,
                           generic=True)

__all__ = ["PredictionWriterHook", "NodePredictionWriterHook", "MoveFileHook", "configure_prediction_output",
           "register_prediction_writer", "PredictionWriter", "WRITERS", "add_hook", "evaluators_of"]
