"""Dense-prediction benchmark: iMixer pyramid vs its explicit twin vs ResNet-18 (detection and segmentation).

Every model trains through mmengine's Runner (the configs of configs/det and configs/seg) for the same
number of iterations on the same data, each in its own process, then is evaluated once:

    python tools/benchmark_dense.py                          # digit scenes, det + seg, 600 iterations
    python tools/benchmark_dense.py --iters 200 --tasks det  # shorter
    python tools/benchmark_dense.py --dataset mnist-scenes   # the MNIST scenes
    python tools/benchmark_dense.py --data data/my_coco      # your own COCO folder (detection)

``--data PATH`` runs the three detection configs on a COCO folder instead of the scenes (only the
data, the class count and the image size change; model and schedule are the configs'):

    PATH/annotations/instances_train.json    COCO json: images, annotations, categories
    PATH/annotations/instances_val.json      evaluated with mmdet's CocoMetric on this file
    PATH/images/train/  PATH/images/val/     the images; ``file_name`` is relative to these
                                             (``img_dir/{train,val}/`` is accepted too)

A missing file, an image listed in a json but not on disk, no images or no categories, or train / val
categories that differ stop the run before any training, with the file named.

Recorded per run: COCO bbox mAP / mAP_50 (mmdet CocoMetric) or mIoU / aAcc (mmseg IoUMetric) with the
foreground IoU and the digit accuracy on foreground pixels (imixer.ForegroundIoUMetric), training
images per second (iterations 5.. to the end, without validation), the process's peak resident memory
(``resource.getrusage`` max RSS; CUDA: peak allocated memory too) and the parameter count of the
backbone. Results go to a JSON file and a Markdown table (``--md``).

``--pretrain-iters N`` first gives every backbone the same classification pretraining (the configs of
``configs/cls/pretrain_*_scene-digits.py``: single digits drawn like the scenes, from the training
scenes' source digits, N iterations at batch 32) and fine-tunes detection and segmentation from its
checkpoint (``init_cfg=dict(type='Pretrained', prefix='backbone.')``); ``--seeds`` repeats the whole
pipeline (pretraining included) per seed, or only the fine-tuning with ``--pretrain-seed S`` (one
pretraining per backbone), and the table gives mean +- sd:

    python tools/benchmark_dense.py --pretrain-iters 600 --pretrain-seed 0 --seeds 0 1 --iters 300

Several processes may share one ``--json`` (e.g. one per seed): each result is merged into it under a
file lock.
"""
from __future__ import annotations

import argparse
import datetime
import fcntl
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import _bootstrap  # noqa: F401

ROOT = Path(__file__).resolve().parents[1]
MODELS = {
    "det": [("iMixer-pyramid-T", "configs/det/retinanet_imixer-pyramid-t_fpn_600i_{ds}.py"),
            ("MLP-Mixer-pyramid-T (twin)", "configs/det/retinanet_mlpmixer-pyramid-t_fpn_600i_{ds}.py"),
            ("ResNet-18", "configs/det/retinanet_r18_fpn_600i_{ds}.py")],
    "seg": [("iMixer-pyramid-T", "configs/seg/upernet_imixer-pyramid-t_600i_{ds}.py"),
            ("MLP-Mixer-pyramid-T (twin)", "configs/seg/upernet_mlpmixer-pyramid-t_600i_{ds}.py"),
            ("ResNet-18", "configs/seg/upernet_r18_600i_{ds}.py")],
}
#: the classification pretraining of each backbone (``--pretrain-iters``)
PRETRAIN = {"iMixer-pyramid-T": "configs/cls/pretrain_imixer-pyramid-t_scene-digits.py",
            "MLP-Mixer-pyramid-T (twin)": "configs/cls/pretrain_mlpmixer-pyramid-t_scene-digits.py",
            "ResNet-18": "configs/cls/pretrain_r18_scene-digits.py"}
#: table columns per task: (header, metric key, scale to %)
METRIC_KEYS = {"pretrain": [("val acc.", "cls/accuracy", 1.0)],
               "det": [("bbox mAP", "coco/bbox_mAP", 100.0), ("mAP_50", "coco/bbox_mAP_50", 100.0)],
               "seg": [("mIoU", "mIoU", 1.0), ("aAcc", "aAcc", 1.0), ("fg IoU", "fg/IoU", 1.0),
                       ("digit acc. on fg", "fg/class_acc", 1.0)]}
