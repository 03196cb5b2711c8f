"""Every benchmark script runs in its smoke-sized mode (``--smoke``), exits 0 and prints a ratio."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
SMOKED = ["batched_replicates.py", "roofline.py", "quick_profile.py", "device_speedup.py", "sweep_overhead.py",
          "certify_throughput.py", "pool_speed.py"]


@pytest.mark.slow
@pytest.mark.parametrize("script", SMOKED)
def test_benchmark_smoke_runs(script):
    out = subprocess.run([sys.executable, str(BENCH / script), "--smoke"], capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "ratio" in out.stdout.lower(), out.stdout[-2000:]
