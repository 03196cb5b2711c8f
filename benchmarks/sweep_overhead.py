"""Framework overhead per cell and the speed-up of 2 workers over 1, measured side by side.

1. Overhead: a trivial cell (returns a constant) run through ``run_experiment`` (planning, seeding,
   store transactions, analysis, artifacts) against the same calls in a bare Python loop.
   Goal: under 5 ms per cell.
2. Scaling: CPU-bound cells (a fixed amount of pure-Python arithmetic each) with ``--workers 1`` against
   ``--workers 2``; cells of about a second, like short real cells (the cost of starting the worker
   processes, which import the package, is printed beside). Goal: at least 1.7x on a 2-core machine.
3. Pool reuse: a few real experiments at ``smoke``, 2 workers, each run starting its own pool against all
   of them in one :class:`~collapselab.core.sweep.WorkerPool` (what ``reproduce`` and a multi-experiment
   ``run`` do): the saving is the workers' spawn and imports (torch, the experiment modules), per experiment.
4. One queue: four experiments of 3 CPU-bound cells each on 2 workers, run one after another in one shared
   pool (each ends with one worker idle behind its last cell) against ``reproduce``'s one queue over all
   their cells in the same pool. Goal: > 1.2x (ideal 4/3).

Run: ``python benchmarks/sweep_overhead.py [--cells 400] [--cpu-cells 16] [--experiments NAME ...]``;
``--smoke`` runs part 4 only, with short cells (the test suite's mode).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
from pydantic import Field

from collapselab.core import Analysis, CellContext, Experiment, Paper, Params, register
from collapselab.core.runner import run_experiment
from collapselab.core.sweep import WorkerPool

REAL = ["efficient-transformers/cost", "beyond-collapse/phase-transition", "strong-collapse/pareto",
        "demystified/kernel", "tale-of-tails/bigram", "transferred-discrepancy/inits"]

BENCH = Paper("bench", "Framework benchmark", "-", "bench")
QUEUE = Paper("bench-queue", "Framework benchmark: one queue", "-", "bench-queue")


class BenchParams(Params):
    n: int = Field(100, ge=1)
    work: int = Field(0, ge=0, description="pure-Python loop iterations per cell")


def cells(p: BenchParams) -> list[dict]:
    return [{"i": i, "work": p.work} for i in range(p.n)]


def run_cell(cell: dict, ctx: CellContext) -> dict:
    acc = 0
    for k in range(cell["work"]):
        acc = (acc + k * k) % 1_000_003
    return {"value": acc + cell["i"]}


def analyze(frame: pd.DataFrame, p: BenchParams) -> Analysis:
    return Analysis()


PRESETS = {"smoke": {}, "quick": {}, "full": {}}
if __name__ == "sweep_overhead":  # registered once, by the importable module (not as __main__ or __mp_main__)
    register(Experiment("bench/trivial", BENCH, "trivial cells", BenchParams, PRESETS, cells, run_cell, analyze))
    register(Experiment("bench/cpu", BENCH, "CPU-bound cells", BenchParams, PRESETS, cells, run_cell, analyze))
    for _i in range(4):  # part 4: experiments of an odd number of equal cells, for the queue
        register(Experiment(f"bench-queue/odd{_i}", QUEUE, "3 CPU-bound cells", BenchParams,
                            {"smoke": {"n": 3, "work": 4_000_000}, "quick": {"n": 3, "work": 8_000_000},
                             "full": {"n": 3, "work": 8_000_000}}, cells, run_cell, analyze))


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cells", type=int, default=400)
    ap.add_argument("--cpu-cells", type=int, default=16)
    ap.add_argument("--work", type=int, default=8_000_000, help="loop iterations per CPU-bound cell")
    ap.add_argument("--experiments", nargs="+", default=REAL, help="real experiments run at smoke for part 3")
    ap.add_argument("--smoke", action="store_true", help="part 4 only, short cells")
    args = ap.parse_args(argv)
    if args.smoke:
        one_queue("smoke")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        n = args.cells
        run_experiment("bench/trivial", overrides=["n=1"], out_dir=Path(tmp) / "warm", workers=1)  # imports
        bare = timed(lambda: [run_cell({"i": i, "work": 0}, CellContext(seed=i)) for i in range(n)])
        fixed = timed(lambda: run_experiment("bench/trivial", overrides=["n=1"], out_dir=Path(tmp) / "one",
                                             workers=1))
        framed = timed(lambda: run_experiment("bench/trivial", overrides=[f"n={n}"], out_dir=Path(tmp) / "n",
                                              workers=1))
        per_cell_ms = (framed - fixed - bare) / (n - 1) * 1e3
        print(f"overhead: {n} trivial cells: bare loop {bare * 1e3:.1f} ms, framework {framed * 1e3:.1f} ms "
              f"(of which {fixed * 1e3:.0f} ms per run: store, git, artifacts) -> {per_cell_ms:.2f} ms per cell "
              f"(goal < 5 ms); framework/bare per cell: {per_cell_ms / max(bare / n * 1e3, 1e-6):.0f}x")
        m, w = args.cpu_cells, args.work
        one = timed(lambda: run_experiment("bench/cpu", overrides=[f"n={m}", f"work={w}"],
                                           out_dir=Path(tmp) / "w1", workers=1))
        two = timed(lambda: run_experiment("bench/cpu", overrides=[f"n={m}", f"work={w}"],
                                           out_dir=Path(tmp) / "w2", workers=2))
        start = timed(lambda: run_experiment("bench/cpu", overrides=["n=2", "work=0"], out_dir=Path(tmp) / "s",
                                             workers=2))  # spawning 2 workers (each imports the package)
        print(f"scaling: {m} CPU-bound cells: 1 worker {one:.2f} s, 2 workers {two:.2f} s -> speed-up "
              f"{one / two:.2f}x (goal >= 1.7x); this includes starting the workers, which alone takes "
              f"{start:.2f} s (a 2-worker run of 2 empty cells)")
        names = args.experiments
        for name in names:  # the driver's own imports, outside the timings
            run_experiment(name, preset="smoke", out_dir=Path(tmp) / "warm", workers=2)
        own = timed(lambda: [run_experiment(name, preset="smoke", out_dir=Path(tmp) / "own", workers=2)
                             for name in names])

        def shared_pool() -> None:
            with WorkerPool(2) as pool:
                for name in names:
                    run_experiment(name, preset="smoke", out_dir=Path(tmp) / "shared", workers=2, pool=pool)

        shared = timed(shared_pool)
        print(f"pool reuse: {len(names)} experiments at smoke, 2 workers: a pool per run {own:.1f} s, one shared "
              f"pool {shared:.1f} s -> {own / shared:.2f}x, {(own - shared) / len(names):.2f} s saved per "
              f"experiment")
    one_queue("quick")
    return 0


def one_queue(preset: str) -> None:
    """Part 4: the experiments of ``QUEUE`` one after another in one warm pool, then as one queue
    (:func:`collapselab.core.reproduce._one_queue`, what ``reproduce`` runs, without its report site)."""
    from collapselab.core.reproduce import PaperOutcome, _one_queue

    names = [f"bench-queue/odd{i}" for i in range(4)]
    with tempfile.TemporaryDirectory() as tmp, WorkerPool(2) as pool:
        run_experiment(names[0], preset=preset, out_dir=Path(tmp) / "warm", workers=2, pool=pool)  # spawn
        serial = timed(lambda: [run_experiment(n, preset=preset, out_dir=Path(tmp) / "serial", workers=2, pool=pool)
                                for n in names])
        outcome = PaperOutcome(QUEUE)
        queued = timed(lambda: _one_queue(
            [(outcome, n) for n in names], Path(tmp) / "queue", label=lambda o, n: n, device_of=lambda n: "cpu",
            preset=preset, workers=2, backend="local", ray_address=None, retry_failed=False, pool=pool,
            progress=None, on_start=None, on_report=None))
    assert len(outcome.reports) == len(names), outcome.errors
    print(f"one queue: {len(names)} experiments x 3 CPU-bound cells, 2 workers (one warm pool): one after another "
          f"{serial:.2f} s, one queue {queued:.2f} s -> ratio {serial / queued:.2f}x (goal > 1.2x, ideal 1.33x)")


if __name__ == "__main__":
    # run from the importable module so spawned workers can unpickle `run_cell` by reference
    sys.path.insert(0, str(Path(__file__).parent))
    import sweep_overhead

    raise SystemExit(sweep_overhead.main())
