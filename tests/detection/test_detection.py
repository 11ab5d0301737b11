"""Detection: digit scenes (valid COCO), configs through mmdet's registries, FP32 focal loss, a 2-iteration
tools/train.py --amp run (bf16 on CPU) with evaluation, tools/test.py --show-dir, and clear errors for bad data."""
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from tasks.common.scenes import generate_scenes
from tasks.detection import CocoDetDataset, DigitScenesDataset, FP32FocalLoss

DET_CONFIGS = ["configs/det/imixer_retinanet.py", "configs/det/retinanet_mlpmixer-pyramid-t_fpn_600i_digits.py",
               "configs/det/retinanet_r18_fpn_600i_digits.py"]
FAST = ["train_cfg.max_iters=2", "train_cfg.val_interval=2", "train_dataloader.batch_size=2",
        "train_dataloader.num_workers=0", "train_dataloader.persistent_workers=False",
        "val_dataloader.num_workers=0", "val_dataloader.persistent_workers=False", "val_dataloader.batch_size=2",
        "test_dataloader.num_workers=0", "test_dataloader.persistent_workers=False",
        "model.test_cfg.score_thr=0.0",  # an untrained detector scores below 0.05: CocoMetric would get nothing
        "default_hooks.logger.interval=1", "model.backbone.depths=[1,1,2,1]"]


@pytest.fixture(scope="module")
def scenes(tmp_path_factory):
    root = tmp_path_factory.mktemp("scenes") / "digit_scenes"
    return generate_scenes(root, num_train=6, num_val=4, seed=3)


def test_scenes_are_valid_coco_and_masks_match(scenes):
    from pycocotools.coco import COCO

    for split in ("train", "val"):
        coco = COCO(str(scenes / "annotations" / f"instances_{split}.json"))
        assert sorted(c["name"] for c in coco.loadCats(coco.getCatIds())) == [str(d) for d in range(10)]
        assert len(coco.getImgIds()) == (6 if split == "train" else 4) and len(coco.getAnnIds()) > 0
        for img in coco.loadImgs(coco.getImgIds()):
            rgb = cv2.imread(str(scenes / "img_dir" / split / img["file_name"]))
            seg = cv2.imread(str(scenes / "ann_dir" / split / img["file_name"]), cv2.IMREAD_UNCHANGED)
            assert rgb.shape == (img["height"], img["width"], 3) and seg.shape == rgb.shape[:2]
            covered = np.zeros_like(seg, bool)
            for ann in coco.loadAnns(coco.getAnnIds(imgIds=img["id"])):
                x, y, w, h = ann["bbox"]
                assert w > 0 and h > 0 and x >= 0 and y >= 0
                assert x + w <= img["width"] and y + h <= img["height"]
                box = seg[y:y + h, x:x + w]
                assert (box == ann["category_id"]).any()  # digit d is class d + 1 in the masks
                assert set(np.unique(box)) <= {0, ann["category_id"]}  # digits do not overlap
                covered[y:y + h, x:x + w] = True
            assert not seg[~covered].any()  # every stroke pixel lies in a box
    # deterministic, idempotent, and refusing to mix parameters
    again = generate_scenes(scenes.parent / "again", num_train=6, num_val=4, seed=3)
    assert (again / "annotations/instances_train.json").read_bytes() == \
        (scenes / "annotations/instances_train.json").read_bytes()
    assert generate_scenes(scenes, num_train=6, num_val=4, seed=3) == scenes
    with pytest.raises(FileExistsError, match="generated with"):
        generate_scenes(scenes, num_train=7, num_val=4, seed=3)


@pytest.mark.parametrize("path", DET_CONFIGS)
def test_configs_build_through_mmdet_registry(path):
    cfg = Config.fromfile(path)  # runs custom_imports (backbones, tasks.detection)
    init_default_scope(cfg.default_scope)
    from mmdet.registry import MODELS

    model = MODELS.build(cfg.model)
    assert type(model).__name__ == "RetinaNet"
    if "r18" not in path:
        assert type(model.backbone).__name__ == "IMixerPyramid"
        assert model.backbone.token_mixer == ("mlp" if "mlpmixer" in path else "implicit")
    model.eval()
    with torch.no_grad():
        cls_scores, _ = model(torch.rand(1, 3, 56, 84), mode="tensor")
    assert len(cls_scores) == 5 and cls_scores[0].shape[1] == 9 * 10


