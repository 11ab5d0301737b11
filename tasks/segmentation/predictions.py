"""``tools/test.py --out DIR`` for segmentation: one label PNG per image (mmseg's ``IoUMetric(output_dir=...)``)."""
from __future__ import annotations

from tasks.common.predictions import evaluators_of, register_prediction_writer


def _label_pngs(cfg, evaluators, out: str) -> str:
    for e in evaluators_of(evaluators, "IoUMetric"):
        e["output_dir"] = out
    return f"one label PNG per test image to the folder {out}"


register_prediction_writer("segmentation (IoUMetric: label PNGs)", lambda types, datasets: "IoUMetric" in types,
                           _label_pngs)
