"""docs/detection.md's recipes, run as written: mmdet's own stock RetinaNet config (from the installed
mmdet package) with the backbone swapped by the documented block has FPN strides equal to its anchor
strides; the documented image-size child reaches every dataloader; ``--show-score-thr`` reaches mmdet's
visualization hook."""
import re
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.utils import get_installed_path

from tasks.detection import generate_scenes

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "detection.md"
STOCK = "retinanet/retinanet_r50_fpn_1x_coco.py"


def doc_block(name: str) -> str:
    """The python block of docs/detection.md right after its ``(block: NAME)`` marker."""
    text = DOC.read_text()
    match = re.search(r"<!-- tested by tests/detection/test_stock_recipes\.py \(block: " + re.escape(name)
                      + r"\) -->\n```python\n(.*?)```", text, re.S)
    assert match, f"docs/detection.md has no block marked {name!r}"
    return match.group(1)


def child_config(tmp_path, *blocks: str, name: str = "child.py") -> Config:
    path = tmp_path / name
    path.write_text("\n".join(blocks))
    return Config.fromfile(str(path))


def unscoped(obj):
    """A config dict without the ``_scope_='mmdet'`` marks mmengine adds to what comes from ``mmdet::``."""
    if isinstance(obj, dict):
        return {k: unscoped(v) for k, v in obj.items() if k != "_scope_"}
    if isinstance(obj, (list, tuple)):
        return type(obj)(unscoped(v) for v in obj)
    return obj


def stock_config() -> Config:
    path = Path(get_installed_path("mmdet")) / ".mim" / "configs" / STOCK
    assert path.is_file(), f"mmdet's packaged config {STOCK} not found in the installed mmdet"
    return Config.fromfile(str(path))


def fpn_and_anchor_strides(cfg: Config, size=(128, 256)):
    """Build the detector through mmdet's registry, run backbone + FPN + head on one image; return the
    strides of the FPN outputs (image size / map size) and the anchor generator's strides."""
    init_default_scope(cfg.get("default_scope", "mmdet"))
    from mmdet.registry import MODELS

    model = MODELS.build(cfg.model).eval()
    with torch.no_grad():
        feats = model.extract_feat(torch.rand(1, 3, *size))
        cls_scores, _ = model.bbox_head(feats)
    assert len(cls_scores) == len(feats)
    fpn = [(size[0] / f.shape[-2], size[1] / f.shape[-1]) for f in feats]
    anchors = [tuple(float(v) for v in s) for s in model.bbox_head.prior_generator.strides]
    return model, fpn, anchors


def test_documented_swap_in_stock_retinanet_has_fpn_strides_of_the_anchors(tmp_path):
    block = doc_block("retinanet")
    assert f"_base_ = 'mmdet::{STOCK}'" in block  # mmdet's own config, found in the installed package
    cfg = child_config(tmp_path, block)
    stock = stock_config()
    # only the backbone and the neck's input wiring differ from mmdet's config
    child, stock = unscoped(cfg.to_dict()), unscoped(stock.to_dict())
    assert {k: v for k, v in child["model"].items() if k not in ("backbone", "neck")} == \
        {k: v for k, v in stock["model"].items() if k not in ("backbone", "neck")}
    neck = child["model"]["neck"]
    assert {k for k in neck if neck[k] != stock["model"]["neck"].get(k)} <= {"in_channels", "start_level"}
    for key in ("train_dataloader", "val_dataloader", "optim_wrapper", "param_scheduler", "train_cfg"):
        assert child[key] == stock[key], key

    model, fpn, anchors = fpn_and_anchor_strides(cfg)
    assert type(model.backbone).__name__ == "IMixerPyramid" and type(model.neck).__name__ == "FPN"
    assert anchors == [(8.0, 8.0), (16.0, 16.0), (32.0, 32.0), (64.0, 64.0), (128.0, 128.0)]
    assert fpn == anchors

    # the recipe the docs had before (stock start_level=1 with three backbone outputs) builds and runs,
    # but its FPN sits one level too coarse: this is what the check above catches
    old = child_config(tmp_path, block.replace("start_level=0, ", ""), name="old.py")
    assert old.model.neck.start_level == 1
    _, old_fpn, old_anchors = fpn_and_anchor_strides(old)
    assert old_anchors == anchors and old_fpn[0] == (16.0, 16.0) and old_fpn != anchors


