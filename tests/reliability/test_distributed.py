"""Two CPU processes over gloo, started the README's way (tools/dist_train.sh from a shell where nothing
is activated), end with the same model and optimizer state to the last bit."""
import os
import socket
import subprocess

import torch

from helpers import CLS, HERE, ROOT, TINY, assert_same, count_tensors, with_hooks


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_gloo_processes_agree_bit_for_bit(tmp_path):
    cfg = with_hooks(tmp_path, CLS, ["backbones", "tasks.common", "tasks.classification"],
                     [f"dict(type='DumpRankStateHook', out_dir={str(tmp_path / 'ranks')!r})"])
    # a fresh shell: no PYTHON, no activated .venv on PATH; the script must find the project's interpreter
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHON", "VIRTUAL_ENV", "PYTHONHOME")}
    env.update(PATH="/usr/bin:/bin", PORT=str(_free_port()), OMP_NUM_THREADS="1", PYTHONPATH=str(HERE))
    # 32 images over 2 ranks with batch 8: two iterations per rank and epoch
    tiny = [o for o in TINY if "dataset.subset" not in o or "train_" not in o] + ["train_dataloader.dataset.subset=32"]
    proc = subprocess.run(["bash", "tools/dist_train.sh", str(cfg), "2", "--work-dir", str(tmp_path / "work"),
                           "--cfg-options", "train_cfg.max_epochs=2", *tiny], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-5000:]
    assert "Distributed launcher: pytorch" in log and "Distributed training: True" in log
    assert "Epoch(train) [2][2/2]" in log and (tmp_path / "work" / "epoch_2.pth").exists()
    ranks = [torch.load(tmp_path / "ranks" / f"rank{r}.pth", map_location="cpu") for r in (0, 1)]
    assert count_tensors(ranks[0]["state_dict"]) > 20
    assert_same(ranks[0], ranks[1], "rank 0 vs rank 1")
