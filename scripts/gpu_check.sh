#!/usr/bin/env bash
# The GPU path, checked on a fresh CUDA machine in under 8 minutes: install, CUDA tests, every torch
# experiment's smoke preset on CUDA compared with CPU, and the CPU/GPU speed-up benchmark.
#
#   bash scripts/gpu_check.sh [OUT]        # OUT: where logs and results go (default: gpu-check/)
#
# torch: the pinned version (constraints.txt). When the machine's Python already has a CUDA build of it
# (e.g. a CUDA image), the venv reuses it (--system-site-packages); otherwise pip installs the CUDA wheel
# of the pinned version from PyTorch's CUDA index ($TORCH_INDEX, default cu128), which needs that index
# to be reachable (or a local wheelhouse: TORCH_INDEX=file:///path/to/wheels).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-gpu-check}
mkdir -p "$OUT"
TORCH_VERSION=$(sed -n 's/^torch==//p' constraints.txt)
TORCH_INDEX=${TORCH_INDEX:-https://download.pytorch.org/whl/cu128}
VENV=${VENV:-.venv-gpu}
start=$(date +%s)
step() { echo "== [$(( $(date +%s) - start )) s] $*" | tee -a "$OUT/log.txt"; }

step "nvidia-smi"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee -a "$OUT/log.txt"

step "venv and install (torch $TORCH_VERSION)"
if python3 -c "import torch,sys; sys.exit(0 if torch.__version__.split('+')[0]=='$TORCH_VERSION' and torch.cuda.is_available() else 1)" 2>/dev/null; then
    python3 -m venv --system-site-packages "$VENV"
else
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet "torch==$TORCH_VERSION" --index-url "$TORCH_INDEX"
fi
"$VENV/bin/pip" install --quiet -c constraints.txt -e ".[dev]"
"$VENV/bin/python" -c "import torch; assert torch.cuda.is_available(), 'torch has no CUDA here'; \
print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name())" | tee -a "$OUT/log.txt"

step "CUDA tests (every test that names cuda; they skip on CPU-only machines)"
"$VENV/bin/pytest" -q -k cuda -p no:cacheprovider 2>&1 | tail -n 15 | tee -a "$OUT/log.txt"

step "smoke presets of the torch experiments on CUDA and on CPU, claims compared"
torch_exps=$("$VENV/bin/python" -c "from collapselab.core import all_experiments; \
print(' '.join(n for n, e in all_experiments().items() if e.uses_device))")
# shellcheck disable=SC2086
"$VENV/bin/collapselab" run $torch_exps --preset smoke --device cuda --workers 1 --out "$OUT/cuda" > "$OUT/cuda.txt" 2>&1 || true
# shellcheck disable=SC2086
"$VENV/bin/collapselab" run $torch_exps --preset smoke --device cpu --workers 8 --out "$OUT/cpu" > "$OUT/cpu.txt" 2>&1 || true
"$VENV/bin/python" - "$OUT" <<'PY' | tee -a "$OUT/log.txt"
import sys
from collapselab.core.ledger import ledger
out = sys.argv[1]
cuda = {(r["experiment"], r["id"]): r for r in ledger(f"{out}/cuda")}
cpu = {(r["experiment"], r["id"]): r for r in ledger(f"{out}/cpu")}
same = differ = 0
for key, r in cuda.items():
    if r["status"] == "not run":
        continue
    c = cpu.get(key, {}).get("status", "not run")
    same += c == r["status"]
    differ += c != r["status"]
    print(f"{key[0]:45s} {key[1]:28s} cuda {r['status']:13s} cpu {c:13s}{'' if c == r['status'] else '  <-- differs'}")
print(f"claims with the same status on CUDA and CPU: {same}; different: {differ}")
PY

step "speed-up benchmark"
"$VENV/bin/python" benchmarks/device_speedup.py --preset smoke 2>&1 | tee -a "$OUT/log.txt"

# Paper scale with the GPU time left: GPU_MINUTES=50 bash scripts/gpu_check.sh runs the full preset of the
# experiments whose forecast fits 50 minutes, most paper claims per GPU-minute first (docs/gpu.md).
if [ -n "${GPU_MINUTES:-}" ]; then
    full_exps=$("$VENV/bin/python" scripts/forecast_table.py --plan "$GPU_MINUTES" --device cuda)
    step "full preset within $GPU_MINUTES GPU-minutes: $full_exps"
    # shellcheck disable=SC2086
    "$VENV/bin/collapselab" run $full_exps --preset full --device cuda --workers 2 --out "$OUT/full" \
        > "$OUT/full.txt" 2>&1 || true
    "$VENV/bin/collapselab" claims --out "$OUT/full" --preset full --format md > "$OUT/full-claims.md" || true
    "$VENV/bin/collapselab" calibrate --out "$OUT/full" 2>&1 | tee -a "$OUT/log.txt" || true
fi
step "done"
