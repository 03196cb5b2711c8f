"""Sweep backends: run cells in-process, in a local process pool, or on Ray; only the driver writes.

A :class:`Task` is one (cell, replicate) with its derived seed. :func:`execute` runs it anywhere and
returns a :class:`~collapselab.core.store.CellRecord` (a failure is a record with its traceback, so the
sweep goes on). The backends yield records as they finish.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from multiprocessing import get_context
from typing import Any

from collapselab._rng import hash_seed
from collapselab.core.experiment import CellContext
from collapselab.core.store import MAIN_STREAM, CellRecord


def cell_key(cell: dict[str, Any], version: int) -> str:
    """Content address of a cell: a hash of its canonical JSON and the experiment's version."""
    try:
        text = json.dumps({"cell": cell, "version": version}, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"cell {cell!r} is not plain JSON ({exc}); cells must be dicts of plain values") from None
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def derive_seed(experiment: str, key: str, replicate: int, stream: str = MAIN_STREAM) -> int:
    """Seed of one (stream, experiment, cell, replicate): stable across machines, runs and backends.

    The ``main`` stream hashes ``experiment|key|replicate`` (the seeds every stored result was computed
    with); any other stream appends ``|stream``, so its seeds are independent of main's and of each other's
    while the grid is the same."""
    extra = () if stream == MAIN_STREAM else (stream,)
    return hash_seed(experiment, key, replicate, *extra, bits=32)


@dataclass(frozen=True)
class Task:
    experiment: str
    cell_key: str
    replicate: int
    cell: dict[str, Any]
    seed: int
    device: str
    run_cell: Callable[[dict[str, Any], CellContext], dict[str, Any]]
    threads: int = 0  # 0: leave the libraries' thread counts alone
    stream: str = MAIN_STREAM


_THREADS = 0  # the thread count this worker process was last limited to (0: never)


def _limit_threads(threads: int) -> None:
    """Limit this worker's BLAS/OpenMP and torch threads to ``threads`` (0: leave them alone)."""
    global _THREADS
    if threads <= 0 or threads == _THREADS:
        return
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=threads)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
    _THREADS = threads


def execute(task: Task) -> CellRecord:
    """Run one task; exceptions become a failed record carrying the traceback."""
    _limit_threads(task.threads)
    ctx = CellContext(seed=task.seed, replicate=task.replicate, device=task.device, stream=task.stream)
    start = time.perf_counter()
    try:
        metrics = dict(task.run_cell(dict(task.cell), ctx))
        artifacts = metrics.pop("artifacts", None)
        json.dumps(metrics, allow_nan=True)  # fail here, with the cell, if a metric is not JSON
        status, error = "done", None
    except Exception:
        metrics, artifacts, status, error = None, None, "failed", traceback.format_exc()
    return CellRecord(task.experiment, task.cell_key, task.replicate, task.cell, task.seed, status, metrics,
                      time.perf_counter() - start, error, artifacts, task.stream)


def run_inprocess(tasks: list[Task]) -> Iterator[CellRecord]:
    for task in tasks:
        yield execute(task)


class WorkerPool:
    """A local process pool of ``workers`` kept across sweeps (e.g. every experiment of a reproduction).

    Spawned workers import torch and the experiment modules once, instead of once per experiment (a few
    seconds each on a small machine). Cells see the same seeds and inputs as in a fresh pool; a worker
    process runs many cells either way. Use as a context manager; a pool whose workers died or were
    stopped is replaced on next use.
    """

    def __init__(self, workers: int) -> None:
        if workers < 2:
            raise ValueError(f"`workers` must be >= 2 for a process pool, got {workers}")
        self.workers = workers
        self._executor: ProcessPoolExecutor | None = None

    def executor(self) -> ProcessPoolExecutor:
        if self._executor is None or getattr(self._executor, "_broken", False):
            self.discard()
            self._executor = ProcessPoolExecutor(max_workers=self.workers, mp_context=get_context("spawn"))
        return self._executor

    def discard(self) -> None:
        """Stop the workers now, without waiting for running cells; the next use starts new ones."""
        if self._executor is not None:
            _terminate_workers(self._executor)
            self._executor.shutdown(wait=False)
            self._executor = None

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc) -> None:
        if exc[0] is None:
            self.close()
        else:
            self.discard()


