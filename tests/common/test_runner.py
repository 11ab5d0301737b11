"""IMixerRunner: every split built and checked before training, schedules that follow the run, the test
after training (tasks.common.runner, tasks.common.testing)."""
import json
import uuid
from pathlib import Path

import pytest
from mmengine.config import Config

import tasks.anomaly  # noqa: F401  (ArrayDataset)
from tasks.common.runner import IMixerRunner, build_runner
from tasks.common.testing import SplitError, check_splits

CFG = "configs/cls/imixer-t_digits.py"
TINY = {"train_dataloader.dataset.subset": 16, "val_dataloader.dataset.subset": 16,
        "test_dataloader.dataset.subset": 16, "model.backbone.embed_dim": 16, "model.backbone.num_blocks": 1}


def _runner(tmp_path, **options) -> IMixerRunner:
    cfg = Config.fromfile(CFG)
    cfg.merge_from_dict({**TINY, **options})
    cfg.work_dir, cfg.experiment_name = str(tmp_path), f"splits_{uuid.uuid4().hex[:8]}"
    runner = build_runner(cfg)
    assert isinstance(runner, IMixerRunner)  # the runtime base names it (runner_type)
    return runner


def test_splits_are_built_once_before_training(tmp_path):
    runner = _runner(tmp_path)
    built = check_splits(runner, CFG)
    assert {k: len(v) for k, v in built.items()} == {"train": 16, "val": 16, "test": 16}
    # the Runner's loops take these dataloaders as they are: nothing is built twice
    assert runner.train_dataloader.dataset is built["train"] and runner.test_dataloader.dataset is built["test"]


def test_a_test_split_with_other_classes_fails_before_training(tmp_path):
    # an anomaly split (classes inlier / outlier) as the test split of a digits run
    runner = _runner(tmp_path, test_dataloader=dict(dataset=dict(
        _delete_=True, type="ArrayDataset", X=[[0.0] * 64] * 4, y=[0, 1, 0, 1])))
    with pytest.raises(SplitError, match=r"the test split of configs/cls/imixer-t_digits.py has classes "
                                         r"\['inlier', 'outlier'\] but the training split has \['0', '1'"):
        check_splits(runner, CFG)


def test_no_test_split_is_said_and_skipped(tmp_path):
    runner = _runner(tmp_path, test_dataloader=None, test_cfg=None, test_evaluator=None)
    assert runner.test_after_train() is None
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


def test_the_schedule_follows_a_shorter_run_and_a_user_schedule_is_kept(tmp_path):
    runner = _runner(tmp_path, **{"train_cfg.max_epochs": 6, "train_dataloader.batch_size": 2})
    runner.train_loop  # the epoch length is known once the loop is built
    runner.optim_wrapper = runner.build_optim_wrapper(runner.optim_wrapper)
    built = runner.build_param_scheduler(runner.cfg.param_scheduler)
    # planned 2 warm-up + 28 cosine epochs of 30 (configs/_base_/schedules/adamw_epochs.py), scaled to 6 epochs
    per_epoch = len(runner.train_dataloader)
    assert per_epoch == 8
    assert [(type(s).__name__, s.begin, s.end) for s in built] == [
        ("LinearLR", 0, round(0.4 * per_epoch)), ("CosineAnnealingLR", round(0.4 * per_epoch), 6 * per_epoch)]
    own = [dict(type="ConstantLR", factor=0.5, by_epoch=True, begin=0, end=3)]
    runner = _runner(tmp_path, **{"train_cfg.max_epochs": 6, "param_scheduler": own})
    runner.train_loop
    runner.optim_wrapper = runner.build_optim_wrapper(runner.optim_wrapper)
    (kept,) = runner.build_param_scheduler(runner.cfg.param_scheduler)
    assert (type(kept).__name__, kept.begin, kept.end) == ("ConstantLR", 0, 3)


def test_train_tests_the_best_checkpoint_and_probes_the_run(run_tool, tmp_path):
    run_tool(["tools/train.py", CFG, "--work-dir", tmp_path, "--cfg-options", "train_cfg.max_epochs=2",
              *[f"{k}={v}" for k, v in TINY.items()]])
    metrics = json.loads((tmp_path / "test_metrics.json").read_text())
    assert Path(metrics["checkpoint"]).name.startswith("best_cls_accuracy_epoch_")
    probe = json.loads((tmp_path / "probe.json").read_text())
    assert probe["test"]["cls/accuracy"] == metrics["cls/accuracy"]
    assert probe["iters"] == 2 and probe["train_s"] > 0 and probe["peak_bytes"] > 0
    assert probe["solver"]["solver_iters"] == 2.0  # the authors' recipe: two unrolled steps
    assert set(probe["val"]) == {"cls/accuracy", "cls/macro_f1"}


def test_a_base_schedule_follows_the_length_a_config_sets():
    from tasks.common.schedules import rescale_for_run

    # configs/_base_/schedules/adamw_600i.py: 100 warm-up iterations of 600; a config asking for 300
    base = Config.fromfile("configs/det/imixer_retinanet.py", import_custom_modules=False)
    assert base.schedule_length == dict(max_iters=600)
    leaf = Config.fromfile("configs/det/imixer_retinanet.py", import_custom_modules=False)
    leaf.merge_from_dict({"train_cfg.max_iters": 300})
    warm, cos = rescale_for_run(leaf.param_scheduler, leaf, leaf, epoch_length=1)  # the file itself says 300
    assert (warm["end"], cos["begin"], cos["end"]) == (50, 50, 300)


def test_a_model_without_parameters_is_tested_as_it_is(run_tool, tmp_path):
    # Adamic-Adar (link prediction) has nothing to train: train.py tests it and records where it came from
    proc = run_tool(["tools/train.py", "configs/graph/link_adamicadar_football.py", "--work-dir", tmp_path])
    assert "the model has no trainable parameters: nothing to train" in proc.stdout + proc.stderr
    metrics = json.loads((tmp_path / "test_metrics.json").read_text())
    assert metrics["checkpoint"] is None and 50.0 < metrics["link/auc"] <= 100.0
