"""``tools/test.py --out FILE.json`` for detection: mmdet's COCO result JSON (``CocoMetric(outfile_prefix=...)``)."""
from __future__ import annotations

import os
import os.path as osp

from tasks.common.predictions import add_hook, evaluators_of, register_prediction_writer


def _coco_json(cfg, evaluators, out: str) -> str:
    if not out.endswith(".json"):
        raise ValueError(f"--out {out}: detection writes COCO result JSON; give a file name ending in .json")
    stem = out[:-len(".json")]
    prefix = stem[:-len(".bbox")] if stem.endswith(".bbox") else stem
    for e in evaluators_of(evaluators, "CocoMetric"):
        e["outfile_prefix"] = prefix
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    add_hook(cfg, dict(type="imixer.MoveFileHook", src=f"{prefix}.bbox.json", dst=out))
    return f"COCO bbox results (JSON) to {out}"


register_prediction_writer("detection (CocoMetric: COCO result JSON)", lambda types, datasets: "CocoMetric" in types,
                           _coco_json)
