#!/usr/bin/env bash
# Set up the whole imixer stack in .venv/ at the repository root.
#
#   bash tools/setup_env.sh                # create / update .venv
#   IMIXER_WHEELHOUSE=DIR bash tools/setup_env.sh
#
# mmcv 2.1.0 (needed by mmdet / mmseg) has no wheels for current torch. The script looks for a
# ready wheel, in this order: $IMIXER_WHEELHOUSE, ../shared/wheelhouse (when it exists), .wheels/
# (this checkout's own cache); failing that it builds mmcv from its PyPI sdist with compiled ops
# (about 12 minutes on 2 cores) and keeps the wheel in .wheels/ so it is built only once.
# Idempotent: when requirements, setup.py and this script are unchanged, a second run takes seconds.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"
VENV="$ROOT/.venv"
LOCAL_WHEELS="$ROOT/.wheels"
STAMP="$VENV/.imixer-setup-stamp"

wheelhouses=()
[ -n "${IMIXER_WHEELHOUSE:-}" ] && wheelhouses+=("$IMIXER_WHEELHOUSE")
[ -d "$ROOT/../shared/wheelhouse" ] && wheelhouses+=("$(cd "$ROOT/../shared/wheelhouse" && pwd)")
mkdir -p "$LOCAL_WHEELS"
wheelhouses+=("$LOCAL_WHEELS")
find_links=()
for w in "${wheelhouses[@]}"; do find_links+=(--find-links "$w"); done

want="$(cat requirements/stack.txt setup.py tools/setup_env.sh | sha256sum | cut -d' ' -f1)"
if [ -x "$VENV/bin/python" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] \
   && "$VENV/bin/python" -c "import mmcv.ops, mmdet, mmseg, torch_geometric, transformers, backbones" 2>/dev/null; then
  echo "[setup] .venv is up to date"
  exit 0
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "[setup] creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check)
torch_pin="$(grep -E '^torch==' requirements/stack.txt)"

echo "[setup] build tools and $torch_pin"
"${PIP[@]}" install -q --upgrade pip 'setuptools<81' wheel ninja
"${PIP[@]}" install -q "$torch_pin"

if ! "$VENV/bin/python" -c "import mmcv.ops" 2>/dev/null; then
  if "${PIP[@]}" install -q --no-index --no-deps "${find_links[@]}" mmcv==2.1.0 2>/dev/null; then
    echo "[setup] mmcv 2.1.0 installed from a wheelhouse"
  else
    echo "[setup] no mmcv 2.1.0 wheel found in: ${wheelhouses[*]}"
    echo "[setup] building mmcv 2.1.0 with ops from source (about 12 minutes on 2 cores; done once)"
    MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-$(nproc)}" \
      "${PIP[@]}" wheel --no-build-isolation --no-deps -w "$LOCAL_WHEELS" mmcv==2.1.0
    "${PIP[@]}" install -q --no-index --no-deps --find-links "$LOCAL_WHEELS" mmcv==2.1.0
  fi
  # mmcv's own runtime dependencies (not mmcv itself, which is already installed)
  "${PIP[@]}" install -q addict packaging pyyaml yapf opencv-python
fi

echo "[setup] the OpenMMLab, PyG, transformers and scikit-learn stack"
"${PIP[@]}" install -q "${find_links[@]}" -r requirements/stack.txt mmcv==2.1.0
echo "[setup] the imixer project (editable)"
"${PIP[@]}" install -q --no-deps --no-build-isolation -e .

"$VENV/bin/python" -c "import mmcv.ops, mmdet, mmseg, torch, torch_geometric, transformers, sklearn, backbones; \
print('[setup] ok: torch', torch.__version__, '| mmcv', mmcv.__version__, '| mmdet', mmdet.__version__, \
'| mmseg', mmseg.__version__, '| pyg', torch_geometric.__version__, '| transformers', transformers.__version__)"
echo "$want" > "$STAMP"
