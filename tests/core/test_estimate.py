"""Forecasts before a run: the calibration of seconds per unit of declared cell cost (``core.costs``), the
order in which ``estimate`` forecasts (stored cells, then the declared rate, then declared FLOPs on CUDA),
and the declarations every built-in experiment owes it. Stores here are written cell by cell with chosen
wall times, so every figure is exact arithmetic, never a timing."""

import dataclasses
import json
import math

import pytest
import toy_experiments  # noqa: F401  (registers toy/*)

from collapselab.core import costs, registry
from collapselab.core.costs import (
    CUDA_FLOPS_PER_SECOND,
    CUDA_SECONDS_PER_CELL,
    CellRates,
    Rate,
    RatesError,
    calibrate,
    read_rates,
    write_rates,
)
from collapselab.core.declarations import is_builtin
from collapselab.core.estimate import estimate
from collapselab.core.params import PRESETS, resolve_params
from collapselab.core.store import CellRecord, Store, store_path
from collapselab.core.sweep import cell_key

NAME = "toy/values"


def _cost(cell: dict) -> float:
    return cell["scale"] * (1 + cell["i"])


def _flops(cell: dict) -> float:
    return 1e12 * cell["scale"]


@pytest.fixture
def toy(request):
    """toy/values with a declared cost (and FLOPs and uses_device when the test asks); restored after."""
    exp = registry.get_experiment(NAME)
    extra = getattr(request, "param", {})
    registry._EXPERIMENTS[NAME] = dataclasses.replace(exp, cell_cost=_cost, **extra)
    yield registry._EXPERIMENTS[NAME]
    registry._EXPERIMENTS[NAME] = exp


def _store_cells(out, exp, preset: str, *, stream: str = "main", seconds_per_unit: float = 2.0,
                 device: str = "cpu", seeds: int = 1, version: int | None = None,
                 cpu: str = "Toy CPU") -> list[dict]:
    """Write the cells of ``preset`` as finished, each taking ``seconds_per_unit * _cost(cell)`` seconds."""
    params = resolve_params(exp.params, exp.presets, preset, None, seeds)
    cells = exp.cells(params)
    run_id = f"{preset}-{stream}-{device}-{version}"
    with Store(store_path(out)) as store:
        store.start_run(run_id, exp.name, preset, {}, stream=stream,
                        info={"device": device, "environment": {"cpu": cpu, "cpu_count": "2"}})
        for cell in cells:
            for rep in range(seeds):
                store.put_cell(CellRecord(exp.name, cell_key(cell, exp.version if version is None else version),
                                          rep, cell, seed=rep, status="done", metrics={"value": 1.0},
                                          wall_time=seconds_per_unit * _cost(cell), stream=stream), run_id)
        store.finish_run(run_id, status="done", counts={}, claims=[])
    return cells


def test_calibration_round_trip(toy, tmp_path):
    _store_cells(tmp_path, toy, "quick", seconds_per_unit=2.0)  # 6 cells of cost 1..6
    _store_cells(tmp_path, toy, "smoke", stream="probe", seconds_per_unit=4.0)  # 3 cells of cost 1..3
    _store_cells(tmp_path, toy, "smoke", stream="old", seconds_per_unit=100.0, version=toy.version + 7)
    _store_cells(tmp_path, toy, "smoke", stream="gpu", seconds_per_unit=100.0, device="cuda (NVIDIA H100)")
    failing = registry.get_experiment("toy/failing-claim")  # no declared cost: listed, not calibrated
    cal = calibrate(tmp_path, [toy, failing])
    values, other = cal.experiments
    assert other.rate is None and "cell_cost" in other.reason
    assert values.cells == 9 and values.rate.cells == 9  # the old version's and the cuda cells do not count
    assert values.rate.cpu_seconds_per_unit == pytest.approx((2 * 21 + 4 * 6) / (21 + 6))
    assert values.rate.preset == "quick,smoke" and values.rate.version == toy.version
    assert cal.machine == "Toy CPU (2 cores)"
    cross = {(c.source, c.target): c for c in values.cross}
    assert cross[("quick/main", "smoke/probe")].ratio == pytest.approx(0.5)  # 2 s/unit forecasting 4 s/unit
    assert cross[("smoke/probe", "quick/main")].ratio == pytest.approx(2.0)
    assert cross[("quick/main", "smoke/probe")].measured == pytest.approx(24.0)
    quick_only = calibrate(tmp_path, [toy], presets=["quick"]).experiments[0]
    assert quick_only.rate.cpu_seconds_per_unit == pytest.approx(2.0) and quick_only.cross == []

    path = write_rates(cal.rates(), tmp_path / "rates.json")
    back = read_rates(path)
    assert back == cal.rates() and set(back.experiments) == {NAME}
    assert json.loads(path.read_text())["experiments"][NAME]["cells"] == 9


