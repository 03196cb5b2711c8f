"""Reproduce everything: run every registered experiment at a preset (resuming), then the report.

``reproduce(out_dir, preset="quick")`` runs the experiments of every paper (or of the papers named in
``only``) as :class:`~collapselab.core.runner.Job` runs (one queue of cells on several workers,
:func:`~collapselab.core.runner.run_experiment` one after another on one), so cells already in the store
are reused and an interrupted reproduction resumes where it stopped. An experiment that crashes (a bug in
its ``cells``, say) is recorded and the others still run. It then writes the static site and
``report.html``, and returns a :class:`Reproduction` whose :meth:`~Reproduction.summary` says, per
paper, how many paper claims PASS, FAIL, are INCONCLUSIVE or ERROR, and how many consistency checks PASS
(counted apart: they never count as reproducing a paper).

``streams=("main", "confirm")`` (``collapselab reproduce --confirm``) runs the whole selection on the
``main`` seed stream and on ``confirm`` (independent seeds, same grid; in one queue with several workers,
main then confirm with one); the summary then gives
the stream-agreement headline of the ledger: claims that PASS (FAIL, ...) on both streams, and those whose
streams differ.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from collapselab.core.claims import STATUSES, ClaimOutcome, headline
from collapselab.core.experiment import Paper
from collapselab.core.ledger import ledger, stream_headline
from collapselab.core.registry import UnknownExperiment, all_experiments
from collapselab.core.report import known_papers, write_report, write_site
from collapselab.core.runner import RunReport, run_experiment
from collapselab.core.store import MAIN_STREAM, check_stream, store_path
from collapselab.core.sweep import WorkerPool


@dataclass
class PaperOutcome:
    paper: Paper
    reports: list[RunReport] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)  # experiment -> last line of its traceback
    stream: str = MAIN_STREAM

    def outcomes(self) -> list[ClaimOutcome]:
        return [c for r in self.reports for c in r.claims]

    def counts(self, kind: str | None = "paper") -> dict[str, int]:
        """Statuses of the paper claims (``kind=None``: of every claim)."""
        return {s: sum(c.status == s and (kind is None or c.kind == kind) for c in self.outcomes())
                for s in STATUSES}

    def sentence(self) -> str:
        """One line in plain words, e.g. ``Strong Model Collapse (strong-collapse): paper claims: 3 PASS,
        1 FAIL, 0 INCONCLUSIVE; consistency checks: 2 of 2 PASS, over 5 experiment(s)``."""
        name = self.paper.short or self.paper.title
        if self.stream != MAIN_STREAM:
            name += f" [stream {self.stream}]"
        n_exp = len(self.reports) + len(self.errors)
        if n_exp == 0:
            return f"{name} ({self.paper.slug}): no experiment registered, nothing to run."
        text = f"{name} ({self.paper.slug}): {headline(self.outcomes())}, over {len(self.reports)} experiment(s)"
        failed_cells = sum(r.counts.get("failed", 0) for r in self.reports)
        if failed_cells:
            text += f"; {failed_cells} cell(s) failed"
        if self.errors:
            text += f"; {len(self.errors)} experiment(s) could not run: " + ", ".join(self.errors)
        return text + "."


@dataclass
class Reproduction:
    preset: str
    papers: list[PaperOutcome]  # one per (stream, paper), streams in the order they ran
    site: Path | None = None
    report: Path | None = None
    agreement: str = ""  # the ledger's stream-agreement headline, when more than one stream ran

    def counts(self, kind: str | None = "paper") -> dict[str, int]:
        """Statuses over all papers (paper claims by default; ``kind=None``: every claim)."""
        return {s: sum(p.counts(kind)[s] for p in self.papers) for s in STATUSES}

    def summary(self) -> str:
        """A plain-language summary: the split headline, then one line per paper."""
        runs = sum(len(p.reports) for p in self.papers)
        outcomes = [o for p in self.papers for o in p.outcomes()]
        lines = [f"Reproduced {runs} experiment(s) of {len(self.papers)} paper(s) at preset {self.preset!r}: "
                 f"{headline(outcomes)}."]
        lines += [f"  {p.sentence()}" for p in self.papers]
        if self.agreement:
            lines.append(f"Across seed streams: {self.agreement}.")
        if self.site:
            lines.append(f"Report site: {self.site}  (single file: {self.report})")
        return "\n".join(lines)


def paper_slugs() -> list[str]:
    """Slugs ``--only`` accepts: the known papers (declared or with registered experiments)."""
    return [p.slug for p in known_papers()]


def check_only(only: list[str] | None) -> list[str] | None:
    """Validate ``--only`` slugs; an unknown one raises :class:`UnknownExperiment` with the valid ones."""
    if not only:
        return None
    import difflib

    valid = paper_slugs()
    for slug in only:
        if slug not in valid:
            close = difflib.get_close_matches(slug, valid, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise UnknownExperiment(f"unknown paper {slug!r}{hint}; valid papers: {', '.join(valid)}")
    return list(dict.fromkeys(only))


def reproduce(out_dir: str | Path = "results", *, preset: str = "quick", only: list[str] | None = None,
              workers: int = 1, backend: str = "local", ray_address: str | None = None, device: str = "cpu",
              retry_failed: bool = False, on_report: Callable[[RunReport], Any] | None = None,
              progress: Callable[[], Any] | None = None,
              on_start: Callable[[str], Any] | None = None,
              streams: tuple[str, ...] = (MAIN_STREAM,)) -> Reproduction:
    """Run (resuming) every experiment of the selected papers at ``preset`` on each seed stream of
    ``streams`` (``main`` and ``confirm`` for a confirmation), then write the report.

    With ``workers`` > 1 the cells of every experiment and stream form one queue, the longest runs first
    (:func:`_one_queue`): each experiment is analysed as soon as its last cell is stored, while the workers
    run the rest; with one worker the experiments run one after another in-process.

    ``progress`` is a factory of progress objects (see :class:`~collapselab.core.runner.Progress`): one per
    experiment with one worker, one for the whole queue otherwise; ``on_start(name)`` is called before each
    experiment's report (with one worker: before it runs); ``on_report`` gets each finished
    :class:`RunReport` (experiment tracking). Experiments whose ``uses_device`` is False run on ``cpu``
    whatever ``device``.
    """
    selected = check_only(only)
    if not streams or len(set(streams)) != len(streams):
        raise ValueError(f"`streams` must name distinct seed streams, got {streams!r}")
    for s in streams:
        check_stream(s)
    experiments = all_experiments()
    papers = [p for p in known_papers() if selected is None or p.slug in selected]
    outcomes = [PaperOutcome(paper, stream=stream) for stream in streams for paper in papers]
    runs = [(outcome, name) for outcome in outcomes for name, exp in experiments.items()
            if exp.paper.slug == outcome.paper.slug]

    def label(outcome: PaperOutcome, name: str) -> str:
        return name if outcome.stream == MAIN_STREAM else f"{name} [stream {outcome.stream}]"

    def device_of(name: str) -> str:
        return device if experiments[name].uses_device else "cpu"

    # one worker pool for the whole reproduction: its processes import torch and the experiments once
    with WorkerPool(workers) if backend == "local" and workers > 1 else nullcontext() as pool:
        if workers > 1:
            _one_queue(runs, out_dir, label=label, device_of=device_of, preset=preset, workers=workers,
                       backend=backend, ray_address=ray_address, retry_failed=retry_failed, pool=pool,
                       progress=progress, on_start=on_start, on_report=on_report)
        else:
            for outcome, name in runs:
                if on_start:
                    on_start(label(outcome, name))
                with _recorded(outcome.errors, name):
                    outcome.reports.append(run_experiment(
                        name, preset=preset, out_dir=out_dir, workers=workers, backend=backend,
                        ray_address=ray_address, device=device_of(name), retry_failed=retry_failed,
                        progress=progress() if progress else None, on_report=on_report, pool=pool,
                        stream=outcome.stream))
    order = {name: i for i, name in enumerate(experiments)}
    for outcome in outcomes:  # registry order, whatever order the runs finished in
        outcome.reports.sort(key=lambda r: order.get(r.experiment, len(order)))
    result = Reproduction(preset, outcomes)
    if len(streams) > 1:
        rows = ledger(out_dir, preset=preset, streams=list(streams))
        result.agreement = stream_headline([r for r in rows if r["experiment"] in experiments
                                            and (selected is None or r["experiment"].split("/")[0] in selected)])
    if store_path(out_dir).exists():
        result.site = write_site(out_dir)
        result.report = write_report(out_dir)
    return result


def _one_queue(runs: list[tuple[PaperOutcome, str]], out_dir: str | Path, *, label: Callable[..., str],
               device_of: Callable[[str], str], preset: str, workers: int, backend: str,
               ray_address: str | None, retry_failed: bool, pool: WorkerPool | None,
               progress: Callable[[], Any] | None, on_start: Callable[[str], Any] | None,
               on_report: Callable[[RunReport], Any] | None) -> None:
    """Run the cells of every (stream, experiment) of ``runs`` as one queue on ``workers`` workers.

    The queue holds the runs longest first (the forecast of their cells: declared ``cell_cost`` x calibrated
    rate, :mod:`collapselab.core.costs`; a cell without a forecast counts as infinite), each run's cells
    together and costliest first, so the workers stay busy to the end instead of waiting on the last cell
    of each experiment in turn, and the short runs fill the end. An experiment is analysed (summaries,
    claims, figures, artifacts) as soon as its last cell is stored, in this process, while the workers go
    on with the queue. Reports land in each run's outcome; an experiment that fails to plan or to analyse
    is recorded in ``outcome.errors``."""
    from collapselab.core.costs import read_rates
    from collapselab.core.runner import Job, run_queue
    from collapselab.core.store import Store

    rates = read_rates().experiments
    jobs: list[tuple[PaperOutcome, Job]] = []
    for outcome, name in runs:
        with _recorded(outcome.errors, name):
            jobs.append((outcome, Job(name, preset=preset, device=device_of(name), stream=outcome.stream,
                                      retry_failed=retry_failed, sort_by_cost=True)))

    def seconds(job: Job, task) -> float:
        exp, rate = job.experiment, rates.get(job.name)
        if exp.cell_cost is None or rate is None or rate.version != exp.version:
            return float("inf")
        return float(exp.cell_cost(task.cell)) * rate.cpu_seconds_per_unit

    def finish(job: Job) -> None:
        outcome = outcome_of[(job.name, job.stream)]
        if on_start:
            on_start(label(outcome, job.name))
        report = None
        with _recorded(outcome.errors, job.name):
            report = job.finish(store, out_dir)
        if report is None:
            return
        outcome.reports.append(report)
        if on_report is not None:
            on_report(report)

    with Store(store_path(out_dir)) as store:
        for _, job in jobs:
            job.start(store, backend)
        outcome_of = {(job.name, job.stream): outcome for outcome, job in jobs}
        # runs longest first (total forecast of their cells), each run's cells together, costliest first: an
        # experiment's per-worker caches (trained generators, prepared corpora) see its cells as in a run of
        # that experiment alone, and the short runs fill the end of the queue
        totals = [sum(seconds(job, t) for t in job.todo) for _, job in jobs]
        queue = [t for i in sorted(range(len(jobs)), key=lambda i: (-totals[i], i)) for t in jobs[i][1].todo]
        total = sum(len(job.tasks) for _, job in jobs)
        bar = progress() if progress else None
        if bar:
            bar.start(f"{len(jobs)} experiment runs", total, total - len(queue))
        for _, job in jobs:  # nothing to run: analyse now
            if not job.todo:
                finish(job)
        run_queue(queue, [job for _, job in jobs], store, what="the reproduction", total=total, backend=backend,
                  workers=workers, ray_address=ray_address, pool=pool, progress=bar,
                  on_done=finish)


@contextmanager
def _recorded(errors: dict[str, str], name: str) -> Iterator[None]:
    """Run the block; if it raises, record the error's last line as ``errors[name]`` so that one broken
    experiment does not stop the others, except errors the user must fix (:func:`_is_user_error`), which
    propagate at once."""
    try:
        yield
    except Exception as exc:
        if _is_user_error(exc):
            raise
        errors[name] = _last_line(exc)


def _last_line(exc: Exception) -> str:
    return traceback.format_exception_only(type(exc), exc)[-1].strip()


def _is_user_error(exc: Exception) -> bool:
    """Errors the user must fix (bad preset, unusable store, tracking refused): stop at once."""
    from collapselab.core.params import ParamError
    from collapselab.core.store import StoreError
    from collapselab.core.tracking import TrackingError

    return isinstance(exc, (ParamError, StoreError, TrackingError))