SKIP_WARMUP = 5
#: the COCO folder of ``--data``: annotation files, and image folders tried in this order
COCO_ANN = "annotations/instances_{split}.json"
COCO_IMG_DIRS = ("images/{split}", "img_dir/{split}")
COCO_LAYOUT = ("expected layout: PATH/annotations/instances_train.json, PATH/annotations/instances_val.json, "
               "PATH/images/train/, PATH/images/val/ (or img_dir/train/, img_dir/val/)")
MAX_AUTO_SCALE = 800


def plan_coco_folder(path: str, img_scale: int = None) -> dict:
    """Check a COCO folder (see the module docstring) and return what the runs need.

    Returns ``dict(root, classes, img_scale, train=dict(ann_file, img_dir, num_images), val=...)``;
    paths are absolute, ``img_dir`` relative to ``root`` and ending in ``/``. ``img_scale`` defaults to
    the longest image side of the train json, at most ``MAX_AUTO_SCALE``.

    Raises:
        FileNotFoundError: the folder, an annotation file, an image folder or a listed image is missing.
        ValueError: a json is not valid COCO (not JSON, no images, no categories) or the train and val
            categories differ.
    """
    root = Path(path).resolve()
    if not root.is_dir():
        raise FileNotFoundError(f"--data {path}: no such folder; {COCO_LAYOUT}")
    plan = dict(root=str(root))
    categories = {}
    for split in ("train", "val"):
        ann = root / COCO_ANN.format(split=split)
        if not ann.is_file():
            raise FileNotFoundError(f"--data {path}: missing {ann}; {COCO_LAYOUT}")
        try:
            coco = json.loads(ann.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ValueError(f"{ann} is not valid JSON ({exc})") from exc
        if not isinstance(coco, dict):
            raise ValueError(f"{ann}: expected a JSON object with 'images', 'annotations' and 'categories'")
        for key in ("images", "categories"):
            if not coco.get(key):
                raise ValueError(f"{ann} lists no {key}")
        if "annotations" not in coco:
            raise ValueError(f"{ann} has no 'annotations' list")
        img_dir = next((d.format(split=split) for d in COCO_IMG_DIRS if (root / d.format(split=split)).is_dir()),
                       None)
        if img_dir is None:
            tried = " or ".join(str(root / d.format(split=split)) for d in COCO_IMG_DIRS)
            raise FileNotFoundError(f"--data {path}: missing the {split} image folder {tried}; {COCO_LAYOUT}")
        missing = [str(im.get("file_name")) for im in coco["images"]
                   if not (root / img_dir / str(im.get("file_name"))).is_file()]
        if missing:
            raise FileNotFoundError(f"{ann} lists {len(missing)} image(s) not found under {root / img_dir}, e.g. "
                                    f"{root / img_dir / str(missing[0])}")
        categories[split] = [c["name"] for c in sorted(coco["categories"], key=lambda c: c["id"])]
        plan[split] = dict(ann_file=str(ann), img_dir=img_dir + "/", num_images=len(coco["images"]))
        if split == "train" and img_scale is None:
            sides = [max(int(im.get("width") or 0), int(im.get("height") or 0)) for im in coco["images"]]
            img_scale = min(max(sides), MAX_AUTO_SCALE) if max(sides) > 0 else None
    if categories["train"] != categories["val"]:
        raise ValueError(f"the categories of {plan['train']['ann_file']} ({categories['train']}) and "
                         f"{plan['val']['ann_file']} ({categories['val']}) differ; both need the same list")
    if not img_scale:
        raise ValueError(f"{plan['train']['ann_file']}: images have no width / height; give --img-scale")
    plan.update(classes=tuple(categories["train"]), img_scale=int(img_scale))
    return plan


def _with_scale(pipeline: list, scale: int) -> list:
    """The pipeline with every ``Resize`` to ``(scale, scale)`` (keep_ratio as configured)."""
    out = []
    for step in pipeline:
        step = dict(step)
        if step.get("type") == "Resize":
            step["scale"] = (scale, scale)
        out.append(step)
    return out


def apply_coco_folder(cfg, plan: dict):
    """Point a detection config (configs/det) at the COCO folder of :func:`plan_coco_folder`.

    The config's own pipelines are kept with their ``Resize`` set to the folder's image size (the
    inherited pipelines are already resolved, so ``img_scale`` alone would change nothing); the dataset
    becomes ``imixer.CocoDetDataset`` with the folder's classes, the head gets their number, and
    CocoMetric evaluates against the val json.
    """
    common = dict(type="imixer.CocoDetDataset", data_root=plan["root"], metainfo=dict(classes=plan["classes"]))
    train = cfg.train_dataloader.dataset
    cfg.train_dataloader.dataset = dict(
        **common, ann_file=plan["train"]["ann_file"], data_prefix=dict(img=plan["train"]["img_dir"]),
        filter_cfg=dict(filter_empty_gt=True, min_size=4), pipeline=_with_scale(train.pipeline, plan["img_scale"]))
    val = cfg.val_dataloader.dataset
    cfg.val_dataloader.dataset = dict(
        **common, ann_file=plan["val"]["ann_file"], data_prefix=dict(img=plan["val"]["img_dir"]), test_mode=True,
        pipeline=_with_scale(val.pipeline, plan["img_scale"]))
    cfg.test_dataloader = cfg.val_dataloader
    cfg.val_evaluator.ann_file = plan["val"]["ann_file"]
    cfg.test_evaluator = cfg.val_evaluator
    cfg.model.bbox_head.num_classes = len(plan["classes"])
    return cfg


def parse_cfg_options(items) -> dict:
    """``['a.b=1', ...]`` -> ``{'a.b': 1, ...}`` as ``--cfg-options`` of tools/train.py parses them."""
    from mmengine.config import DictAction

    ns = argparse.Namespace()
    DictAction(option_strings=["--cfg-options"], dest="opts")(None, ns, list(items or []))
    return ns.opts or {}


def run_single(config: str, iters: int, batch_size: int, work_dir: str, out: str, data: str = None,
               img_scale: int = None, cfg_options=None, seed: int = 0, pretrained: str = None) -> None:
    """Train one config in this process and write its measurements to ``out`` (JSON).

    ``batch_size``: ``None`` keeps the config's; ``data``: a COCO folder (:func:`plan_coco_folder`)
    replacing the config's data; ``seed``: the Runner's random seed; ``pretrained``: a checkpoint whose
    ``backbone.*`` weights initialise the backbone; ``cfg_options``: ``--cfg-options`` strings applied last.
    """
    import torch
    from mmengine.config import Config
    from mmengine.hooks import Hook
    from mmengine.runner import Runner

    import backbones  # noqa: F401

    cfg = Config.fromfile(config)
    if data:
        apply_coco_folder(cfg, plan_coco_folder(data, img_scale))
    cfg.work_dir = work_dir
    cfg.randomness = dict(seed=seed)
    cfg.train_cfg.max_iters = iters
    cfg.train_cfg.val_interval = iters
    if batch_size:
        cfg.train_dataloader.batch_size = batch_size
    if pretrained:
        if not Path(pretrained).is_file():
            raise FileNotFoundError(f"pretrained checkpoint {pretrained} does not exist")
        cfg.model.backbone.init_cfg = dict(type="Pretrained", checkpoint=pretrained, prefix="backbone.")
    warm = max(1, min(100, iters // 6))
    cfg.param_scheduler = [
        dict(type="LinearLR", start_factor=0.01, by_epoch=False, begin=0, end=warm),
        dict(type="CosineAnnealingLR", by_epoch=False, begin=warm, end=iters, eta_min=1e-5),
    ]
    cfg.default_hooks.checkpoint = dict(type="CheckpointHook", by_epoch=False, interval=iters, max_keep_ckpts=1)
    cfg.default_hooks.logger = dict(type="LoggerHook", interval=max(1, iters // 10))
    if cfg_options:
        cfg.merge_from_dict(parse_cfg_options(cfg_options))
    batch_size = cfg.train_dataloader.batch_size

    class Recorder(Hook):
        priority = "VERY_LOW"

        def __init__(self) -> None:
            self.t0 = None
            self.t1 = None
            self.metrics = {}

        def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
            if runner.iter + 1 == SKIP_WARMUP:
                self.t0 = time.perf_counter()
            self.t1 = time.perf_counter()

        def after_val_epoch(self, runner, metrics=None) -> None:
            self.metrics = {k: float(v) for k, v in (metrics or {}).items()}

    rec = Recorder()
    runner = Runner.from_cfg(cfg)
    runner.register_hook(rec)
    from tasks.common.models import unwrap_model

    model = unwrap_model(runner.model)
    n_backbone = sum(p.numel() for p in model.backbone.parameters())
    runner.train()
    timed = iters - SKIP_WARMUP
    result = dict(config=config, data=data, iters=iters, batch_size=batch_size, seed=seed, pretrained=pretrained,
                  checkpoint=str(Path(work_dir) / f"iter_{iters}.pth"), metrics=rec.metrics,
                  train_img_per_s=(timed * batch_size / (rec.t1 - rec.t0)) if rec.t0 and timed > 0 else None,
                  peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
                  backbone_params_m=n_backbone / 1e6,
                  device="cuda" if torch.cuda.is_available() else "cpu")
    if torch.cuda.is_available():
        result["peak_cuda_mb"] = torch.cuda.max_memory_allocated() / 2**20
    Path(out).write_text(json.dumps(result, indent=1))


def fmt(v, spec=".1f") -> str:
    return "-" if v is None else format(v, spec)


def fmt_seeds(values: list, spec=".1f") -> str:
    """One value, or ``mean +- sd`` (sample sd) over seeds; ``-`` for none."""
    values = [v for v in values if v is not None]
    if len(values) < 2:
        return fmt(values[0] if values else None, spec)
    mean = sum(values) / len(values)
    sd = (sum((v - mean) ** 2 for v in values) / (len(values) - 1)) ** 0.5
    return f"{mean:{spec}} +- {sd:{spec}}"


def result_key(r: dict) -> tuple:
    """What identifies a measurement in the results file (older entries: seed 0, from scratch)."""
    return r["task"], r["name"], r.get("seed", 0), r.get("pretrain_iters", 0), r.get("iters")


def record(out_json: Path, entry: dict) -> list:
    """Merge ``entry`` into ``out_json`` (replacing the same :func:`result_key`) under a file lock, so
    several benchmark processes can share one results file; returns all results."""
    with open(out_json.with_name(f".{out_json.name}.lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        results = json.loads(out_json.read_text()) if out_json.exists() else []
        results = [r for r in results if result_key(r) != result_key(entry)] + [entry]
        tmp = out_json.with_name(f".{out_json.name}.tmp-{os.getpid()}")
        tmp.write_text(json.dumps(results, indent=1))
        os.replace(tmp, out_json)
        fcntl.flock(lock, fcntl.LOCK_UN)
    return results


TITLES = {"pretrain": "Classification pretraining (single scene digits, 56x56, val accuracy)",
          "det": "Detection (RetinaNet + FPN, mmdet CocoMetric)", "seg": "Segmentation (UPerNet, mmseg IoUMetric)"}


def to_markdown(results: list, args, cmd: str, label: str = None) -> str:
    """The table of the runs ``args`` asks for (its iterations, pretraining and seeds), mean +- sd over seeds."""
    seeds = list(args.seeds)
    pre = f", each backbone pretrained {args.pretrain_iters} iterations" if args.pretrain_iters else ", from scratch"
    if args.pretrain_iters and args.pretrain_seed is not None:
        pre += f" (pretraining seed {args.pretrain_seed} for every seed)"
    lines = [f"## {label or args.dataset}: {args.iters} iterations{pre}, "
             f"seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, seeds))}", "",
             f"Command: `{cmd}`  ", f"Machine: {args.machine}; date {datetime.date.today().isoformat()}; "
             f"torch threads {os.environ.get('OMP_NUM_THREADS', 'default')}.", ""]
    for task in ("pretrain", "det", "seg"):
        iters = args.pretrain_iters if task == "pretrain" else args.iters
        task_seeds = [args.pretrain_seed] if task == "pretrain" and args.pretrain_seed is not None else seeds
        rows = [r for r in results if r["task"] == task and r.get("iters") == iters
                and r.get("seed", 0) in task_seeds and r.get("pretrain_iters", 0) == args.pretrain_iters]
        if not rows:
            continue
        cols = METRIC_KEYS[task]
        batches = sorted({r.get("batch_size") for r in rows if r.get("batch_size")})
        lines += [f"### {TITLES[task]}, batch {', '.join(map(str, batches)) or '-'}", "",
                  "| backbone | params (backbone) | " + " | ".join(c[0] for c in cols)
                  + " | train img/s | peak RSS (MB) |",
                  "|---|---|" + "---|" * len(cols) + "---|---|"]
        order = [n for n, _ in MODELS["det"]]
        for name in sorted({r["name"] for r in rows}, key=lambda n: order.index(n) if n in order else len(order)):
            runs = [r for r in rows if r["name"] == name]
            ok = [r for r in runs if "error" not in r]
            failed = "".join(f" (seed {r.get('seed', 0)} failed: {r['error']})" for r in runs if "error" in r)
            values = " | ".join(fmt_seeds([None if r["metrics"].get(key) is None else r["metrics"][key] * scale
                                          for r in ok])
                                for _, key, scale in cols)
            params = fmt(ok[0].get("backbone_params_m") if ok else None, ".1f")
            lines.append(f"| {name}{failed} | {params} M | {values} | "
                         f"{fmt_seeds([r.get('train_img_per_s') for r in ok], '.2f')} | "
                         f"{fmt(max((r.get('peak_rss_mb') or 0 for r in ok), default=None), '.0f')} |")
        lines.append("")
    return "\n".join(lines)


def run_one(args, work: Path, out_json: Path, done: dict, task: str, name: str, config: str, label: str,
            seed: int, pretrained: str = None) -> dict:
    """Train ``config`` in a subprocess (``--single``) unless already measured; record and return the entry."""
    iters = args.pretrain_iters if task == "pretrain" else args.iters
    key = (task, name, seed, args.pretrain_iters, iters)
    if out_json.exists():  # another process sharing the file may have measured it since this one started
        done.update({result_key(r): r for r in json.loads(out_json.read_text()) if "error" not in r})
    if key in done:
        print(f"[bench] {task} {name} seed {seed}: already measured, skipping", flush=True)
        return done[key]
    tag = f"{task}_{name.split()[0]}_{label}" + (f"_pre{args.pretrain_iters}" if args.pretrain_iters else "") + \
        (f"_s{seed}" if seed else "")
    single_out = work / f"{tag}.json"
    print(f"[bench] {task} {name} seed {seed}: {config}, {iters} iterations", flush=True)
    t0 = time.time()
    with open(work / f"{tag}.log", "w") as log:
        extra = ["--data", args.data_plan["root"], "--img-scale", str(args.data_plan["img_scale"])] \
            if args.data_plan and task != "pretrain" else []  # a COCO folder is detection data
        opts = list(args.cfg_options) if task != "pretrain" else list(args.pretrain_options)
        if opts:
            extra += ["--cfg-options", *opts]
        if pretrained:
            extra += ["--pretrained", pretrained]
        batch = [] if task == "pretrain" else ["--batch-size", str(args.batch_size)]
        proc = subprocess.run([sys.executable, __file__, "--iters", str(iters), *batch, "--seeds", str(seed), *extra,
                               "--single", config, str(single_out)], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    entry = dict(task=task, name=name, iters=iters, seed=seed, pretrain_iters=args.pretrain_iters,
                 wall_s=time.time() - t0)
    if proc.returncode != 0 or not single_out.exists():
        entry["error"] = f"exit {proc.returncode}, see {work / (tag + '.log')}"
    else:
        entry.update(json.loads(single_out.read_text()))
    record(out_json, entry)
    print(f"[bench] {task} {name} seed {seed}: {entry.get('metrics', entry.get('error'))}, "
          f"{fmt(entry.get('train_img_per_s'), '.2f')} img/s, {entry['wall_s']:.0f} s", flush=True)
    return entry


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", nargs="+", choices=["det", "seg"], default=None,
                        help="default: det and seg; det with --data")
    parser.add_argument("--dataset", choices=["digits", "mnist-scenes"], default="digits")
    parser.add_argument("--data", metavar="PATH", help="your own COCO folder (detection; layout above) instead "
                        "of the built-in scenes")
    parser.add_argument("--img-scale", type=int, default=None, help="with --data: resize images to fit N x N "
                        f"(default: the longest side in the train json, at most {MAX_AUTO_SCALE})")
    parser.add_argument("--cfg-options", nargs="+", default=[], metavar="KEY=VALUE",
                        help="config overrides for every detection / segmentation run, as in tools/train.py")
    parser.add_argument("--iters", type=int, default=600)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--pretrain-iters", type=int, default=0, metavar="N",
                        help="classification pretraining of every backbone first, N iterations (0: from scratch)")
    parser.add_argument("--pretrain-options", nargs="+", default=[], metavar="KEY=VALUE",
                        help="config overrides for the pretraining runs")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0], help="one run (pretraining included) per seed")
    parser.add_argument("--pretrain-seed", type=int, default=None, metavar="S",
                        help="one pretraining per backbone (seed S) for every seed's fine-tuning")
    parser.add_argument("--models", nargs="+", help="subset of model names (substring match)")
    parser.add_argument("--work-dir", default="work_dirs/benchmark_dense")
    parser.add_argument("--json", default=None, help="results file (default: <work-dir>/results_<dataset>.json)")
    parser.add_argument("--md", default=None, help="also write the Markdown table here")
    parser.add_argument("--machine", default=f"{platform.machine()} CPU, {os.cpu_count()} cores")
    parser.add_argument("--single", nargs=2, metavar=("CONFIG", "OUT"), help=argparse.SUPPRESS)
    parser.add_argument("--pretrained", help=argparse.SUPPRESS)
    parser.set_defaults(batch_size=None)
    args = parser.parse_args()
    if args.pretrain_iters < 0:
        parser.error("--pretrain-iters must be >= 0")
    if args.single:
        run_single(args.single[0], args.iters, args.batch_size, str(Path(args.single[1]).with_suffix("")) + "_work",
                   args.single[1], data=args.data, img_scale=args.img_scale, cfg_options=args.cfg_options,
                   seed=args.seeds[0], pretrained=args.pretrained)
        return 0
    args.batch_size = args.batch_size or 8
    label = args.dataset
    args.data_plan = None
    if args.data:
        if args.tasks and args.tasks != ["det"]:
            parser.error("--data takes a COCO folder (detection): use it with --tasks det")
        args.tasks = ["det"]
        try:
            args.data_plan = plan = plan_coco_folder(args.data, args.img_scale)
        except (FileNotFoundError, ValueError) as exc:
            raise SystemExit(f"benchmark_dense: {exc}")
        label = "".join(c if c.isalnum() or c in "-_" else "_" for c in Path(plan["root"]).name)
        print(f"[bench] --data {plan['root']}: {len(plan['classes'])} classes, {plan['train']['num_images']} train / "
              f"{plan['val']['num_images']} val images, resized to fit {plan['img_scale']} px", flush=True)
    args.tasks = args.tasks or ["det", "seg"]
    if args.dataset == "mnist-scenes":  # pretrain on the digits the MNIST scenes are drawn from
        args.pretrain_options = [f"{k}.dataset.source=mnist" for k in ("train_dataloader", "val_dataloader")] + \
            list(args.pretrain_options)
    work = Path(args.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    out_json = Path(args.json or work / f"results_{label}.json")
    ds = "digits" if args.dataset == "digits" else "mnist-scenes"
    cmd = "python tools/benchmark_dense.py " + " ".join(sys.argv[1:])
    results = json.loads(out_json.read_text()) if out_json.exists() else []
    done = {result_key(r): r for r in results if "error" not in r}
    names = [n for n, _ in MODELS["det"] if not args.models or any(m.lower() in n.lower() for m in args.models)]
    for seed in args.seeds:
        for name in names:
            pretrained = None
            if args.pretrain_iters:
                pseed = seed if args.pretrain_seed is None else args.pretrain_seed
                entry = run_one(args, work, out_json, done, "pretrain", name, PRETRAIN[name], label, pseed)
                if "error" in entry:
                    continue  # the fine-tuning runs of this backbone and seed are left out of the table
                pretrained = entry["checkpoint"]
            for task in args.tasks:
                config = dict(MODELS[task])[name].format(ds=ds)
                run_one(args, work, out_json, done, task, name, config, label, seed, pretrained)
    results = json.loads(out_json.read_text())
    md = to_markdown(results, args, cmd, label)
    print(md)
    if args.md:
        Path(args.md).write_text(md + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
