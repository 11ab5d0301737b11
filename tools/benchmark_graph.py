"""Node-classification benchmark: the hop-token iMixer, its explicit twin, GCN and GAT through the Runner.

Every model is a config of configs/graph (``hopimixer_full_karate.py``, ``hopmlpmixer_full_karate.py``,
``gcn_full_karate.py``, ``gat_full_karate.py``) and trains with mmengine's Runner, in this process, like
``tools/train.py``: full graph per step, validation every epoch, the checkpoint of the lowest validation
cross-entropy kept, early stopping after 50 epochs without a lower one, at most 200 epochs (the configs'
schedule). That checkpoint is then evaluated on the test split. This script only plans the runs (a config
and its ``--cfg-options`` per dataset, model and seed: the graph, the split seed, the feature width and
class count read from the data), calls the Runner and tabulates test accuracy (mean +- std over the
seeds, one split per seed) and time.

    python tools/benchmark_graph.py --datasets polblogs football karate --runs 10
    python tools/benchmark_graph.py --datasets polblogs --models imixer gcn --runs 3 --epochs 100
    python tools/benchmark_graph.py --data my_graph/ --runs 5                 # your own graph
    python tools/benchmark_graph.py --data my_graph.pt --directed both        # with and without direction

``--data PATH`` is a folder with ``edges.csv`` (``source,target``), ``labels.csv`` (``node,label``; an empty
label marks an unlabelled node) and optionally ``features.csv`` (``node,f1,f2,...``), or a saved PyG
``Data`` (``.pt``; see docs/graph.md). Graphs without features get structural ones (16 Laplacian
eigenvectors + log-degree); ``--split-ratios`` sets the stratified train / val / test split (default
60/20/20 for ``--data``). ``--directed yes`` keeps the edge direction (in- / out-neighbour hop tokens and
in- / out-degree features for the iMixer, the directed ``edge_index`` for GCN / GAT), ``both`` runs both.

Each run's exact command is printed (and stored in the JSON): ``python tools/train.py CONFIG
--cfg-options ...`` reproduces it, split and seed included. polblogs uses its largest connected
component (1,222 nodes) and a 10/10/80 split, football 30/20/50, karate the configs' 50/25/25.
"""
from __future__ import annotations

import argparse
import datetime
import itertools
import json
import os
import platform
import shlex
import sys
import time
import traceback
from pathlib import Path
from typing import Dict, List, Optional

import _bootstrap  # noqa: F401  (repository root on sys.path)
import numpy as np

CONFIGS = {  # model -> (label, config)
    "imixer": ("iMixer (hop tokens, implicit)", "configs/graph/hopimixer_full_karate.py"),
    "twin": ("explicit twin (MLP token mixer)", "configs/graph/hopmlpmixer_full_karate.py"),
    "gcn": ("GCN", "configs/graph/gcn_full_karate.py"),
    "gat": ("GAT", "configs/graph/gat_full_karate.py"),
}
DATASETS = {  # name -> NodeDataset options replacing the configs' karate
    "karate": dict(),
    "football": dict(graph="football", features="structural", split_ratios=(0.3, 0.2, 0.5)),
    "polblogs": dict(graph="polblogs", largest_component=True, features="structural", split_ratios=(0.1, 0.1, 0.8)),
}
LOADERS = ("train_dataloader", "val_dataloader", "test_dataloader")
_RUN_IDS = itertools.count()


def parse_cfg_options(items) -> dict:
    """``['a.b=1', ...]`` -> ``{'a.b': 1, ...}``, parsed as ``--cfg-options`` of tools/train.py."""
    from mmengine.config import DictAction

    ns = argparse.Namespace()
    DictAction(option_strings=["--cfg-options"], dest="opts")(None, ns, list(items or []))
    return ns.opts or {}


def _value(v) -> str:
    """A value as ``--cfg-options`` writes it (tuples as ``(a,b)``, no spaces)."""
    if isinstance(v, (tuple, list)):
        inner = ",".join(_value(x) for x in v)
        return f"({inner})" if isinstance(v, tuple) else f"[{inner}]"
    return str(v)


def dataset_options(data: dict) -> List[str]:
    """``KEY=VALUE`` options setting ``data`` on the train, val and test datasets."""
    return [f"{loader}.dataset.{k}={_value(v)}" for loader in LOADERS for k, v in data.items()]


