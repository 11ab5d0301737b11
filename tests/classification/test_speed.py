"""tools/benchmark_speed.py on the CPU: a recompute sweep and the naive reference, tiny images."""
import json

import pytest


def test_sweep_reports_less_activation_memory_with_recompute(run_tool, tmp_path):
    out = tmp_path / "rows.jsonl"
    proc = run_tool(["tools/benchmark_speed.py", "--models", "imixer_s16_224", "--impl", "ours", "reference",
                     "--img-size", "32", "--batch-size", "2", "--steps", "1", "--warmup", "0", "--modes", "train",
                     "--sweep", "recompute=all,null", "--json", out, "--verify", "--profile", "5"])
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["impl"], r["kw"].get("recompute", "-")) for r in rows] == [("ours", "all"), ("ours", None),
                                                                          ("reference", "-")]
    act = {(r["impl"], r["kw"].get("recompute", "-")): r["act_mib"] for r in rows}
    # plain autograd (ours with recompute=None, and the naive reference, which also keeps a normalised
    # weight per step) stores every step's activations
    assert act[("ours", "all")] < act[("ours", None)] <= act[("reference", "-")]
    assert all(r["train_img_s"] > 0 for r in rows)
    gflop = {(r["impl"], r["kw"].get("recompute", "-")): r["train_gflop"] for r in rows}
    assert gflop[("ours", None)] == pytest.approx(gflop[("reference", "-")])  # the same products
    assert gflop[("ours", "all")] > gflop[("ours", None)]  # plus the recomputed hidden layer
    # --profile: each configuration's operator table, printed after the summary
    assert proc.stdout.count("profile of 2 training steps: imixer_s16_224") == 3
    table = proc.stdout.split("profile of 2 training steps")[1]
    assert "Self CPU" in table and "aten::" in table and "profiler failed" not in table


def test_bad_sweep_is_explained(run_tool):
    proc = run_tool(["tools/benchmark_speed.py", "--sweep", "recompute"], check=False)
    assert proc.returncode != 0 and "KEY=V1,V2" in proc.stderr


def test_a_failed_configuration_fails_the_run(run_tool):
    proc = run_tool(["tools/benchmark_speed.py", "--models", "imixer_s16_224", "--impl", "reference", "--kw",
                     "solver=anderson", "--img-size", "32", "--batch-size", "2", "--steps", "1", "--warmup", "0",
                     "--modes", "train"], check=False)
    assert proc.returncode == 1
    assert "the authors' unrolled algorithm" in proc.stderr and "1 measurement(s) failed" in proc.stderr


def test_repeat_reports_the_median_round(run_tool, tmp_path):
    out = tmp_path / "rows.jsonl"
    proc = run_tool(["tools/benchmark_speed.py", "--models", "mlpmixer_s16_224", "--img-size", "32", "--batch-size",
                     "2", "--steps", "1", "--warmup", "0", "--modes", "train", "--repeat", "2", "--json", out])
    (row,) = [json.loads(line) for line in out.read_text().splitlines()]
    runs = row["train_img_s_runs"]
    assert row["repeats"] == 2 and len(runs) == 2 and row["train_img_s"] == pytest.approx(sum(runs) / 2)
    assert f"{row['train_img_s']:.2f} ({min(runs):.2f}-{max(runs):.2f})" in proc.stdout
    bad = run_tool(["tools/benchmark_speed.py", "--repeat", "0"], check=False)
    assert bad.returncode != 0 and "--repeat must be >= 1" in bad.stderr


def test_flop_count_matches_torch_and_survives_the_implicit_gradient():
    """The FLOP column counts what torch.utils.flop_counter counts, also through the implicit gradient's
    autograd.grad inside the backward pass (where FlopCounterMode's module tracker fails)."""
    import torch
    import torch.nn.functional as F
    from torch.utils.flop_counter import FlopCounterMode

    from backbones import MLPMixer

    from tasks.classification import speed as bs
    x, y = torch.randn(2, 3, 16, 16), torch.tensor([0, 1])
    kw = dict(img_size=16, patch_size=4, embed_dim=16, num_blocks=1, num_classes=2, token_mixer="implicit")
    torch.manual_seed(0)
    unrolled = MLPMixer(**kw, recompute="all")
    with FlopCounterMode(display=False) as ref:
        F.cross_entropy(unrolled(x), y).backward()
    off = torch.autocast("cpu", enabled=False)
    assert bs.train_gflop_per_image(unrolled, x, y, off) == pytest.approx(ref.get_total_flops() / 2 / 1e9)
    convergent = MLPMixer(**kw, solver="anderson", grad="implicit", tol=1e-3, max_iter=8)
    assert bs.train_gflop_per_image(convergent, x, y, off) > 0
