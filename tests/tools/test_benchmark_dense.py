"""tools/benchmark_dense.py --data: a user's COCO folder is checked (errors name the file), planned into
each detection config (dataset, classes, head, image size, metric file), and runs through the Runner."""
import json
import shutil
import sys
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope

#: category ids need not start at 1 nor be contiguous; classes follow the ids
CATEGORIES = [dict(id=7, name="dog"), dict(id=3, name="cat")]


def write_coco_folder(root, num_train=4, num_val=2, size=(48, 64)):
    """A tiny COCO folder in the documented layout: filled rectangles, a cat (red) and a dog (green) each."""
    rng = np.random.default_rng(0)
    for split, n in (("train", num_train), ("val", num_val)):
        (root / "images" / split).mkdir(parents=True)
        images, anns = [], []
        for i in range(n):
            img = rng.integers(0, 30, size=(*size, 3), dtype=np.uint8)
            for cat, colour, x in ((3, (0, 0, 220), 4), (7, (0, 220, 0), 34)):
                y, w, h = int(rng.integers(2, 20)), 20, 18
                img[y:y + h, x:x + w] = colour
                anns.append(dict(id=len(anns) + 1, image_id=i + 1, category_id=cat, bbox=[x, y, w, h],
                                 area=w * h, iscrowd=0))
            name = f"{split}_{i}.jpg"
            cv2.imwrite(str(root / "images" / split / name), img)
            images.append(dict(id=i + 1, file_name=name, height=size[0], width=size[1]))
        (root / "annotations").mkdir(exist_ok=True)
        (root / "annotations" / f"instances_{split}.json").write_text(
            json.dumps(dict(images=images, annotations=anns, categories=CATEGORIES)))
    return root


@pytest.fixture
def coco(tmp_path):
    return write_coco_folder(tmp_path / "my_coco")


@pytest.fixture
def bench(load_tool):
    return load_tool("benchmark_dense")


def test_plan_points_every_detection_config_at_the_folder(coco, bench):
    plan = bench.plan_coco_folder(str(coco))
    assert plan["classes"] == ("cat", "dog") and plan["img_scale"] == 64
    assert plan["train"]["num_images"] == 4 and plan["val"]["num_images"] == 2
    assert bench.plan_coco_folder(str(coco), img_scale=96)["img_scale"] == 96
    from mmdet.registry import DATASETS

    for _, path in bench.MODELS["det"]:
        cfg = bench.apply_coco_folder(Config.fromfile(path.format(ds="digits")), plan)
        assert cfg.model.bbox_head.num_classes == 2
        assert cfg.val_evaluator.ann_file == cfg.test_evaluator.ann_file == str(coco / "annotations/instances_val.json")
        for key, n in (("train_dataloader", 4), ("val_dataloader", 2), ("test_dataloader", 2)):
            ds = cfg[key].dataset
            assert ds.type == "imixer.CocoDetDataset" and ds.data_root == str(coco)
            assert [s["scale"] for s in ds.pipeline if s["type"] == "Resize"] == [(64, 64)]
            init_default_scope("mmdet")
            built = DATASETS.build(ds)  # mmdet's CocoDataset reads the folder
            assert len(built) == n and built.metainfo["classes"] == ("cat", "dog")
            assert built[0]["inputs"].shape[-2:] == (48, 64)  # fits 64 x 64, aspect kept
        assert "source" not in cfg.train_dataloader.dataset  # nothing of the digit scenes is left


@pytest.mark.parametrize("breakage, message", [
    ("no_val_json", "annotations/instances_val.json"),
    ("no_image", "val_1.jpg"),
    ("no_image_dir", "images/train"),
    ("other_categories", "differ"),
    ("not_json", "instances_train.json is not valid JSON"),
    ("no_images", "instances_val.json lists no images"),
])
def test_broken_folders_fail_naming_the_file(coco, bench, breakage, message):
    if breakage == "no_val_json":
        (coco / "annotations/instances_val.json").unlink()
    elif breakage == "no_image":
        (coco / "images/val/val_1.jpg").unlink()
    elif breakage == "no_image_dir":
        shutil.rmtree(coco / "images/train")
    elif breakage == "not_json":
        (coco / "annotations/instances_train.json").write_text("{images: ")
    else:
        path = coco / "annotations/instances_val.json"
        data = json.loads(path.read_text())
        if breakage == "other_categories":
            data["categories"] = [dict(id=1, name="cat")]
        else:
            data["images"] = []
        path.write_text(json.dumps(data))
    with pytest.raises((FileNotFoundError, ValueError), match=message):
        bench.plan_coco_folder(str(coco))


def test_cli_rejects_a_broken_folder_before_any_run(coco, bench, tmp_path, monkeypatch):
    (coco / "annotations/instances_train.json").unlink()
    monkeypatch.setattr(sys, "argv", ["benchmark_dense.py", "--data", str(coco), "--work-dir", str(tmp_path / "w")])
    with pytest.raises(SystemExit, match="instances_train.json"):
        bench.main()
    monkeypatch.setattr(sys, "argv", ["benchmark_dense.py", "--data", str(coco), "--tasks", "seg"])
    with pytest.raises(SystemExit):  # argparse: a COCO folder is detection data
        bench.main()
    assert not (tmp_path / "w").exists() or not list((tmp_path / "w").glob("*.log"))


