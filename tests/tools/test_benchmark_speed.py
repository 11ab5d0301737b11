"""tools/benchmark_speed.py on the CPU: a recompute sweep and the naive reference, tiny images."""
import json


def test_sweep_reports_less_activation_memory_with_recompute(run_tool, tmp_path):
    out = tmp_path / "rows.jsonl"
    run_tool(["tools/benchmark_speed.py", "--models", "imixer_s16_224", "--impl", "ours", "reference",
              "--img-size", "32", "--batch-size", "2", "--steps", "1", "--warmup", "0", "--modes", "train",
              "--sweep", "recompute=all,null", "--json", out, "--verify"])
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["impl"], r["kw"].get("recompute", "-")) for r in rows] == [("ours", "all"), ("ours", None),
                                                                          ("reference", "-")]
    act = {(r["impl"], r["kw"].get("recompute", "-")): r["act_mib"] for r in rows}
    # plain autograd (ours with recompute=None, and the naive reference, which also keeps a normalised
    # weight per step) stores every step's activations
    assert act[("ours", "all")] < act[("ours", None)] <= act[("reference", "-")]
    assert all(r["train_img_s"] > 0 for r in rows)


def test_bad_sweep_is_explained(run_tool):
    proc = run_tool(["tools/benchmark_speed.py", "--sweep", "recompute"], check=False)
    assert proc.returncode != 0 and "KEY=V1,V2" in proc.stderr
