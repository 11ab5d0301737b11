"""Shared pieces of the fault-injection tests: the tiny classification run, configs that add the fault
hooks of ``fault_hooks.py``, and an exact comparison of checkpoint contents."""
import os
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
CLS = "configs/cls/imixer-t_digits.py"
# 16 training images, batch 8: 2 iterations per epoch; a checkpoint every epoch
TINY = ["train_dataloader.dataset.subset=16", "train_dataloader.batch_size=8", "val_dataloader.dataset.subset=16",
        "test_dataloader.dataset.subset=16", "model.backbone.embed_dim=16", "model.backbone.num_blocks=2",
        "default_hooks.logger.interval=1", "default_hooks.checkpoint.max_keep_ckpts=10",
        "default_hooks.checkpoint.save_best=None"]


def env(**extra) -> dict:
    """The environment of a tool run: one thread, the fault hooks importable."""
    return dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=os.pathsep.join([str(HERE), str(ROOT)]), **extra)


def train_cmd(work_dir, *extra, config=CLS, epochs=6) -> list:
    return [sys.executable, "tools/train.py", str(config), "--work-dir", str(work_dir), *extra, "--cfg-options",
            f"train_cfg.max_epochs={epochs}", *TINY]


def with_hooks(tmp_path, base: str, imports: list, hooks: list, name="faulty.py") -> Path:
    """A config that is ``base`` plus ``hooks`` (dicts as source text) and the fault hooks' module."""
    path = Path(tmp_path) / name
    path.write_text(f"_base_ = [{str(ROOT / base)!r}]\n"
                    f"custom_imports = dict(imports={imports + ['fault_hooks']!r}, allow_failed_imports=False)\n"
                    f"custom_hooks = [dict(type='SolverStatsHook'), {', '.join(hooks)}]\n")
    return path


def assert_same(a, b, where="checkpoint"):
    """Every tensor in ``a`` equals ``b``'s bit for bit (nested dicts / lists of a checkpoint)."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype and a.shape == b.shape, where
        assert torch.equal(a, b), f"{where} differs (max |diff| {(a.double() - b.double()).abs().max():.3g})"
    elif isinstance(a, dict):
        assert set(a) == set(b), f"{where}: keys differ: {set(a) ^ set(b)}"
        for k in a:
            assert_same(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}[{i}]")


def count_tensors(obj) -> int:
    if isinstance(obj, torch.Tensor):
        return 1
    if isinstance(obj, dict):
        return sum(count_tensors(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return sum(count_tensors(v) for v in obj)
    return 0