def test_cli_trains_and_evaluates_on_the_folder_through_the_runner(coco, tmp_path, run_tool):
    work = tmp_path / "bench"
    proc = run_tool(["tools/benchmark_dense.py", "--data", coco, "--iters", "2", "--batch-size", "2",
                     "--models", "iMixer", "--work-dir", work, "--md", tmp_path / "table.md", "--cfg-options",
                     "model.backbone.depths=[1,1,2,1]", "model.test_cfg.score_thr=0.0",
                     "train_dataloader.num_workers=0", "train_dataloader.persistent_workers=False",
                     "val_dataloader.num_workers=0", "val_dataloader.persistent_workers=False"], timeout=600)
    assert "2 classes, 4 train / 2 val images, resized to fit 64 px" in proc.stdout
    results = json.loads((work / "results_my_coco.json").read_text())
    assert [r["name"] for r in results] == ["iMixer-pyramid-T"]  # --models picked the iMixer only
    result = results[0]
    assert "error" not in result, (work / "det_iMixer-pyramid-T_my_coco.log").read_text()[-3000:]
    assert result["data"] == str(coco) and result["iters"] == 2
    assert 0.0 <= result["metrics"]["coco/bbox_mAP"] <= 1.0
    log = (work / "det_iMixer-pyramid-T_my_coco.log").read_text()
    assert "Iter(train) [2/2]" in log and "coco/bbox_mAP" in log
    assert "## my_coco: 2 iterations" in (tmp_path / "table.md").read_text()


def test_results_of_parallel_runs_merge_and_tabulate_over_seeds(bench, tmp_path):
    """Processes sharing one results file (one per seed) each merge their entries; the table gives mean +- sd
    over the seeds asked for, and a failed run is named, not averaged."""
    out = tmp_path / "results.json"

    def entry(task, name, seed, value, **extra):
        key = {"pretrain": "cls/accuracy", "seg": "mIoU", "det": "coco/bbox_mAP"}[task]
        return dict(task=task, name=name, seed=seed, pretrain_iters=5, iters=5 if task == "pretrain" else 7,
                    metrics={key: value}, backbone_params_m=1.0, train_img_per_s=2.0, peak_rss_mb=100.0, **extra)

    bench.record(out, entry("seg", "ResNet-18", 0, 20.0))
    bench.record(out, entry("seg", "ResNet-18", 1, 30.0))
    bench.record(out, entry("seg", "ResNet-18", 1, 24.0))  # a rerun replaces its own seed only
    bench.record(out, entry("pretrain", "ResNet-18", 0, 90.0))
    bench.record(out, entry("seg", "iMixer-pyramid-T", 0, 10.0))
    bench.record(out, dict(task="seg", name="iMixer-pyramid-T", seed=1, pretrain_iters=5, iters=7, error="exit 1"))
    results = json.loads(out.read_text())
    assert len(results) == 5
    args = SimpleNamespace(seeds=[0, 1], pretrain_seed=None, pretrain_iters=5, iters=7, batch_size=2, dataset="digits",
                           machine="m")
    table = bench.to_markdown(results, args, "cmd")
    assert "| ResNet-18 | 1.0 M | 22.0 +- 2.8 |" in table  # seeds 0 and 1: 20 and 24
    assert "| iMixer-pyramid-T (seed 1 failed: exit 1) | 1.0 M | 10.0 |" in table
    assert "### Classification pretraining" in table and "| ResNet-18 | 1.0 M | 90.0 |" in table
    args.seeds = [0]
    assert "| ResNet-18 | 1.0 M | 20.0 |" in bench.to_markdown(results, args, "cmd")
    args.pretrain_iters = 0  # from-scratch runs were not measured: no rows
    assert "ResNet-18" not in bench.to_markdown(results, args, "cmd")


def test_cli_pretrains_then_fine_tunes_from_the_checkpoint(tmp_path, run_tool):
    from tasks.common.scenes import generate_scenes

    work = tmp_path / "bench"
    generate_scenes(tmp_path / "data" / "digit_scenes", num_train=4, num_val=2, seed=3)  # tiny scenes to fine-tune on
    data = {"IMIXER_DATA": str(tmp_path / "data")}
    tiny = [f"{k}.dataset.{s}" for k in ("train_dataloader", "val_dataloader")
            for s in ("num_train=16", "num_val=8", "img_size=28", "scale_range=[10,24]")]
    proc = run_tool(["tools/benchmark_dense.py", "--pretrain-iters", "2", "--iters", "2", "--batch-size", "2",
                     "--tasks", "seg", "--models", "ResNet", "--work-dir", work, "--pretrain-options", *tiny,
                     "train_dataloader.batch_size=4", "--cfg-options", "train_dataloader.num_workers=0",
                     "train_dataloader.persistent_workers=False", "val_dataloader.num_workers=0",
                     "val_dataloader.persistent_workers=False"], env=data, timeout=600)
    results = {r["task"]: r for r in json.loads((work / "results_digits.json").read_text())}
    assert set(results) == {"pretrain", "seg"}, proc.stdout
    pre, seg = results["pretrain"], results["seg"]
    assert "error" not in pre and "error" not in seg, proc.stdout
    assert pre["iters"] == 2 and pre["batch_size"] == 4 and 0.0 <= pre["metrics"]["cls/accuracy"] <= 100.0
    assert seg["pretrained"] == pre["checkpoint"] and seg["iters"] == 2 and seg["batch_size"] == 2
    # the fine-tuned backbone started from the pretrained one: two small AdamW steps (lr <= 1e-3) away from it
    import torch

    before = torch.load(pre["checkpoint"], map_location="cpu")["state_dict"]
    after = torch.load(seg["checkpoint"], map_location="cpu")["state_dict"]
    convs = [k for k in before if k.startswith("backbone.") and "conv" in k]
    assert len(convs) == 17  # ResNet-18: stem, 16 block convs
    assert max(float((after[k] - before[k]).abs().max()) for k in convs) < 3e-3
