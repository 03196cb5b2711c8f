"""Seconds per unit of declared cell cost: the calibration that lets ``--dry-run`` forecast a run that
nothing in the store resembles.

Every experiment declares ``cell_cost(cell)``, a number proportional to the CPU seconds one replicate of
the cell takes on one thread. A calibration measures, per experiment, the rate

    r = sum_i w_i / sum_i cost(c_i)      (seconds per unit of cost)

over the finished CPU cells ``c_i`` of a store (``w_i`` their wall times), i.e. the ratio estimator that
weights each cell by its cost, so the sum of forecasts ``r * cost(c_i)`` over the calibrating cells equals
their measured total exactly. Only cells of the experiment's current ``version`` count (an older version may
cost differently). A forecast of cells ``C`` is then ``r * sum_{c in C} cost(c)``: it is as good as the
cost formula's scaling from the calibrating preset to the forecast one, which the cross-forecast checks
(rate from one preset or stream, forecast of another, and the ratio forecast / measured).

The package ships one calibration, ``collapselab/cell_rates.json``::

    {"machine": "<cpu model> (<n> cores)", "measured": "YYYY-MM-DD",
     "experiments": {"paper/exp": {"version": 3, "cpu_seconds_per_unit": 1.2e-9, "cells": 96,
                                   "preset": "quick"}}}

On CUDA no rate is measured: a torch experiment's forecast is its declared FLOPs at
:data:`CUDA_FLOPS_PER_SECOND` plus :data:`CUDA_SECONDS_PER_CELL` per cell, both stated assumptions.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from collapselab.core.experiment import Experiment
from collapselab.core.jsonfile import read_object, write_atomic
from collapselab.core.store import Store, store_path
from collapselab.core.sweep import cell_key

RATES_PATH = Path(__file__).resolve().parents[1] / "cell_rates.json"

CUDA_FLOPS_PER_SECOND = 5e12
"""Effective FLOP/s assumed for the small models of the torch experiments (MLPs, ConvNets and decoders of a
few thousand to a few million weights, batches of 64-512) on one NVIDIA H100, in bf16 autocast. Not
measured: about 0.5% of the H100's dense bf16 peak (~1e15), because at these sizes kernel launches and
memory traffic, not arithmetic, bound a step. A forecast made with it is an order of magnitude, not a
measurement; replace it by a calibration of stored CUDA cells (a run on CUDA, then ``--dry-run``) as soon as
one exists."""

CUDA_SECONDS_PER_CELL = 2.0
"""Fixed seconds assumed per (cell, replicate) on CUDA besides its FLOPs: data generation, model
construction, host-device copies, evaluation loops in Python. Not measured."""


class RatesError(ValueError):
    """A cell-rates file that cannot be read or written as asked."""


@dataclass(frozen=True)
class Rate:
    """One experiment's calibrated CPU seconds per unit of ``cell_cost`` (at ``version``, from ``cells``
    finished cells of ``preset``)."""

    version: int
    cpu_seconds_per_unit: float
    cells: int
    preset: str

    def __post_init__(self) -> None:
        if not (math.isfinite(self.cpu_seconds_per_unit) and self.cpu_seconds_per_unit > 0):
            raise RatesError(f"cpu_seconds_per_unit must be finite and > 0, got {self.cpu_seconds_per_unit!r}")
        if self.cells < 1:
            raise RatesError(f"a rate needs >= 1 cell, got {self.cells}")


@dataclass(frozen=True)
class CellRates:
    """A calibration: where and when it was measured, and a :class:`Rate` per experiment."""

    machine: str = ""
    measured: str = ""  # ISO date
    experiments: dict[str, Rate] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"machine": self.machine, "measured": self.measured,
                "experiments": {name: {"version": r.version, "cpu_seconds_per_unit": r.cpu_seconds_per_unit,
                                       "cells": r.cells, "preset": r.preset}
                                for name, r in sorted(self.experiments.items())}}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CellRates:
        try:
            rates = {name: Rate(int(r["version"]), float(r["cpu_seconds_per_unit"]), int(r["cells"]),
                                str(r["preset"]))
                     for name, r in data.get("experiments", {}).items()}
            return cls(str(data.get("machine", "")), str(data.get("measured", "")), rates)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise RatesError(f"malformed cell rates ({exc!r})") from None


def read_rates(path: str | Path | None = None) -> CellRates:
    """The calibration in ``path`` (default: the package's ``cell_rates.json``; an absent file is empty)."""
    data = read_object(Path(path) if path is not None else RATES_PATH, RatesError, "cell-rates file")
    return CellRates() if data is None else CellRates.from_dict(data)


def write_rates(rates: CellRates, path: str | Path | None = None, *, force: bool = False) -> Path:
    """Write ``rates`` as JSON to ``path`` (default: the package file, which is the project's and may be
    replaced). An existing file at any other path is a user's and is kept: :class:`RatesError` unless
    ``force``."""
    p = Path(path) if path is not None else RATES_PATH
    if p.exists() and not force and p.resolve() != RATES_PATH.resolve():
        raise RatesError(f"{p} exists; it was left untouched: write to a new file or pass --force")
    return write_atomic(p, rates.to_dict())


@dataclass(frozen=True)
class StoredCell:
    """A finished cell as a calibration sees it."""

    params: dict[str, Any]
    wall: float
    device: str | None
    preset: str
    stream: str
    key: str
    machine: str  # "<cpu model> (<n> cores)" of the run that computed it; "" when not recorded


def _machine(environment: str | None) -> str:
    try:
        env = json.loads(environment or "{}")
    except json.JSONDecodeError:
        return ""
    cpu, count = env.get("cpu", ""), env.get("cpu_count", "")
    return f"{cpu} ({count} cores)" if cpu and count else str(cpu)


def stored_cells(store: Store, experiment: str) -> list[StoredCell]:
    """Every finished cell of ``experiment`` in ``store`` with the preset, stream, device and machine of the
    run that computed it (a cell without its run gets preset "?")."""
    return [StoredCell(params, wall, device, preset, stream, key, _machine(env))
            for params, wall, device, preset, stream, key, env in store.finished_cells(experiment)]


def device_kind(device: str | None) -> str:
    """"cuda:1" and "cuda (NVIDIA H200)" (as runs record them) are both "cuda"; None is "cpu"."""
    return re.match(r"[a-z]*", (device or "cpu").strip().lower()).group(0) or "cpu"


def current_cpu_cells(exp: Experiment, cells: Iterable[StoredCell]) -> list[StoredCell]:
    """The cells computed on a CPU by the experiment's current version (stored key = ``cell_key`` of the
    params at ``exp.version``)."""
    return [c for c in cells if device_kind(c.device) == "cpu" and cell_key(c.params, exp.version) == c.key]


@dataclass(frozen=True)
class GroupFit:
    """Cells of one (preset, stream) group: measured seconds and the seconds forecast by a rate."""

    group: str  # "preset/stream"
    cells: int
    measured: float
    cost: float  # sum of cell_cost

    def forecast(self, rate: float) -> float:
        return rate * self.cost


@dataclass(frozen=True)
class CrossForecast:
    """Rate from group ``source``, forecast of group ``target``: ratio = forecast / measured."""

    source: str
    target: str
    measured: float
    forecast: float

    @property
    def ratio(self) -> float:
        return self.forecast / self.measured if self.measured > 0 else math.inf


@dataclass(frozen=True)
class ExperimentCalibration:
    """One experiment's calibration; ``rate`` None with ``reason`` when it cannot be calibrated."""

    experiment: str
    version: int
    rate: Rate | None
    groups: list[GroupFit]
    cross: list[CrossForecast]
    reason: str = ""

    @property
    def cells(self) -> int:
        return sum(g.cells for g in self.groups)

    @property
    def measured(self) -> float:
        return sum(g.measured for g in self.groups)


def calibrate_experiment(exp: Experiment, cells: Iterable[StoredCell],
                         presets: Iterable[str] | None = None) -> ExperimentCalibration:
    """The rate ``sum(wall) / sum(cell_cost)`` over ``exp``'s current-version CPU cells (of ``presets``,
    default all), per-group fits and every cross-forecast between its (preset, stream) groups."""
    wanted = set(presets) if presets else None
    cpu = [c for c in current_cpu_cells(exp, cells) if wanted is None or c.preset in wanted]
    if exp.cell_cost is None:
        return ExperimentCalibration(exp.name, exp.version, None, [], [], "no declared cell_cost")
    if not cpu:
        return ExperimentCalibration(exp.name, exp.version, None, [], [],
                                     f"no finished CPU cell of version {exp.version}")
    by_group: dict[str, list[StoredCell]] = {}
    for c in cpu:
        by_group.setdefault(f"{c.preset}/{c.stream}", []).append(c)
    groups = [GroupFit(g, len(cs), sum(c.wall for c in cs), sum(float(exp.cell_cost(c.params)) for c in cs))
              for g, cs in sorted(by_group.items())]
    measured, cost = sum(g.measured for g in groups), sum(g.cost for g in groups)
    if not (cost > 0 and measured > 0 and math.isfinite(cost)):
        return ExperimentCalibration(exp.name, exp.version, None, groups, [],
                                     f"total cost {cost:g} or measured time {measured:g} s is not positive")
    cross = [CrossForecast(a.group, b.group, b.measured, b.cost * a.measured / a.cost)
             for a in groups for b in groups if a is not b and a.cost > 0]
    used = ",".join(sorted({c.preset for c in cpu}))
    return ExperimentCalibration(exp.name, exp.version, Rate(exp.version, measured / cost, len(cpu), used),
                                 groups, cross)


@dataclass(frozen=True)
class Calibration:
    """A store's calibration: per experiment, and the :class:`CellRates` it yields."""

    machine: str
    measured: str
    experiments: list[ExperimentCalibration]

    def rates(self) -> CellRates:
        return CellRates(self.machine, self.measured,
                         {e.experiment: e.rate for e in self.experiments if e.rate is not None})


def calibrate(out_dir: str | Path, experiments: Iterable[Experiment], *, presets: Iterable[str] | None = None,
              today: _dt.date | None = None) -> Calibration:
    """Calibrate every experiment in ``experiments`` from the store in ``out_dir`` (opened only if it
    exists; nothing is written). ``machine`` is the most common machine among the calibrating cells' runs."""
    db = store_path(out_dir)
    if not db.exists():
        raise FileNotFoundError(f"no results store in {out_dir} (expected {db})")
    presets = list(presets) if presets else None
    results, machines = [], Counter()
    with Store(db) as store:
        for exp in experiments:
            cells = stored_cells(store, exp.name)
            cal = calibrate_experiment(exp, cells, presets)
            results.append(cal)
            if cal.rate is not None:
                machines.update(c.machine for c in current_cpu_cells(exp, cells) if c.machine)
    machine = machines.most_common(1)[0][0] if machines else ""
    return Calibration(machine, (today or _dt.date.today()).isoformat(), results)
