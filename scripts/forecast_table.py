"""Print the markdown table of docs/gpu.md's "Forecast per experiment": every built-in experiment's forecast
time for one seed stream at the quick and full presets, on a CPU (``--workers``, default 2) and on one CUDA
device (``--cuda-workers``, default 1), sorted by paper claims per GPU-minute at the full preset.

Forecasts come from ``collapselab.core.estimate`` with no stored cell (an empty results folder): the declared
rate of ``cell_rates.json`` (or ``--rates``) times the declared cell costs on a CPU, the declared FLOPs at
the assumed CUDA rate on CUDA (experiments without torch run on the GPU machine's CPU: their cuda column is
their CPU forecast on ``--cuda-workers``, marked "(cpu)"). Run it after ``collapselab calibrate --write``:

    python scripts/forecast_table.py > /tmp/forecast.md    # then paste into docs/gpu.md
    python scripts/forecast_table.py --plan 60 --device cpu  # the full runs that fit an hour on 2 cores
"""

from __future__ import annotations

import argparse
import math
import tempfile
from pathlib import Path

from collapselab.core.costs import CUDA_FLOPS_PER_SECOND, CUDA_SECONDS_PER_CELL, read_rates
from collapselab.core.declarations import is_builtin
from collapselab.core.estimate import estimate, format_seconds
from collapselab.core.registry import all_experiments


def _rows(workers: int, cuda_workers: int, rates_path: Path | None) -> tuple[list[dict], str]:
    rates = read_rates(rates_path)
    rows = []
    with tempfile.TemporaryDirectory() as empty:
        for name, exp in all_experiments().items():
            if not is_builtin(exp):
                continue
            row = {"name": name, "torch": exp.uses_device,
                   "paper": sum(c.kind == "paper" for c in exp.claims)}
            for preset in ("quick", "full"):
                row[f"{preset}_cpu"] = estimate(name, preset=preset, out_dir=empty, device="cpu", workers=workers,
                                                rates=rates).seconds
                row[f"{preset}_cuda"] = estimate(name, preset=preset, out_dir=empty, device="cuda",
                                                 workers=cuda_workers, rates=rates).seconds
            gpu_min = row["full_cuda"] / 60 if row["full_cuda"] is not None else None
            row["per_gpu_min"] = row["paper"] / gpu_min if gpu_min else None
            rows.append(row)
    rows.sort(key=lambda r: (r["per_gpu_min"] is None, -(r["per_gpu_min"] or 0.0), r["name"]))
    note = (f"calibrated {rates.measured} on {rates.machine}" if rates.experiments else "no calibrated rate")
    return rows, note


def _fmt(seconds: float | None, cpu: bool = False) -> str:
    text = format_seconds(seconds)
    return text + " (cpu)" if cpu and seconds is not None else text


def table(workers: int = 2, cuda_workers: int = 1, rates_path: Path | None = None) -> str:
    """The markdown table (with a heading line stating its assumptions and a total row)."""
    rows, note = _rows(workers, cuda_workers, rates_path)
    lines = [f"Forecast for one seed stream ({note}; CPU on {workers} worker(s); CUDA on {cuda_workers} "
             f"worker(s) at an assumed {CUDA_FLOPS_PER_SECOND:.0e} FLOP/s + {CUDA_SECONDS_PER_CELL:g} s per cell). "
             f"`--confirm` doubles every figure.", "",
             "| experiment | paper claims | quick, CPU | full, CPU | quick, CUDA | full, CUDA "
             "| paper claims per GPU-minute (full) |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        per = "-" if r["per_gpu_min"] is None else f"{r['per_gpu_min']:.2g}"
        lines.append(f"| `{r['name']}` | {r['paper']} | {_fmt(r['quick_cpu'])} | {_fmt(r['full_cpu'])} "
                     f"| {_fmt(r['quick_cuda'], not r['torch'])} | {_fmt(r['full_cuda'], not r['torch'])} | {per} |")
    totals = {k: [r[k] for r in rows] for k in ("quick_cpu", "full_cpu", "quick_cuda", "full_cuda")}

    def total(values: list[float | None]) -> str:
        known = [v for v in values if v is not None and math.isfinite(v)]
        unknown = len(values) - len(known)
        return format_seconds(sum(known)) + (f" + {unknown} unknown" if unknown else "")

    lines.append(f"| all {len(rows)} | {sum(r['paper'] for r in rows)} | {total(totals['quick_cpu'])} "
                 f"| {total(totals['full_cpu'])} | {total(totals['quick_cuda'])} | {total(totals['full_cuda'])} | |")
    return "\n".join(lines)


def plan(minutes: float, device: str = "cuda", workers: int = 2, cuda_workers: int = 1,
         rates_path: Path | None = None) -> list[str]:
    """The experiments to run at the full preset within ``minutes`` on ``device`` (one seed stream), in
    order of paper claims per forecast minute: greedily, each that still fits the budget left. An experiment
    without torch runs on the machine's CPU either way, with its CPU forecast."""
    rows, _ = _rows(workers, cuda_workers, rates_path)
    key = "full_cuda" if device == "cuda" else "full_cpu"
    for r in rows:
        r["rate"] = r["paper"] / max(r[key] / 60, 1e-9) if r[key] is not None else None
    chosen, left = [], minutes * 60
    for r in sorted(rows, key=lambda r: (r["rate"] is None, -(r["rate"] or 0.0), r["name"])):
        if r[key] is not None and r[key] <= left:
            chosen.append(r["name"])
            left -= r[key]
    return chosen


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workers", type=int, default=2, help="CPU workers (default 2)")
    ap.add_argument("--cuda-workers", type=int, default=1, help="workers sharing the one GPU (default 1)")
    ap.add_argument("--rates", type=Path, default=None, help="cell-rates file (default: the package's)")
    ap.add_argument("--plan", type=float, default=None, metavar="MINUTES",
                    help="instead of the table, print the experiments whose full preset fits MINUTES on --device, "
                         "most paper claims per minute first (one line, space-separated)")
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cuda", help="with --plan (default cuda)")
    args = ap.parse_args()
    if args.plan is not None:
        print(" ".join(plan(args.plan, args.device, args.workers, args.cuda_workers, args.rates)))
    else:
        print(table(args.workers, args.cuda_workers, args.rates))


if __name__ == "__main__":
    main()
