"""Speed-up of the GPU over the CPU: one representative cell of each torch experiment, timed on both in
one run (``python benchmarks/device_speedup.py [--preset smoke|quick] [--device cuda]``).

For every registered experiment with ``uses_device=True`` it takes the first task the runner plans for
the preset (:func:`collapselab.core.runner.plan`: a valid cell of the experiment's own ``cells(params)``
with the seed a real run gives it, so a cell whose success depends on its seed, such as gcd-grokking's
teacher answering within its top-k, behaves as in ``collapselab run``), runs it once to warm up
(CUDA context, kernels, data loading), then times it on the CPU and on the GPU and prints the ratio
cpu_time / gpu_time. On a machine without CUDA it prints the CPU times and says so.
"""

from __future__ import annotations

import argparse
import time

import torch

from collapselab.core import CellContext, all_experiments, resolve_params
from collapselab.core.runner import plan
from collapselab.core.sweep import Task


def time_cell(exp, task: Task, device: str) -> float:
    start = time.perf_counter()
    exp.run_cell(dict(task.cell), CellContext(seed=task.seed, replicate=task.replicate, device=device))
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="smoke", choices=("smoke", "quick"))
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--only", default="", help="substring of the experiment names to time")
    ap.add_argument("--smoke", action="store_true", help="smoke preset, one small experiment: a few seconds")
    args = ap.parse_args()
    if args.smoke:
        args.preset, args.only = "smoke", args.only or "strong-collapse/neural"
    gpu = args.device if torch.cuda.is_available() else None
    if gpu is None:
        print("CUDA is not available here: CPU times only (run this on a GPU machine for the ratios)")
    print(f"{'experiment':45s} {'cpu s':>8s} {'gpu s':>8s} {'ratio cpu/gpu':>14s}")
    for name, exp in all_experiments().items():
        if not exp.uses_device or args.only not in name:
            continue
        params = resolve_params(exp.params, exp.presets, args.preset)
        task = plan(exp, params, "cpu")[0]  # the first planned task: a valid cell and its real seed
        try:
            if gpu:
                time_cell(exp, task, gpu)  # warm-up
            cpu = time_cell(exp, task, "cpu")
            g = time_cell(exp, task, gpu) if gpu else float("nan")
        except Exception as exc:  # report and go on: one experiment must not hide the others
            print(f"{name:45s} failed: {type(exc).__name__}: {exc}")
            continue
        print(f"{name:45s} {cpu:8.2f} {g:8.2f} {cpu / g if gpu else float('nan'):8.2f}")


if __name__ == "__main__":
    main()
