"""Training under faults, with the real tools/train.py and tools/test.py: kill -9 and resume (also past a
broken latest checkpoint), schedules that follow a shortened run, broken checkpoint files, NaN batches."""
import subprocess
import sys
import time

import pytest
import torch

from helpers import CLS, ROOT, TINY, assert_same, count_tensors, env, train_cmd, with_hooks

from tasks.common.checkpoint import check_checkpoint, checkpoint_problem


def _run(cmd, **kw):
    return subprocess.run(cmd, cwd=ROOT, env=env(), capture_output=True, text=True, timeout=600, **kw)


def _epochs(work_dir):
    return sorted(int(p.stem.split("_")[1]) for p in work_dir.glob("epoch_*.pth"))


def test_kill_9_then_resume_past_a_broken_checkpoint_equals_an_uninterrupted_run(tmp_path):
    ref_dir, dead_dir = tmp_path / "ref", tmp_path / "dead"
    # the reference: 6 epochs overriding the config's 30, started with --resume in an empty work dir
    ref = subprocess.Popen(train_cmd(ref_dir, "--resume"), cwd=ROOT, env=env(), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
    victim = subprocess.Popen(train_cmd(dead_dir), cwd=ROOT, env=env(), stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    # kill -9 as soon as the first checkpoint is complete (the Runner names it in last_checkpoint after saving)
    while not (dead_dir / "last_checkpoint").exists():
        assert victim.poll() is None, "the run ended before its first checkpoint"
        time.sleep(0.01)
    victim.kill()
    victim.wait()
    ref_log = ref.communicate(timeout=600)[0]
    assert ref.returncode == 0, ref_log[-3000:]
    assert "no checkpoint to resume from" in ref_log and "starting from scratch" in ref_log
    assert victim.returncode == -9 and _epochs(dead_dir)[-1] < 6, "the run was not interrupted"

    # the latest checkpoint is broken (a save cut short): --resume must fall back to the newest intact one
    intact = dead_dir / f"epoch_{_epochs(dead_dir)[-1]}.pth"
    broken = dead_dir / f"epoch_{_epochs(dead_dir)[-1] + 1}.pth"
    data = (dead_dir / "epoch_1.pth").read_bytes()
    broken.write_bytes(data[: len(data) // 2])
    (dead_dir / "last_checkpoint").write_text(str(broken))
    proc = _run(train_cmd(dead_dir, "--resume"))
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-3000:]
    assert f"skipped {broken} (is truncated or corrupt" in log
    if checkpoint_problem(intact, resume=True) is None:  # the kill may also have cut the newest real file
        assert f"resuming from {intact}, the newest intact checkpoint" in log

    ref_ckpt = torch.load(ref_dir / "epoch_6.pth", map_location="cpu")
    resumed = torch.load(dead_dir / "epoch_6.pth", map_location="cpu")
    assert count_tensors(ref_ckpt["state_dict"]) > 20  # weights and spectral-norm buffers
    assert_same(ref_ckpt["state_dict"], resumed["state_dict"], "state_dict")
    assert_same(ref_ckpt["optimizer"], resumed["optimizer"], "optimizer")
    assert ref_ckpt["meta"]["iter"] == resumed["meta"]["iter"] == 12

    # the cosine planned for 30 epochs followed the 6-epoch run: the last LR is at eta_min (one of 11 cosine
    # steps above it; the schedule as planned would still be at 1.9e-3)
    base, eta_min = 2e-3, 1e-5
    assert "param_scheduler planned for 30 epochs, this run has 6" in ref_log
    assert ref_ckpt["optimizer"]["param_groups"][0]["lr"] < eta_min + 0.03 * (base - eta_min)


def _one_line_error(proc, *needles):
    err = proc.stderr.strip()
    assert proc.returncode != 0
    assert "Traceback" not in err and len(err.splitlines()) == 1, err[-2000:]
    for needle in needles:
        assert needle in err, err


def test_broken_checkpoint_files_are_named_with_their_problem(tmp_path):
    good = tmp_path / "good.pth"
    torch.save(dict(meta=dict(epoch=1, iter=2), state_dict={"w": torch.ones(64, 64)}, optimizer={}), good)
    data = good.read_bytes()
    (tmp_path / "empty.pth").write_bytes(b"")
    (tmp_path / "truncated.pth").write_bytes(data[: len(data) // 2])
    (tmp_path / "notes.pth").write_text("not a checkpoint\n")
    import numpy as np
    np.savez(tmp_path / "arrays.npz", x=np.zeros(3))
    torch.save(torch.zeros(3), tmp_path / "tensor.pth")
    torch.save({"w": torch.ones(2)}, tmp_path / "weights.pth")
    expected = {"empty.pth": "is empty (0 bytes", "truncated.pth": "is truncated or corrupt",
                "notes.pth": "is not a PyTorch checkpoint", "arrays.npz": "not a PyTorch checkpoint (no data.pkl",
                "tensor.pth": "holds a Tensor, not a checkpoint", "missing.pth": "does not exist"}
    for name, problem in expected.items():
        with pytest.raises(ValueError, match=f"checkpoint {tmp_path / name} .*"):
            check_checkpoint(tmp_path / name)
        assert problem in checkpoint_problem(tmp_path / name), name
    assert check_checkpoint(good, resume=True) == str(good)
    assert checkpoint_problem(tmp_path / "weights.pth") is None  # weights alone can be tested / loaded
    assert "cannot be resumed" in checkpoint_problem(tmp_path / "weights.pth", resume=True)

    # the tools: one line naming the file, exit status 1, no traceback (three runs at once)
    runs = [[sys.executable, "tools/test.py", CLS, str(tmp_path / "empty.pth")],
            [sys.executable, "tools/test.py", "configs/cls/nope.py", str(good)],
            [sys.executable, "tools/train.py", CLS, "--work-dir", str(tmp_path / "w"), "--resume",
             str(tmp_path / "truncated.pth")]]
    procs = [subprocess.Popen(cmd, cwd=ROOT, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for cmd in runs]
    results = [subprocess.CompletedProcess(p.args, p.wait(timeout=600), *p.communicate()) for p in procs]
    _one_line_error(results[0], str(tmp_path / "empty.pth"), "is empty")
    _one_line_error(results[1], "config file not found: configs/cls/nope.py")
    _one_line_error(results[2], str(tmp_path / "truncated.pth"), "truncated or corrupt")


def test_nan_batch_stops_naming_the_iteration_and_keeps_the_last_checkpoint(tmp_path):
    cfg = with_hooks(tmp_path, CLS, ["backbones", "tasks.common", "tasks.classification"],
                     ["dict(type='PoisonBatchHook', at_iter=3)"])
    work = tmp_path / "work"
    proc = _run(train_cmd(work, config=cfg, epochs=3))
    _one_line_error(proc, "training iteration 4 (epoch 2, batch 2)", "NaN / inf in inputs",
                    f"the last checkpoint, {work / 'epoch_1.pth'}, is intact", "action='skip'")
    assert _epochs(work) == [1]
    ckpt = torch.load(check_checkpoint(work / "epoch_1.pth", resume=True), map_location="cpu")
    assert all(torch.isfinite(t).all() for t in ckpt["state_dict"].values() if t.is_floating_point())


def _train_in_process(cfg_path, work, **options):
    """A Runner in this process (no interpreter start-up): the config file plus ``options``."""
    from mmengine.config import Config
    from mmengine.runner import Runner

    cfg = Config.fromfile(cfg_path)
    cfg.merge_from_dict(dict(work_dir=str(work), **options))
    runner = Runner.from_cfg(cfg)
    runner.train()
    return runner


def _log_text(work) -> str:
    return "".join(p.read_text() for p in work.glob("*/*.log"))


def test_nan_batch_is_skipped_when_configured(tmp_path):
    cfg = with_hooks(tmp_path, CLS, ["backbones", "tasks.common", "tasks.classification"],
                     ["dict(type='PoisonBatchHook', at_iter=3)"])
    work = tmp_path / "work"
    options = dict(arg.split("=", 1) for arg in TINY)
    options = {k: eval(v, {}) if v[:1].isdigit() or v == "None" else v for k, v in options.items()}
    runner = _train_in_process(cfg, work, **options, **{"train_cfg.max_epochs": 3,
                                                        "default_hooks.nonfinite.action": "skip"})
    assert "training iteration 4 (epoch 2, batch 2): the batch holds NaN / inf in inputs; skipped this batch" in \
        _log_text(work)
    assert runner.iter == 6
    ckpt = torch.load(work / "epoch_3.pth", map_location="cpu")
    assert all(torch.isfinite(t).all() for t in ckpt["state_dict"].values() if t.is_floating_point())


def test_nan_in_a_graph_batch_is_caught_at_the_gradients(tmp_path):
    # the input check off: the NaN flows through the model, the guard sees it in the gradients before the step
    from tasks.common.guards import NonFiniteError

    cfg = with_hooks(tmp_path, "configs/graph/hopimixer_full_karate.py", ["backbones", "tasks.common", "tasks.graph"],
                     ["dict(type='SaveSplitHook')", "dict(type='PoisonBatchHook', at_iter=2)"])
    work = tmp_path / "work"
    with pytest.raises(NonFiniteError, match=r"training iteration 3 \(epoch 3, batch 1\): the loss or the gradients "
                       rf"are NaN / inf.*the last checkpoint, {work / 'epoch_2.pth'}, is intact"):
        _train_in_process(cfg, work, **{"train_cfg.max_epochs": 4, "default_hooks.checkpoint.interval": 1,
                                        "default_hooks.checkpoint.save_best": None,
                                        "default_hooks.nonfinite.check_inputs": False})
    ckpt = torch.load(check_checkpoint(work / "epoch_2.pth", resume=True), map_location="cpu")
    assert all(torch.isfinite(t).all() for t in ckpt["state_dict"].values() if t.is_floating_point())