def describe_graph(config: str, options: List[str]) -> dict:
    """Build the graph and split of ``config`` + ``options`` once (cached for the runs) and return what the
    model needs: ``dict(num_features, num_classes, num_hops, summary)``.

    Raises:
        GraphDataError / FileNotFoundError / ValueError: the data are unusable; the message names the file.
    """
    from mmengine.config import Config

    from tasks.graph import NodeDataset

    cfg = Config.fromfile(config)
    cfg.merge_from_dict(parse_cfg_options(options))
    ds_cfg = dict(cfg.train_dataloader.dataset)
    ds_cfg.pop("type")
    ds = NodeDataset(**ds_cfg)
    data, meta = ds.data, ds.metainfo
    kind = "directed" if data.get("directed") else "undirected"
    n_edges = data.edge_index.size(1) // (1 if data.get("directed") else 2)
    sizes = "/".join(str(ds.splits[k].numel()) for k in ("train", "val", "test"))
    return dict(num_features=meta["num_features"], num_classes=meta["num_classes"], num_hops=meta["num_hops"],
                summary=f"{data.num_nodes} nodes, {n_edges} {kind} edges, {meta['num_features']} features, "
                        f"{meta['num_classes']} classes, train/val/test {sizes} nodes (seed {ds.split_seed})")


def plan_runs(args) -> List[dict]:
    """Every run: ``dict(dataset, model, seed, directed, config, options)``; checks each graph first."""
    sources = [(name, DATASETS[name]) for name in args.datasets]
    if args.data:
        path = Path(args.data)
        if not path.exists():
            raise FileNotFoundError(f"--data {args.data}: no such folder or file; give a folder with edges.csv and "
                                    "labels.csv (features.csv optional) or a saved PyG Data (.pt)")
        label = "".join(c if c.isalnum() or c in "-_." else "_" for c in path.resolve().name)
        sources.append((label, dict(graph=str(path.resolve()), features="auto")))
    directions = {"no": [False], "yes": [True], "both": [False, True]}[args.directed]
    runs = []
    for (label, data), directed in itertools.product(sources, directions):
        data = dict(data)
        if args.split_ratios:
            data["split_ratios"] = tuple(args.split_ratios)
        elif args.data and data.get("graph") == str(Path(args.data).resolve()):
            data["split_ratios"] = (0.6, 0.2, 0.2)
        data["directed"] = directed
        data_opts = dataset_options(data) + list(args.data_options_expanded)
        graph = describe_graph(CONFIGS["gcn"][1], data_opts)  # the dataset part is the same in every config
        print(f"[bench] {label}{' (directed)' if directed else ''}: {graph['summary']}", flush=True)
        for model in args.models:
            config = CONFIGS[model][1]
            model_opts = [f"model.model.in_channels={graph['num_features']}",
                          f"model.model.num_classes={graph['num_classes']}"]
            if model in ("imixer", "twin"):
                model_opts += [f"model.model.num_hops={graph['num_hops']}", f"model.model.directed={directed}"]
            for seed in range(args.runs):
                seed_opts = [f"{loader}.dataset.split_seed={seed}" for loader in LOADERS] + [f"randomness.seed={seed}"]
                runs.append(dict(dataset=label, model=model, seed=seed, directed=directed, config=config,
                                 options=data_opts + model_opts + seed_opts + schedule_options(config, args)
                                 + list(args.cfg_options)))
    return runs


def schedule_options(config: str, args) -> List[str]:
    """``--epochs`` / ``--patience`` as options of ``config`` (the EarlyStoppingHook's index in its list)."""
    from mmengine.config import Config

    opts = []
    if args.epochs:
        opts += [f"train_cfg.max_epochs={args.epochs}", f"default_hooks.checkpoint.interval={args.epochs}"]
    if args.patience is not None:
        hooks = Config.fromfile(config).get("custom_hooks", [])
        idx = [i for i, h in enumerate(hooks) if h.get("type") == "EarlyStoppingHook"]
        if not idx:
            raise ValueError(f"{config} has no EarlyStoppingHook in custom_hooks for --patience")
        opts.append(f"custom_hooks.{idx[0]}.patience={args.patience}")
    return opts


def reproduce_command(run: dict, work_dir: str) -> str:
    return " ".join(shlex.quote(str(a)) for a in ["python", "tools/train.py", run["config"], "--work-dir", work_dir,
                                                    "--cfg-options", *run["options"]])


