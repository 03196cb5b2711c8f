"""What a run would cost, before it runs (``--dry-run``): cells, how many are stored, a forecast time.

The forecast of the missing (cell, replicate) tasks ``C`` of an experiment takes the first of:

1. **stored cells** of the same experiment and version on the same kind of device (any preset, any
   stream): ``sum(stored wall) / sum(stored cost) * sum_{c in C} cost(c)`` with the declared
   ``cell_cost``; without one, the mean stored seconds per cell times ``|C|``, which is a forecast only
   when stored cells have the parameters of the missing ones (else the basis says "not a forecast");
2. on a CPU, the **declared rate**: the calibrated CPU seconds per unit of cost of
   ``collapselab/cell_rates.json`` (:mod:`collapselab.core.costs`) times ``sum_{c in C} cost(c)``; a
   calibration of another version of the experiment still forecasts, and the basis says so;
3. on CUDA, the **declared FLOPs**: ``sum_{c in C} cell_flops(c) / CUDA_FLOPS_PER_SECOND +
   |C| * CUDA_SECONDS_PER_CELL / min(workers, |C|)`` (assumed rates, stated in
   :mod:`collapselab.core.costs`): the workers share one device, so only the per-cell host overhead is
   spread over them;
4. else "unknown" (a user's experiment with neither stored cells nor a declared, calibrated cost).

Except under rule 3, the time on ``workers`` workers is the one-worker total divided by
``min(workers, |C|)``, or the longest single cell when that is longer (a cell runs on one worker): cells
are otherwise assumed to overlap perfectly, which a grid of very unequal cells does not quite do. Nothing
runs and nothing is written (the store is only read, when it exists).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from collapselab.core.costs import (
    CUDA_FLOPS_PER_SECOND,
    CUDA_SECONDS_PER_CELL,
    CellRates,
    device_kind,
    read_rates,
    stored_cells,
)
from collapselab.core.params import resolve_params
from collapselab.core.registry import get_experiment
from collapselab.core.store import MAIN_STREAM, Store, store_path
from collapselab.core.sweep import cell_key


@dataclass(frozen=True)
class Estimate:
    experiment: str
    cells: int  # (cell, replicate) tasks of the grid
    stored: int  # of them already finished in the store
    seconds: float | None  # forecast wall time of the missing ones on ``workers`` workers; None: unknown
    basis: str  # how the forecast was made
    forecast: bool = True  # False: mean time of stored cells of other parameters (no declared cost)

    @property
    def missing(self) -> int:
        return self.cells - self.stored


def estimate(name: str, *, preset: str, out_dir: str | Path, overrides: list[str] | None = None,
             seeds: int | None = None, device: str = "cpu", workers: int = 1,
             stream: str = MAIN_STREAM, rates: CellRates | None = None) -> Estimate:
    """The plan of ``collapselab run NAME --preset PRESET --stream STREAM --device DEVICE`` and its forecast
    time (see the module doc; wall times of every stream inform the stored rate). ``rates``: the
    calibration to use (default: the package's ``cell_rates.json``)."""
    exp = get_experiment(name)
    params = resolve_params(exp.params, exp.presets, preset, overrides, seeds)
    cells = {cell_key(c, exp.version): c for c in exp.cells(params)}
    tasks = [(k, r) for k in cells for r in range(params.seeds)]
    db = store_path(out_dir)
    stored_status, history = {}, []
    if db.exists():
        with Store(db) as store:
            stored_status = store.cell_status(name, stream)
            history = stored_cells(store, name)
    done = {t for t, s in stored_status.items() if s == "done"}
    missing = [cells[k] for k, r in tasks if (k, r) not in done]
    n_stored = len(tasks) - len(missing)
    if not missing:
        return Estimate(name, len(tasks), n_stored, 0.0, "nothing to run")
    kind = device_kind(device if exp.uses_device else "cpu")
    parallel = max(1, min(workers, len(missing)))
    same = [c for c in history if device_kind(c.device) == kind and cell_key(c.params, exp.version) == c.key]
    if same:
        cost = exp.cell_cost or (lambda _c: 1.0)
        rate = sum(c.wall for c in same) / max(sum(cost(c.params) for c in same), 1e-12)  # s per unit of cost
        costs = [float(cost(c)) for c in missing]
        basis = (f"{len(same)} stored cell(s) on {kind}"
                 + (", scaled by the declared cell cost" if exp.cell_cost else ", mean time per cell"))
        known = {cell_key(c.params, 0) for c in same}  # version 0 on both sides: the parameters alone
        forecast = bool(exp.cell_cost) or any(cell_key(c, 0) in known for c in missing)
        if not forecast:
            basis += " of other parameters: not a forecast for these cells (no declared cell cost)"
        return Estimate(name, len(tasks), n_stored, _wall(rate, costs, parallel), basis, forecast)
    rates = read_rates() if rates is None else rates
    declared = rates.experiments.get(name)
    if kind == "cpu" and exp.cell_cost is not None and declared is not None:
        costs = [float(exp.cell_cost(c)) for c in missing]
        basis = f"declared rate (calibrated {rates.measured} on {rates.machine or 'an unrecorded machine'}, " \
                f"v{declared.version})"
        if declared.version != exp.version:
            basis += f"; the experiment is now v{exp.version}"
        return Estimate(name, len(tasks), n_stored, _wall(declared.cpu_seconds_per_unit, costs, parallel), basis)
    if kind == "cuda" and exp.cell_flops is not None:
        flops = sum(float(exp.cell_flops(c)) for c in missing)
        seconds = flops / CUDA_FLOPS_PER_SECOND + CUDA_SECONDS_PER_CELL * len(missing) / parallel
        basis = (f"declared FLOPs ({flops:.2g}) at an assumed {CUDA_FLOPS_PER_SECOND:.0e} FLOP/s "
                 f"+ {CUDA_SECONDS_PER_CELL:g} s per cell (not measured)")
        return Estimate(name, len(tasks), n_stored, seconds, basis)
    if kind == "cuda":
        why = "no declared cell_flops"
    elif kind != "cpu":
        why = f"no forecast rule for {kind}"
    elif exp.cell_cost is None:
        why = "no declared cell_cost"
    else:
        why = "no calibrated rate in cell_rates.json"
    return Estimate(name, len(tasks), n_stored, None,
                    f"unknown: no stored cell of this experiment on {kind} and {why}")


def _wall(rate: float, costs: list[float], parallel: int) -> float:
    """Seconds on ``parallel`` workers of cells of these costs at ``rate`` seconds per unit: the total
    shared by the workers, or the longest cell when it is longer (one cell runs on one worker)."""
    return rate * max(sum(costs) / parallel, max(costs))


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
