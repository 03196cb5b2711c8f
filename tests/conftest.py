import os
import sys
from pathlib import Path

CORE_TESTS = str(Path(__file__).parent / "core")
if CORE_TESTS not in sys.path:
    sys.path.insert(0, CORE_TESTS)
os.environ.setdefault("MPLBACKEND", "Agg")

try:  # tiny models train fastest on one thread, and a busy machine makes OpenMP spin-waits costly
    import torch

    torch.set_num_threads(1)
except ImportError:  # pragma: no cover
    pass