def run_single(run: dict, work_dir: str, verbose: bool = False) -> dict:
    """Train ``run`` with the Runner in this process, test its best checkpoint; return the measurements."""
    from mmengine.config import Config
    from mmengine.hooks import Hook
    from mmengine.runner import Runner

    import backbones  # noqa: F401

    cfg = Config.fromfile(run["config"])
    # the Runner writes the config text into every checkpoint it saves (each new best one) and yapf's
    # formatting of it took most of a small run's time; fromfile's format_python_code=False is not kept
    # for configs with _base_ (mmengine 0.10.7), so it is set on the object as Config.__init__ does
    object.__setattr__(cfg, "_format_python_code", False)
    cfg.merge_from_dict(parse_cfg_options(run["options"]))
    cfg.work_dir = work_dir
    cfg.experiment_name = f"{Path(run['config']).stem}_{os.getpid()}_{next(_RUN_IDS)}"
    if not verbose:
        cfg.log_level = "WARNING"
    save_best = cfg.default_hooks.checkpoint.get("save_best")
    rule = cfg.default_hooks.checkpoint.get("rule", "greater")

    class Recorder(Hook):
        """Training-step time, epochs run, and the validation metrics at the best epoch."""

        priority = "VERY_LOW"

        def __init__(self) -> None:
            self.step_s, self.epochs, self.best, self.val = 0.0, 0, None, {}

        def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
            self.t0 = time.perf_counter()

        def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
            self.step_s += time.perf_counter() - self.t0

        def after_train_epoch(self, runner) -> None:
            self.epochs += 1

        def after_val_epoch(self, runner, metrics=None) -> None:
            metrics = {k: float(v) for k, v in (metrics or {}).items()}
            score = metrics.get(save_best)
            if score is None or self.best is None or (score < self.best if rule == "less" else score > self.best):
                self.best, self.val = score, metrics

    t0 = time.perf_counter()
    rec = Recorder()
    runner = Runner.from_cfg(cfg)
    runner.register_hook(rec)
    runner.train()
    train_s = time.perf_counter() - t0
    ckpt = runner.message_hub.get_info("best_ckpt") if save_best else None
    if ckpt is None:
        ckpt = str(Path(work_dir) / f"epoch_{rec.epochs}.pth")
    runner.load_checkpoint(ckpt)
    test = {k: float(v) for k, v in runner.test().items()}
    return dict(test=test, val=rec.val, checkpoint=os.path.relpath(ckpt), epochs=rec.epochs,
                ms_per_epoch=1000 * rec.step_s / max(rec.epochs, 1), train_s=train_s,
                total_s=time.perf_counter() - t0)


def summarise(results: List[dict]) -> List[dict]:
    """One row per (dataset, directed, model): test accuracy / macro-F1 mean and std, times, runs."""
    rows = []
    keys = sorted({(r["dataset"], r["directed"], r["model"]) for r in results},
                  key=lambda k: ([r["dataset"] for r in results].index(k[0]), k[1], list(CONFIGS).index(k[2])))
    for ds, directed, model in keys:
        ok = [r for r in results if (r["dataset"], r["directed"], r["model"]) == (ds, directed, model)
              and "error" not in r]
        failed = sum(1 for r in results if (r["dataset"], r["directed"], r["model"]) == (ds, directed, model)
                     and "error" in r)
        row = dict(dataset=ds, directed=directed, model=model, runs=len(ok), failed=failed)
        if ok:
            acc = np.array([r["test"]["cls/accuracy"] for r in ok])
            f1 = np.array([r["test"]["cls/macro_f1"] for r in ok])
            row.update(acc_mean=acc.mean(), acc_std=acc.std(), f1_mean=f1.mean(), f1_std=f1.std(),
                       ms_per_epoch=np.mean([r["ms_per_epoch"] for r in ok]),
                       epochs=np.mean([r["epochs"] for r in ok]), run_s=np.mean([r["total_s"] for r in ok]))
        rows.append(row)
    return rows


