"""Run benchmark grids (configs x datasets x seeds) through tools/train.py, and write docs/results.md.

    python tools/benchmark.py configs/benchmarks/NAME.py [...] [--max-cells N] [--threads T] [--only RUN ...]
    python tools/benchmark.py configs/benchmarks/NAME.py --dry-run     # print every cell's command
    python tools/benchmark.py --results                                 # regenerate docs/results.md

Every cell is exactly `python tools/train.py CONFIG --work-dir DIR --cfg-options ...` (the grid's
overrides are in its config); finished cells go to <store>/NAME/cells.csv with that command, so an
interrupted grid resumes. See tasks/common/grid.py for the config format.
"""
import argparse
import sys
from pathlib import Path

import _bootstrap  # noqa: F401  (repository root on sys.path)

from tasks.common.grid import DEFAULT_STORE, Benchmark, GridError, cells, run_grid
from tasks.common.fetch import REPO_ROOT


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("configs", nargs="*", help="benchmark configs (configs/benchmarks/*.py)")
    parser.add_argument("--store", default=str(REPO_ROOT / DEFAULT_STORE), help="results store (default docs/store)")
    parser.add_argument("--max-cells", type=int, help="stop after running this many cells")
    parser.add_argument("--timeout", type=float, help="seconds per cell")
    parser.add_argument("--threads", type=int, help="OMP / MKL threads of every cell")
    parser.add_argument("--only", nargs="+", default=(), metavar="RUN", help="run only these runs (by name)")
    parser.add_argument("--dry-run", action="store_true", help="print the cells' commands, run nothing")
    parser.add_argument("--results", nargs="?", const=str(REPO_ROOT / "docs" / "results.md"), metavar="FILE",
                        help="write the results page from the store (default docs/results.md)")
    args = parser.parse_args(argv)
    if not args.configs and not args.results:
        parser.error("give benchmark configs and / or --results")
    store = Path(args.store)
    try:
        for path in args.configs:
            bench = Benchmark.fromfile(path)
            if args.dry_run:
                print("\n".join(" ".join(c.command(store)) for c in cells(bench)))
                continue
            rows = run_grid(bench, store, max_cells=args.max_cells, timeout=args.timeout, threads=args.threads,
                            only=args.only)
            print((store / bench.name / "summary.md").read_text())
            if any(r["status"] != "ok" for r in rows):
                print(f"[grid] some cells of {bench.name} failed: see {store / bench.name / 'summary.md'}")
    except GridError as exc:
        raise SystemExit(f"error: {exc}")
    if args.results:
        from tasks.common.results import render

        Path(args.results).write_text(render(store))
        print(f"[grid] wrote {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