def test_writing_rates_keeps_a_users_file(tmp_path, monkeypatch):
    rates = CellRates("m", "2026-12-07", {NAME: Rate(1, 0.5, 3, "quick")})
    mine = tmp_path / "mine.json"
    mine.write_text("{}")
    with pytest.raises(RatesError, match="left untouched"):
        write_rates(rates, mine)
    assert mine.read_text() == "{}"
    assert read_rates(write_rates(rates, mine, force=True)) == rates
    package = tmp_path / "package" / "cell_rates.json"
    package.parent.mkdir()
    package.write_text("{}")
    monkeypatch.setattr(costs, "RATES_PATH", package)  # the project's own file is replaced without --force
    assert read_rates(write_rates(rates)) == rates
    with pytest.raises(RatesError):
        Rate(1, math.nan, 3, "quick")
    bad = tmp_path / "bad.json"
    bad.write_text('{"experiments": {"x": {"version": 1}}}')
    with pytest.raises(RatesError, match="malformed"):
        read_rates(bad)


@pytest.mark.parametrize("toy", [{"cell_flops": _flops, "uses_device": True}], indirect=True)
def test_estimate_order_stored_then_declared_rate_then_flops(toy, tmp_path):
    quick = resolve_params(toy.params, toy.presets, "quick", None, None)  # 6 cells x 2 seeds
    cost = sum(_cost(c) for c in toy.cells(quick)) * quick.seeds
    rates = CellRates("Toy CPU (2 cores)", "2026-12-07", {NAME: Rate(toy.version, 3.0, 12, "quick")})
    empty = tmp_path / "empty"

    declared = estimate(NAME, preset="quick", out_dir=empty, rates=rates, workers=2)
    assert declared.seconds == pytest.approx(3.0 * cost / 2) and declared.missing == 12
    assert declared.basis == f"declared rate (calibrated 2026-12-07 on Toy CPU (2 cores), v{toy.version})"
    longest = max(_cost(c) for c in toy.cells(quick))
    assert longest > cost / 12  # unequal cells: on 12 workers the longest cell is the wall time
    wide = estimate(NAME, preset="quick", out_dir=empty, rates=rates, workers=12)
    assert wide.seconds == pytest.approx(3.0 * longest)

    old = CellRates("m", "2026-12-01", {NAME: Rate(toy.version - 1, 3.0, 12, "quick")})
    stale = estimate(NAME, preset="quick", out_dir=empty, rates=old)
    assert stale.seconds == pytest.approx(3.0 * cost) and f"now v{toy.version}" in stale.basis

    cuda = estimate(NAME, preset="quick", out_dir=empty, rates=rates, device="cuda", workers=1)
    flops = 12 * 1e12  # scale 1, 12 tasks
    assert cuda.seconds == pytest.approx(flops / CUDA_FLOPS_PER_SECOND + 12 * CUDA_SECONDS_PER_CELL)
    assert "declared FLOPs" in cuda.basis and "not measured" in cuda.basis
    shared = estimate(NAME, preset="quick", out_dir=empty, rates=rates, device="cuda", workers=4)
    assert shared.seconds == pytest.approx(flops / CUDA_FLOPS_PER_SECOND + 12 * CUDA_SECONDS_PER_CELL / 4)

    nothing = estimate(NAME, preset="quick", out_dir=empty, rates=CellRates())
    assert nothing.seconds is None and "no calibrated rate" in nothing.basis

    _store_cells(tmp_path, toy, "smoke", seconds_per_unit=5.0)  # stored CPU cells beat the declared rate
    stored = estimate(NAME, preset="quick", out_dir=tmp_path, rates=rates, stream="probe")
    assert stored.seconds == pytest.approx(5.0 * cost) and stored.basis.startswith("3 stored cell(s) on cpu")
    assert estimate(NAME, preset="quick", out_dir=tmp_path, rates=rates, device="cuda",
                    stream="probe").basis == cuda.basis  # CPU cells say nothing of the GPU
    _store_cells(tmp_path, toy, "smoke", stream="gpu", seconds_per_unit=0.5, device="cuda (NVIDIA H100)")
    on_gpu = estimate(NAME, preset="quick", out_dir=tmp_path, rates=rates, device="cuda:0", stream="probe")
    assert on_gpu.seconds == pytest.approx(0.5 * cost) and on_gpu.basis.startswith("3 stored cell(s) on cuda")


