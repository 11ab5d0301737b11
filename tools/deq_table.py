"""The DEQ study's table (docs/deq.md) for one dataset of a grid, from the grid store and the cells' work
dirs (:func:`tasks.common.results.solver_table`: which column comes from where).

    python tools/benchmark.py configs/benchmarks/deq_study.py          # run the grid first
    python tools/deq_table.py --dataset mnist                          # print the markdown table
"""
import argparse
from pathlib import Path

import _bootstrap  # noqa: F401  (the repository root on sys.path)
from tasks.common.grid import DEFAULT_STORE, Benchmark
from tasks.common.results import solver_table


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="configs/benchmarks/deq_study.py", help="the grid config")
    parser.add_argument("--dataset", required=True, help="a dataset of the grid (e.g. digits, mnist)")
    parser.add_argument("--tol", type=float, default=1e-3, help="the tolerance a logged residual is judged by")
    parser.add_argument("--store", default=str(DEFAULT_STORE), help="results store (default docs/store)")
    args = parser.parse_args(argv)
    try:
        print(solver_table(Benchmark.fromfile(args.config), args.dataset, Path(args.store), args.tol))
    except (ValueError, FileNotFoundError) as err:
        raise SystemExit(f"deq_table: {err}")


if __name__ == "__main__":
    main()
