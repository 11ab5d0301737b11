"""Checkpoints that fail loudly and resumes that recover: used by ``tools/train.py`` and ``tools/test.py``.

* :func:`check_checkpoint` opens a file the way the Runner will (torch's safe ``weights_only`` loader,
  memory-mapped, so nothing is read twice) and raises :class:`CheckpointError` naming the file and what
  is wrong with it: missing, empty, truncated, not a PyTorch file, or (for ``--resume``) not a Runner
  checkpoint.
* :func:`find_resume_checkpoint` is ``--resume`` without a path: the work dir's ``last_checkpoint``
  if it is intact, else the newest intact ``*.pth`` there, saying which broken files it skipped.
* :func:`resolve_resume` applies either to a config, and says when there is nothing to resume.
"""
from __future__ import annotations

import logging
import os
import pickle
import zipfile
from pathlib import Path
from typing import List, Optional

from mmengine.logging import print_log

#: what ``Runner.resume`` reads from a checkpoint besides the weights
RESUME_KEYS = ("meta", "state_dict", "optimizer")


class CheckpointError(ValueError):
    """A checkpoint file cannot be used; the message names the file and the problem."""


def checkpoint_problem(path: os.PathLike, resume: bool = False) -> Optional[str]:
    """What is wrong with the checkpoint at ``path`` (``None`` if it loads).

    Args:
        path: the file.
        resume: also require what ``Runner.resume`` needs (``meta``, ``state_dict``, ``optimizer``).
    """
    import torch

    import backbones  # noqa: F401  (allow-lists the Runner's checkpoint contents for weights_only)

    path = Path(path)
    if not path.exists():
        return "does not exist"
    if path.is_dir():
        return "is a directory, not a checkpoint file"
    size = path.stat().st_size
    if size == 0:
        return "is empty (0 bytes; a save that was interrupted?)"
    zipped = zipfile.is_zipfile(path)
    if not zipped:
        with open(path, "rb") as f:
            head = f.read(2)
        if head == b"PK":
            return f"is truncated or corrupt ({size} bytes: a zip archive without its directory)"
        if head[:1] != b"\x80":  # neither torch's zip format nor a (legacy) pickle
            return f"is not a PyTorch checkpoint ({size} bytes; starts with {head!r})"
    elif not any(n.endswith("data.pkl") for n in zipfile.ZipFile(path).namelist()):
        return f"is a zip archive but not a PyTorch checkpoint (no data.pkl inside; {size} bytes)"
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True, mmap=zipped)
    except pickle.UnpicklingError as exc:
        reason = str(exc).strip().splitlines()[0][:300]
        return f"cannot be loaded safely ({reason})"
    except (RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile) as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        return f"is truncated or corrupt ({size} bytes; torch.load: {reason})"
    if not isinstance(ckpt, dict):
        return f"holds a {type(ckpt).__name__}, not a checkpoint (a dict of weights)"
    if resume:
        missing = [k for k in RESUME_KEYS if k not in ckpt]
        if missing:
            return (f"has no {', '.join(repr(k) for k in missing)}: not a checkpoint saved by the Runner during "
                    "training, so it cannot be resumed (use load_from=... to start from its weights)")
    return None


def check_checkpoint(path: os.PathLike, resume: bool = False) -> str:
    """``path`` as a string if the checkpoint loads; otherwise :class:`CheckpointError`."""
    problem = checkpoint_problem(path, resume)
    if problem:
        raise CheckpointError(f"checkpoint {path} {problem}")
    return str(path)


def _candidates(work_dir: Path) -> List[Path]:
    """The work dir's ``last_checkpoint`` target, then its other ``*.pth`` files, newest first."""
    named = []
    pointer = work_dir / "last_checkpoint"
    if pointer.is_file():
        text = pointer.read_text().strip()
        if text:
            named.append(Path(text) if os.path.isabs(text) else work_dir / text)
    others = sorted(work_dir.glob("*.pth"), key=lambda p: (p.stat().st_mtime_ns, p.name), reverse=True)
    return named + [p for p in others if not named or p.resolve() != named[0].resolve()]


def find_resume_checkpoint(work_dir: os.PathLike, log=None) -> Optional[str]:
    """The checkpoint ``--resume`` (without a path) continues from, or ``None`` when there is none.

    The file named by ``<work_dir>/last_checkpoint`` if it is intact, else the newest intact ``*.pth``;
    every broken file passed over is logged (``log(message)``, by default mmengine's current logger).
    """
    log = log or (lambda msg: print_log(msg, logger="current", level=logging.WARNING))
    skipped = []
    for path in _candidates(Path(work_dir)):
        problem = checkpoint_problem(path, resume=True)
        if problem is None:
            if skipped:
                log(f"resuming from {path}, the newest intact checkpoint; skipped {'; '.join(skipped)}")
            return str(path)
        skipped.append(f"{path} ({problem})")
    if skipped:
        log(f"no intact checkpoint in {work_dir}: skipped {'; '.join(skipped)}")
    return None


def resolve_resume(cfg, resume: Optional[str], log=None) -> None:
    """Set ``cfg.resume`` / ``cfg.load_from`` for ``tools/train.py --resume [CKPT]`` and check the files.

    Args:
        cfg: the run's config (``work_dir`` already set).
        resume: ``None`` (no ``--resume``: only ``cfg.load_from`` is checked), ``'auto'`` (the work dir's
            latest intact checkpoint, or a fresh start that is logged), or a checkpoint path.

    Raises:
        CheckpointError: an explicit checkpoint or ``load_from`` that cannot be used.
    """
    log = log or (lambda msg: print_log(msg, logger="current", level=logging.WARNING))
    if resume is None:
        if cfg.get("load_from"):
            check_checkpoint(cfg.load_from)
        return
    if resume == "auto":
        found = find_resume_checkpoint(cfg.work_dir, log)
        if found is None:
            log(f"--resume: no checkpoint to resume from in {cfg.work_dir}; starting from scratch")
            cfg.resume = False
            if cfg.get("load_from"):
                check_checkpoint(cfg.load_from)
            return
        cfg.resume, cfg.load_from = True, found
        return
    cfg.resume, cfg.load_from = True, check_checkpoint(resume, resume=True)