def test_unknown_only_without_cost_or_stored_cells(tmp_path):
    plain = estimate(NAME, preset="quick", out_dir=tmp_path, rates=CellRates(), device="cuda")
    assert plain.seconds is None and "no declared cell_cost" in plain.basis  # toy ignores the device


def _builtins():
    return [e for e in registry.all_experiments().values() if is_builtin(e)]


def test_every_builtin_declares_its_cell_cost_and_flops():
    """Every built-in experiment forecasts: a finite positive cost on every cell of every preset, and for a
    torch experiment finite positive FLOPs too."""
    missing, bad = [], []
    for exp in _builtins():
        if exp.cell_cost is None or (exp.uses_device and exp.cell_flops is None):
            missing.append(exp.name)
            continue
        for preset in PRESETS:
            for cell in exp.cells(resolve_params(exp.params, exp.presets, preset, None, None)):
                for what, fn in (("cell_cost", exp.cell_cost), ("cell_flops", exp.cell_flops)):
                    if fn is None:
                        continue
                    value = float(fn(cell))
                    if not (math.isfinite(value) and value > 0):
                        bad.append(f"{exp.name} {preset} {what}={value}")
                        break
    assert not missing, f"experiments without cell_cost (or cell_flops for torch): {missing}"
    assert not bad, bad


def test_every_builtin_has_a_calibrated_rate():
    rates = read_rates()
    absent = [e.name for e in _builtins() if e.name not in rates.experiments]
    assert not absent, f"no calibrated rate in cell_rates.json (collapselab calibrate --write): {absent}"
    assert rates.machine and rates.measured


@pytest.mark.slow
def test_forecast_table_script_lists_every_builtin_sorted_by_claims_per_gpu_minute(tmp_path):
    """scripts/forecast_table.py: one row per built-in experiment (plus the total), sorted by paper claims per
    GPU-minute at full, with a rate file whose one rate turns that experiment's CPU forecast from unknown
    into a time."""
    import importlib.util
    import re
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "scripts" / "forecast_table.py"
    spec = importlib.util.spec_from_file_location("forecast_table", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    exp = next(e for e in _builtins() if e.cell_cost is not None)
    rates = tmp_path / "rates.json"
    write_rates(CellRates("Toy CPU (2 cores)", "2026-12-07", {exp.name: Rate(exp.version, 1e-6, 1, "quick")}),
                rates)
    text = module.table(workers=2, cuda_workers=1, rates_path=rates)
    rows = [ln for ln in text.splitlines() if ln.startswith("| `")]
    assert len(rows) == len(_builtins()) and "calibrated 2026-12-07 on Toy CPU (2 cores)" in text
    row = next(r for r in rows if f"`{exp.name}`" in r)
    assert row.split("|")[3].strip() != "unknown"  # quick, CPU
    per = [r.split("|")[7].strip() for r in rows]
    known = [float(p) for p in per if p != "-"]
    assert known == sorted(known, reverse=True) and per == [f"{k:.2g}" for k in known] + ["-"] * per.count("-")
    assert re.search(r"^\| all \d+ \|", text.splitlines()[-1])
