"""Graph-level and edge-level benchmark: graph classification (10-fold) and link prediction (10 seeds).

The sibling of tools/benchmark_graph.py (node classification). Every model is a config of configs/graph and
trains with mmengine's Runner in this process, as ``tools/train.py`` does (``run_single`` of
benchmark_graph.py: train, then test the checkpoint the config selects); Adamic-Adar has nothing to train
and runs the Runner's test loop only. This script plans the runs (config + ``--cfg-options`` per dataset,
model and fold / seed; feature width and class count read from the data), calls the Runner and tabulates
the test metric (mean +- std over folds / seeds) and the time per run.

    python tools/benchmark_graph_levels.py --level graph --datasets solubility --epochs 30
    python tools/benchmark_graph_levels.py --level link --datasets football polblogs --runs 10
    python tools/benchmark_graph_levels.py --level graph --data my_graphs/          # labels.csv + edges/<g>.csv
    python tools/benchmark_graph_levels.py --level graph --data my_graphs.pt        # a list of PyG Data
    python tools/benchmark_graph_levels.py --level link --data edges.csv --directed  # your CSV graph, directed

Graph classification follows PyG's ``benchmark/kernel`` protocol (stratified 10-fold CV, validation part
k-1, test accuracy at the epoch of the lowest validation loss); link prediction PyG's ``RandomLinkSplit``
with one split per seed (ROC-AUC and Hits@K on the held-out edges). Each run's command is printed and
stored in the JSON (``python tools/train.py CONFIG --cfg-options ...`` reproduces it).
"""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import time
from pathlib import Path
from typing import List, Optional

import _bootstrap  # noqa: F401  (repository root on sys.path)
import numpy as np

from benchmark_graph import parse_cfg_options, run_all, run_single, write_results

LOADERS = ("train_dataloader", "val_dataloader", "test_dataloader")
GRAPH_CONFIGS = {  # model -> (label, config on the solubility set; other sets replace the dataset)
    "imixer": ("iMixer (pooled hop tokens, implicit)", "configs/graph/graphcls_hopimixer_solubility.py"),
    "twin": ("explicit twin (MLP token mixer)", "configs/graph/graphcls_hopmlpmixer_solubility.py"),
    "gin": ("GIN-0 (PyG kernel)", "configs/graph/graphcls_gin_solubility.py"),
    "gcn": ("GCN + mean pool (PyG kernel)", "configs/graph/graphcls_gcn_solubility.py"),
}
LINK_CONFIGS = {
    "imixer": ("iMixer (hop tokens) + MLP decoder", "configs/graph/link_hopimixer_football.py"),
    "twin": ("explicit twin (MLP token mixer)", "configs/graph/link_hopmlpmixer_football.py"),
    "gcn": ("GCN + MLP decoder", "configs/graph/link_gcn_football.py"),
    "adamicadar": ("Adamic-Adar (no training)", "configs/graph/link_adamicadar_football.py"),
}
GRAPH_SETS = ("solubility", "b3db")
LINK_SETS = {"football": dict(graph="football"),
             "polblogs": dict(graph="polblogs", directed=True, largest_component=True)}
METRIC = {"graph": ("cls/accuracy", "accuracy (%)"), "link": ("link/auc", "ROC-AUC (%)")}
EXTRA = {"graph": ("cls/macro_f1", "macro-F1 (%)"), "link": ("link/hits@20", "Hits@20 (%)")}


def _opts(values: dict) -> List[str]:
    from benchmark_graph import _value

    return [f"{loader}.dataset.{k}={_value(v)}" for loader in LOADERS for k, v in values.items()]


