#!/usr/bin/env bash
# Distributed training with torchrun (mmengine launcher 'pytorch').
#   bash tools/dist_train.sh CONFIG NUM_GPUS [train.py args]
# Multi-node: set NNODES, NODE_RANK, MASTER_ADDR (and PORT) on every node.
# On a CPU-only machine the processes use the gloo backend (env_cfg.dist_cfg.backend).
set -euo pipefail
CONFIG=$1
GPUS=$2
shift 2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-127.0.0.1}
DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PYTHON=${PYTHON:-python}
exec "$PYTHON" -m torch.distributed.run --nnodes="$NNODES" --node_rank="$NODE_RANK" --master_addr="$MASTER_ADDR" \
  --nproc_per_node="$GPUS" --master_port="$PORT" "$DIR/train.py" "$CONFIG" --launcher pytorch "$@"
