"""Run one experiment end to end: params -> grid -> store (resume) -> backend -> summarize -> claims, plot.

Interrupt it anywhere and run the same call again: finished cells are in the store and only the
missing ones run. The artifacts of a run go to ``<out_dir>/<experiment>/<run_id>/``.
"""

from __future__ import annotations

import json
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from collapselab.core.claims import ClaimOutcome, Results, evaluate_claims
from collapselab.core.declarations import stamp_declarations
from collapselab.core.environment import run_info
from collapselab.core.experiment import Analysis, Experiment
from collapselab.core.params import Params, resolve_params
from collapselab.core.plotting import save_figure
from collapselab.core.registry import get_experiment
from collapselab.core.store import MAIN_STREAM, STORE_NAME, CellRecord, Store, check_stream, store_path
from collapselab.core.sweep import Task, WorkerPool, cell_key, derive_seed, run_tasks

__all__ = ["STORE_NAME", "Job", "RunInterrupted", "RunReport", "plan", "redraw", "run_experiment", "run_queue",
           "store_path"]


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C during a sweep: pending cells were cancelled; ``saved`` finished cells are in the store."""

    def __init__(self, experiment: str, saved: int, total: int) -> None:
        super().__init__(experiment, saved, total)
        self.experiment, self.saved, self.total = experiment, saved, total

    def __str__(self) -> str:
        return (f"interrupted {self.experiment}: {self.saved} finished cell(s) of this run saved in the store "
                f"({self.total} in the grid); rerun the same command to resume")


class Progress(Protocol):
    def start(self, experiment: str, total: int, skipped: int) -> None: ...
    def advance(self, record: CellRecord) -> None: ...
    def stop(self) -> None: ...


@dataclass
class RunReport:
    experiment: str
    run_id: str
    preset: str
    params: Params
    frame: pd.DataFrame
    claims: list[ClaimOutcome]
    artifact_dir: Path
    counts: dict[str, int]
    failures: list[tuple[str, int, str]] = field(default_factory=list)
    analysis_error: str | None = None
    stream: str = MAIN_STREAM


def plan(experiment: Experiment, params: Params, device: str, stream: str = MAIN_STREAM) -> list[Task]:
    """Every (cell, replicate) of the grid as a task with its seed derived on ``stream``."""
    cells = experiment.cells(params)
    if not isinstance(cells, list) or not all(isinstance(c, dict) for c in cells):
        raise TypeError(f"{experiment.name}: cells() must return a list of dicts")
    tasks, seen = [], set()
    for cell in cells:
        key = cell_key(cell, experiment.version)
        if key in seen:
            continue  # a grid listing the same cell twice runs it once
        seen.add(key)
        for rep in range(params.seeds):
            tasks.append(Task(experiment.name, key, rep, cell, derive_seed(experiment.name, key, rep, stream),
                              device, experiment.run_cell, stream=stream))
    return tasks


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:6]


def run_experiment(name: str, *, preset: str = "smoke", overrides: list[str] | None = None,
                   seeds: int | None = None, out_dir: str | Path = "results", workers: int = 1,
                   backend: str = "local", ray_address: str | None = None, device: str = "cpu",
                   retry_failed: bool = False, progress: Progress | None = None,
                   on_report: Callable[[RunReport], Any] | None = None,
                   pool: WorkerPool | None = None, stream: str = MAIN_STREAM) -> RunReport:
    """Run (or resume) experiment ``name`` and write its artifacts; returns the :class:`RunReport`.

    ``stream`` names the seed stream (default ``main``): every cell's seed is salted with it, so another
    stream runs the same grid on independent randomness, in the same store, without clashing.

    ``pool`` (local backend, ``workers`` > 1): a :class:`~collapselab.core.sweep.WorkerPool` to run the
    cells in, kept by the caller across experiments; without it a pool is started for this run only.

    ``on_report`` (optional) is called with the finished :class:`RunReport` once the store and the
    artifact folder are written: the hook of experiment tracking (:mod:`collapselab.core.tracking`).

    Raises ``ParamError``/``UnknownExperiment``/``StoreError`` for user mistakes, before any work.
    """
    job = Job(name, preset=preset, overrides=overrides, seeds=seeds, device=device, stream=stream,
              retry_failed=retry_failed, sort_by_cost=workers > 1)
    with Store(store_path(out_dir)) as store:
        job.start(store, backend)
        if progress:
            progress.start(name, len(job.tasks), job.counts["skipped"])
        run_queue(job.todo, [job], store, what=name, total=len(job.tasks), backend=backend, workers=workers,
                  ray_address=ray_address, pool=pool, progress=progress)
        report = job.finish(store, out_dir)
    if on_report is not None:
        on_report(report)
    return report


def run_queue(queue: list[Task], jobs: list[Job], store: Store, *, what: str, total: int,
              backend: str = "local", workers: int = 1, ray_address: str | None = None,
              pool: WorkerPool | None = None, progress: Progress | None = None,
              on_done: Callable[[Job], Any] | None = None) -> None:
    """Run the cells of ``queue`` (tasks of the started ``jobs``) and store each in its job as it finishes;
    ``on_done(job)`` once a job's last cell is stored (the workers go on with the queue meanwhile).
    ``progress`` (started by the caller) advances per cell and is stopped at the end. If the queue does not
    finish, every job still open is closed as interrupted in the store; Ctrl-C raises
    :class:`RunInterrupted` naming ``what``, with the cells saved so far out of ``total``."""
    by_run = {(job.name, job.stream): job for job in jobs}
    saved, finished = 0, False
    try:
        try:
            for record in run_tasks(queue, backend=backend, workers=workers, ray_address=ray_address, pool=pool):
                job = by_run[(record.experiment, record.stream)]
                job.put(store, record)
                saved += 1
                if progress:
                    progress.advance(record)
                if job.remaining == 0 and on_done is not None:
                    on_done(job)
        except KeyboardInterrupt:
            raise RunInterrupted(what, saved, total) from None
        finished = True
    finally:
        if progress:
            progress.stop()
        if not finished:
            for job in jobs:
                if job.open:
                    job.interrupt(store)


class Job:
    """One run of one experiment, in steps, so that several runs can share one queue of cells
    (:func:`collapselab.core.reproduce.reproduce`): resolve the parameters and plan the grid (here:
    user mistakes raise before any work), :meth:`start` it in the store (the cells still to run are
    ``todo``), :meth:`put` each finished cell, then :meth:`finish` (summarize, claims, figures,
    artifacts), or :meth:`interrupt`.

    ``sort_by_cost``: ``todo`` starts with the costliest cells (by the experiment's declared
    ``cell_cost``), so that on several workers a short cell, not a long one, ends the sweep.
    """

    def __init__(self, name: str, *, preset: str = "smoke", overrides: list[str] | None = None,
                 seeds: int | None = None, device: str = "cpu", stream: str = MAIN_STREAM,
                 retry_failed: bool = False, sort_by_cost: bool = False):
        self.experiment = get_experiment(name)
        check_stream(stream)
        self.name, self.preset, self.device, self.stream = name, preset, device, stream
        self.retry_failed, self.sort_by_cost = retry_failed, sort_by_cost
        self.params = resolve_params(self.experiment.params, self.experiment.presets, preset, overrides, seeds)
        self.tasks = plan(self.experiment, self.params, device, stream)
        self.todo: list[Task] = []
        self.counts = {"total": len(self.tasks), "skipped": 0, "done": 0, "failed": 0}
        self.run_id = ""
        self.remaining = 0
        self.open = False  # started in a store and not yet finished or interrupted

    def start(self, store: Store, backend: str = "local") -> None:
        """Open the run in ``store``: the cells not stored yet (or failed, with ``retry_failed``) are ``todo``."""
        stored = store.cell_status(self.name, self.stream)
        self.todo = [t for t in self.tasks if (t.cell_key, t.replicate) not in stored
                     or (self.retry_failed and stored[(t.cell_key, t.replicate)] == "failed")]
        if self.experiment.cell_cost is not None and self.sort_by_cost:
            self.todo.sort(key=lambda t: -self.experiment.cell_cost(t.cell))
        self.counts["skipped"] = len(self.tasks) - len(self.todo)
        self.remaining = len(self.todo)
        self.run_id = new_run_id()
        self.open = True
        store.start_run(self.run_id, self.name, self.preset, self.params.model_dump(mode="json"),
                        info=run_info(self.device, backend), stream=self.stream)

    def put(self, store: Store, record: CellRecord) -> None:
        """Store one finished cell of this run."""
        store.put_cell(record, self.run_id)
        self.counts[record.status] += 1
        self.remaining -= 1

    def interrupt(self, store: Store) -> None:
        """Close the run as interrupted (its finished cells stay in the store)."""
        self.open = False
        store.finish_run(self.run_id, status="interrupted", counts=self.counts, claims=[])

    def finish(self, store: Store, out_dir: str | Path) -> RunReport:
        """Analyse the stored cells of the grid, judge the claims, write the artifacts; close the run."""
        self.open = False
        name, tasks, experiment, params = self.name, self.tasks, self.experiment, self.params
        keys = [(t.cell_key, t.replicate) for t in tasks]
        frame = store.frame(name, keys, stream=self.stream)
        failures = [f for f in store.failures(name, self.stream) if (f[0], f[1]) in set(keys)]
        artifact_dir = Path(out_dir) / name / self.run_id
        analysis, analysis_error = _analyze(experiment, frame, params)
        claims = stamp_declarations(experiment, evaluate_claims(experiment.claims,
                                                                Results(frame, params, analysis.tables)))
        analysis_error = _write_artifacts(artifact_dir, experiment, params, self.preset, self.run_id, analysis,
                                          claims, store.artifacts(name, keys, self.stream), self.counts,
                                          analysis_error, self.stream)
        store.finish_run(self.run_id, status="finished" if not analysis_error else "analysis-failed",
                         counts=self.counts, claims=[c.to_dict() for c in claims])
        return RunReport(name, self.run_id, self.preset, params, frame, claims, artifact_dir, self.counts,
                         failures, analysis_error, self.stream)


def _analyze(experiment: Experiment, frame: pd.DataFrame, params: Params) -> tuple[Analysis, str | None]:
    """Tables (``summarize``), then figures (``plot``) from the tables: a plot that raises costs no table."""
    if frame.empty:
        return Analysis(), None
    try:
        analysis = experiment.analysis(frame.copy(), params)
        if not isinstance(analysis, Analysis):
            raise TypeError(f"analyze returned {type(analysis).__name__}, not Analysis")
    except Exception:
        return Analysis(), traceback.format_exc()
    try:
        analysis.figures.update(experiment.figures(analysis.tables, params))
    except Exception:
        return analysis, f"plot failed (tables and claims kept):\n{traceback.format_exc()}"
    return analysis, None


def redraw(experiment: Experiment, run_dir: str | Path) -> list[Path]:
    """Redraw a finished run's figures from its stored tables (``tables/*.csv``) and parameters, without
    rerunning a cell; returns the figure files written into ``run_dir/figures``."""
    run_dir = Path(run_dir)
    meta_file = run_dir / "params.json"
    if not meta_file.is_file():
        raise FileNotFoundError(f"{run_dir} is not a run folder (no params.json)")
    meta = json.loads(meta_file.read_text())
    params = experiment.params.model_validate(meta["params"])
    tables = {f.stem: pd.read_csv(f) for f in sorted((run_dir / "tables").glob("*.csv"))}
    written = []
    for stem, fig in experiment.figures(tables, params).items():
        written += save_figure(fig, run_dir / "figures", stem)
    return written


def _write_artifacts(directory: Path, experiment: Experiment, params: Params, preset: str, run_id: str,
                     analysis: Analysis, claims: list[ClaimOutcome], files: dict[str, bytes],
                     counts: dict[str, int], analysis_error: str | None, stream: str = MAIN_STREAM) -> str | None:
    """Write figures, tables, files, claims.json and params.json; returns the (updated) analysis error."""
    directory.mkdir(parents=True, exist_ok=True)
    for stem, fig in analysis.figures.items():
        try:  # one figure that cannot be drawn must not cost the others, the tables or the claims
            save_figure(fig, directory / "figures", stem)
        except Exception:
            import matplotlib.pyplot as plt

            plt.close(fig)
            error = f"figure {stem!r} could not be saved:\n{traceback.format_exc()}"
            analysis_error = f"{analysis_error}\n{error}" if analysis_error else error
    if analysis.tables:
        (directory / "tables").mkdir(exist_ok=True)
        for stem, table in analysis.tables.items():
            table.to_csv(directory / "tables" / f"{stem}.csv", index=False)
    for fname, data in files.items():
        (directory / Path(fname).name).write_bytes(data)
    (directory / "claims.json").write_text(json.dumps([c.to_dict() for c in claims], indent=2))
    meta: dict[str, Any] = {"experiment": experiment.name, "run_id": run_id, "preset": preset, "stream": stream,
                            "params": params.model_dump(mode="json"), "counts": counts}
    if analysis_error:
        meta["analysis_error"] = analysis_error
        (directory / "analysis_error.txt").write_text(analysis_error)
    (directory / "params.json").write_text(json.dumps(meta, indent=2))
    return analysis_error
