#!/usr/bin/env bash
# The test command of the README and of CI: set up .venv (idempotent), prepare the small real
# datasets the tests read, run pytest. Extra arguments go to pytest.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash tools/setup_env.sh
.venv/bin/python tools/prepare_data.py --for-tests
exec .venv/bin/python -m pytest tests "$@"