def run_local(tasks: list[Task], workers: int, pool: WorkerPool | None = None) -> Iterator[CellRecord]:
    """A process pool of ``workers`` (spawned, so torch/OpenMP state is never forked): ``pool``'s when
    given (it must have ``workers`` workers), else one started and shut down for these tasks."""
    if workers <= 1 or len(tasks) <= 1:
        yield from run_inprocess(tasks)
        return
    if pool is not None and pool.workers != workers:
        raise ValueError(f"`pool` has {pool.workers} workers, the sweep asks for {workers}")
    # the cores split over the workers that have a task: a sweep of fewer tasks than workers gives each more
    threads = max(1, (os.cpu_count() or 1) // min(workers, len(tasks)))
    tasks = [Task(**{**t.__dict__, "threads": threads}) for t in tasks]
    executor = (pool.executor() if pool is not None else
                ProcessPoolExecutor(max_workers=min(workers, len(tasks)), mp_context=get_context("spawn")))
    futures = {executor.submit(execute, t): t for t in tasks}
    finished = False
    try:
        pending = set(futures)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                try:
                    yield fut.result()
                except Exception:  # the worker died (e.g. killed): record it, go on
                    t = futures[fut]
                    yield CellRecord(t.experiment, t.cell_key, t.replicate, t.cell, t.seed, "failed", None,
                                     0.0, traceback.format_exc(), stream=t.stream)
        finished = True
    finally:
        if not finished:  # Ctrl-C or the consumer stopped: stop the workers now, do not wait for running
            # cells (the pool then fails the pending futures itself; cancelling them too would race with it)
            if pool is not None:
                pool.discard()
            else:
                _terminate_workers(executor)
                executor.shutdown(wait=False)
        elif pool is None:
            executor.shutdown(wait=True)


def _terminate_workers(pool: ProcessPoolExecutor) -> None:
    """Stop the pool's worker processes at once (their unfinished cells are simply not stored)."""
    for proc in list((getattr(pool, "_processes", None) or {}).values()):
        try:
            proc.terminate()
        except Exception:  # already gone
            pass


def run_ray(tasks: list[Task], workers: int, address: str | None = None) -> Iterator[CellRecord]:
    """Ray tasks (retried by Ray if a worker dies); joins ``address`` or starts a local instance."""
    try:
        import ray
    except ImportError:
        raise RuntimeError("the ray backend needs the 'ray' extra: pip install 'collapselab[ray]'") from None
    started = not ray.is_initialized()
    if started:
        kwargs: dict[str, Any] = {"ignore_reinit_error": True, "include_dashboard": False,
                                  "log_to_driver": False}
        if address:
            kwargs["address"] = address
        else:
            kwargs["num_cpus"] = max(1, workers)
        ray.init(**kwargs)
    remote = ray.remote(num_cpus=1, max_retries=3)(execute)
    try:
        refs = {remote.remote(Task(**{**t.__dict__, "threads": 1})): t for t in tasks}
        pending = list(refs)
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            for ref in done:
                try:
                    yield ray.get(ref)
                except Exception:
                    t = refs[ref]
                    yield CellRecord(t.experiment, t.cell_key, t.replicate, t.cell, t.seed, "failed", None, 0.0,
                                     traceback.format_exc(), stream=t.stream)
    finally:
        if started:
            ray.shutdown()


BACKENDS = ("local", "ray")


def run_tasks(tasks: list[Task], *, backend: str = "local", workers: int = 1,
              ray_address: str | None = None, pool: WorkerPool | None = None) -> Iterator[CellRecord]:
    """Run ``tasks`` on ``backend``; ``pool`` (local backend only) keeps the worker processes across calls."""
    if backend == "local":
        return run_local(tasks, workers, pool)
    if backend == "ray":
        return run_ray(tasks, workers, ray_address)
    raise ValueError(f"`backend` must be one of {BACKENDS}, got {backend!r}")