def to_markdown(rows: List[dict], cmd: str, machine: str) -> str:
    lines = [f"Command: `{cmd}`  ", f"Machine: {machine}; date {datetime.date.today().isoformat()}; "
             f"torch threads {os.environ.get('OMP_NUM_THREADS', 'default')}.", "",
             "| dataset | model | test acc. (%) | test macro-F1 (%) | ms / epoch | epochs run | s / run | runs |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        name = r["dataset"] + (" (directed)" if r["directed"] else "")
        runs = f"{r['runs']}" + (f" ({r['failed']} failed)" if r["failed"] else "")
        if not r["runs"]:
            lines.append(f"| {name} | {CONFIGS[r['model']][0]} | - | - | - | - | - | {runs} |")
            continue
        lines.append(f"| {name} | {CONFIGS[r['model']][0]} | {r['acc_mean']:.2f} +- {r['acc_std']:.2f} | "
                     f"{r['f1_mean']:.2f} +- {r['f1_std']:.2f} | {r['ms_per_epoch']:.1f} | {r['epochs']:.0f} | "
                     f"{r['run_s']:.1f} | {runs} |")
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", nargs="*", default=None, choices=sorted(DATASETS),
                   help="built-in graphs (default: polblogs football karate; none with --data)")
    p.add_argument("--data", metavar="PATH", help="your graph: a CSV folder (edges.csv, labels.csv, features.csv) "
                   "or a saved PyG Data (.pt)")
    p.add_argument("--directed", choices=["no", "yes", "both"], default="no",
                   help="keep the edge direction (yes), symmetrise (no, default), or run both")
    p.add_argument("--split-ratios", nargs=3, type=float, metavar=("TRAIN", "VAL", "TEST"),
                   help="stratified split fractions of the labelled nodes (default: per dataset; 0.6 0.2 0.2 for "
                        "--data)")
    p.add_argument("--data-options", nargs="+", default=[], metavar="KEY=VALUE",
                   help="NodeDataset options for every split, e.g. structural.spectral_dim=4 num_hops=2")
    p.add_argument("--models", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    p.add_argument("--runs", type=int, default=10, help="seeds 0..N-1 (one split and one initialisation each)")
    p.add_argument("--epochs", type=int, default=None, help="maximum epochs (default: the configs', 200)")
    p.add_argument("--patience", type=int, default=None,
                   help="early-stopping patience in epochs (default: the configs', 50)")
    p.add_argument("--cfg-options", nargs="+", default=[], metavar="KEY=VALUE",
                   help="config overrides for every run, as in tools/train.py")
    p.add_argument("--work-dir", default="work_dirs/benchmark_graph")
    p.add_argument("--json", help="per-run results (default: <work-dir>/results.json)")
    p.add_argument("--md", help="also write the Markdown table here")
    p.add_argument("--machine", default=f"{platform.machine()} CPU, {os.cpu_count()} cores")
    p.add_argument("--verbose", action="store_true", help="the Runner's INFO log (default: warnings only)")
    args = p.parse_args(argv)
    if args.datasets is None:
        args.datasets = [] if args.data else ["polblogs", "football", "karate"]
    if not args.datasets and not args.data:
        p.error("nothing to run: give --datasets or --data")
    if args.runs < 1:
        p.error("--runs must be at least 1")
    args.data_options_expanded = [f"{loader}.dataset.{o}" for o in args.data_options for loader in LOADERS]

    from tasks.graph import GraphDataError

    try:
        runs = plan_runs(args)
    except (GraphDataError, FileNotFoundError, ValueError) as exc:
        raise SystemExit(f"benchmark_graph: {exc}")
    work = Path(args.work_dir)
    cmd = "python tools/benchmark_graph.py " + " ".join(argv if argv is not None else sys.argv[1:])
    results = run_all(
        runs, work, lambda run: f"{run['dataset']}{'_directed' if run['directed'] else ''}/{run['model']}/seed{run['seed']}",
        lambda run, run_dir: run_single(run, run_dir, args.verbose),
        lambda e: (f"test acc. {e['test']['cls/accuracy']:.2f}, val acc. {e['val'].get('cls/accuracy', float('nan')):.2f}, "
                   f"{e['epochs']} epochs, {e['total_s']:.1f} s ({e['checkpoint']})"))
    return write_results(results, cmd, Path(args.json or work / "results.json"),
                         to_markdown(summarise(results), cmd, args.machine), args.md)


def run_all(runs: list, work: Path, tag_of, run_one, describe) -> list:
    """Run every planned run in ``work / tag_of(run)``; one failed run is reported, the others still run."""
    results = []
    for run in runs:
        tag = tag_of(run)
        run_dir = str(work / tag)
        entry = dict(run, command=reproduce_command(run, run_dir), work_dir=run_dir)
        try:
            entry.update(run_one(run, run_dir))
            print(f"[bench] {tag}: {describe(entry)}", flush=True)
        except Exception as exc:  # noqa: BLE001
            entry["error"] = f"{type(exc).__name__}: {exc}"
            print(f"[bench] {tag}: FAILED {entry['error']}\n{traceback.format_exc()}", file=sys.stderr, flush=True)
        results.append(entry)
    return results


def write_results(results: list, cmd: str, out_json: Path, md: str, md_path=None) -> int:
    """Per-run JSON (with the command reproducing each run) and the Markdown table; 1 if a run failed."""
    out_json.parent.mkdir(parents=True, exist_ok=True)
    out_json.write_text(json.dumps(dict(command=cmd, results=results), indent=1, default=str))
    print(md)
    print(f"\nper-run results and the command reproducing each run: {out_json}")
    if md_path:
        Path(md_path).write_text(md + "\n")
    return 1 if any("error" in r for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
