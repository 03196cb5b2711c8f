"""Scheduling of a sweep's tasks: longest declared cost first on several workers; threads per worker."""

from __future__ import annotations

import dataclasses

import toy_experiments  # noqa: F401  (registers toy/*)

from collapselab.core import runner, sweep
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
