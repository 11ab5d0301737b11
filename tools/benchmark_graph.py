"""Node-classification benchmark in the style of PyG's ``benchmark/citation``.

The hop-token iMixer (``token_mixer='implicit'``), its explicit twin (``'mlp'``), GCN and GAT
(``torch_geometric.nn``) are trained on the *same* graphs, features and stratified splits, one
split per seed, by one plain full-batch training function (Adam, best-validation-epoch model
selection). Reported: test accuracy mean +- std over the seeds, and milliseconds per training epoch
(forward + backward + step over all training nodes; the one-off hop-token propagation is timed
separately). Training stops early when the validation loss has not improved for ``--patience``
epochs. The iMixer trains through the runner too: ``python tools/train.py configs/graph/...``.

    python tools/benchmark_graph.py --datasets polblogs football karate --runs 10
    python tools/benchmark_graph.py --datasets polblogs --models imixer gcn --runs 3 --epochs 100

polblogs uses its largest connected component (1,222 nodes; the usual protocol) and a 10/10/80 split;
the featureless graphs get the structural features of ``StructuralFeatures`` (16 Laplacian
eigenvectors + log-degree) for every model (``--features onehot``: one-hot node ids instead), karate
keeps its own one-hot features.
"""
from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from typing import Dict, List

import _bootstrap  # noqa: F401  (repository root on sys.path)
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch_geometric.nn import GATConv, GCNConv

from tasks.graph import HopMixer, build_graph, stratified_split

DATASETS = {  # name -> build_graph kwargs and split ratios
    "polblogs": dict(graph=dict(graph="polblogs", largest_component=True), ratios=(0.1, 0.1, 0.8)),
    "football": dict(graph=dict(graph="football"), ratios=(0.3, 0.2, 0.5)),
    "karate": dict(graph=dict(graph="karate"), ratios=(0.3, 0.2, 0.5)),
}


class GCN(nn.Module):
    """Kipf & Welling's two-layer GCN (the PyG citation benchmark's setting)."""

    def __init__(self, in_channels: int, num_classes: int, hidden: int = 64, dropout: float = 0.5) -> None:
        super().__init__()
        self.conv1, self.conv2, self.dropout = GCNConv(in_channels, hidden), GCNConv(hidden, num_classes), dropout

    def forward(self, x, edge_index):
        x = F.dropout(x, self.dropout, self.training)
        x = F.relu(self.conv1(x, edge_index))
        return self.conv2(F.dropout(x, self.dropout, self.training), edge_index)


class GAT(nn.Module):
    """Velickovic et al.'s two-layer GAT, 8 heads x 8 channels (the PyG citation benchmark's setting)."""

    def __init__(self, in_channels: int, num_classes: int, hidden: int = 8, heads: int = 8,
                 dropout: float = 0.6) -> None:
        super().__init__()
        self.dropout = dropout
        self.conv1 = GATConv(in_channels, hidden, heads=heads, dropout=dropout)
        self.conv2 = GATConv(hidden * heads, num_classes, heads=1, concat=False, dropout=dropout)

    def forward(self, x, edge_index):
        x = F.dropout(x, self.dropout, self.training)
        x = F.elu(self.conv1(x, edge_index))
        return self.conv2(F.dropout(x, self.dropout, self.training), edge_index)


def make_model(name: str, data, args) -> tuple:
    """(model, logits_fn(model, nodes) -> logits of those nodes, lr, weight_decay)."""
    f, c = data.x.size(1), int(data.y.max()) + 1
    if name in ("imixer", "mlpmixer"):
        implicit = dict(n_iter=args.n_iter, h_ratio=2.0) if name == "imixer" else {}
        m = HopMixer(f, c, num_hops=args.hops, embed_dim=args.dim, num_blocks=args.blocks,
                     token_mixer="implicit" if name == "imixer" else "mlp", readout=args.readout,
                     dropout=args.dropout, **implicit)
        tokens = data.hop_tokens
        return m, (lambda model, nodes: model(tokens[nodes])), args.lr, args.wd
    if name == "gcn":
        m = GCN(f, c)
        return m, (lambda model, nodes: model(data.x, data.edge_index)[nodes]), 0.01, 5e-4
    if name == "gat":
        m = GAT(f, c)
        return m, (lambda model, nodes: model(data.x, data.edge_index)[nodes]), 0.005, 5e-4
    raise ValueError(f"unknown model {name!r}")


