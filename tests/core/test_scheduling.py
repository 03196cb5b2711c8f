"""Scheduling of a sweep's tasks: longest declared cost first on several workers; threads per worker."""

from __future__ import annotations

import dataclasses

import toy_experiments  # noqa: F401  (registers toy/*)

from collapselab.core import registry, runner, sweep
from collapselab.core.registry import get_experiment


def _capture(monkeypatch, tmp_path, workers, cost):
    exp = get_experiment("toy/values")
    declared = dataclasses.replace(exp, cell_cost=cost)
    seen: list = []

    def fake_run_tasks(tasks, **kwargs):
        seen.extend(tasks)
        yield from sweep.run_inprocess(tasks)

    monkeypatch.setattr(runner, "get_experiment", lambda name: declared)
    monkeypatch.setattr(runner, "run_tasks", fake_run_tasks)
    runner.run_experiment("toy/values", preset="smoke", out_dir=tmp_path, workers=workers)
    return seen


def test_several_workers_run_the_costliest_cells_first(monkeypatch, tmp_path):
    tasks = _capture(monkeypatch, tmp_path, 2, lambda cell: float(cell["i"]))
    costs = [t.cell["i"] for t in tasks]
    assert costs == sorted(costs, reverse=True) and len(set(costs)) > 1


def test_one_worker_keeps_the_grid_order(monkeypatch, tmp_path):
    tasks = _capture(monkeypatch, tmp_path, 1, lambda cell: float(cell["i"]))
    costs = [t.cell["i"] for t in tasks]
    assert costs == sorted(costs)


def test_thread_limit_follows_the_task(monkeypatch):
    calls = []
    monkeypatch.setattr(sweep, "_THREADS", 0)
    monkeypatch.setattr("threadpoolctl.threadpool_limits", lambda limits: calls.append(limits))
    for n in (1, 1, 2, 2, 1):
        sweep._limit_threads(n)
    assert calls == [1, 2, 1]


def _queue_run(monkeypatch, tmp_path, costs: dict[str, float], streams=("main",)):
    """A reproduction of the toy paper on 2 workers with declared costs per experiment (cells cost i x the
    experiment's unit); returns the events: ("cell", experiment, stream, i) as each record is handed back,
    ("report", label) as each experiment is analysed."""
    from collapselab.core import costs as costs_mod
    from collapselab.core import reproduce as rep

    events: list = []
    rates = {}
    for name, unit in costs.items():
        exp = registry.get_experiment(name)
        monkeypatch.setitem(registry._EXPERIMENTS, name, dataclasses.replace(
            exp, cell_cost=lambda cell, unit=unit: unit * (1 + cell["i"])))
        rates[name] = costs_mod.Rate(exp.version, 1.0, 1, "smoke")
    monkeypatch.setattr(costs_mod, "read_rates", lambda path=None: costs_mod.CellRates("toy", "", rates))

    def fake_run_tasks(tasks, **kwargs):
        for record in sweep.run_inprocess(tasks):
            events.append(("cell", record.experiment, record.stream, record.params["i"]))
            yield record

    monkeypatch.setattr(runner, "run_tasks", fake_run_tasks)  # the queue of reproduce runs in runner.run_queue
    result = rep.reproduce(tmp_path, preset="smoke", only=["toy"], workers=2, streams=streams,
                           on_start=lambda label: events.append(("report", label)))
    return events, result


def test_one_queue_runs_the_longest_runs_first_each_costliest_cell_first(monkeypatch, tmp_path):
    costs = {"toy/values": 1.0, "toy/failing-claim": 10.0, "toy/broken-check": 0.1}
    events, result = _queue_run(monkeypatch, tmp_path, costs, streams=("main", "confirm"))
    cells = [e[1:] for e in events if e[0] == "cell"]
    assert len(cells) == 3 * 3 * 2 and {s for _, s, _ in cells} == {"main", "confirm"}
    runs = list(dict.fromkeys((name, stream) for name, stream, _ in cells))
    assert len(runs) == 6  # each run's cells together
    assert [costs[name] for name, _ in runs] == sorted((costs[n] for n, _ in runs), reverse=True)
    for run in runs:
        i = [i for name, stream, i in cells if (name, stream) == run]
        assert i == sorted(i, reverse=True)
    # every experiment of both streams analysed once, its reports in registry order whatever the finish order
    assert sorted(e[1] for e in events if e[0] == "report") == sorted(
        [*costs, *(f"{n} [stream confirm]" for n in costs)])
    registry_order = [n for n in registry.all_experiments() if n.startswith("toy/")]
    for paper in result.papers:
        assert [r.experiment for r in paper.reports] == registry_order


def test_one_queue_analyses_an_experiment_as_soon_as_its_last_cell_is_stored(monkeypatch, tmp_path):
    events, _ = _queue_run(monkeypatch, tmp_path, {"toy/values": 1.0, "toy/failing-claim": 100.0,
                                                   "toy/broken-check": 0.01})
    first = events.index(("report", "toy/failing-claim"))
    # the costliest experiment's cells run first; it is reported before any other experiment's cell runs
    assert all(e[1] == "toy/failing-claim" for e in events[:first])
    assert any(e[0] == "cell" and e[1] == "toy/values" for e in events[first:])
    # and the stored run reads as finished, with its claims
    from collapselab.core.store import Store, store_path

    with Store(store_path(tmp_path)) as store:
        runs = store.runs()
    assert len(runs) == 3 and set(runs["status"]) <= {"finished", "analysis-failed"}


def test_one_queue_records_a_broken_experiment_and_runs_the_others(monkeypatch, tmp_path):
    def broken_cells(p):
        raise RuntimeError("cells() is broken")

    exp = registry.get_experiment("toy/failing-claim")
    monkeypatch.setitem(registry._EXPERIMENTS, "toy/failing-claim", dataclasses.replace(exp, cells=broken_cells))
    events, result = _queue_run(monkeypatch, tmp_path, {"toy/values": 1.0, "toy/broken-check": 2.0})
    (toy_paper,) = result.papers
    assert "cells() is broken" in toy_paper.errors["toy/failing-claim"]
    assert sorted(r.experiment for r in toy_paper.reports) == ["toy/broken-check", "toy/values"]
    assert not any(e[1] == "toy/failing-claim" for e in events)
