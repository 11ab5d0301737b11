"""A results file that survives kills and concurrent writers: one CSV row per finished cell.

Used by the anomaly suite (``tasks.anomaly.benchmark``) and the grid runner (``tasks.common.grid``):

* :func:`append_row` appends one row under an exclusive ``fcntl`` lock and fsyncs it, so processes
  that share the file never interleave half rows;
* :func:`read_rows` cuts a half-written last line (a writer killed while appending) and, when a cell
  was written twice (a retried failure), keeps the last row of that cell, rewriting the file through an
  atomic rename; a kill at any moment never loses finished rows;
* :func:`config_hash`: a short hash of what defines a cell's result, so a changed setting invalidates
  old rows instead of being mistaken for them.
"""
from __future__ import annotations

import contextlib
import csv
import fcntl
import hashlib
import json
import os
from pathlib import Path
from typing import Callable, Iterator, List, Optional, Sequence


def config_hash(*parts) -> str:
    """Ten hex digits of the SHA-1 of ``parts`` as sorted JSON (non-JSON values by ``str``)."""
    blob = json.dumps(list(parts), sort_keys=True, default=str)
    return hashlib.sha1(blob.encode()).hexdigest()[:10]


@contextlib.contextmanager
def locked(path: Path, blocking: bool = True) -> Iterator[bool]:
    """Hold an exclusive lock on ``<path>.lock``; yields ``False`` (nothing held) when ``blocking`` is
    off and another process holds it."""
    lock_path = path.with_name(f".{path.name}.lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def read_rows(path: Path, fields: Sequence[str], key: Callable[[dict], tuple],
              valid: Optional[Callable[[dict], bool]] = None) -> List[dict]:
    """The rows of ``path`` (``[]`` when missing), one per ``key`` (the last written wins).

    Args:
        path: the CSV file.
        fields: its columns (used when the file is rewritten).
        key: a row's cell.
        valid: rows for which it is false are dropped (e.g. a row cut by a crash).
    """
    path = Path(path)
    if not path.exists():
        return []
    with locked(path):
        data = path.read_bytes()
        if data and not data.endswith(b"\n"):
            data = data[: data.rfind(b"\n") + 1]
            os.truncate(path, len(data))
        rows = list(csv.DictReader(data.decode().splitlines()))
        rows = [r for r in rows if valid is None or valid(r)]
        unique = list({key(r): r for r in rows}.values())
        if len(unique) < len(rows):
            tmp = path.with_name(f".{path.name}.tmp")
            with open(tmp, "w", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=list(fields))
                writer.writeheader()
                writer.writerows({k: r.get(k, "") for k in fields} for r in unique)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
    return unique


def append_row(path: Path, fields: Sequence[str], row: dict) -> None:
    """Append ``row`` (its ``fields`` only) to ``path``, writing the header first into a new file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with locked(path):
        new = not path.exists() or path.stat().st_size == 0
        with open(path, "a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(fields))
            if new:
                writer.writeheader()
            writer.writerow({k: row.get(k, "") for k in fields})
            f.flush()
            os.fsync(f.fileno())


__all__ = ["config_hash", "locked", "read_rows", "append_row"]
