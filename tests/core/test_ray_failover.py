"""Scale-out: a sweep on a local 3-worker Ray instance survives a worker killed (SIGKILL) mid-cell.

Each cell writes ``started-<cell>-<pid>`` when it begins and ``finished-<cell>-<pid>`` when it ends, in a
folder the test watches. A watcher thread waits until one cell has finished (the sweep is under way),
picks a cell that has started and not finished, and SIGKILLs the Ray worker process running it. Ray
retries the task on another worker; the driver stores every cell exactly once.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest
from pydantic import Field

from collapselab.core import Analysis, CellContext, Experiment, Paper, Params, register
from collapselab.core.runner import run_experiment, store_path
from collapselab.core.store import Store

ray = pytest.importorskip("ray", reason="ray is not installed (pip install 'collapselab[ray]')")

N_CELLS, WORKERS, SLEEP = 9, 3, 1.5


class FailoverParams(Params):
    marks: str = Field("", description="folder where cells mark their start and end")
    n_cells: int = Field(N_CELLS, ge=1, description="number of cells")


def cells(p: FailoverParams) -> list[dict]:
    return [{"i": i, "marks": p.marks} for i in range(p.n_cells)]


def run_cell(cell: dict, ctx: CellContext) -> dict:
    marks, pid = Path(cell["marks"]), os.getpid()
    (marks / f"started-{cell['i']}-{pid}").touch()
    time.sleep(SLEEP)
    (marks / f"finished-{cell['i']}-{pid}").touch()
    return {"pid": pid, "value": float(ctx.rng().standard_normal())}


register(Experiment(
    name="failover/sleepy", paper=Paper("failover", "Ray failover test", "-"),
    description="Cells that sleep and mark their start and end (tests only).", params=FailoverParams,
    presets={"smoke": {}, "quick": {}, "full": {}}, cells=cells, run_cell=run_cell,
    analyze=lambda frame, p: Analysis()))


def _marks(folder: Path, kind: str) -> set[tuple[int, int]]:
    return {(int(i), int(pid)) for _, i, pid in (f.name.split("-") for f in folder.glob(f"{kind}-*"))}


def _kill_one_running_worker(folder: Path, killed: list, stop: threading.Event) -> None:
    while not stop.is_set():
        started = {m: (folder / f"started-{m[0]}-{m[1]}").stat().st_mtime for m in _marks(folder, "started")}
        finished = _marks(folder, "finished")  # read after `started`: a cell done by now is excluded
        running = {m: t for m, t in started.items() if m not in finished}
        fresh = [m for m, t in running.items() if time.time() - t < SLEEP / 2]  # well before its end
        if finished and fresh:
            cell, pid = max(fresh, key=running.get)
            os.kill(pid, signal.SIGKILL)
            killed.append((cell, pid))
            return
        time.sleep(0.02)


def _start_ray(workers: int) -> None:
    """A local Ray instance of ``workers`` CPUs; one retry, as its start can time out on a loaded machine."""
    for attempt in range(2):
        try:
            ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
            return
        except Exception:
            ray.shutdown()
            if attempt:
                raise


@pytest.mark.slow
def test_ray_sweep_survives_a_killed_worker(tmp_path):
    # Ray workers unpickle run_cell: ship this test module by value (it is not importable there)
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    marks = tmp_path / "marks"
    marks.mkdir()
    killed: list[tuple[int, int]] = []
    stop = threading.Event()
    watcher = threading.Thread(target=_kill_one_running_worker, args=(marks, killed, stop), daemon=True)
    watcher.start()
    _start_ray(WORKERS)  # the sweep joins this instance (as it would join a cluster)
    try:
        report = run_experiment("failover/sleepy", overrides=[f"marks={marks}"], out_dir=tmp_path / "out",
                                backend="ray", workers=WORKERS)
    finally:
        stop.set()
        watcher.join(timeout=5)
        ray.cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
        ray.shutdown()
    assert killed, "the watcher never saw a running cell to kill"
    cell, pid = killed[0]
    assert report.counts == {"total": N_CELLS, "skipped": 0, "done": N_CELLS, "failed": 0}
    with Store(store_path(tmp_path / "out")) as store:
        rows = store.conn.execute("SELECT cell_key, replicate, status FROM cells WHERE experiment=?",
                                  ("failover/sleepy",)).fetchall()
        frame = store.frame("failover/sleepy")
    assert len(rows) == N_CELLS and len({(k, r) for k, r, _ in rows}) == N_CELLS  # each cell exactly once
    assert all(s == "done" for *_, s in rows)
    assert sorted(frame["i"]) == list(range(N_CELLS))
    # the killed cell really was interrupted, and was rerun by another worker process
    assert (cell, pid) not in _marks(marks, "finished")
    rerun = int(frame.loc[frame["i"] == cell, "pid"].iloc[0])
    assert rerun != pid and (cell, rerun) in _marks(marks, "finished")
    assert len({p for _, p in _marks(marks, "started")}) >= WORKERS  # the sweep used several workers
