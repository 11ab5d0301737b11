"""Throughput, memory and FLOPs of any registered backbone (``tools/benchmark_speed.py``; usage below).

Callable in-process (``main(argv)``, ``train_gflop_per_image``); each measured configuration runs in a
fresh subprocess of the script for clean peak-memory numbers.
"""
from __future__ import annotations

import argparse
from pathlib import Path
import json
import resource
import statistics
import subprocess
import sys
import time
import types

import torch
import torch.nn.functional as F

import backbones
from backbones.fixed_point import ImplicitLayer

SCRIPT = Path(__file__).resolve().parents[2] / "tools" / "benchmark_speed.py"
USAGE = """Training / inference throughput and peak memory of any registered backbone.

    python tools/benchmark_speed.py --models imixer_s16_224 mlpmixer_s16_224 --batch-size 32 --device cpu
    python tools/benchmark_speed.py --models imixer_s16_224 --device cuda --dtype bfloat16 --compile
    python tools/benchmark_speed.py --models imixer_s16_224 --impl ours reference --kw n_iter=2
    python tools/benchmark_speed.py --models imixer_s16_224 --kw solver=anderson grad=implicit tol=1e-3 max_iter=8
    python tools/benchmark_speed.py --models imixer_s16_224 --sweep recompute=all,act,null
    python tools/benchmark_speed.py --models imixer_s16_224 --kw solver=fixed_point tol=1e-30 --sweep max_iter=4,8,16

Each configuration runs in a fresh subprocess (clean peak-memory numbers): ``--warmup`` untimed steps,
then ``--steps`` timed steps of (a) training: forward, cross-entropy, backward, AdamW step;
(b) inference: forward under ``torch.inference_mode`` in eval mode. ``--impl reference`` swaps every
implicit layer for the authors' algorithm written naively (the spectral-norm power iteration re-run
at every fixed-point step, as their forward hook does), for comparison with ours.
Peak memory: ``torch.cuda.max_memory_allocated`` on CUDA, the process's peak RSS on CPU.
``act MiB``: the bytes autograd saves for backward in one eager training forward (distinct storages,
parameters excluded): the activation memory, the same number on every device for a given dtype and
``recompute`` mode (the default ``'auto'`` is plain autograd on the CPU and ``'all'`` on a GPU).
``train GFLOP/img``: the matrix-product and convolution work of one training forward + backward per
image (``torch.utils.flop_counter``'s formulas), exact where the timings are noisy.
``--sweep KEY=V1,V2,...`` repeats every iMixer configuration for each value of one backbone option.
``--repeat R`` measures every configuration in R interleaved rounds and reports the median (min-max).
``--profile N`` also runs two training steps under ``torch.profiler`` and prints each
configuration's N most expensive operators (self time on the device: CUDA kernels on a GPU).

    python tools/benchmark_speed.py --models imixer_s16_224 --modes train --batch-size 8 --steps 2 --profile 15"""


def _naive_forward(self: ImplicitLayer, u: torch.Tensor) -> torch.Tensor:
    """The authors' recurrence, naively: every call of a normalised layer re-runs its power iteration."""
    z = u
    for _ in range(self.n_iter):
        z = self.act(z)
        z = F.linear(z, self.fc_a.normalized_weight(), self.fc_a.bias)
        z = self.act(z)
        z = F.linear(z, self.fc_b.normalized_weight(), self.fc_b.bias)
        z = z + u
    return z


