"""Every task on one device: a few training iterations of each task's real config through the Runner.

    python tools/gpu_check.py --device cuda                        # float32, all six tasks
    python tools/gpu_check.py --device cuda --amp                  # AmpOptimWrapper, float16 on CUDA
    python tools/gpu_check.py --device cuda --amp --amp-dtype bfloat16
    python tools/gpu_check.py --device cpu --tasks cls graph --iters 4 --out check.md
    python tools/gpu_check.py --device cpu --twin                  # the explicit twins (token_mixer='mlp')

For each task, one subprocess runs ``tools/train.py``'s own ``main()`` (the same argument handling,
``--amp`` and ``--device``) on the task's config with small overrides: ``--iters`` training iterations
on a tiny subset (default 30 on CUDA, 10 on the CPU; the config's batch size, model and optimiser are
kept), then the config's validation loop once at the end. A probe hook added to that Runner records

* the training losses of every iteration (any NaN / inf fails the task),
* the iterations per second after ``warm-up`` iterations (compilation, cuDNN / allocator warm-up):
  ``(n - warmup) / (t_n - t_warmup)``, timed at the end of each training iteration (data loading
  included, validation excluded), with ``torch.cuda.synchronize`` on CUDA,
* the peak memory of training: ``torch.cuda.max_memory_allocated`` on CUDA, the process's peak
  resident set size (``getrusage``) on CPU,
* the compute dtype: the optimiser wrapper's autocast dtype (float16 / bfloat16) or the parameters'
  dtype (float32),
* the metrics the evaluator returned (no metric fails the task).

A task whose subprocess fails, times out, logs a non-finite loss or evaluates to no metric is a FAIL;
the script prints a Markdown table (and writes it to ``--out``) and exits with 1 if any task failed.
Logs and work directories stay under ``--work-dir`` (default ``work_dirs/gpu_check``).

Data: classification (scikit-learn digits), detection / segmentation (digit scenes generated into the
work directory, ``batch x iters`` training and ``2 x batch`` validation scenes) and graph (karate club,
in PyG) are built in. Anomaly (ODDS cardio) and text (BBC News) read the prepared data root
(``$IMIXER_DATA`` or ``data/``); when it is missing the script runs ``tools/prepare_data.py NAME``
(``--no-prepare`` to fail instead), which needs a package registry: on a machine without one, prepare
the data beforehand and bring it along (docs/gpu_check.md).

"""
import argparse
import datetime
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import List, Optional

import _bootstrap  # noqa: F401  (repository root on sys.path)

# each task package registers its tiny run on import
import tasks.classification, tasks.detection, tasks.segmentation, tasks.anomaly, tasks.text, tasks.graph  # noqa

from tasks.common.smoke import ROOT, TASKS, run_task, table


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", choices=["cuda", "cpu"], default="cuda", help="device to check (default cuda)")
    parser.add_argument("--iters", type=int,
                        help="training iterations per task (default 30 on CUDA, 10 on the CPU)")
    parser.add_argument("--warmup", type=int, default=2,
                        help="iterations left out of the iterations/s (default 2; at most iters - 1)")
    parser.add_argument("--amp", action="store_true", help="tools/train.py --amp (float16 on CUDA, bfloat16 on CPU)")
    parser.add_argument("--amp-dtype", choices=["float16", "bfloat16"],
                        help="with --amp: the autocast dtype instead of the device's default")
    parser.add_argument("--tasks", nargs="+", choices=list(TASKS), default=list(TASKS), help="tasks to check")
    parser.add_argument("--twin", action="store_true", help="check the explicit twins (token_mixer='mlp') instead")
    parser.add_argument("--config", nargs="+", default=[], metavar="TASK=PATH",
                        help="use another config for a task (the task's overrides still apply)")
    parser.add_argument("--cfg-options", nargs="+", metavar="KEY=VALUE",
                        help="extra overrides for every task's config, after the check's own")
    parser.add_argument("--no-prepare", dest="prepare", action="store_false",
                        help="fail a task whose prepared data is missing instead of running tools/prepare_data.py")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per task (default 900)")
    parser.add_argument("--work-dir", default=str(ROOT / "work_dirs" / "gpu_check"),
                        help="logs, work directories and generated scenes (default work_dirs/gpu_check)")
    parser.add_argument("--out", help="also write the Markdown table (with a header) to this file")
    args = parser.parse_args(argv)
    if args.iters is None:
        args.iters = 30 if args.device == "cuda" else 10
    if args.iters < 1:
        parser.error(f"--iters must be >= 1, got {args.iters}")
    if args.amp_dtype and not args.amp:
        parser.error("--amp-dtype needs --amp")
    overrides = {}
    for item in args.config:
        task, sep, path = item.partition("=")
        if not sep or task not in TASKS:
            parser.error(f"--config takes TASK=PATH with TASK one of {list(TASKS)}, got {item!r}")
        if not (ROOT / path).is_file() and not Path(path).is_file():
            parser.error(f"--config {item}: no such file")
        overrides[task] = path
    args.config = overrides
    return args


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("TRANSFORMERS_OFFLINE", "1")
    if args.device == "cpu":
        env["CUDA_VISIBLE_DEVICES"] = ""
    else:
        probe = subprocess.run([sys.executable, "-c", "import torch; print(torch.cuda.is_available())"],
                               capture_output=True, text=True, env=env)
        if probe.stdout.strip() != "True":
            print("gpu_check: --device cuda but torch sees no CUDA device (use --device cpu)", file=sys.stderr)
            return 2
    rows = []
    for name in args.tasks:
        task = TASKS[name]
        config = args.config.get(name) or (task.twin if args.twin else task.config)
        rows.append(run_task(task, config, args, env))
    info = next((r["result"] for r in rows if r.get("result") and r["result"].get("torch")), {})
    mode = f"amp ({args.amp_dtype or 'device default'})" if args.amp else "fp32"
    header = (f"gpu_check --device {args.device} --iters {args.iters}{' --amp' if args.amp else ''}"
              f"{' --amp-dtype ' + args.amp_dtype if args.amp_dtype else ''}{' --twin' if args.twin else ''}: "
              f"{info.get('device', args.device)}, torch {info.get('torch', '?')}, "
              f"Python {info.get('python', platform.python_version())}, {mode}, "
              f"{datetime.date.today().isoformat()}")
    text = f"{header}\n\n{table(rows, args.device)}\n"
    print("\n" + text, flush=True)
    if args.out:
        Path(args.out).write_text(text)
    return 0 if all(r["status"] == "ok" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
