"""Classification pretraining of the dense backbones: single scene-style digits (SceneDigitsDataset), a pooled
linear head on a feature-map backbone (ImageClassifier(head=...)), and the checkpoint loading unchanged into
the detection and segmentation backbones of configs/det and configs/seg."""
import json

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

import backbones  # noqa: F401
from backbones.registry import DATASETS, MODELS
from tasks.classification.datasets import SceneDigitsDataset  # noqa: F401  (registers it)

TINY_DATA = dict(num_train=24, num_val=12, img_size=28, scale_range=(10, 24))


@pytest.fixture
def data_root(tmp_path, monkeypatch):
    monkeypatch.setenv("IMIXER_DATA", str(tmp_path / "data"))
    return tmp_path / "data"


def test_scene_digits_are_rgb_single_digits_from_each_splits_own_source(data_root):
    train = DATASETS.build(dict(type="SceneDigitsDataset", split="train", **TINY_DATA))
    val = DATASETS.build(dict(type="SceneDigitsDataset", split="val", **TINY_DATA))
    assert len(train) == 24 and len(val) == 12
    item = train[0]
    assert item["inputs"].shape == (3, 28, 28) and item["inputs"].dtype == torch.float32
    assert 0.0 <= float(train.images.min()) and float(train.images.max()) <= 1.0
    assert float(train.images.max()) > 0.45  # a pasted digit (colour >= 120 / 255) is there
    assert set(train.labels.tolist()) <= set(range(10)) and len(set(train.labels.tolist())) > 3
    # the images are the scene generator's, with one digit each, in a folder of their own
    (root,) = [p for p in data_root.iterdir() if p.name.startswith("digit_scenes-")]
    params = json.loads((root / "scenes.json").read_text())
    assert params["digits_per_image"] == [1, 1] and params["img_size"] == 28
    with pytest.raises(ValueError, match="'train' and 'val'"):
        SceneDigitsDataset(split="test", **TINY_DATA)


def test_an_image_without_exactly_one_digit_is_refused_naming_it(data_root):
    SceneDigitsDataset(split="val", **TINY_DATA)
    (root,) = [p for p in data_root.iterdir() if p.name.startswith("digit_scenes-")]
    ann = root / "annotations" / "instances_val.json"
    coco = json.loads(ann.read_text())
    coco["annotations"].append(dict(coco["annotations"][0], id=999))
    ann.write_text(json.dumps(coco))
    name = next(im["file_name"] for im in coco["images"] if im["id"] == coco["annotations"][0]["image_id"])
    with pytest.raises(ValueError, match=f"image {name} has 2 digits, expected 1"):
        SceneDigitsDataset(split="val", **TINY_DATA)
    (root / "img_dir" / "val" / name).unlink()
    coco["annotations"].pop()
    ann.write_text(json.dumps(coco))
    with pytest.raises(FileNotFoundError, match=name):
        SceneDigitsDataset(split="val", **TINY_DATA)


def test_head_pools_the_last_feature_map_and_is_validated():
    model = MODELS.build(dict(type="ImageClassifier", backbone=dict(type="mmdet.ResNet", depth=18, out_indices=(2, 3)),
                              head=dict(in_channels=512, num_classes=7)))
    assert model(torch.rand(2, 3, 32, 32)).shape == (2, 7)
    with pytest.raises(ValueError, match="in_channels=C, num_classes=K"):
        MODELS.build(dict(type="ImageClassifier", backbone=dict(type="mmdet.ResNet", depth=18),
                          head=dict(num_classes=7)))
    wrong = MODELS.build(dict(type="ImageClassifier", backbone=dict(type="mmdet.ResNet", depth=18, out_indices=(2,)),
                              head=dict(in_channels=512, num_classes=7)))
    with pytest.raises(ValueError, match=r"\(B, 512, H, W\), got \(2, 256, 2, 2\)"):
        wrong(torch.rand(2, 3, 32, 32))


@pytest.mark.parametrize("name, pyramid", [("r18", False), ("imixer-pyramid-t", True)])
def test_pretrained_backbone_loads_into_detection_and_segmentation(data_root, tmp_path, name, pyramid):
    small = dict(depths=[1, 1, 1, 1]) if pyramid else {}
    cfg = Config.fromfile(f"configs/cls/pretrain_{name}_scene-digits.py")
    cfg.work_dir = str(tmp_path / "pre")
    for key in ("train_dataloader", "val_dataloader"):
        cfg[key].dataset.update(TINY_DATA)
    cfg.train_dataloader.batch_size = 8
    cfg.test_dataloader = cfg.val_dataloader
    cfg.train_cfg.update(max_iters=2, val_interval=2)
    cfg.default_hooks.checkpoint.interval = 2
    cfg.model.backbone.update(small)
    runner = Runner.from_cfg(cfg)
    runner.train()
    ckpt = tmp_path / "pre" / "iter_2.pth"
    state = torch.load(ckpt, map_location="cpu")["state_dict"]
    assert "head.weight" in state
    suffix = name
    for path in (f"configs/seg/upernet_{suffix}_600i_digits.py", f"configs/det/retinanet_{suffix}_fpn_600i_digits.py"):
        dcfg = Config.fromfile(path)
        dcfg.model.backbone.update(small, init_cfg=dict(type="Pretrained", checkpoint=str(ckpt), prefix="backbone."))
        scope = "mmseg" if "seg" in path else "mmdet"
        from mmengine.registry import DefaultScope, init_default_scope

        init_default_scope(scope)
        registry = __import__(f"{scope}.registry", fromlist=["MODELS"]).MODELS
        __import__(f"{scope}.models")
        model = registry.build(dcfg.model)
        model.init_weights()
        loaded = model.backbone.state_dict()
        backbone_keys = [k for k in state if k.startswith("backbone.")]
        # all of the backbone is pretrained but the pyramid's LayerNorms of the extra outputs (fresh: identity)
        fresh = {k for k in loaded if f"backbone.{k}" not in state}
        assert fresh == ({f"norm{i}.{w}" for i in dcfg.model.backbone.out_indices if i != 3 for w in ("weight", "bias")}
                         if pyramid else set()), path
        for key in backbone_keys:
            assert torch.equal(loaded[key[len("backbone."):]], state[key]), (path, key)
        DefaultScope.get_instance(f"back-{path}", scope_name="imixer")