def _parse_kw(items):
    out = {}
    for item in items or []:
        key, _, value = item.partition("=")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def verify_fused_backward(device: str) -> str:
    """Gradients of the unrolled solve with each ``recompute`` mode against plain autograd through the
    loop, on ``device``: float64 to 1e-9 and bfloat16 autocast to 5 %. Raises AssertionError on a mismatch."""
    lines = []
    for dtype, autocast, tol in ((torch.float64, False, 1e-9), (torch.float32, True, 5e-2)):
        grads = {}
        for recompute in (None, "all", "act"):
            torch.manual_seed(0)
            layer = ImplicitLayer(64, h_ratio=2.0, n_iter=2, recompute=recompute).to(device, dtype)
            u = torch.randn(4, 32, 64, device=device, dtype=dtype, requires_grad=True)
            with torch.autocast(device_type=torch.device(device).type, dtype=torch.bfloat16, enabled=autocast):
                out = layer(u)
            grads[recompute] = torch.autograd.grad(out.float().square().sum(), [u] + list(layer.parameters()))
        for recompute in ("all", "act"):
            err = max(float((a.double() - b.double()).abs().max() / b.double().abs().max().clamp_min(1e-30))
                      for a, b in zip(grads[recompute], grads[None]))
            name = f"{'float64' if not autocast else 'bf16 autocast'} recompute={recompute}"
            assert err <= tol, f"fused backward differs from autograd on {device}: {name}, relative error {err:.2e}"
            lines.append(f"{name}: max relative gradient error {err:.1e} (tolerance {tol:.0e})")
    return "\n".join(lines)


def saved_activation_mib(forward, model, autocast) -> float:
    """MiB of the distinct non-parameter storages autograd saves during one training forward."""
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    seen = {}

    def pack(t):
        ptr = t.untyped_storage().data_ptr()
        if ptr not in params:
            seen[ptr] = t.untyped_storage().nbytes()
        return t

    model.train()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t), autocast:
        forward()
    return sum(seen.values()) / 2**20


PROFILE_STEPS = 2  # enough to rank the operators; the profiler's bookkeeping grows with every event


def profile_table(fn, sync, device: torch.device, steps: int, top: int) -> str:
    """The ``top`` operators by self time over ``steps`` calls of ``fn`` (device time on CUDA)."""
    from torch.profiler import ProfilerActivity, profile

    cuda = device.type == "cuda"
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    with profile(activities=activities) as prof:
        for _ in range(steps):
            fn()
        sync()
    sort_by = "self_device_time_total" if cuda else "self_cpu_time_total"
    return prof.key_averages().table(sort_by=sort_by, row_limit=top)


