"""The fault-injection tests' helpers (``helpers.py``) and hooks (``fault_hooks.py``) are imported by name."""
import sys
from pathlib import Path

HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)
