#!/usr/bin/env bash
# Distributed training with torchrun (mmengine launcher 'pytorch').
#   bash tools/dist_train.sh CONFIG NUM_GPUS [train.py args]
# Multi-node: set NNODES, NODE_RANK, MASTER_ADDR (and PORT) on every node.
# On a CPU-only machine the processes use the gloo backend (env_cfg.dist_cfg.backend).
# Python: $PYTHON, else the project's .venv/bin/python, else python3 from PATH.
set -euo pipefail
if [[ $# -lt 2 ]]; then echo "usage: bash tools/dist_train.sh CONFIG NUM_PROCESSES [train.py args]" >&2; exit 2; fi
CONFIG=$1
GPUS=$2
shift 2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-127.0.0.1}
DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [[ -z "${PYTHON:-}" ]]; then
  if [[ -x "$DIR/../.venv/bin/python" ]]; then PYTHON="$(cd "$DIR/.." && pwd)/.venv/bin/python"
  else PYTHON=$(command -v python3 || command -v python || true); fi
fi
if [[ -z "$PYTHON" ]] || ! "$PYTHON" -c "import torch" 2>/dev/null; then
  echo "dist_train.sh: no Python with torch (tried ${PYTHON:-python3/python}); run 'bash tools/setup_env.sh' or set PYTHON=/path/to/python" >&2
  exit 1
fi
exec "$PYTHON" -m torch.distributed.run --nnodes="$NNODES" --node_rank="$NODE_RANK" --master_addr="$MASTER_ADDR" \
  --nproc_per_node="$GPUS" --master_port="$PORT" "$DIR/train.py" "$CONFIG" --launcher pytorch "$@"
