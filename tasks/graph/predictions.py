"""``tools/test.py --out FILE.csv`` for node classification: a prediction for every node, unlabelled ones too
(:class:`tasks.common.predictions.NodePredictionWriterHook`)."""
from __future__ import annotations

from tasks.common.predictions import add_hook, register_prediction_writer


def _every_node(cfg, evaluators, out: str) -> str:
    add_hook(cfg, dict(type="imixer.NodePredictionWriterHook", out_file=out))
    return f"a prediction for every node (CSV) to {out}"


register_prediction_writer("graph nodes (NodeDataset: CSV per node)", lambda types, datasets: "NodeDataset" in datasets,
                           _every_node)