def test_fp32_focal_loss_under_bf16_autocast():
    loss = FP32FocalLoss(use_sigmoid=True, gamma=2.0, alpha=0.25, loss_weight=1.0)
    pred = torch.randn(16, 10)
    target = torch.randint(0, 11, (16,))
    ref = loss(pred.bfloat16().float(), target, weight=torch.ones(16), avg_factor=4.0)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = loss(pred.bfloat16(), target, weight=torch.ones(16, dtype=torch.bfloat16), avg_factor=4.0)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, ref)  # the same float32 computation on the bf16 logits


def _roots(path):
    return [f"{k}_dataloader.dataset.data_root={path}" for k in ("train", "val", "test")]


def test_train_two_iterations_amp_then_test_with_show_dir(scenes, tmp_path, run_tool):
    """tools/train.py --amp (bfloat16 autocast on CPU: the pyramid and the FP32 focal loss) then tools/test.py."""
    work = tmp_path / "work"
    proc = run_tool(["tools/train.py", "configs/det/imixer_retinanet.py", "--amp", "--work-dir", work,
                     "--cfg-options", *FAST, *_roots(scenes)])
    out = proc.stdout + proc.stderr
    assert "AmpOptimWrapper" in out and "bfloat16" in out
    assert "coco/bbox_mAP" in out and "Iter(train) [2/2]" in out and "solver_iters" in out
    ckpt = work / "iter_2.pth"
    assert ckpt.exists()
    tested = json.loads((work / "test_metrics.json").read_text())  # the test after training: the last checkpoint
    assert Path(tested["checkpoint"]) == ckpt and "coco/bbox_mAP" in tested
    show, out = tmp_path / "show", tmp_path / "results.json"
    proc = run_tool(["tools/test.py", "configs/det/imixer_retinanet.py", ckpt, "--work-dir", work, "--show-dir",
                     show, "--out", out, "--cfg-options", "test_dataloader.num_workers=0",
                     "test_dataloader.persistent_workers=False", "model.test_cfg.score_thr=0.0",
                     "model.backbone.depths=[1,1,2,1]", *_roots(scenes)])
    assert "coco/bbox_mAP" in proc.stdout + proc.stderr
    assert len(list(show.glob("*.png"))) == 4
    # --out: COCO result JSON, boxes on the test images with the annotation file's category ids
    results = json.loads(out.read_text())
    coco = json.loads((scenes / "annotations/instances_val.json").read_text())
    assert results and set(results[0]) >= {"image_id", "category_id", "bbox", "score"}
    assert {r["image_id"] for r in results} <= {im["id"] for im in coco["images"]}
    assert {r["category_id"] for r in results} <= {c["id"] for c in coco["categories"]}
    assert all(len(r["bbox"]) == 4 for r in results)


def _dataset(cls, root, ann="annotations/instances_val.json", **kw):
    init_default_scope("mmdet")
    return cls(data_root=str(root), ann_file=ann, data_prefix=dict(img="img_dir/val/"), pipeline=[], **kw)


def test_bad_annotation_files_give_clear_errors(scenes, tmp_path):
    empty = tmp_path / "empty.json"
    empty.write_text("")
    with pytest.raises(ValueError, match="is empty"):
        _dataset(CocoDetDataset, scenes, ann=str(empty), metainfo=dict(classes=("3",)))
    with pytest.raises(FileNotFoundError, match="not found"):
        _dataset(CocoDetDataset, scenes, ann=str(tmp_path / "nope.json"), metainfo=dict(classes=("3",)))
    with pytest.raises(ValueError, match=r"\['cat'\].*not categories"):
        _dataset(CocoDetDataset, scenes, metainfo=dict(classes=("3", "cat")))
    no_images = json.loads((scenes / "annotations/instances_val.json").read_text())
    no_images.update(images=[], annotations=[])
    (tmp_path / "noimg.json").write_text(json.dumps(no_images))
    with pytest.raises(ValueError, match="no images"):
        _dataset(CocoDetDataset, scenes, ann=str(tmp_path / "noimg.json"), metainfo=dict(classes=("3",)))
    ds = _dataset(DigitScenesDataset, scenes)
    assert len(ds) == 4 and ds.metainfo["classes"][0] == "0"
    # a user's folder is never overwritten by the scene generator
    user = tmp_path / "my_coco"
    user.mkdir()
    (user / "keep.txt").write_text("mine")
    with pytest.raises(FileNotFoundError, match="holds no digit scenes"):
        _dataset(DigitScenesDataset, user)
    with pytest.raises(FileExistsError, match="refusing to overwrite"):
        _dataset(DigitScenesDataset, user, generate=True)
    assert (user / "keep.txt").read_text() == "mine"
