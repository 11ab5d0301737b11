"""Shared pytest setup: repository root on sys.path, deterministic single-threaded torch."""
import os
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    yield


def run_tool(args, cwd=ROOT, timeout=600, env=None):
    """Run ``python tools/<script> ...`` in a subprocess; return the CompletedProcess (asserts rc 0)."""
    import subprocess

    full_env = dict(os.environ, **(env or {}))
    proc = subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env=full_env)
    assert proc.returncode == 0, f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
    return proc
