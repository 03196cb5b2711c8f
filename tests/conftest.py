import os
import sys
from pathlib import Path

CORE_TESTS = str(Path(__file__).parent / "core")
if CORE_TESTS not in sys.path:
    sys.path.insert(0, CORE_TESTS)
os.environ.setdefault("MPLBACKEND", "Agg")