def _resize_scales(cfg: Config) -> dict:
    return {k: [tuple(s["scale"]) for s in cfg[k].dataset.pipeline if s["type"] == "Resize"]
            for k in ("train_dataloader", "val_dataloader", "test_dataloader")}


def test_documented_image_size_child_reaches_every_dataloader(tmp_path):
    base = doc_block("retinanet")
    cfg = child_config(tmp_path, base, doc_block("image size"))
    assert _resize_scales(cfg) == {k: [(640, 640)] for k in ("train_dataloader", "val_dataloader", "test_dataloader")}
    # what the docs warn about: a new img_scale, or a new pipeline not handed to the dataloaders, changes nothing
    only_vars = child_config(tmp_path, base, "img_scale = (640, 640)\n"
                             "train_pipeline = [dict(type='Resize', scale=img_scale, keep_ratio=True)]\n",
                             name="only_vars.py")
    assert _resize_scales(only_vars)["train_dataloader"] == [(1333, 800)]


def test_documented_command_line_resize_reaches_every_dataloader():
    from mmengine.config import DictAction

    line = next(ln for ln in DOC.read_text().splitlines() if "pipeline.2.scale" in ln)
    options = re.findall(r'"([^"]+)"', line)
    assert len(options) == 3
    ns = __import__("argparse").Namespace()
    DictAction(option_strings=["--cfg-options"], dest="opts")(None, ns, options)
    cfg = Config.fromfile(str(ROOT / "configs/det/imixer_retinanet.py"))
    cfg.merge_from_dict(ns.opts)
    assert _resize_scales(cfg) == {k: [(224, 224)] for k in ("train_dataloader", "val_dataloader", "test_dataloader")}


def _pred_halves(show_dir: Path) -> dict:
    """DetLocalVisualizer saves ground truth | prediction side by side: the right halves by file name."""
    out = {}
    for png in sorted(show_dir.glob("*.png")):
        img = cv2.imread(str(png))
        out[png.name] = img[:, img.shape[1] // 2:]
    return out


def test_show_score_thr_reaches_the_visualization_hook(tmp_path, monkeypatch):
    from mmdet.engine.hooks import DetVisualizationHook

    import inspect

    # the default the docs name
    assert inspect.signature(DetVisualizationHook.__init__).parameters["score_thr"].default == 0.3
    scenes = generate_scenes(tmp_path / "scenes", num_train=2, num_val=2, seed=5)
    config = str(ROOT / "configs/det/imixer_retinanet.py")
    cfg = Config.fromfile(config)
    cfg.model.backbone.depths = [1, 1, 2, 1]
    init_default_scope("mmdet")
    from mmdet.registry import MODELS

    model = MODELS.build(cfg.model)
    model.init_weights()  # RetinaHead's prior: every class scored about 0.01
    ckpt = tmp_path / "untrained.pth"
    torch.save({"state_dict": model.state_dict(), "meta": {}}, ckpt)
    opts = ["model.backbone.depths=[1,1,2,1]", "model.test_cfg.score_thr=0.0", "test_dataloader.num_workers=0",
            "test_dataloader.persistent_workers=False", f"test_dataloader.dataset.data_root={scenes}"]
    from tasks.common.cli import test_main

    halves = {}
    for thr in (None, 0.0):
        show = tmp_path / f"show_{thr}"
        argv = ["test.py", config, str(ckpt), "--work-dir", str(tmp_path / "work"), "--show-dir", str(show)]
        argv += [] if thr is None else ["--show-score-thr", str(thr)]
        monkeypatch.setattr(sys, "argv", argv + ["--cfg-options", *opts])
        test_main()
        halves[thr] = _pred_halves(show)
    assert sorted(halves[None]) == sorted(halves[0.0]) and len(halves[0.0]) == 2
    # an untrained RetinaNet scores about 0.01: nothing is drawn at 0.3, its 100 boxes are at 0.0
    for name, pred in halves[None].items():
        img = cv2.imread(str(scenes / "img_dir" / "val" / name))
        assert np.abs(pred.astype(int) - img.astype(int)).max() <= 2, f"{name}: boxes drawn at score_thr 0.3"
        assert np.abs(halves[0.0][name].astype(int) - img.astype(int)).max() > 50, f"{name}: no boxes drawn at 0.0"
