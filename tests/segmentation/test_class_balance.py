"""ClassBalanceHook: pixel counts from the training maps (ignore / reduce_zero_label / bad values), the ENet and
median-frequency weights, and the weights arriving in the loss of a real mmseg segmentor."""
import logging
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from PIL import Image

from tasks.segmentation import ClassBalanceHook, SegFolderDataset
from tasks.segmentation.hooks import pixel_counts

CLASSES = ("background", "a", "b")


def _folder(root, maps):
    """An img_dir/ann_dir folder with one 4x4 image per label map."""
    (root / "img_dir").mkdir(parents=True)
    (root / "ann_dir").mkdir()
    for i, m in enumerate(maps):
        Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(root / "img_dir" / f"{i}.png")
        Image.fromarray(np.asarray(m, np.uint8)).save(root / "ann_dir" / f"{i}.png")
    init_default_scope("mmseg")
    return SegFolderDataset(data_root=str(root), data_prefix=dict(img_path="img_dir", seg_map_path="ann_dir"),
                            metainfo=dict(classes=CLASSES), img_suffix=".png", pipeline=[])


def test_pixel_counts_leave_out_ignore_and_name_bad_maps(tmp_path):
    m0 = np.zeros((4, 4)); m0[0, :3] = 1; m0[3, 3] = 255
    m1 = np.full((4, 4), 2); m1[1:, :] = 0
    assert pixel_counts(_folder(tmp_path / "ok", [m0, m1]), 3).tolist() == [12 + 12, 3, 4]
    bad = np.zeros((4, 4)); bad[2, 2] = 7
    with pytest.raises(ValueError, match=r"1\.png: pixel value 7 is not a class index \(0\.\.2\)"):
        pixel_counts(_folder(tmp_path / "bad", [m0, bad]), 3)


def test_enet_and_median_frequency_weights():
    counts = np.array([900, 90, 10])
    p = counts / counts.sum()
    w = ClassBalanceHook().weights(counts)
    expected = 1 / np.log(1.02 + p)
    np.testing.assert_allclose(w, expected / (p * expected).sum())
    assert (p * w).sum() == pytest.approx(1.0) and w[0] < w[1] < w[2]
    w = ClassBalanceHook(rule="median_freq").weights([900, 100, 0])  # a class with no pixel: the largest weight
    np.testing.assert_allclose(w / w[1], [(0.5 / 0.9) / (0.5 / 0.1), 1.0, 1.0])  # median of 0.9, 0.1: 0.5
    with pytest.raises(ValueError, match="no labelled pixel"):
        ClassBalanceHook().weights([0, 0, 0])


@pytest.mark.parametrize("kwargs, match", [(dict(rule="inverse"), "unknown rule 'inverse'; use one of"),
                                           (dict(c=1.0), "c must be > 1")])
def test_bad_options_are_refused_at_construction(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ClassBalanceHook(**kwargs)


def _segmentor(auxiliary=False, **loss):
    cfg = Config.fromfile("configs/seg/upernet_imixer-pyramid-t_600i_digits.py")
    cfg.model.decode_head.num_classes = 3
    cfg.model.decode_head.loss_decode = dict(type="CrossEntropyLoss", use_sigmoid=False, loss_weight=1.0, **loss)
    cfg.model.backbone.depths = [1, 1, 1, 1]
    if auxiliary:  # mmseg's FCN auxiliary head on stage 3, two losses
        cfg.model.auxiliary_head = dict(type="FCNHead", in_channels=256, in_index=2, channels=16, num_convs=1,
                                        num_classes=3, loss_decode=[dict(type="CrossEntropyLoss", loss_weight=0.4),
                                                                    dict(type="DiceLoss", loss_weight=0.1)])
    init_default_scope("mmseg")
    from mmseg.registry import MODELS

    return MODELS.build(cfg.model)


def _runner(model, dataset):
    return SimpleNamespace(model=model, train_dataloader=SimpleNamespace(dataset=dataset),
                           logger=logging.getLogger("test_class_balance"))


def test_weights_reach_the_segmentors_loss_and_change_it(tmp_path):
    m = np.zeros((4, 4)); m[0, 0] = 1; m[1, 1] = 2
    dataset = _folder(tmp_path, [m])
    model = _segmentor()
    logits, labels = torch.randn(2, 3, 4, 4), torch.tensor([[[0, 0, 1, 2]] * 4] * 2)
    before = model.decode_head.loss_decode(logits, labels)
    hook = ClassBalanceHook()
    hook.before_train(_runner(model, dataset))
    np.testing.assert_allclose(model.decode_head.loss_decode.class_weight, hook.weights([14, 1, 1]))
    after = model.decode_head.loss_decode(logits, labels)
    weights = torch.tensor(hook.class_weight)[labels]
    plain = torch.nn.functional.cross_entropy(logits, labels, reduction="none")
    # mmseg's weighted cross-entropy is the weighted mean (divided by the sum of the pixels' weights)
    assert after.item() == pytest.approx(((weights * plain).sum() / weights.sum()).item(), rel=1e-5)
    assert after.item() != pytest.approx(before.item())


def test_the_auxiliary_heads_losses_get_the_weights_too(tmp_path):
    m = np.zeros((4, 4)); m[0, 0] = 1
    model = _segmentor(auxiliary=True)
    hook = ClassBalanceHook(rule="median_freq")
    hook.before_train(_runner(model, _folder(tmp_path, [m])))
    ce, dice = model.auxiliary_head.loss_decode
    assert model.decode_head.loss_decode.class_weight == ce.class_weight == hook.class_weight
    assert not hasattr(dice, "class_weight")  # a loss without class weights is left as it is
    np.testing.assert_allclose(hook.class_weight, hook.weights([15, 1, 0]))


def test_a_loss_with_its_own_class_weight_is_refused(tmp_path):
    dataset = _folder(tmp_path, [np.zeros((4, 4))])
    with pytest.raises(ValueError, match="already sets class_weight"):
        ClassBalanceHook().before_train(_runner(_segmentor(class_weight=[1.0, 2.0, 3.0]), dataset))
    model = _segmentor()
    model.decode_head.loss_decode = torch.nn.Identity()
    with pytest.raises(TypeError, match=r"\['Identity'\]\) takes a class_weight"):
        ClassBalanceHook().before_train(_runner(model, dataset))
