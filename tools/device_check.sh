#!/usr/bin/env bash
# Issue 7's whole GPU check in one device call: install the carried OpenMMLab wheels, verify the fused
# backward on the device, time iMixer-S/16 against the Mixer-S/16 and the naive algorithm (eager, compiled,
# convergent modes), then run every task (tools/gpu_check.py). Tables go to $OUT (default work_dirs/device).
#
#   on the device (carry [".whl", "data/odds", "data/bbc_news"], see docs/gpu_check.md):
#       bash tools/device_check.sh
#   rehearsal on the CPU, tiny sizes:
#       DEVICE=cpu BATCH=2 IMG=32 STEPS=1 WARMUP=0 DTYPE=float32 ITERS=2 bash tools/device_check.sh
#   parts: PARTS="eager compile convergent tasks" (default: all four, in this order)
#   PROFILE=N: the eager part also prints each configuration's N most expensive device operators (0: off)
set -u -o pipefail  # a failed benchmark_speed (| tee) fails its part
cd "$(dirname "$0")/.."
OUT=${OUT:-work_dirs/device}
DEVICE=${DEVICE:-cuda}
BATCH=${BATCH:-128}
IMG=${IMG:-224}
STEPS=${STEPS:-10}
WARMUP=${WARMUP:-3}
DTYPE=${DTYPE:-bfloat16}
ITERS=${ITERS:-30}
PROFILE=${PROFILE:-15}
PARTS=${PARTS:-eager compile convergent tasks}
PY=${PYTHON:-python3}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
if ls .whl/*.whl >/dev/null 2>&1; then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl || exit 1
    export PYTHONPATH=/tmp/site:${PYTHONPATH:-}
fi
command -v nvidia-smi >/dev/null && nvidia-smi -L | tee "$OUT/card.txt"
speed() {  # speed NAME ARGS...: one benchmark_speed table into $OUT/NAME.md
    local name=$1; shift
    echo "== $name" >&2
    "$PY" tools/benchmark_speed.py --device "$DEVICE" --batch-size "$BATCH" --img-size "$IMG" --dtype "$DTYPE" \
        --steps "$STEPS" --warmup "$WARMUP" --json "$OUT/speed.jsonl" "$@" | tee "$OUT/$name.md"
}
status=0
for part in $PARTS; do
    case $part in
        eager) speed eager --verify --models imixer_s16_224 mlpmixer_s16_224 --impl ours reference \
                   --sweep recompute=all,act,null --profile "$PROFILE" || status=1 ;;
        compile) speed compile --compile --models imixer_s16_224 mlpmixer_s16_224 || status=1 ;;
        convergent) speed convergent --models imixer_s16_224 --modes train --kw solver=anderson tol=1e-3 \
                        --sweep max_iter=4,8,16 || status=1 ;;
        tasks) "$PY" tools/gpu_check.py --device "$DEVICE" --amp --iters "$ITERS" --timeout 150 \
                   --work-dir work_dirs/device_tasks --out "$OUT/tasks.md" || status=1 ;;
        *) echo "unknown part $part (eager compile convergent tasks)" >&2; exit 2 ;;
    esac
done
echo "== summary ($OUT)"; cat "$OUT"/*.md
exit $status
