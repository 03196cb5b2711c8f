"""The ``collapselab`` command line: list, show, run, reproduce, claims, plot, report,
calibrate.

User mistakes (unknown experiment or key, bad value, unusable results folder) print one line on
stderr and exit with status 2; ``--strict`` makes a FAIL or ERROR claim exit with status 1; Ctrl-C
cancels pending cells at once, says how many finished cells were saved and exits with status 130.
"""

from __future__ import annotations

import functools
import inspect
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from collapselab import __version__

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Model collapse, verification and robustness: nine papers as resumable experiments "
                       "with checked claims.")
# Piped or captured output gets a wide console, so names and figures are never cut to 80 columns.
console = Console(width=None if sys.stdout.isatty() else 240)
# typer >= 0.20 vendors click; its UsageError is the parent of typer.BadParameter either way
_UsageError = typer.BadParameter.__mro__[1]
STATUS_STYLE = {"PASS": "green", "FAIL": "red", "INCONCLUSIVE": "yellow", "ERROR": "bold white on red",
                "not run": "dim", "DIFFER": "bold magenta"}
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON (whole names, for scripts)")]


class UserError(Exception):
    """A mistake of the user's: reported in one line, exit status 2."""


class Interrupted(Exception):
    """Ctrl-C during a command: reported in one line, exit status 130. (A plain exception, so that typer,
    which turns KeyboardInterrupt into a silent exit, lets the message through.)"""


@contextmanager
def _interruptible() -> Iterator[None]:
    from collapselab.core.runner import RunInterrupted

    try:
        yield
    except KeyboardInterrupt as exc:
        raise Interrupted(str(exc) if isinstance(exc, RunInterrupted)
                          else "interrupted (finished cells are saved; rerun to resume)") from None


