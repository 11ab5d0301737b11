"""coco_folder=PATH: a user's COCO folder is checked (errors name the file), planned into every detection
config (dataset, classes, head, image size, metric file), and trains through tools/train.py."""
import json
import shutil

import cv2
import numpy as np
import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope

from tasks.detection.coco_folder import apply_coco_folder, plan_coco_folder

DET_CONFIGS = ["configs/det/retinanet_imixer-pyramid-t_fpn_600i_digits.py",
               "configs/det/retinanet_mlpmixer-pyramid-t_fpn_600i_digits.py", "configs/det/retinanet_r18_fpn_600i_digits.py"]

#: category ids need not start at 1 nor be contiguous; classes follow the ids
CATEGORIES = [dict(id=7, name="dog"), dict(id=3, name="cat")]


def write_coco_folder(root, num_train=4, num_val=2, size=(48, 64)):
    """A tiny COCO folder in the documented layout: filled rectangles, a cat (red) and a dog (green) each."""
    rng = np.random.default_rng(0)
    for split, n in (("train", num_train), ("val", num_val)):
        (root / "images" / split).mkdir(parents=True)
        images, anns = [], []
        for i in range(n):
            img = rng.integers(0, 30, size=(*size, 3), dtype=np.uint8)
            for cat, colour, x in ((3, (0, 0, 220), 4), (7, (0, 220, 0), 34)):
                y, w, h = int(rng.integers(2, 20)), 20, 18
                img[y:y + h, x:x + w] = colour
                anns.append(dict(id=len(anns) + 1, image_id=i + 1, category_id=cat, bbox=[x, y, w, h],
                                 area=w * h, iscrowd=0))
            name = f"{split}_{i}.jpg"
            cv2.imwrite(str(root / "images" / split / name), img)
            images.append(dict(id=i + 1, file_name=name, height=size[0], width=size[1]))
        (root / "annotations").mkdir(exist_ok=True)
        (root / "annotations" / f"instances_{split}.json").write_text(
            json.dumps(dict(images=images, annotations=anns, categories=CATEGORIES)))
    return root


@pytest.fixture
def coco(tmp_path):
    return write_coco_folder(tmp_path / "my_coco")


def test_plan_points_every_detection_config_at_the_folder(coco):
    plan = plan_coco_folder(str(coco))
    assert plan["classes"] == ("cat", "dog") and plan["img_scale"] == 64
    assert plan["train"]["num_images"] == 4 and plan["val"]["num_images"] == 2
    assert plan_coco_folder(str(coco), img_scale=96)["img_scale"] == 96
    from mmdet.registry import DATASETS

    for path in DET_CONFIGS:
        cfg = apply_coco_folder(Config.fromfile(path), plan)
        assert cfg.model.bbox_head.num_classes == 2
        assert cfg.val_evaluator.ann_file == cfg.test_evaluator.ann_file == str(coco / "annotations/instances_val.json")
        for key, n in (("train_dataloader", 4), ("val_dataloader", 2), ("test_dataloader", 2)):
            ds = cfg[key].dataset
            assert ds.type == "imixer.CocoDetDataset" and ds.data_root == str(coco)
            assert [s["scale"] for s in ds.pipeline if s["type"] == "Resize"] == [(64, 64)]
            init_default_scope("mmdet")
            built = DATASETS.build(ds)  # mmdet's CocoDataset reads the folder
            assert len(built) == n and built.metainfo["classes"] == ("cat", "dog")
            assert built[0]["inputs"].shape[-2:] == (48, 64)  # fits 64 x 64, aspect kept
        assert "source" not in cfg.train_dataloader.dataset  # nothing of the digit scenes is left


@pytest.mark.parametrize("breakage, message", [
    ("no_val_json", "annotations/instances_val.json"),
    ("no_image", "val_1.jpg"),
    ("no_image_dir", "images/train"),
    ("other_categories", "differ"),
    ("not_json", "instances_train.json is not valid JSON"),
    ("no_images", "instances_val.json lists no images"),
])
def test_broken_folders_fail_naming_the_file(coco, breakage, message):
    if breakage == "no_val_json":
        (coco / "annotations/instances_val.json").unlink()
    elif breakage == "no_image":
        (coco / "images/val/val_1.jpg").unlink()
    elif breakage == "no_image_dir":
        shutil.rmtree(coco / "images/train")
    elif breakage == "not_json":
        (coco / "annotations/instances_train.json").write_text("{images: ")
    else:
        path = coco / "annotations/instances_val.json"
        data = json.loads(path.read_text())
        if breakage == "other_categories":
            data["categories"] = [dict(id=1, name="cat")]
        else:
            data["images"] = []
        path.write_text(json.dumps(data))
    with pytest.raises((FileNotFoundError, ValueError), match=message):
        plan_coco_folder(str(coco))


def test_a_broken_folder_is_one_line_before_any_run(coco, tmp_path, run_tool):
    (coco / "annotations/instances_train.json").unlink()
    proc = run_tool(["tools/train.py", "configs/det/imixer_retinanet.py", "--work-dir", tmp_path / "w",
                     "--cfg-options", f"coco_folder={coco}"], check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == (
        f"error: coco_folder={coco}: missing {coco / 'annotations/instances_train.json'}; expected layout: "
        "PATH/annotations/instances_train.json, PATH/annotations/instances_val.json, PATH/images/train/, "
        "PATH/images/val/ (or img_dir/train/, img_dir/val/)")
    assert not list((tmp_path / "w").glob("*.pth"))


def test_train_py_trains_and_evaluates_on_the_folder(coco, tmp_path, run_tool):
    work = tmp_path / "work"
    proc = run_tool(["tools/train.py", "configs/det/imixer_retinanet.py", "--work-dir", work, "--cfg-options",
                     f"coco_folder={coco}", "train_cfg.max_iters=2", "train_cfg.val_interval=2",
                     "train_dataloader.batch_size=2", "model.backbone.depths=[1,1,2,1]", "model.test_cfg.score_thr=0.0",
                     "train_dataloader.num_workers=0", "train_dataloader.persistent_workers=False",
                     "val_dataloader.num_workers=0", "val_dataloader.persistent_workers=False"], timeout=600)
    assert "2 classes, 4 train / 2 val images, resized to fit 64 px" in proc.stdout + proc.stderr
    metrics = json.loads((work / "test_metrics.json").read_text())
    assert 0.0 <= metrics["coco/bbox_mAP"] <= 1.0
    assert json.loads((work / "probe.json").read_text())["iters"] == 2
