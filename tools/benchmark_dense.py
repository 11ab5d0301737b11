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
"""
from __future__ import annotations

import argparse
import datetime
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
#: table columns per task: (header, metric key, scale to %)
METRIC_KEYS = {"det": [("bbox mAP", "coco/bbox_mAP", 100.0), ("mAP_50", "coco/bbox_mAP_50", 100.0)],
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
               img_scale: int = None, cfg_options=None) -> None:
    """Train one config in this process and write its measurements to ``out`` (JSON).

    ``data``: a COCO folder (:func:`plan_coco_folder`) replacing the config's data; ``cfg_options``:
    ``--cfg-options`` strings applied last.
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
    cfg.train_cfg.max_iters = iters
    cfg.train_cfg.val_interval = iters
    cfg.train_dataloader.batch_size = batch_size
    warm = max(1, min(100, iters // 6))
    cfg.param_scheduler = [
        dict(type="LinearLR", start_factor=0.01, by_epoch=False, begin=0, end=warm),
        dict(type="CosineAnnealingLR", by_epoch=False, begin=warm, end=iters, eta_min=1e-5),
    ]
    cfg.default_hooks.checkpoint = dict(type="CheckpointHook", by_epoch=False, interval=iters, max_keep_ckpts=1)
    cfg.default_hooks.logger = dict(type="LoggerHook", interval=max(1, iters // 10))
    if cfg_options:
        cfg.merge_from_dict(parse_cfg_options(cfg_options))

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
    result = dict(config=config, data=data, iters=iters, batch_size=batch_size, metrics=rec.metrics,
                  train_img_per_s=(timed * batch_size / (rec.t1 - rec.t0)) if rec.t0 and timed > 0 else None,
                  peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
                  backbone_params_m=n_backbone / 1e6,
                  device="cuda" if torch.cuda.is_available() else "cpu")
    if torch.cuda.is_available():
        result["peak_cuda_mb"] = torch.cuda.max_memory_allocated() / 2**20
    Path(out).write_text(json.dumps(result, indent=1))


def fmt(v, spec=".1f") -> str:
    return "-" if v is None else format(v, spec)


def to_markdown(results: list, args, cmd: str, label: str = None) -> str:
    lines = [f"## {label or args.dataset}: {args.iters} iterations, batch {args.batch_size}", "",
             f"Command: `{cmd}`  ", f"Machine: {args.machine}; date {datetime.date.today().isoformat()}; "
             f"torch threads {os.environ.get('OMP_NUM_THREADS', 'default')}.", ""]
    for task in ("det", "seg"):
        rows = [r for r in results if r["task"] == task]
        if not rows:
            continue
        cols = METRIC_KEYS[task]
        title = "Detection (RetinaNet + FPN, mmdet CocoMetric)" if task == "det" else \
            "Segmentation (UPerNet, mmseg IoUMetric)"
        lines += [f"### {title}", "",
                  "| backbone | params (backbone) | " + " | ".join(c[0] for c in cols) + " | train img/s | peak RSS (MB) |",
                  "|---|---|" + "---|" * len(cols) + "---|---|"]
        for r in rows:
            m = r.get("metrics", {})
            status = "" if "error" not in r else f" (failed: {r['error']})"
            values = " | ".join(fmt(None if m.get(key) is None else m[key] * scale) for _, key, scale in cols)
            lines.append(f"| {r['name']}{status} | {fmt(r.get('backbone_params_m'), '.1f')} M | {values} | "
                         f"{fmt(r.get('train_img_per_s'), '.2f')} | {fmt(r.get('peak_rss_mb'), '.0f')} |")
        lines.append("")
    return "\n".join(lines)


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
                        help="config overrides for every run, as in tools/train.py")
    parser.add_argument("--iters", type=int, default=600)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--models", nargs="+", help="subset of model names (substring match)")
    parser.add_argument("--work-dir", default="work_dirs/benchmark_dense")
    parser.add_argument("--json", default=None, help="results file (default: <work-dir>/results_<dataset>.json)")
    parser.add_argument("--md", default=None, help="also write the Markdown table here")
    parser.add_argument("--machine", default=f"{platform.machine()} CPU, {os.cpu_count()} cores")
    parser.add_argument("--single", nargs=2, metavar=("CONFIG", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.single:
        run_single(args.single[0], args.iters, args.batch_size, str(Path(args.single[1]).with_suffix("")) + "_work",
                   args.single[1], data=args.data, img_scale=args.img_scale, cfg_options=args.cfg_options)
        return 0
    label = args.dataset
    if args.data:
        if args.tasks and args.tasks != ["det"]:
            parser.error("--data takes a COCO folder (detection): use it with --tasks det")
        args.tasks = ["det"]
        try:
            plan = plan_coco_folder(args.data, args.img_scale)
        except (FileNotFoundError, ValueError) as exc:
            raise SystemExit(f"benchmark_dense: {exc}")
        label = "".join(c if c.isalnum() or c in "-_" else "_" for c in Path(plan["root"]).name)
        print(f"[bench] --data {plan['root']}: {len(plan['classes'])} classes, {plan['train']['num_images']} train / "
              f"{plan['val']['num_images']} val images, resized to fit {plan['img_scale']} px", flush=True)
    args.tasks = args.tasks or ["det", "seg"]
    work = Path(args.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    out_json = Path(args.json or work / f"results_{label}.json")
    ds = "digits" if args.dataset == "digits" else "mnist-scenes"
    cmd = "python tools/benchmark_dense.py " + " ".join(sys.argv[1:])
    results = json.loads(out_json.read_text()) if out_json.exists() else []
    done = {(r["task"], r["name"]) for r in results if "error" not in r and r.get("iters") == args.iters}
    for task in args.tasks:
        for name, cfg in MODELS[task]:
            if args.models and not any(m.lower() in name.lower() for m in args.models):
                continue
            if (task, name) in done:
                print(f"[bench] {task} {name}: already measured, skipping", flush=True)
                continue
            config = cfg.format(ds=ds)
            tag = f"{task}_{name.split()[0]}_{label}"
            single_out = work / f"{tag}.json"
            print(f"[bench] {task} {name}: {config}, {args.iters} iterations", flush=True)
            t0 = time.time()
            with open(work / f"{tag}.log", "w") as log:
                extra = ["--data", plan["root"], "--img-scale", str(plan["img_scale"])] if args.data else []
                if args.cfg_options:
                    extra += ["--cfg-options", *args.cfg_options]
                proc = subprocess.run([sys.executable, __file__, "--iters", str(args.iters), "--batch-size",
                                       str(args.batch_size), *extra, "--single", config, str(single_out)],
                                      cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
            entry = dict(task=task, name=name, iters=args.iters, wall_s=time.time() - t0)
            if proc.returncode != 0 or not single_out.exists():
                entry["error"] = f"exit {proc.returncode}, see {work / (tag + '.log')}"
            else:
                entry.update(json.loads(single_out.read_text()))
            results = [r for r in results if (r["task"], r["name"]) != (task, name)] + [entry]
            out_json.write_text(json.dumps(results, indent=1))
            print(f"[bench] {task} {name}: {entry.get('metrics', entry.get('error'))}, "
                  f"{fmt(entry.get('train_img_per_s'), '.2f')} img/s, {entry['wall_s']:.0f} s", flush=True)
    md = to_markdown(results, args, cmd, label)
    print(md)
    if args.md:
        Path(args.md).write_text(md + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