def run_once(name: str, data, splits: Dict[str, torch.Tensor], seed: int, args) -> Dict[str, float]:
    """Train one model on one split; return test accuracy at the best validation epoch and timing."""
    torch.manual_seed(seed)
    model, logits_fn, lr, wd = make_model(name, data, args)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=wd)
    y = data.y
    tr, va, te = splits["train"], splits["val"], splits["test"]
    best = (-1.0, float("inf"))
    best_state, train_time, best_loss, since, epochs = None, 0.0, float("inf"), 0, 0
    for _ in range(args.epochs):
        epochs += 1
        t0 = time.perf_counter()
        model.train()
        opt.zero_grad()
        loss = F.cross_entropy(logits_fn(model, tr), y[tr])
        loss.backward()
        opt.step()
        train_time += time.perf_counter() - t0
        model.eval()
        with torch.no_grad():
            out = logits_fn(model, va)
            acc = (out.argmax(-1) == y[va]).float().mean().item()
            vloss = F.cross_entropy(out, y[va]).item()
        if (acc, -vloss) > (best[0], -best[1]):
            best, best_state = (acc, vloss), copy.deepcopy(model.state_dict())
        since = 0 if vloss < best_loss else since + 1
        best_loss = min(best_loss, vloss)
        if args.patience and since >= args.patience:
            break
    model.load_state_dict(best_state)
    model.eval()
    with torch.no_grad():
        test_acc = (logits_fn(model, te).argmax(-1) == y[te]).float().mean().item()
    return dict(test_acc=100 * test_acc, val_acc=100 * best[0], ms_per_epoch=1000 * train_time / epochs,
                epochs=epochs)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", nargs="+", default=["polblogs", "football", "karate"], choices=sorted(DATASETS))
    p.add_argument("--models", nargs="+", default=["imixer", "mlpmixer", "gcn", "gat"],
                   choices=["imixer", "mlpmixer", "gcn", "gat"])
    p.add_argument("--runs", type=int, default=10, help="seeds (one split each)")
    p.add_argument("--epochs", type=int, default=200, help="maximum epochs")
    p.add_argument("--patience", type=int, default=50,
                   help="stop when the validation loss has not improved for this many epochs (0: never)")
    p.add_argument("--features", choices=["structural", "onehot"], default="structural",
                   help="featureless graphs: Laplacian eigenvectors + log-degree, or one-hot node ids")
    p.add_argument("--hops", type=int, default=3, help="K of the hop tokens")
    p.add_argument("--dim", type=int, default=64, help="iMixer embed_dim")
    p.add_argument("--blocks", type=int, default=2, help="iMixer blocks")
    p.add_argument("--n-iter", type=int, default=2, help="iMixer unrolled fixed-point steps")
    p.add_argument("--readout", default="mean")
    p.add_argument("--dropout", type=float, default=0.5)
    p.add_argument("--lr", type=float, default=0.005, help="iMixer / twin learning rate")
    p.add_argument("--wd", type=float, default=5e-4, help="iMixer / twin weight decay")
    p.add_argument("--json", help="also write all per-run results to this file")
    args = p.parse_args()

    results: List[dict] = []
    print(f"| dataset | model | test acc. (%) | ms / epoch | epochs | runs |\n|---|---|---|---|---|---|", flush=True)
    for ds in args.datasets:
        spec = DATASETS[ds]
        t0 = time.perf_counter()
        graph_kw = dict(spec["graph"])
        if args.features == "onehot" and ds != "karate":  # karate's own features are already one-hot
            graph_kw.update(features="structural", structural=dict(spectral_dim=0, degree=False, onehot=True))
        data = build_graph(num_hops=args.hops, **graph_kw)
        prep = time.perf_counter() - t0
        for name in args.models:
            runs = []
            for seed in range(args.runs):
                splits = stratified_split(data.y, seed, spec["ratios"])
                r = run_once(name, data, splits, seed, args)
                runs.append(r)
                print(f"[{ds} {name} seed {seed}] test {r['test_acc']:.2f} val {r['val_acc']:.2f} "
                      f"epochs {r['epochs']} ({r['ms_per_epoch']:.1f} ms/epoch)", file=sys.stderr, flush=True)
                results.append(dict(dataset=ds, model=name, seed=seed, **r))
            acc = np.array([r["test_acc"] for r in runs])
            ms = np.array([r["ms_per_epoch"] for r in runs])
            ep = np.array([r["epochs"] for r in runs])
            print(f"| {ds} | {name} | {acc.mean():.2f} +- {acc.std():.2f} | {ms.mean():.1f} | {ep.mean():.0f} | "
                  f"{len(runs)} |", flush=True)
        print(f"<!-- {ds}: {data.num_nodes} nodes, features {data.x.size(1)}, graph + hop tokens built in "
              f"{prep:.2f} s -->", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(args=vars(args), results=results), f, indent=1)


if __name__ == "__main__":
    main()
