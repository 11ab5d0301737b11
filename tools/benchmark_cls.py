"""Re-check the paper's claim on data we have: iMixer vs MLP-Mixer at equal training budget.

    python tools/benchmark_cls.py                         # MNIST, 3 seeds, both models + ablation
    python tools/benchmark_cls.py --dataset digits --epochs 30 --seeds 0 1 2 3 4
    python tools/benchmark_cls.py --subset 10000 --epochs 5 --no-ablation

Every run goes through mmengine's Runner with the configs in configs/cls/ (the same as
``tools/train.py``); the final-epoch model is evaluated on the test split. Writes a CSV per run and a
Markdown table (mean +- std over seeds, then accuracy vs ``n_iter`` / solver) to ``--out``.
"""
import argparse
import csv
import json
import os
import statistics
import time
from pathlib import Path

import _bootstrap  # noqa: F401
import torch
from mmengine.config import Config
from mmengine.runner import Runner

import backbones  # noqa: F401

CONFIGS = {
    "mnist": ("configs/cls/imixer-s_mnist.py", "configs/cls/mlpmixer-s_mnist.py"),
    "digits": ("configs/cls/imixer-t_digits.py", "configs/cls/mlpmixer-t_digits.py"),
}
ABLATION = [  # (label, backbone overrides) on the iMixer config
    ("iMixer unroll n_iter=1", dict(n_iter=1)),
    ("iMixer unroll n_iter=4", dict(n_iter=4)),
    ("iMixer fixed_point tol 1e-3, implicit grad", dict(solver="fixed_point", grad="implicit", tol=1e-3, max_iter=30)),
    ("iMixer anderson tol 1e-3, implicit grad", dict(solver="anderson", grad="implicit", tol=1e-3, max_iter=30)),
]


def run_one(config: str, work_dir: Path, seed: int, epochs: int, subset, backbone_overrides: dict) -> dict:
    cfg = Config.fromfile(config)
    cfg.work_dir = str(work_dir)
    cfg.randomness = dict(seed=seed)
    cfg.experiment_name = f"{work_dir.name}_{time.time_ns()}"
    cfg.train_cfg.max_epochs = epochs
    cfg.train_cfg.val_interval = epochs  # validate once, at the end
    warm = max(1, epochs // 10)
    cfg.param_scheduler = [
        dict(type="LinearLR", start_factor=0.01, by_epoch=True, begin=0, end=warm, convert_to_iter_based=True),
        dict(type="CosineAnnealingLR", by_epoch=True, begin=warm, end=epochs, eta_min=1e-5,
             convert_to_iter_based=True)]
    if subset and cfg.train_dataloader.dataset.type == "MNISTDataset":
        cfg.train_dataloader.dataset.subset = subset
    for dl in ("train_dataloader", "val_dataloader", "test_dataloader"):
        cfg[dl].num_workers = 0
        cfg[dl].persistent_workers = False
    cfg.model.backbone.update(backbone_overrides)
    cfg.default_hooks.checkpoint = dict(type="CheckpointHook", interval=epochs, save_best=None, max_keep_ckpts=1)
    cfg.default_hooks.logger = dict(type="LoggerHook", interval=100)
    runner = Runner.from_cfg(cfg)
    t0 = time.time()
    runner.train()
    train_s = time.time() - t0
    metrics = runner.test()
    n_params = sum(p.numel() for p in runner.model.parameters())
    return dict(test_accuracy=metrics["cls/accuracy"], test_macro_f1=metrics["cls/macro_f1"], train_s=train_s,
                params=n_params)


def mean_std(values):
    return (statistics.mean(values), statistics.stdev(values) if len(values) > 1 else 0.0)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", choices=sorted(CONFIGS), default="mnist")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--subset", type=int, default=10000, help="training images (MNIST only; 0 = all 50,000)")
    parser.add_argument("--no-ablation", action="store_true", help="skip accuracy vs n_iter / solver")
    parser.add_argument("--out", default="results/benchmark_cls")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    csv_path = out / f"{args.dataset}.csv"
    done = {}
    if csv_path.exists():  # resume: keep finished runs
        with open(csv_path) as f:
            for row in csv.DictReader(f):
                done[(row["model"], int(row["seed"]))] = row
    imixer_cfg, mixer_cfg = CONFIGS[args.dataset]
    plan = [(m, c, {}, s) for s in args.seeds for m, c in (("iMixer", imixer_cfg), ("MLP-Mixer", mixer_cfg))]
    if not args.no_ablation:
        plan += [(label, imixer_cfg, kw, args.seeds[0]) for label, kw in ABLATION]
    fields = ["model", "seed", "test_accuracy", "test_macro_f1", "train_s", "params", "epochs", "subset"]
    new_file = not csv_path.exists()
    with open(csv_path, "a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        if new_file:
            writer.writeheader()
        for i, (model, config, kw, seed) in enumerate(plan, 1):
            if (model, seed) in done:
                continue
            print(f"[{i}/{len(plan)}] {model} seed {seed}", flush=True)
            slug = model.replace(" ", "_").replace("=", "").replace(",", "").replace(".", "")
            res = run_one(config, out / "runs" / f"{slug}_seed{seed}", seed, args.epochs, args.subset, kw)
            row = dict(model=model, seed=seed, epochs=args.epochs, subset=args.subset, **res)
            writer.writerow(row)
            f.flush()
            done[(model, seed)] = row
    by_model = {}
    for (model, _), row in done.items():
        by_model.setdefault(model, []).append(row)
    lines = [f"| model | seeds | params | test accuracy (%) | macro-F1 (%) | train time (s) |", "|---|---|---|---|---|---|"]
    for model, rows in by_model.items():
        acc = mean_std([float(r["test_accuracy"]) for r in rows])
        f1 = mean_std([float(r["test_macro_f1"]) for r in rows])
        ts = mean_std([float(r["train_s"]) for r in rows])
        lines.append(f"| {model} | {len(rows)} | {int(float(rows[0]['params'])) / 1e6:.3f}M | {acc[0]:.2f} +- {acc[1]:.2f} | "
                     f"{f1[0]:.2f} +- {f1[1]:.2f} | {ts[0]:.0f} |")
    table = "\n".join(lines)
    (out / f"{args.dataset}.md").write_text(table + "\n")
    print(table)
    print(json.dumps(dict(torch=torch.__version__, threads=torch.get_num_threads(), cpu_count=os.cpu_count())))


if __name__ == "__main__":
    main()