def _version(value: bool) -> None:
    if value:
        console.print(f"collapselab {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                                help="Print the version and exit.")] = False) -> None:
    """collapselab: run `collapselab list` to see the experiments."""


@app.command("list")
def list_cmd(as_json: JsonOpt = False) -> None:
    """List the registered experiments, by paper (whole names, also when piped)."""
    from collapselab.core.registry import all_experiments

    rows = [{"experiment": name, "paper": exp.paper.slug, "arxiv": exp.paper.arxiv,
             "paper_claims": sum(c.kind == "paper" for c in exp.claims),
             "consistency_checks": sum(c.kind == "consistency" for c in exp.claims),
             "description": exp.description.split(". ")[0].rstrip(".") + "."}
            for name, exp in all_experiments().items()]
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    if not sys.stdout.isatty():  # piped: one whole line per experiment, never cut to a terminal width
        for r in rows:
            print(f"{r['experiment']}\t{r['paper']}\t{r['paper_claims']}+{r['consistency_checks']}\t"
                  f"{r['description']}")
        return
    table = Table("experiment", "paper", "claims (paper+consistency)", "description")
    for r in rows:
        table.add_row(r["experiment"], f"{r['paper']} ({r['arxiv']})",
                      f"{r['paper_claims']}+{r['consistency_checks']}", r["description"])
        table.columns[0].no_wrap = True
    console.print(table)


@app.command("show")
def show_cmd(experiment: Annotated[str, typer.Argument(help="paper-slug/experiment")]) -> None:
    """Show an experiment: description, parameters with presets, claims."""
    from collapselab.core.registry import get_experiment

    exp = _user(get_experiment, experiment)
    console.print(f"[bold]{exp.name}[/] - {exp.paper.title} (arXiv {exp.paper.arxiv})\n{exp.description}\n")
    table = Table("parameter", "type", "default", *exp.presets, "description")
    for key, field in exp.params.model_fields.items():
        ann = getattr(field.annotation, "__name__", None) or str(field.annotation).replace("typing.", "")
        table.add_row(key, ann, repr(field.default),
                      *(repr(exp.presets[p].get(key, "")) if key in exp.presets[p] else "" for p in exp.presets),
                      field.description or "")
    console.print(table)
    from collapselab.core.declarations import read_lock

    lock = read_lock()
    claims = Table("claim", "kind", "version", "statement", "source", "test")
    for c in exp.claims:
        claims.add_row(c.id, c.kind, lock.get(exp, c).label(), c.statement, c.source, c.test)
    console.print(claims)


@app.command("claims")
def claims_cmd(
    out: Annotated[list[Path] | None, typer.Option(help="results folder whose latest verdicts are shown "
                                                        "(default: results); repeatable: each experiment's "
                                                        "latest run per stream over all the folders")] = None,
    preset: Annotated[list[str] | None, typer.Option(help="only verdicts of runs at this preset; with --format md "
                                                          "repeatable: the first preset's ledger, then a "
                                                          "section per further preset")] = None,
    stream: Annotated[list[str] | None, typer.Option(help="seed stream(s) to read, repeatable (default: every "
                                                          "stream in OUT, main first)")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table, md or json")] = "table",
    as_json: JsonOpt = False,
) -> None:
    """The claims ledger: every claim with source, kind, declared test, its declaration's version and
    history, and its latest verdict on each seed stream in OUT (DIFFER where the streams disagree)."""
    from collapselab.core.ledger import ledger, preset_section, stream_headline, to_markdown
    from collapselab.core.store import store_path

    out = out or [Path("results")]
    if len(out) > 1:
        for folder in out:
            if not store_path(folder).is_file():
                raise UserError(f"--out {folder}: no results store there ({store_path(folder).name})")
    if as_json:
        fmt = "json"
    if fmt not in ("table", "md", "json"):
        raise UserError(f"--format must be table, md or json, got {fmt!r}")
    presets = preset or [None]
    if len(presets) > 1 and fmt != "md":
        raise UserError("several --preset values need --format md (one section per preset)")
    rows = _user(ledger, out, preset=presets[0], streams=stream)
    if fmt == "json":
        print(json.dumps(rows, indent=2))
    elif fmt == "md":
        print(to_markdown(rows))
        for other in presets[1:]:
            print(preset_section(_user(ledger, out, preset=other, streams=stream), other))
    else:
        names = list(dict.fromkeys(s for r in rows for s in r["streams"]))
        table = Table("experiment", "claim", "kind", "version", *names, "measured", title="claims ledger")
        for r in rows:
            verdicts = [r["streams"][s]["status"] for s in names]
            table.add_row(r["experiment"], r["id"], r["kind"], r["restated"] or f"v{r['version']}",
                          *(f"[{STATUS_STYLE[v]}]{v}[/]" for v in verdicts),
                          r["measured"] + (f" ({r['needs']})" if r["needs"] else ""))
        console.print(table)
        console.print(stream_headline(rows), highlight=False)


@app.command("lock")
def lock_cmd(
    restate: Annotated[str | None, typer.Option(help="record a new version of EXPERIMENT:CLAIM (its declaration "
                                                     "changed)")] = None,
    reason: Annotated[str, typer.Option(help="with --restate: one line, what changed and why")] = "",
    verdict: Annotated[str | None, typer.Option(help="with --restate: the old version's verdict at quick "
                                                     "(default: read from OUT's main stream)")] = None,
    old_id: Annotated[str, typer.Option(help="with --restate: the claim's id before a rename")] = "",
    add_new: Annotated[bool, typer.Option(help="record every claim the record lacks as version 1")] = False,
    drop_removed: Annotated[bool, typer.Option(help="forget recorded claims no longer registered")] = False,
    out: Annotated[Path, typer.Option(help="results folder to read the old verdict from")] = Path("results"),
    path: Annotated[Path | None, typer.Option(help="the record file (default: the package's claims.lock)")] = None,
) -> None:
    """Check the claims record (claims.lock) against the registered claims, or update it. Without options it
    lists every claim whose declaration changed without a history entry, or is new, and exits 1 if any."""
    from collapselab.core import declarations as dec
    from collapselab.core.registry import all_experiments

    experiments = all_experiments()
    builtin = [e for e in experiments.values() if dec.is_builtin(e)] if path is None else list(experiments.values())
    lock = _user(dec.read_lock, path)
    if restate:
        exp_name, _, claim_id = restate.rpartition(":")
        exp = experiments.get(exp_name)
        claim = next((c for c in exp.claims if c.id == claim_id), None) if exp else None
        if claim is None:
            raise UserError(f"--restate {restate!r}: no registered claim of that name (EXPERIMENT:CLAIM)")
        if not reason.strip():
            raise UserError("--restate needs --reason (one line: what changed and why)")
        old = verdict or _stored_verdict(out, exp_name, old_id or claim_id)
        if old not in dec.VERDICTS:
            raise UserError(f"--verdict must be one of {', '.join(dec.VERDICTS)}, got {old!r}")
        try:
            new = dec.restate(lock, exp, claim, reason=reason, verdict=old, old_id=old_id)
        except dec.LockError as exc:
            raise UserError(str(exc)) from None
        console.print(f"{restate}: {new.label()}", highlight=False)
    if add_new:
        for key in dec.add_new(lock, builtin):
            console.print(f"{key}: recorded as v1", highlight=False)
    drifts = dec.check(builtin, lock)
    if drop_removed:
        for d in [d for d in drifts if d.what == "removed"]:
            lock.claims.pop(d.key)
            console.print(f"{d.key}: dropped from the record", highlight=False)
        drifts = [d for d in drifts if d.what != "removed"]
    if restate or add_new or drop_removed:
        dec.write_lock(lock, path)
    for d in drifts:
        console.print(str(d), highlight=False, soft_wrap=True)
    if drifts:
        raise typer.Exit(1)
    console.print(f"claims record up to date: {len(lock.claims)} claim(s)")


def _stored_verdict(out: Path, experiment: str, claim_id: str) -> str:
    """The verdict of ``claim_id`` in the latest quick run on the main stream in ``out``."""
    from collapselab.core.store import Store, store_path

    if not store_path(out).exists():
        raise UserError(f"no results in {out} to read the old verdict from: give --verdict")
    with Store(store_path(out)) as store:
        run = store.latest_run(experiment, preset="quick")
    got = {c["id"]: c["status"] for c in json.loads(run["claims"] or "[]")} if run else {}
    if claim_id not in got:
        raise UserError(f"no quick verdict of {experiment}:{claim_id} in {out}: give --verdict")
    return got[claim_id]


@app.command("plot")
def plot_cmd(
    experiment: Annotated[str, typer.Argument(help="paper-slug/experiment")],
    out: OutOpt = Path("results"),
    run_id: Annotated[str | None, typer.Option("--run", help="run id (default: the latest finished run)")] = None,
    stream: Annotated[str, typer.Option(help="seed stream whose latest run is redrawn")] = "main",
) -> None:
    """Redraw a finished run's figures from its stored tables, without rerunning anything."""
    from collapselab.core.registry import get_experiment
    from collapselab.core.runner import redraw
    from collapselab.core.store import Store, store_path

    exp = _user(get_experiment, experiment)
    if run_id is None:
        if not store_path(out).exists():
            raise UserError(f"no results in {out}; run {experiment} first")
        with Store(store_path(out)) as store:
            run = store.latest_run(experiment, stream=stream)
        if run is None:
            raise UserError(f"no finished run of {experiment} on stream {stream!r} in {out}")
        run_id = run["run_id"]
    files = _user(redraw, exp, out / experiment / run_id)
    console.print(f"redrew {len(files)} file(s) in {out / experiment / run_id / 'figures'}")


class _RichProgress:
    def __init__(self) -> None:
        self.progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("[red]{task.fields[failed]} failed"), TimeElapsedColumn(),
                                 TextColumn("eta"), TimeRemainingColumn(), console=console, transient=False)
        self.task = None

    def start(self, experiment: str, total: int, skipped: int) -> None:
        if skipped:
            console.print(f"{experiment}: {skipped} of {total} cells already in the store, "
                          f"running {total - skipped}")
        self.progress.start()
        self.task = self.progress.add_task(experiment, total=total, completed=skipped, failed=0)

    def advance(self, record) -> None:
        failed = self.progress.tasks[0].fields["failed"] + (record.status == "failed")
        self.progress.update(self.task, advance=1, failed=failed)

    def stop(self) -> None:
        self.progress.stop()


# Options shared by `run` and `reproduce`, declared once.
WorkersOpt = Annotated[int | None, typer.Option(help="parallel workers (default: cores; 1 = in-process)")]
BackendOpt = Annotated[str, typer.Option(help="local or ray")]
RayAddressOpt = Annotated[str | None, typer.Option(help="join an existing Ray cluster at this address")]
DeviceOpt = Annotated[str, typer.Option(help="torch device for experiments that use one: cpu, cuda, cuda:1")]
OutOpt = Annotated[Path, typer.Option(help="results folder (holds collapselab.sqlite and artifacts)")]
StrictOpt = Annotated[bool, typer.Option(help="exit with status 1 if any claim FAILs")]
RetryOpt = Annotated[bool, typer.Option(help="rerun cells that failed in earlier runs")]
TrackOpt = Annotated[str | None, typer.Option(help="log each run to an experiment tracker: mlflow")]
TrackingUriOpt = Annotated[str | None, typer.Option(
    help="MLflow tracking URI (default: sqlite store in OUT/mlruns, or $MLFLOW_TRACKING_URI)")]
DryRunOpt = Annotated[bool, typer.Option(help="print the plan (cells, stored, estimated time) and run nothing")]
StreamOpt = Annotated[str, typer.Option(help="seed stream: every cell's seed is salted with it, so another "
                                             "stream runs the same grid on independent seeds (default main)")]


@dataclass(frozen=True)
class SweepOptions:
    """How `run` and `reproduce` sweep: backend, workers, device, results folder, tracking, strictness."""

    workers: WorkersOpt = None
    backend: BackendOpt = "local"
    ray_address: RayAddressOpt = None
    device: DeviceOpt = "cpu"
    out: OutOpt = Path("results")
    strict: StrictOpt = False
    retry_failed: RetryOpt = False
    track: TrackOpt = None
    tracking_uri: TrackingUriOpt = None
    dry_run: DryRunOpt = False
    stream: StreamOpt = "main"

    @property
    def n_workers(self) -> int:
        return self.workers or os.cpu_count() or 1


def _sweep_command(command: Callable[..., None]) -> Callable[..., None]:
    """A command taking ``sweep: SweepOptions`` gets the fields of :class:`SweepOptions` as its command-line
    options (after its own, in field order; typer reads the signature) and receives them as one object."""
    own = [p for p in inspect.signature(command, eval_str=True).parameters.values() if p.name != "sweep"]
    hints = inspect.get_annotations(SweepOptions, eval_str=True)
    shared = [inspect.Parameter(f, inspect.Parameter.KEYWORD_ONLY, default=getattr(SweepOptions, f),
                                annotation=hints[f]) for f in SweepOptions.__dataclass_fields__]

    @functools.wraps(command)
    def wrapper(**kwargs) -> None:
        sweep = SweepOptions(**{p.name: kwargs.pop(p.name) for p in shared})
        return command(**kwargs, sweep=sweep)

    wrapper.__signature__ = inspect.Signature(own + shared)  # type: ignore[attr-defined]
    return wrapper


@app.command("run")
@_sweep_command
def run_cmd(
    experiments: Annotated[list[str], typer.Argument(help="one or more paper-slug/experiment names")],
    preset: Annotated[str, typer.Option(help="smoke (seconds), quick (minutes on a CPU) or full")] = "quick",
    set_: Annotated[list[str] | None, typer.Option("--set", help="override a parameter: key=value "
                                                               "(lists comma-separated); repeatable")] = None,
    seeds: Annotated[int | None, typer.Option(help="Monte Carlo replicates per cell")] = None,
    *, sweep: SweepOptions,
) -> None:
    """Run (or resume) experiments, then print their claims."""
    from collapselab.core.registry import get_experiment
    from collapselab.core.runner import run_experiment
    from collapselab.core.sweep import WorkerPool

    o = sweep
    _check_sweep_options(o.backend, o.workers, o.device, o.ray_address, o.stream, o.dry_run)
    if seeds is not None and seeds < 1:
        raise UserError(f"--seeds must be >= 1, got {seeds}")
    for name in experiments:  # every name is checked before any work starts
        _user(get_experiment, name)
    if o.dry_run:
        _print_plan(experiments, preset=preset, overrides=set_ or [], seeds=seeds, out=o.out, device=o.device,
                    workers=o.n_workers, streams=(o.stream,))
        return
    tracker = _tracker(o.track, o.out, o.tracking_uri)
    any_fail = False
    with WorkerPool(o.n_workers) if o.backend == "local" and o.n_workers > 1 else nullcontext() as pool:
        for name in experiments:  # one pool: its workers import torch and the experiments once
            with _interruptible():
                report = _user(run_experiment, name, preset=preset, overrides=set_ or [], seeds=seeds,
                               out_dir=o.out, workers=o.n_workers, backend=o.backend, ray_address=o.ray_address,
                               device=o.device, retry_failed=o.retry_failed, progress=_RichProgress(),
                               on_report=tracker, pool=pool, stream=o.stream)
            _print_report(report)
            any_fail |= any(c.status in ("FAIL", "ERROR") for c in report.claims)
    if tracker is not None:
        console.print(f"tracked {len(tracker.logged)} run(s) in MLflow at {tracker.uri}")
    if o.strict and any_fail:
        raise typer.Exit(1)


def _print_plan(names: list[str], *, preset: str, overrides: list[str], seeds: int | None, out: Path,
                device: str, workers: int, streams: tuple[str, ...] = ("main",)) -> None:
    """The ``--dry-run`` table: per experiment and seed stream, cells, stored, to run and the forecast time;
    then the total per stream: each run's cell time spread over ``workers`` (``reproduce`` keeps the workers
    busy across experiments with one queue; a lone ``run`` may end on fewer busy workers)."""
    from collapselab.core.costs import RatesError, read_rates
    from collapselab.core.estimate import estimate, format_seconds
    from collapselab.core.registry import get_experiment

    try:
        rates = read_rates()
    except RatesError as exc:
        raise UserError(str(exc)) from None
    table = Table("experiment", "stream", "device", "cells", "stored", "to run", "forecast time", "basis",
                  title=f"plan at preset {preset} on {workers} worker(s) (nothing runs)")
    per_stream = dict.fromkeys(streams, 0.0)
    unknown, guessed = 0, 0
    for stream, name in ((s, n) for s in streams for n in names):
        exp = get_experiment(name)
        dev = device if exp.uses_device else "cpu"
        est = _user(estimate, name, preset=preset, out_dir=out, overrides=overrides, seeds=seeds, device=dev,
                    workers=workers, stream=stream, rates=rates)
        table.add_row(name, stream, dev, str(est.cells), str(est.stored), str(est.missing),
                      format_seconds(est.seconds), est.basis)
        if est.seconds is None:
            unknown += 1
        else:
            per_stream[stream] += est.seconds
            guessed += not est.forecast
    console.print(table)
    split = ", ".join(f"{s} {format_seconds(t)}" for s, t in per_stream.items())
    console.print(f"forecast total on {workers} worker(s)"
                  + (f": {format_seconds(sum(per_stream.values()))} ({split})" if len(streams) > 1
                     else f", stream {split.replace(' ', ': ', 1)}")
                  + (f" plus {unknown} experiment run(s) of unknown cost" if unknown else "")
                  + (f"; {guessed} experiment run(s) scaled from cells of other parameters, not a forecast"
                     if guessed else ""))


@app.command("calibrate")
def calibrate_cmd(
    out: Annotated[Path, typer.Option(help="results folder whose finished CPU cells calibrate the rates")] = Path(
        "results"),
    preset: Annotated[list[str] | None, typer.Option(help="calibrate from cells of this preset only; "
                                                          "repeatable (default: every preset)")] = None,
    write: Annotated[bool, typer.Option(help="write the rates (default: only print them)")] = False,
    to: Annotated[Path | None, typer.Option(help="file to write with --write (default: the package's "
                                                 "cell_rates.json, which --dry-run reads)")] = None,
    force: Annotated[bool, typer.Option(help="replace an existing file given with --to")] = False,
) -> None:
    """Seconds per unit of declared cell cost, per experiment, from a store's finished CPU cells; with
    --write, the rates that --dry-run forecasts with."""
    from collapselab.core.costs import RATES_PATH, RatesError, calibrate, write_rates
    from collapselab.core.estimate import format_seconds
    from collapselab.core.params import PRESETS
    from collapselab.core.registry import all_experiments

    for p in preset or []:
        if p not in PRESETS:
            raise UserError(f"unknown preset {p!r}; valid presets: {', '.join(PRESETS)}")
    target = to if to is not None else RATES_PATH
    if write and target.exists() and not force and target.resolve() != RATES_PATH.resolve():
        raise UserError(f"{target} exists; it was left untouched: write to a new file or pass --force")
    cal = _user(calibrate, out, all_experiments().values(), presets=preset)
    table = Table("experiment", "version", "preset/stream", "cells", "measured", "forecast", "ratio",
                  "s per unit", title=f"calibration from {out} (CPU cells of the current versions)")
    cross = Table("experiment", "rate from", "forecast of", "measured", "forecast", "ratio",
                  title="cross-forecasts: the rate of one preset/stream forecasting another")
    skipped = []
    for e in cal.experiments:
        if e.rate is None:
            skipped.append(f"{e.experiment} ({e.reason})")
            continue
        r = e.rate.cpu_seconds_per_unit
        for g in e.groups:
            table.add_row(e.experiment, str(e.version), g.group, str(g.cells), format_seconds(g.measured),
                          format_seconds(g.forecast(r)), f"{g.forecast(r) / g.measured:.2f}" if g.measured else "-",
                          f"{r:.3g}")
        for c in e.cross:
            cross.add_row(e.experiment, c.source, c.target, format_seconds(c.measured),
                          format_seconds(c.forecast), f"{c.ratio:.2f}")
    console.print(table)
    if cross.row_count:
        console.print(cross)
    n = sum(e.rate is not None for e in cal.experiments)
    console.print(f"{n} experiment(s) calibrated on {cal.machine or 'an unrecorded machine'} ({cal.measured}); "
                  f"{len(skipped)} not calibrated" + (": " + "; ".join(skipped) if skipped else ""),
                  highlight=False, soft_wrap=True)
    if write:
        try:
            path = write_rates(cal.rates(), target, force=force)
        except RatesError as exc:
            raise UserError(str(exc)) from None
        console.print(f"wrote {n} rate(s) to {path}")


def _check_sweep_options(backend: str, workers: int | None, device: str, ray_address: str | None,
                         stream: str = "main", dry_run: bool = False) -> None:
    from collapselab.core.store import check_stream
    from collapselab.core.sweep import BACKENDS

    try:
        check_stream(stream)
    except ValueError as exc:
        raise UserError(str(exc).replace("`stream`", "--stream")) from None
    if backend not in BACKENDS:
        raise UserError(f"--backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if workers is not None and workers < 1:
        raise UserError(f"--workers must be >= 1, got {workers}")
    _check_device(device, available=not dry_run)  # a --dry-run forecast for cuda needs no GPU here
    if ray_address and backend != "ray":
        raise UserError("--ray-address needs --backend ray")


def _tracker(track: str | None, out: Path, uri: str | None):
    from collapselab.core.tracking import make_tracker

    return _user(make_tracker, track, out, uri)


@app.command("reproduce")
@_sweep_command
def reproduce_cmd(
    preset: Annotated[str, typer.Option(help="smoke (seconds), quick (minutes per experiment) or full")] = "quick",
    only: Annotated[list[str] | None, typer.Option(help="a paper slug (e.g. strong-collapse); repeatable; "
                                                        "default: every paper")] = None,
    confirm: Annotated[bool, typer.Option(help="run the main seed stream, then the confirm stream (fresh "
                                               "seeds, same grid); the summary marks where they agree")] = False,
    *, sweep: SweepOptions,
) -> None:
    """Run every registered experiment (resuming from the store), write the report, summarise the claims."""
    from collapselab.core.params import PRESETS
    from collapselab.core.registry import all_experiments
    from collapselab.core.reproduce import check_only, reproduce

    o = sweep
    if preset not in PRESETS:
        raise UserError(f"unknown preset {preset!r}; valid presets: {', '.join(PRESETS)}")
    _check_sweep_options(o.backend, o.workers, o.device, o.ray_address, o.stream, o.dry_run)
    if confirm and o.stream != "main":
        raise UserError(f"--confirm runs the streams main and confirm; it cannot be combined with "
                        f"--stream {o.stream}")
    streams = ("main", "confirm") if confirm else (o.stream,)
    selected = _user(check_only, only)
    if o.dry_run:
        names = [n for n, e in all_experiments().items() if selected is None or e.paper.slug in selected]
        _print_plan(names, preset=preset, overrides=[], seeds=None, out=o.out, device=o.device,
                    workers=o.n_workers, streams=streams)
        return
    tracker = _tracker(o.track, o.out, o.tracking_uri)
    with _interruptible():
        result = _user(reproduce, o.out, preset=preset, only=only, streams=streams, workers=o.n_workers,
                       backend=o.backend,
                       ray_address=o.ray_address, device=o.device, retry_failed=o.retry_failed,
                       on_report=lambda r: (_print_report(r), tracker(r) if tracker else None),
                       progress=_RichProgress, on_start=lambda name: console.rule(name))
    console.rule("summary")
    console.print(result.summary(), highlight=False, soft_wrap=True, markup=False)
    if tracker is not None:
        console.print(f"tracked {len(tracker.logged)} run(s) in MLflow at {tracker.uri}")
    counts = result.counts(kind=None)
    if o.strict and (counts["FAIL"] or counts["ERROR"]):
        raise typer.Exit(1)


def _print_report(report) -> None:
    c = report.counts
    console.print(f"{report.experiment} (preset {report.preset}): {c['total']} cells, {c['skipped']} reused, "
                  f"{c['done']} run, {c['failed']} failed")
    if report.failures:
        key, rep, err = report.failures[0]
        last = err.strip().splitlines()[-1] if err else ""
        console.print(f"[red]{len(report.failures)} failed cell(s)[/]; first: {last}  "
                      f"(tracebacks are in the store; rerun with --retry-failed)")
    if report.analysis_error:
        console.print(f"[red]analysis failed[/]: {report.analysis_error.strip().splitlines()[-1]} "
                      f"(full traceback in {report.artifact_dir / 'analysis_error.txt'})")
    table = Table("claim", "kind", "status", "measured", "statement", "source",
                  title=f"claims of {report.experiment}")
    for o in report.claims:
        measured = o.measured + (f"\n[italic]{o.needs}[/]" if o.needs else "")
        table.add_row(o.id, o.kind, f"[{STATUS_STYLE[o.status]}]{o.status}[/]", measured, o.statement, o.source)
    console.print(table)
    for o in report.claims:
        if o.status == "ERROR":
            console.print(f"[bold red]claim {o.id} raised[/]:\n{o.error}", markup=True, highlight=False)
    console.print(f"artifacts: {report.artifact_dir}")


@app.command("report")
def report_cmd(out: Annotated[Path, typer.Option(help="results folder to report on")] = Path("results")) -> None:
    """Write the report site (OUT/site/index.html) and a single-file OUT/report.html."""
    from collapselab.core.report import write_report, write_site

    site = _user(write_site, out)
    path = _user(write_report, out)
    console.print(f"report site: {site}\nreport: {path}")


def _check_device(device: str, available: bool = True) -> None:
    """A torch device name; with ``available``, one this machine has."""
    if device == "cpu":
        return
    import torch

    try:
        dev = torch.device(device)
    except RuntimeError:
        raise UserError(f"--device {device!r} is not a torch device (try cpu or cuda)") from None
    if available and dev.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"--device {device} requested but CUDA is not available on this machine")


def _user(fn, *args, **kwargs):
    """Call ``fn``; turn the framework's user-facing errors into :class:`UserError`."""
    from collapselab.core.params import ParamError
    from collapselab.core.registry import UnknownExperiment
    from collapselab.core.store import StoreError
    from collapselab.core.tracking import TrackingError

    try:
        return fn(*args, **kwargs)
    except (ParamError, UnknownExperiment, StoreError, FileNotFoundError, FileExistsError, TrackingError) as exc:
        raise UserError(str(exc)) from None


def main(argv: list[str] | None = None) -> None:
    """Entry point: user errors print one line and exit 2; no tracebacks for them."""
    try:
        code = app(args=argv, standalone_mode=False)
    except UserError as exc:
        print(f"collapselab: error: {exc}", file=sys.stderr)
        sys.exit(2)
    except _UsageError as exc:
        print(f"collapselab: error: {exc.format_message()}", file=sys.stderr)
        sys.exit(2)
    except Interrupted as exc:
        print(f"collapselab: {exc}", file=sys.stderr)
        sys.exit(130)
    except (typer.Abort, KeyboardInterrupt):
        print("collapselab: interrupted (finished cells are saved; rerun to resume)", file=sys.stderr)
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    sys.exit(code if isinstance(code, int) else 0)
