"""What a run would cost, before it runs (``--dry-run``): cells, how many are stored, an estimated time.

The estimate uses the wall times stored for the same experiment (at any preset) on the same kind of
device: with the experiment's declared ``cell_cost(cell)`` the stored seconds per unit of cost scale to
the missing cells; without it, the mean stored seconds per cell does. No stored cell on that device:
"unknown". When no stored cell has the parameters of a missing one and no cost is declared (a full
estimate from quick runs), the basis says the figure is not a forecast. Nothing runs and nothing is
written (the store is opened read-only when it exists).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

from collapselab.core.params import resolve_params
from collapselab.core.registry import get_experiment
from collapselab.core.store import MAIN_STREAM, Store, store_path
from collapselab.core.sweep import cell_key


@dataclass(frozen=True)
class Estimate:
    experiment: str
    cells: int  # (cell, replicate) tasks of the grid
    stored: int  # of them already finished in the store
    seconds: float | None  # estimated wall time of the missing ones on ``workers`` workers; None: unknown
    basis: str  # how the estimate was made
    forecast: bool = True  # False: scaled from cells of other parameters without a declared cost

    @property
    def missing(self) -> int:
        return self.cells - self.stored


def _device_kind(device: str | None) -> str:
    """"cuda:1" and "cuda (NVIDIA H200)" (as runs record it) are both "cuda"."""
    return re.match(r"[a-z]*", (device or "cpu").strip().lower()).group(0) or "cpu"


def estimate(name: str, *, preset: str, out_dir: str | Path, overrides: list[str] | None = None,
             seeds: int | None = None, device: str = "cpu", workers: int = 1,
             stream: str = MAIN_STREAM) -> Estimate:
    """The plan of ``collapselab run NAME --preset PRESET --stream STREAM`` and its estimated time (see the
    module doc; wall times of every stream inform the rate)."""
    exp = get_experiment(name)
    params = resolve_params(exp.params, exp.presets, preset, overrides, seeds)
    cells = {cell_key(c, exp.version): c for c in exp.cells(params)}
    tasks = [(k, r) for k in cells for r in range(params.seeds)]
    db = store_path(out_dir)
    stored_status, history = {}, []
    if db.exists():
        with Store(db) as store:
            stored_status = store.cell_status(name, stream)
            history = store.wall_times(name)
    done = {t for t, s in stored_status.items() if s == "done"}
    missing = [cells[k] for k, r in tasks if (k, r) not in done]
    kind = _device_kind(device if exp.uses_device else "cpu")
    same = [(c, w) for c, w, d in history if _device_kind(d) == kind]
    if not missing:
        return Estimate(name, len(tasks), len(tasks) - len(missing), 0.0, "nothing to run")
    if not same:
        return Estimate(name, len(tasks), len(tasks) - len(missing), None,
                        f"unknown: no stored cell of this experiment on {kind}")
    cost = exp.cell_cost or (lambda _c: 1.0)
    rate = sum(w for _, w in same) / max(sum(cost(c) for c, _ in same), 1e-12)  # seconds per unit of cost
    total = rate * sum(cost(c) for c in missing)
    parallel = max(1, min(workers, len(missing)))
    basis = (f"{len(same)} stored cell(s) on {kind}"
             + (", scaled by the declared cell cost" if exp.cell_cost else ", mean time per cell"))
    params = {cell_key(c, 0) for c, _ in same}  # version 0 on both sides: the parameters alone
    forecast = bool(exp.cell_cost) or any(cell_key(c, 0) in params for c in missing)
    if not forecast:
        basis += " of other parameters: not a forecast for these cells (no declared cell cost)"
    return Estimate(name, len(tasks), len(tasks) - len(missing), total / parallel, basis, forecast)


def format_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    if not math.isfinite(seconds):
        return "inf"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"
