"""Segmentation: configs through mmseg's registries, the digit-scene masks as an mmseg dataset, a 2-iteration
tools/train.py run printing mIoU, tools/test.py --show-dir, and clear errors for bad folders."""
import json
import shutil

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from PIL import Image

from tasks.common.scenes import generate_scenes
from tasks.segmentation import DigitScenesSegDataset, SegFolderDataset

SEG_CONFIGS = ["configs/seg/upernet_imixer-pyramid-t_600i_digits.py",
               "configs/seg/upernet_mlpmixer-pyramid-t_600i_digits.py", "configs/seg/upernet_r18_600i_digits.py"]
FAST = ["train_cfg.max_iters=2", "train_cfg.val_interval=2", "train_dataloader.batch_size=2",
        "train_dataloader.num_workers=0", "train_dataloader.persistent_workers=False",
        "val_dataloader.num_workers=0", "val_dataloader.persistent_workers=False",
        "test_dataloader.num_workers=0", "test_dataloader.persistent_workers=False",
        "default_hooks.logger.interval=1", "model.backbone.depths=[1,1,2,1]"]


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    """A data root (``$IMIXER_DATA``) holding tiny digit scenes where the configs look for them."""
    root = tmp_path_factory.mktemp("data")
    generate_scenes(root / "digit_scenes", num_train=6, num_val=3, seed=5)
    return root


@pytest.mark.parametrize("path", SEG_CONFIGS)
def test_configs_build_through_mmseg_registry(path):
    cfg = Config.fromfile(path)
    init_default_scope(cfg.default_scope)
    from mmseg.registry import MODELS

    model = MODELS.build(cfg.model)
    assert type(model).__name__ == "EncoderDecoder"
    if "r18" not in path:
        assert type(model.backbone).__name__ == "IMixerPyramid"
        assert model.backbone.token_mixer == ("mlp" if "mlpmixer" in path else "implicit")
    model.eval()
    with torch.no_grad():
        out = model(torch.rand(1, 3, 60, 92), mode="tensor")
    assert out.shape == (1, 11, 15, 23)


def test_digit_scene_masks_dataset(data_root):
    init_default_scope("mmseg")
    ds = DigitScenesSegDataset(data_root=str(data_root / "digit_scenes"),
                               data_prefix=dict(img_path="img_dir/val", seg_map_path="ann_dir/val"),
                               pipeline=[dict(type="LoadImageFromFile"), dict(type="LoadAnnotations"),
                                         dict(type="PackSegInputs")])
    assert len(ds) == 3 and ds.metainfo["classes"][:2] == ("background", "0")
    sample = ds[0]["data_samples"]
    labels = sample.gt_sem_seg.data.unique()
    assert labels.min() == 0 and labels.max() <= 10 and len(labels) >= 2


def test_train_two_iterations_prints_miou_then_test_show_dir(data_root, tmp_path, run_tool):
    work = tmp_path / "work"
    env = {"IMIXER_DATA": str(data_root)}
    proc = run_tool(["tools/train.py", "configs/seg/upernet_imixer-pyramid-t_600i_digits.py", "--work-dir", work,
                     "--cfg-options", *FAST], env=env)
    out = proc.stdout + proc.stderr
    assert "mIoU" in out and "fg/IoU" in out and "fg/class_acc" in out
    assert "Iter(train) [2/2]" in out and "solver_iters" in out
    assert "mIoU" in json.loads((work / "test_metrics.json").read_text())  # the test after training
    show, out = tmp_path / "show", tmp_path / "labels"
    proc = run_tool(["tools/test.py", "configs/seg/upernet_imixer-pyramid-t_600i_digits.py", work / "iter_2.pth",
                     "--work-dir", work, "--show-dir", show, "--out", out, "--cfg-options",
                     "test_dataloader.num_workers=0", "test_dataloader.persistent_workers=False",
                     "model.backbone.depths=[1,1,2,1]"], env=env)
    assert "mIoU" in proc.stdout + proc.stderr
    assert len(list(show.glob("*.png"))) == 3
    # --out: one label PNG per test image, the image's size, class indices as pixel values
    images = sorted((data_root / "digit_scenes/img_dir/val").glob("*.png"))
    labels = sorted(out.glob("*.png"))
    assert [p.name for p in labels] == [p.name for p in images]
    for img, lab in zip(images, labels):
        pred = np.array(Image.open(lab))
        assert pred.shape == np.array(Image.open(img)).shape[:2] and pred.max() < 11


def test_bad_folders_give_clear_errors(data_root, tmp_path):
    init_default_scope("mmseg")
    classes = dict(classes=("background", "digit"))
    with pytest.raises(FileNotFoundError, match="image folder not found"):
        SegFolderDataset(data_root=str(tmp_path), data_prefix=dict(img_path="img_dir/train",
                         seg_map_path="ann_dir/train"), metainfo=classes, img_suffix=".png")
    (tmp_path / "img_dir" / "train").mkdir(parents=True)
    with pytest.raises(ValueError, match="no '\\*.png' images"):
        SegFolderDataset(data_root=str(tmp_path), data_prefix=dict(img_path="img_dir/train",
                         seg_map_path="ann_dir/train"), metainfo=classes, img_suffix=".png")
    shutil.copy(data_root / "digit_scenes/img_dir/val/000000.png", tmp_path / "img_dir/train/a.png")
    with pytest.raises(ValueError, match="no segmentation map"):
        SegFolderDataset(data_root=str(tmp_path), data_prefix=dict(img_path="img_dir/train",
                         seg_map_path="ann_dir/train"), metainfo=classes, img_suffix=".png")
    with pytest.raises(ValueError, match="metainfo=dict\\(classes"):
        SegFolderDataset(data_root=str(tmp_path), data_prefix=dict(img_path="img_dir/train",
                         seg_map_path="ann_dir/train"), img_suffix=".png")


def _sample(logits, gt):
    return dict(seg_logits=dict(data=torch.as_tensor(logits, dtype=torch.float32)),
                gt_sem_seg=dict(data=torch.as_tensor(gt)[None]))


def test_foreground_metric_separates_where_from_which():
    """Background + 2 classes on 4 pixels: the model finds both foreground pixels (p(bg) < 0.5) but
    the class arg-max is background everywhere; one foreground pixel has the right object class."""
    from tasks.segmentation import ForegroundIoUMetric

    # classes (bg, a, b) x pixels [bg, a, b, ignored]
    logits = [[2.0, 0.5, 0.5, 0.0],
              [0.0, 0.4, 0.3, 0.0],
              [0.0, 0.1, 0.0, 0.0]]
    gt = [0, 1, 2, 255]
    metric = ForegroundIoUMetric()
    metric.process({}, [_sample(torch.tensor(logits)[:, None, :], [gt])])  # (C, 1, 4) logits, (1, 4) labels
    res = metric.compute_metrics(metric.results)
    # p(bg) at pixels 1, 2: e^.5 / (e^.5 + e^.4 + e^.1) ~ 0.39 < 0.5 -> foreground; pixel 0 background
    assert res["IoU"] == pytest.approx(100.0)
    assert res["class_acc"] == pytest.approx(50.0)  # pixel 1 -> a (right), pixel 2 -> a (wrong)
    wrong_size = _sample(torch.zeros(3, 1, 3), [[0, 1, 2, 0]])
    with pytest.raises(ValueError, match="differ in size"):
        ForegroundIoUMetric().process({}, [wrong_size])
    with pytest.raises(KeyError, match="seg_logits"):
        ForegroundIoUMetric().process({}, [dict(gt_sem_seg=dict(data=torch.zeros(1, 1, 4)))])
