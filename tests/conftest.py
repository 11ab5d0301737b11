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
def _restore_environ():
    """Undo environment changes a test made in-process (tools' ``main()`` sets ``LOCAL_RANK``, which
    transformers' Trainer / accelerate would later read as a distributed launch)."""
    saved = dict(os.environ)
    yield
    if os.environ != saved:
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture(autouse=True)
def _seed_and_scope():
    """Seed torch and make ``imixer`` the default registry scope again: a test that initialised mmdet's
    or mmseg's scope must not change how the next test's ``MODELS.build`` resolves names."""
    from mmengine.registry import DefaultScope

    torch.manual_seed(0)
    DefaultScope.get_instance(f"imixer-test-{next(_SCOPE_IDS)}", scope_name="imixer")
    yield


_SCOPE_IDS = __import__("itertools").count()


def _run_tool(args, check=True, timeout=900, env=None, cwd=ROOT):
    import subprocess

    full_env = dict(os.environ, **(env or {}))
    proc = subprocess.run([sys.executable, *map(str, args)], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=full_env)
    if check:
        assert proc.returncode == 0, (f"{' '.join(map(str, args))} failed ({proc.returncode}):\n"
                                      f"{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}")
    return proc


@pytest.fixture
def run_tool():
    """``run_tool(['tools/train.py', cfg, ...], check=True)``: run a tool in a subprocess from the
    repository root with this interpreter; asserts exit code 0 when ``check``."""
    return _run_tool
