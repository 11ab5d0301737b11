"""Make ``tools/*.py`` work from a plain checkout: put the repository root on ``sys.path``.

``python tools/train.py`` puts ``tools/``, not the repository root, on ``sys.path``, so
``custom_imports=dict(imports=['backbones'])`` would fail unless the project is pip-installed.
"""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
