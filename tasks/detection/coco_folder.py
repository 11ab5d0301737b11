"""Train and evaluate any detection config on your own COCO folder: ``coco_folder=PATH``.

    python tools/train.py configs/det/imixer_retinanet.py --cfg-options coco_folder=my_coco/
    python tools/train.py configs/det/retinanet_r18_fpn_600i_digits.py \
        --cfg-options coco_folder=my_coco/ coco_img_scale=320

The folder holds ``annotations/instances_train.json``, ``annotations/instances_val.json`` and the images
under ``images/train/`` and ``images/val/`` (or ``img_dir/train/``, ``img_dir/val/``). Every detection
config of this project accepts it: the mmdet runtime base names :func:`resolve_coco_folder` in
``config_resolvers``, so :class:`tasks.common.runner.IMixerRunner` points the config at the folder before
the Runner is built: the folder is checked (a missing or broken file is named), the datasets become
``imixer.CocoDetDataset`` with the folder's classes, the head gets their number, the config's pipelines
resize to ``coco_img_scale`` (default: the longest image side of the train json, at most 800) and
CocoMetric evaluates the val json (the test split is the val split).
"""
from __future__ import annotations

import json
from pathlib import Path

from tasks.common.runner import FUNCTIONS

#: annotation files, and image folders tried in this order
COCO_ANN = "annotations/instances_{split}.json"
COCO_IMG_DIRS = ("images/{split}", "img_dir/{split}")
COCO_LAYOUT = ("expected layout: PATH/annotations/instances_train.json, PATH/annotations/instances_val.json, "
               "PATH/images/train/, PATH/images/val/ (or img_dir/train/, img_dir/val/)")
MAX_AUTO_SCALE = 800


def plan_coco_folder(path: str, img_scale: int = None) -> dict:
    """Check a COCO folder (see the module doc) and return what the run needs.

    Returns ``dict(root, classes, img_scale, train=dict(ann_file, img_dir, num_images), val=...)``;
    paths are absolute, ``img_dir`` relative to ``root`` and ending in ``/``. ``img_scale`` defaults to
    the longest image side of the train json, at most ``MAX_AUTO_SCALE``.

    Raises:
        FileNotFoundError: the folder, an annotation file, an image folder or a listed image is missing.
        ValueError: a json is not valid COCO (not JSON, no images, no categories) or the train and val
            categories differ.
    """
    root = Path(path).resolve()
    if not root.is_dir():
        raise FileNotFoundError(f"coco_folder={path}: no such folder; {COCO_LAYOUT}")
    plan = dict(root=str(root))
    categories = {}
    for split in ("train", "val"):
        ann = root / COCO_ANN.format(split=split)
        if not ann.is_file():
            raise FileNotFoundError(f"coco_folder={path}: missing {ann}; {COCO_LAYOUT}")
        try:
            coco = json.loads(ann.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ValueError(f"{ann} is not valid JSON ({exc})") from exc
        if not isinstance(coco, dict):
            raise ValueError(f"{ann}: expected a JSON object with 'images', 'annotations' and 'categories'")
        for key in ("images", "categories"):
            if not coco.get(key):
                raise ValueError(f"{ann} lists no {key}")
        if "annotations" not in coco:
            raise ValueError(f"{ann} has no 'annotations' list")
        img_dir = next((d.format(split=split) for d in COCO_IMG_DIRS if (root / d.format(split=split)).is_dir()),
                       None)
        if img_dir is None:
            tried = " or ".join(str(root / d.format(split=split)) for d in COCO_IMG_DIRS)
            raise FileNotFoundError(f"coco_folder={path}: missing the {split} image folder {tried}; {COCO_LAYOUT}")
        missing = [str(im.get("file_name")) for im in coco["images"]
                   if not (root / img_dir / str(im.get("file_name"))).is_file()]
        if missing:
            raise FileNotFoundError(f"{ann} lists {len(missing)} image(s) not found under {root / img_dir}, e.g. "
                                    f"{root / img_dir / str(missing[0])}")
        categories[split] = [c["name"] for c in sorted(coco["categories"], key=lambda c: c["id"])]
        plan[split] = dict(ann_file=str(ann), img_dir=img_dir + "/", num_images=len(coco["images"]))
        if split == "train" and img_scale is None:
            sides = [max(int(im.get("width") or 0), int(im.get("height") or 0)) for im in coco["images"]]
            img_scale = min(max(sides), MAX_AUTO_SCALE) if max(sides) > 0 else None
    if categories["train"] != categories["val"]:
        raise ValueError(f"the categories of {plan['train']['ann_file']} ({categories['train']}) and "
                         f"{plan['val']['ann_file']} ({categories['val']}) differ; both need the same list")
    if not img_scale:
        raise ValueError(f"{plan['train']['ann_file']}: images have no width / height; set coco_img_scale=SIDE")
    plan.update(classes=tuple(categories["train"]), img_scale=int(img_scale))
    return plan


def _with_scale(pipeline: list, scale: int) -> list:
    """The pipeline with every ``Resize`` to ``(scale, scale)`` (keep_ratio as configured)."""
    out = []
    for step in pipeline:
        step = dict(step)
        if step.get("type") == "Resize":
            step["scale"] = (scale, scale)
        out.append(step)
    return out


def apply_coco_folder(cfg, plan: dict):
    """Point a detection config (configs/det) at the COCO folder of :func:`plan_coco_folder`.

    The config's own pipelines are kept with their ``Resize`` set to the folder's image size (the
    inherited pipelines are already resolved, so ``img_scale`` alone would change nothing); the dataset
    becomes ``imixer.CocoDetDataset`` with the folder's classes, the head gets their number, and
    CocoMetric evaluates against the val json.
    """
    common = dict(type="imixer.CocoDetDataset", data_root=plan["root"], metainfo=dict(classes=plan["classes"]))
    train = cfg.train_dataloader.dataset
    cfg.train_dataloader.dataset = dict(
        **common, ann_file=plan["train"]["ann_file"], data_prefix=dict(img=plan["train"]["img_dir"]),
        filter_cfg=dict(filter_empty_gt=True, min_size=4), pipeline=_with_scale(train.pipeline, plan["img_scale"]))
    val = cfg.val_dataloader.dataset
    cfg.val_dataloader.dataset = dict(
        **common, ann_file=plan["val"]["ann_file"], data_prefix=dict(img=plan["val"]["img_dir"]), test_mode=True,
        pipeline=_with_scale(val.pipeline, plan["img_scale"]))
    cfg.test_dataloader = cfg.val_dataloader
    cfg.val_evaluator.ann_file = plan["val"]["ann_file"]
    cfg.test_evaluator = cfg.val_evaluator
    cfg.model.bbox_head.num_classes = len(plan["classes"])
    return cfg


@FUNCTIONS.register_module()
def resolve_coco_folder(cfg):
    """Point ``cfg`` at ``cfg.coco_folder`` when it is set (see the module doc); a no-op otherwise."""
    folder = cfg.get("coco_folder")
    if not folder:
        return cfg
    plan = plan_coco_folder(str(folder), cfg.get("coco_img_scale"))
    print(f"[coco_folder] {plan['root']}: {len(plan['classes'])} classes, {plan['train']['num_images']} train / "
          f"{plan['val']['num_images']} val images, resized to fit {plan['img_scale']} px", flush=True)
    return apply_coco_folder(cfg, plan)


__all__ = ["plan_coco_folder", "apply_coco_folder", "resolve_coco_folder"]
