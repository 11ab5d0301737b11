"""Every split built and checked before training; the test after training (tasks.common.testing)."""
import uuid

import pytest
from mmengine.config import Config
from mmengine.runner import Runner

import tasks.anomaly  # noqa: F401  (ArrayDataset)
from tasks.common.testing import SplitError, build_and_check_splits, evaluate_after_train

CFG = "configs/cls/imixer-t_digits.py"
TINY = {"train_dataloader.dataset.subset": 16, "val_dataloader.dataset.subset": 16,
        "test_dataloader.dataset.subset": 16, "model.backbone.embed_dim": 16, "model.backbone.num_blocks": 1}


def _runner(tmp_path, **options) -> Runner:
    cfg = Config.fromfile(CFG)
    cfg.merge_from_dict({**TINY, **options})
    cfg.work_dir, cfg.experiment_name = str(tmp_path), f"splits_{uuid.uuid4().hex[:8]}"
    return Runner.from_cfg(cfg)


def test_splits_are_built_once_before_training(tmp_path):
    runner = _runner(tmp_path)
    built = build_and_check_splits(runner, CFG)
    assert {k: len(v) for k, v in built.items()} == {"train": 16, "val": 16, "test": 16}
    # the Runner's loops take these dataloaders as they are: nothing is built twice
    assert runner.train_dataloader.dataset is built["train"] and runner.test_dataloader.dataset is built["test"]


def test_a_test_split_with_other_classes_fails_before_training(tmp_path):
    # an anomaly split (classes inlier / outlier) as the test split of a digits run
    runner = _runner(tmp_path, test_dataloader=dict(dataset=dict(
        _delete_=True, type="ArrayDataset", X=[[0.0] * 64] * 4, y=[0, 1, 0, 1])))
    with pytest.raises(SplitError, match=r"the test split of configs/cls/imixer-t_digits.py has classes "
                                         r"\['inlier', 'outlier'\] but the training split has \['0', '1'"):
        build_and_check_splits(runner, CFG)


def test_no_test_split_is_said_and_skipped(tmp_path):
    runner = _runner(tmp_path, test_dataloader=None, test_cfg=None, test_evaluator=None)
    assert evaluate_after_train(runner) is None
    assert not (tmp_path / "test_metrics.json").exists()
    log = next(tmp_path.glob("*/*.log")).read_text()
    assert "the config has no test_dataloader / test_cfg / test_evaluator: skipping the test" in log


def test_bad_test_split_fails_before_the_first_training_step(run_tool, tmp_path):
    proc = run_tool(["tools/train.py", CFG, "--work-dir", tmp_path, "--cfg-options", "test_dataloader.dataset.split=tset"],
                    check=False)
    log = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "unknown split 'tset'" in log
    assert f"test_dataloader.dataset of {CFG} could not be built" in log
    assert "Epoch(train)" not in log and not list(tmp_path.glob("*.pth"))
