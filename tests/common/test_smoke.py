"""tools/gpu_check.py (tasks.common.smoke) on the CPU: two fast tasks end to end, the verdicts, a missing dataset."""
import json
import math
import re


def _rows(markdown: str) -> dict:
    rows = {}
    for line in markdown.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| ") and cells[0] not in ("task", ""):
            rows[cells[0]] = cells
    return rows


def test_cls_and_graph_on_cpu(run_tool, tmp_path):
    out = tmp_path / "table.md"
    proc = run_tool(["tools/gpu_check.py", "--device", "cpu", "--tasks", "cls", "graph", "--iters", "2",
                     "--work-dir", tmp_path / "work", "--out", out], env={"OMP_NUM_THREADS": "1"})
    text = out.read_text()
    assert text in proc.stdout  # the same table is printed
    assert text.startswith("gpu_check --device cpu --iters 2") and "fp32" in text.splitlines()[0]
    rows = _rows(text)
    assert sorted(rows) == ["cls", "graph"]
    for task, cells in rows.items():
        _, config, model, iters, speed, mem, dtype, metric, status = cells
        assert status == "ok", cells
        assert iters == "2" and float(speed) > 0 and re.fullmatch(r"\d+(\.\d+)? (MiB|GiB)", mem)
        assert dtype == "float32" and re.fullmatch(r"cls/accuracy \d+(\.\d+)?", metric)
        result = json.loads((tmp_path / "work" / task / "work" / "probe.json").read_text())
        assert result["iters"] == 2 and result["losses"] and all(math.isfinite(v) for v in result["losses"].values())
    assert rows["cls"][1] == "`configs/cls/imixer-t_digits.py`" and rows["cls"][2].startswith("ImageClassifier/IMixer")
    assert rows["graph"][2].startswith("NodeClassifier/HopMixer")


def test_missing_dataset_fails_with_the_prepare_command(run_tool, tmp_path):
    out = tmp_path / "table.md"
    proc = run_tool(["tools/gpu_check.py", "--device", "cpu", "--tasks", "anomaly", "--no-prepare", "--work-dir",
                     tmp_path / "work", "--out", out], check=False, env={"IMIXER_DATA": str(tmp_path / "empty")})
    assert proc.returncode == 1
    status = _rows(out.read_text())["anomaly"][-1]
    assert status.startswith("FAIL") and "python tools/prepare_data.py odds_cardio" in status


def test_verdicts():
    from tasks.common import smoke as gc
    good = dict(iters=3, warmup=1, losses={"loss": 0.5}, nonfinite=None, metrics={"acc": 1.0}, time_s=1.0,
                peak_bytes=3 * 2**30, model="M/B", params=2e6, dtype="bfloat16")
    assert gc.judge(good, 0) == ("ok", "")
    assert gc.judge(good, None) == ("FAIL", "timed out")
    status, reason = gc.judge(None, 1, "Traceback ...\n  File x\nValueError: bad width\n")
    assert status == "FAIL" and reason == "exit 1: ValueError: bad width"
    assert gc.judge(dict(good, nonfinite=dict(iter=2, losses={"loss": float("nan")})), 0)[1].startswith(
        "non-finite loss at iteration 2")
    assert gc.judge(dict(good, metrics={}), 0) == ("FAIL", "evaluation returned no metric")
    assert gc.judge(dict(good, iters=0), 0) == ("FAIL", "no training iteration ran")
    assert gc.judge(good, 0, metric="mIoU") == ("FAIL", "evaluation returned no mIoU (got acc)")
    two = dict(good, metrics={"aAcc": 80.0, "mIoU": 41.25})
    row = _rows(gc.table([dict(task="t", config="c.py", status="ok", reason="", result=two, metric="mIoU")],
                         "cuda"))["t"]
    # 2 timed iterations (3 - 1 warm-up) in 1 s; the task's own metric is shown
    assert row[2:] == ["M/B (2.00M)", "3", "2.00", "3.00 GiB", "bfloat16", "mIoU 41.2", "ok"]


def test_bad_arguments_are_refused(run_tool):
    proc = run_tool(["tools/gpu_check.py", "--device", "cpu", "--amp-dtype", "bfloat16"], check=False)
    assert proc.returncode == 2 and "--amp-dtype needs --amp" in proc.stderr
    proc = run_tool(["tools/gpu_check.py", "--device", "cpu", "--config", "nope=x.py"], check=False)
    assert proc.returncode == 2 and "TASK=PATH" in proc.stderr