def _dataset(config: str, options: List[str]):
    """The training split of ``config`` + ``options``, built once (the loaders cache the graphs)."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    import tasks.graph.graph_data  # noqa: F401  (registers the datasets)
    import tasks.graph.links  # noqa: F401
    from backbones.registry import DATASETS

    init_default_scope("imixer")
    cfg = Config.fromfile(config)
    cfg.merge_from_dict(parse_cfg_options(options))
    return DATASETS.build(cfg.train_dataloader.dataset)


def plan_runs(args) -> List[dict]:
    """Every run: ``dict(dataset, model, seed, config, options, train)``; builds each dataset once first."""
    configs = GRAPH_CONFIGS if args.level == "graph" else LINK_CONFIGS
    sources = []
    for name in args.datasets:
        sources.append((name, dict(graphs=name) if args.level == "graph" else dict(LINK_SETS[name])))
    if args.data:
        path = Path(args.data)
        if not path.exists():
            raise FileNotFoundError(f"--data {args.data}: no such file or folder")
        label = "".join(c if c.isalnum() or c in "-_." else "_" for c in path.resolve().name)
        key = "graphs" if args.level == "graph" else "graph"
        data = {key: str(path.resolve())}
        if args.level == "link":
            data.update(directed=args.directed, features="auto")
        sources.append((label, data))
    runs = []
    for label, data in sources:
        data_opts = _opts(data)
        first = configs[args.models[0]][1]
        ds = _dataset(first, data_opts + (_opts(dict(input="graph")) if args.level == "link" else []))
        meta = ds.metainfo
        if args.level == "graph":
            print(f"[bench] {label}: {len(ds.graphs)} graphs, {meta['num_classes']} classes, "
                  f"{meta['num_features']} node features", flush=True)
        else:
            print(f"[bench] {label}: {ds.data.num_nodes} nodes, {meta['num_features']} node features, "
                  f"{'directed' if meta['directed'] else 'undirected'}", flush=True)
        for model in args.models:
            config = configs[model][1]
            if args.level == "graph":
                model_opts = [f"model.model.in_channels={meta['num_features']}",
                              f"model.model.num_classes={meta['num_classes']}"]
            elif model == "adamicadar":
                model_opts = []
            else:
                directed = bool(meta["directed"])
                model_opts = [f"model.encoder.in_channels={meta['num_features']}",
                              f"model.decoder.kind={'concat' if directed else 'hadamard'}"]
                if model in ("imixer", "twin"):
                    model_opts.append(f"model.encoder.directed={directed}")
            for seed in range(args.runs):
                split = dict(fold=seed) if args.level == "graph" else dict(split_seed=seed)
                sched = [f"train_cfg.max_epochs={args.epochs}",
                         f"default_hooks.checkpoint.interval={args.epochs}"] if args.epochs else []
                runs.append(dict(dataset=label, model=model, seed=seed, config=config, train=model != "adamicadar",
                                 options=data_opts + model_opts + _opts(split) + [f"randomness.seed={seed}"] + sched
                                 + list(args.cfg_options)))
    return runs


def test_only(run: dict, work_dir: str) -> dict:
    """A model with nothing to train (Adamic-Adar): the Runner's test loop on the run's split."""
    from mmengine.config import Config
    from mmengine.runner import Runner

    cfg = Config.fromfile(run["config"])
    cfg.merge_from_dict(parse_cfg_options(run["options"]))
    cfg.work_dir, cfg.log_level = work_dir, "WARNING"
    cfg.experiment_name = f"{Path(run['config']).stem}_{os.getpid()}_{run['seed']}"
    t0 = time.perf_counter()
    test = {k: float(v) for k, v in Runner.from_cfg(cfg).test().items()}
    return dict(test=test, epochs=0, total_s=time.perf_counter() - t0)


def summarise(results: List[dict], level: str) -> List[dict]:
    key, extra = METRIC[level][0], EXTRA[level][0]
    configs = GRAPH_CONFIGS if level == "graph" else LINK_CONFIGS
    rows = []
    order = list(dict.fromkeys(r["dataset"] for r in results))
    for ds in order:
        for model in configs:
            group = [r for r in results if r["dataset"] == ds and r["model"] == model]
            if not group:
                continue
            ok = [r for r in group if "error" not in r]
            row = dict(dataset=ds, model=model, runs=len(ok), failed=len(group) - len(ok))
            if ok:
                m, e = np.array([r["test"][key] for r in ok]), np.array([r["test"][extra] for r in ok])
                row.update(mean=m.mean(), std=m.std(), extra_mean=e.mean(), extra_std=e.std(),
                           epochs=np.mean([r["epochs"] for r in ok]), run_s=np.mean([r["total_s"] for r in ok]))
            rows.append(row)
    return rows


def to_markdown(rows: List[dict], level: str, cmd: str, machine: str) -> str:
    configs = GRAPH_CONFIGS if level == "graph" else LINK_CONFIGS
    unit = "folds" if level == "graph" else "seeds"
    lines = [f"Command: `{cmd}`  ", f"Machine: {machine}; date {datetime.date.today().isoformat()}.", "",
             f"| dataset | model | test {METRIC[level][1]} | test {EXTRA[level][1]} | epochs run | s / run | {unit} |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        runs = f"{r['runs']}" + (f" ({r['failed']} failed)" if r["failed"] else "")
        if not r["runs"]:
            lines.append(f"| {r['dataset']} | {configs[r['model']][0]} | - | - | - | - | {runs} |")
            continue
        lines.append(f"| {r['dataset']} | {configs[r['model']][0]} | {r['mean']:.2f} +- {r['std']:.2f} | "
                     f"{r['extra_mean']:.2f} +- {r['extra_std']:.2f} | {r['epochs']:.0f} | {r['run_s']:.1f} | {runs} |")
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--level", choices=["graph", "link"], required=True)
    p.add_argument("--datasets", nargs="*", default=None,
                   help=f"graph: {', '.join(GRAPH_SETS)}; link: {', '.join(LINK_SETS)} (default: all; none with --data)")
    p.add_argument("--data", metavar="PATH", help="graph level: a folder (labels.csv + edges/<graph>.csv) or a .pt "
                   "list of PyG Data; link level: an edges.csv (source,target) or a folder holding one")
    p.add_argument("--directed", action="store_true", help="link level, --data: keep the edge direction")
    p.add_argument("--models", nargs="+", default=None)
    p.add_argument("--runs", type=int, default=10, help="folds 0..N-1 (graph) or split seeds 0..N-1 (link)")
    p.add_argument("--epochs", type=int, default=None, help="maximum epochs (default: the configs', 100)")
    p.add_argument("--cfg-options", nargs="+", default=[], metavar="KEY=VALUE",
                   help="config overrides for every run, as in tools/train.py")
    p.add_argument("--work-dir", default=None, help="default work_dirs/benchmark_graph_<level>")
    p.add_argument("--json", help="per-run results (default: <work-dir>/results.json)")
    p.add_argument("--md", help="also write the Markdown table here")
    p.add_argument("--machine", default=f"{platform.machine()} CPU, {os.cpu_count()} cores")
    args = p.parse_args(argv)
    sets, configs = (GRAPH_SETS, GRAPH_CONFIGS) if args.level == "graph" else (tuple(LINK_SETS), LINK_CONFIGS)
    if args.datasets is None:
        args.datasets = [] if args.data else list(sets)
    bad = [d for d in args.datasets if d not in sets]
    if bad:
        p.error(f"unknown --datasets {bad} for --level {args.level}; choose from {sets}")
    args.models = args.models or list(configs)
    bad = [m for m in args.models if m not in configs]
    if bad:
        p.error(f"unknown --models {bad} for --level {args.level}; choose from {list(configs)}")
    if args.level == "graph" and not 1 <= args.runs <= 10:
        p.error("--runs: the graph level has 10 folds, run 1..10 of them")
    from tasks.graph.data import GraphDataError
    from tasks.graph.graph_data import GraphSetError

    try:
        runs = plan_runs(args)
    except (GraphSetError, GraphDataError, FileNotFoundError, ValueError) as exc:
        raise SystemExit(f"benchmark_graph_levels: {exc}")
    work = Path(args.work_dir or f"work_dirs/benchmark_graph_{args.level}")
    cmd = "python tools/benchmark_graph_levels.py " + " ".join(argv if argv is not None else sys.argv[1:])
    key = METRIC[args.level][0]
    results = run_all(
        runs, work, lambda run: f"{run['dataset']}/{run['model']}/{'fold' if args.level == 'graph' else 'seed'}{run['seed']}",
        lambda run, run_dir: run_single(run, run_dir) if run["train"] else test_only(run, run_dir),
        lambda e: f"test {key} {e['test'][key]:.2f}, {e['epochs']} epochs, {e['total_s']:.1f} s")
    return write_results(results, cmd, Path(args.json or work / "results.json"),
                         to_markdown(summarise(results, args.level), args.level, cmd, args.machine), args.md)


if __name__ == "__main__":
    sys.exit(main())