def train_gflop_per_image(model, x, y, autocast) -> float:
    """GFLOP of one training forward + backward per image (matrix products and convolutions, with
    ``torch.utils.flop_counter``'s formulas): the work of a step, free of the timing noise; NaN if
    counting fails. A plain dispatch mode, not ``FlopCounterMode``, whose module tracker breaks the
    implicit gradient's ``autograd.grad`` inside the backward pass."""
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils.flop_counter import flop_registry

    class Count(TorchDispatchMode):
        total = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            out = func(*args, **kwargs)
            formula = flop_registry.get(func._overloadpacket)
            if formula is not None:
                self.total += formula(*args, **kwargs, out_val=out)
            return out

    model.train()
    try:
        with Count() as counter:
            with autocast:
                loss = F.cross_entropy(model(x).float(), y)
            loss.backward()
    except Exception as exc:  # the timings stand without it
        print(f"[speed] FLOP count failed: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        return float("nan")
    finally:
        model.zero_grad(set_to_none=True)
    return counter.total / x.shape[0] / 1e9


def measure(cfg: dict) -> dict:
    device = torch.device(cfg["device"])
    dtype = getattr(torch, cfg["dtype"])
    torch.manual_seed(0)
    size = {} if "pyramid" in cfg["model"] else dict(img_size=cfg["img_size"])  # the pyramid takes any size
    model = backbones.build_backbone(cfg["model"], num_classes=1000, **size, **cfg["kw"]).to(device)
    if cfg["impl"] == "reference":
        layers = [m for m in model.modules() if isinstance(m, ImplicitLayer)]
        if not layers:
            raise SystemExit(f"--impl reference needs an iMixer model; {cfg['model']} has no implicit layer")
        for m in layers:
            if m.solver != "unroll":
                raise SystemExit("--impl reference is the authors' unrolled algorithm: use solver=unroll")
            m.forward = types.MethodType(_naive_forward, m)
    params = sum(p.numel() for p in model.parameters())
    step_model = torch.compile(model) if cfg["compile"] else model
    x = torch.randn(cfg["batch_size"], 3, cfg["img_size"], cfg["img_size"], device=device)
    y = torch.randint(0, 1000, (cfg["batch_size"],), device=device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    autocast = torch.autocast(device_type=device.type, dtype=dtype, enabled=dtype != torch.float32)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    result = dict(cfg, params_m=params / 1e6)

    def train_step():
        with autocast:
            loss = F.cross_entropy(step_model(x).float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    def infer_step():
        with torch.inference_mode(), autocast:
            step_model(x)

    # on the eager model even with --compile: no second compilation under the saved-tensor hooks
    result["act_mib"] = saved_activation_mib(lambda: model(x), model, autocast)
    result["train_gflop"] = train_gflop_per_image(model, x, y, autocast)
    for mode, fn in (("train", train_step), ("infer", infer_step)):
        if mode not in cfg["modes"]:
            continue
        model.train(mode == "train")
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        for _ in range(cfg["warmup"]):
            fn()
        sync()
        t0 = time.perf_counter()
        for _ in range(cfg["steps"]):
            fn()
        sync()
        dt = (time.perf_counter() - t0) / cfg["steps"]
        result[f"{mode}_img_s"] = cfg["batch_size"] / dt
        result[f"{mode}_step_ms"] = dt * 1e3
        if device.type == "cuda":
            result[f"{mode}_peak_gib"] = torch.cuda.max_memory_allocated() / 2**30
        if mode == "train" and cfg.get("profile"):
            try:
                result["profile_table"] = profile_table(fn, sync, device, PROFILE_STEPS, cfg["profile"])
            except Exception as exc:  # the timings above stand without it
                result["profile_table"] = f"profiler failed: {type(exc).__name__}: {exc}"
    if device.type != "cuda":
        result["peak_rss_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=USAGE, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["imixer_s16_224", "mlpmixer_s16_224"])
    parser.add_argument("--impl", nargs="+", choices=["ours", "reference"], default=["ours"])
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--img-size", type=int, default=224)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--dtype", choices=["float32", "bfloat16", "float16"], default="float32")
    parser.add_argument("--compile", action="store_true", help="torch.compile the model")
    parser.add_argument("--modes", nargs="+", choices=["train", "infer"], default=["train", "infer"])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--kw", nargs="*", help="backbone overrides key=value (applied to iMixer models only), "
                        "e.g. n_iter=2 solver=anderson grad=implicit tol=1e-3")
    parser.add_argument("--sweep", help="KEY=V1,V2,...: run every iMixer configuration once per value of one "
                        "backbone option (JSON values: null, numbers, strings), e.g. recompute=all,act,null")
    parser.add_argument("--json", help="also write the rows as JSON lines here")
    parser.add_argument("--verify", action="store_true", help="first check the fused backward's gradients against "
                        "autograd on --device (float64 and bf16 autocast); exit 1 on a mismatch")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="also profile the training steps and print the N most expensive operators")
    parser.add_argument("--repeat", type=int, default=1, metavar="R",
                        help="measure every configuration R times, in R interleaved rounds, and report the median "
                             "(and the range) of its throughput")
    parser.add_argument("--single", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error(f"--repeat must be >= 1, got {args.repeat}")
    if args.single:
        print("RESULT " + json.dumps(measure(json.loads(args.single))), flush=True)
        return 0
    if args.verify:
        print(f"[speed] verifying the fused backward on {args.device}", file=sys.stderr, flush=True)
        print(verify_fused_backward(args.device), flush=True)
    kw = _parse_kw(args.kw)
    sweep = [kw]
    if args.sweep:
        key, _, values = args.sweep.partition("=")
        if not key or not values:
            raise SystemExit(f"--sweep needs KEY=V1,V2,..., got {args.sweep!r}")
        sweep = [dict(kw, **_parse_kw([f"{key}={v}"])) for v in values.split(",")]
    cfgs = []
    for model in args.models:
        for impl in args.impl:
            if impl == "reference" and not model.startswith("imixer"):
                continue
            # the sweep applies to our iMixer only: the Mixer and the naive reference run once
            for variant in (sweep if impl == "ours" and model.startswith("imixer") else [kw]):
                cfgs.append(dict(model=model, impl=impl, batch_size=args.batch_size, img_size=args.img_size,
                                 device=args.device, dtype=args.dtype, compile=args.compile, modes=args.modes,
                                 steps=args.steps, warmup=args.warmup, profile=args.profile,
                                 kw=variant if model.startswith("imixer") else {}))
    # --repeat: every configuration once per round, rounds one after the other, so that a slow phase of
    # the machine hits all configurations alike; the table shows the median round
    runs = [[] for _ in cfgs]
    for rnd in range(args.repeat):
        if args.repeat > 1:
            print(f"[speed] round {rnd + 1} of {args.repeat}", file=sys.stderr, flush=True)
        for i, cfg in enumerate(cfgs):
            runs[i] += _run_config(dict(cfg, profile=args.profile if rnd == 0 else 0))
    rows = [_median_row(r) for r in runs if r]
    mem_key = "train_peak_gib" if args.device.startswith("cuda") else "peak_rss_gib"
    print(f"\ndevice={args.device} dtype={args.dtype} batch={args.batch_size} img={args.img_size} "
          f"compile={args.compile} torch={torch.__version__} threads={torch.get_num_threads()}")
    print("| model | impl | options | params (M) | train img/s | infer img/s | peak mem (GiB) | act MiB | "
          "train GFLOP/img |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        opts = " ".join(f"{k}={v}" for k, v in r["kw"].items()) or "-"
        print(f"| {r['model']} | {r['impl']} | {opts} | {r['params_m']:.1f} | {_throughput_cell(r, 'train_img_s')} | "
              f"{_throughput_cell(r, 'infer_img_s')} | {r.get(mem_key, float('nan')):.2f} | "
              f"{r.get('act_mib', float('nan')):.0f} | {r.get('train_gflop', float('nan')):.2f} |")
    for r in rows:
        if "profile_table" in r:
            opts = " ".join(f"{k}={v}" for k, v in r["kw"].items())
            print(f"\nprofile of {PROFILE_STEPS} training steps: {r['model']} ({r['impl']}{', ' + opts if opts else ''})")
            print(r["profile_table"])
    if args.json:
        with open(args.json, "a") as f:
            for r in rows:
                f.write(json.dumps(r) + "\n")
    failed = sum(args.repeat - len(r) for r in runs)
    if failed:
        print(f"[speed] {failed} measurement(s) failed (errors above)", file=sys.stderr, flush=True)
        return 1
    return 0


def _median_row(runs: list) -> dict:
    """One row for the repeated runs of a configuration: the median throughput and every run's."""
    row = dict(runs[0], repeats=len(runs))
    for key in ("train_img_s", "infer_img_s"):
        values = [r[key] for r in runs if key in r]
        if values:
            row[key], row[f"{key}_runs"] = statistics.median(values), values
    return row


def _throughput_cell(row: dict, key: str) -> str:
    """``median`` or, over several runs, ``median (min-max)``."""
    runs = row.get(f"{key}_runs", [])
    cell = f"{row.get(key, float('nan')):.2f}"
    return cell + (f" ({min(runs):.2f}-{max(runs):.2f})" if len(runs) > 1 else "")


def _run_config(cfg: dict) -> list:
    """Measure one configuration in a fresh subprocess; [] (and the error on stderr) if it failed."""
    label = f"{cfg['model']} ({cfg['impl']}{', ' + str(cfg['kw']) if cfg['kw'] else ''})"
    print(f"[speed] {label} ...", file=sys.stderr, flush=True)
    proc = subprocess.run([sys.executable, str(SCRIPT), "--single", json.dumps(cfg)], capture_output=True, text=True)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        print(f"[speed] {label} failed:\n{proc.stderr[-2000:]}", file=sys.stderr)
        return []
    return [json.loads(lines[-1][len("RESULT "):])]
