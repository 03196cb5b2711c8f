"""Claim declarations: everything that decides a verdict before data exist, fingerprinted, with a history.

A claim's *declaration* is its statement, source, kind and test text; the numbers its check decides with
(the literal constants of the check's code, the module constants it names, the arguments of a
``functools.partial``: margins, resolutions, alpha, gates); its experiment's ``version`` (what ``run_cell``
measures); the resolved ``quick`` and ``full`` parameters it reads (seeds, grid, margins declared as
parameters); and, where declared, the scale that decides it (``full``) and the one seed stream whose verdict
is the record (``decided_by``). Its *fingerprint* is the sha256 of that declaration as canonical JSON.

The *record* (``claims.lock``, JSON, committed beside the package) holds for every built-in claim its
current fingerprint, a version number and its history: for each earlier version, its fingerprint (or
``"pre-lock"`` for versions older than the record), the date it was replaced, the verdict it had at quick
when it was replaced, and a one-line reason. Verdicts that changed because the shared statistics changed
(not the declaration) are history entries too, with event ``rejudged``. ``tests/core/test_claims_lock.py``
fails when a declaration differs from its recorded fingerprint, so no restatement is silent:
``collapselab lock --restate EXPERIMENT:CLAIM --reason TEXT`` records the new version.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
import types
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from collapselab.core.jsonfile import read_object, write_atomic

if TYPE_CHECKING:
    from collapselab.core.claims import Claim, ClaimOutcome
    from collapselab.core.experiment import Experiment

LOCK_PATH = Path(__file__).resolve().parents[1] / "claims.lock"
LOCK_SCHEMA = 1
DECLARED_PRESETS = ("quick", "full")
EVENTS = ("restated", "rejudged")
VERDICTS = ("PASS", "FAIL", "INCONCLUSIVE", "ERROR", "not run", "unknown")  # unknown: not on record


class LockError(ValueError):
    """The record is malformed, or an update to it is refused (one line, names the claim)."""


@dataclass(frozen=True)
class HistoryEntry:
    """One event in a claim's history.

    ``restated``: version ``version`` (fingerprint ``fingerprint``) was replaced on ``replaced`` while its
    verdict at quick was ``verdict``, for ``reason``. ``rejudged``: under the same declaration the verdict
    went from ``verdict`` to ``new_verdict`` because the shared statistics changed (``reason``)."""

    version: int
    replaced: str
    verdict: str
    reason: str
    fingerprint: str = "pre-lock"
    event: str = "restated"
    old_id: str = ""
    new_verdict: str = ""
    commit: str = ""

    def __post_init__(self) -> None:
        if self.event not in EVENTS:
            raise LockError(f"history `event` must be one of {EVENTS}, got {self.event!r}")
        if self.verdict not in VERDICTS:
            raise LockError(f"history `verdict` must be one of {VERDICTS}, got {self.verdict!r}")
        if not self.reason.strip():
            raise LockError("a history entry needs a one-line `reason`")
        date.fromisoformat(self.replaced)

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in dataclasses.asdict(self).items() if v not in ("",)}


@dataclass(frozen=True)
class Declaration:
    """A claim's recorded declaration: its current ``version`` and ``fingerprint`` and its ``history``
    (oldest first). ``locked`` is False for a claim the record does not know (a user's experiment)."""

    version: int
    fingerprint: str
    history: tuple[HistoryEntry, ...] = ()
    locked: bool = True

    @property
    def restatements(self) -> list[HistoryEntry]:
        return [h for h in self.history if h.event == "restated"]

    @property
    def restated_after_look(self) -> bool:
        """True when the current version replaced one whose verdict had been seen as FAIL or INCONCLUSIVE."""
        last = self.restatements[-1:] or []
        return bool(last) and last[0].verdict in ("FAIL", "INCONCLUSIVE")

    def label(self) -> str:
        """``v3, restated 2026-11-02 after v2 FAIL: <reason>`` (``v1`` when never restated)."""
        if not self.restatements:
            return f"v{self.version}"
        h = self.restatements[-1]
        seen = h.verdict if h.verdict in ("PASS", "FAIL", "INCONCLUSIVE", "ERROR") else f"({h.verdict})"
        return f"v{self.version}, restated {h.replaced} after v{h.version} {seen}: {h.reason}"

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version, "fingerprint": self.fingerprint,
                "history": [h.to_dict() for h in self.history]}


# ============================================================================ fingerprints


def _numbers(obj: Any, seen: set[int] | None = None) -> set[str]:
    """The numeric constants a check decides with: literals of its code (nested code too), numbers it
    names from its module, closure cells and ``functools.partial`` arguments; as canonical strings."""
    seen = set() if seen is None else seen
    if id(obj) in seen:
        return set()
    seen.add(id(obj))
    if isinstance(obj, bool) or obj is None:
        return set()
    if isinstance(obj, (int, float)):
        return {repr(float(obj))} if math.isfinite(obj) else {repr(obj)}
    if isinstance(obj, (tuple, list, frozenset, set)):
        return set().union(*(_numbers(x, seen) for x in obj)) if obj else set()
    if isinstance(obj, functools.partial):
        return _numbers(obj.func, seen) | _numbers(obj.args, seen) | _numbers(tuple(obj.keywords.values()), seen)
    if isinstance(obj, types.CodeType):
        return set().union(set(), *(_numbers(c, seen) for c in obj.co_consts))
    if isinstance(obj, types.FunctionType):
        out = _numbers(obj.__code__, seen) | _numbers(obj.__defaults__ or (), seen)
        out |= _numbers(tuple((obj.__kwdefaults__ or {}).values()), seen)
        for cell in obj.__closure__ or ():
            try:
                value = cell.cell_contents
            except ValueError:  # an empty cell
                continue
            out |= _numbers(value, seen) if isinstance(value, (int, float, tuple, list, functools.partial)) \
                else set()
        names = _code_names(obj.__code__)
        for name in sorted(names):
            value = obj.__globals__.get(name)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                out |= _numbers(value, seen)
        return out
    return set()


def _code_names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            names |= _code_names(c)
    return names


def declaration(experiment: Experiment, claim: Claim) -> dict[str, Any]:
    """What decides ``claim``'s verdict before data exist (see the module docstring), as plain JSON."""
    presets = {}
    for name in DECLARED_PRESETS:
        params = experiment.params.model_validate(experiment.presets[name]).model_dump(mode="json")
        presets[name] = params
    out = {"experiment": experiment.name, "id": claim.id, "statement": claim.statement,
           "source": claim.source, "kind": claim.kind, "test": claim.test, "version": experiment.version,
           "decision": sorted(_numbers(claim.check)), "presets": presets}
    if claim.scale != "quick":  # only when declared: the fingerprints of every other claim stay as they were
        out["scale"] = claim.scale
    if claim.decided_by:
        out["decided_by"] = claim.decided_by
    return out


def fingerprint(experiment: Experiment, claim: Claim) -> str:
    """sha256 (16 hex digits) of the claim's declaration as canonical JSON."""
    text = json.dumps(declaration(experiment, claim), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def claim_key(experiment: str, claim_id: str) -> str:
    """The record's key of a claim: ``paper/experiment:claim-id``."""
    return f"{experiment}:{claim_id}"


# ============================================================================ the record


@dataclass
class Lock:
    """The record: ``claims`` maps ``experiment:claim`` to its :class:`Declaration`."""

    claims: dict[str, Declaration] = field(default_factory=dict)

    def get(self, experiment: Experiment, claim: Claim) -> Declaration:
        """The recorded declaration; for a claim the record lacks, version 1 with the current fingerprint
        and ``locked=False``."""
        found = self.claims.get(claim_key(experiment.name, claim.id))
        return found if found is not None else Declaration(1, fingerprint(experiment, claim), (), False)


def read_lock(path: str | Path | None = None) -> Lock:
    """Read the record (``claims.lock`` in the package when ``path`` is None; an absent file is empty)."""
    path = Path(path) if path is not None else LOCK_PATH
    data = read_object(path, LockError, "claims record")
    if data is None:
        return Lock()
    try:
        claims = {}
        for key, d in data["claims"].items():
            history = tuple(HistoryEntry(**h) for h in d.get("history", []))
            claims[key] = Declaration(int(d["version"]), str(d["fingerprint"]), history)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise LockError(f"{path} is not a valid claims record: {exc!r}") from None
    return Lock(claims)


def write_lock(lock: Lock, path: str | Path | None = None) -> Path:
    """Write the record as indented JSON, claims sorted by key (atomic replace)."""
    path = Path(path) if path is not None else LOCK_PATH
    data = {"schema": LOCK_SCHEMA,
            "about": "Claim declarations: version, fingerprint and history of every built-in claim "
                     "(collapselab.core.declarations). Update with `collapselab lock`, never by hand.",
            "claims": {k: lock.claims[k].to_dict() for k in sorted(lock.claims)}}
    return write_atomic(path, data)


@dataclass(frozen=True)
class Drift:
    """A difference between the registered claims and the record: ``changed`` (declaration differs from
    the recorded fingerprint), ``new`` (not in the record) or ``removed`` (recorded, not registered)."""

    key: str
    what: str

    def __str__(self) -> str:
        hint = {"changed": "its declaration changed without a history entry: record the new version with "
                           f"`collapselab lock --restate {self.key} --reason TEXT`",
                "new": "not in the record: add it with `collapselab lock --add-new`",
                "removed": "recorded but no longer registered: `collapselab lock --drop-removed`"}[self.what]
        return f"{self.key}: {hint}"


def check(experiments: Iterable[Experiment], lock: Lock) -> list[Drift]:
    """Every claim whose declaration differs from the record, is missing from it, or is recorded but gone."""
    drifts, seen = [], set()
    for exp in experiments:
        for claim in exp.claims:
            key = claim_key(exp.name, claim.id)
            seen.add(key)
            got = lock.claims.get(key)
            if got is None:
                drifts.append(Drift(key, "new"))
            elif got.fingerprint != fingerprint(exp, claim):
                drifts.append(Drift(key, "changed"))
    drifts += [Drift(k, "removed") for k in sorted(set(lock.claims) - seen)]
    return drifts


def restate(lock: Lock, experiment: Experiment, claim: Claim, *, reason: str, verdict: str,
            when: str | None = None, old_id: str = "") -> Declaration:
    """Record a new version of ``claim`` in ``lock`` (in place): the recorded version becomes a history
    entry with ``verdict`` (its verdict at quick when replaced) and ``reason``. Raises :class:`LockError`
    when the declaration did not change."""
    key = claim_key(experiment.name, claim.id)
    old = lock.claims.get(key if not old_id else claim_key(experiment.name, old_id))
    new_fp = fingerprint(experiment, claim)
    if old is None:
        raise LockError(f"{key}: not in the record; add it with `collapselab lock --add-new`")
    if old.fingerprint == new_fp and not old_id:
        raise LockError(f"{key}: its declaration did not change; nothing to restate")
    entry = HistoryEntry(old.version, when or date.today().isoformat(), verdict, reason, old.fingerprint,
                         old_id=old_id)
    new = Declaration(old.version + 1, new_fp, (*old.history, entry))
    if old_id:
        lock.claims.pop(claim_key(experiment.name, old_id), None)
    lock.claims[key] = new
    return new


def rejudged(lock: Lock, key: str, *, old: str, new: str, reason: str, when: str | None = None) -> None:
    """Record that the verdict of ``key`` went from ``old`` to ``new`` under the same declaration because
    the shared statistics changed (event ``rejudged``; the version is unchanged)."""
    decl = lock.claims.get(key)
    if decl is None:
        raise LockError(f"{key}: not in the record")
    entry = HistoryEntry(decl.version, when or date.today().isoformat(), old, reason, decl.fingerprint,
                         event="rejudged", new_verdict=new)
    lock.claims[key] = dataclasses.replace(decl, history=(*decl.history, entry))


def add_new(lock: Lock, experiments: Iterable[Experiment]) -> list[str]:
    """Record every registered claim the record lacks as version 1; returns their keys."""
    added = []
    for exp in experiments:
        for claim in exp.claims:
            key = claim_key(exp.name, claim.id)
            if key not in lock.claims:
                lock.claims[key] = Declaration(1, fingerprint(exp, claim))
                added.append(key)
    return added


def stamp_declarations(experiment: Experiment, outcomes: list[ClaimOutcome],
                       lock: Lock | None = None) -> list[ClaimOutcome]:
    """The outcomes with the ``version`` and ``fingerprint`` of the declaration they were judged under."""
    lock = read_lock() if lock is None else lock
    by_id = {c.id: c for c in experiment.claims}
    out = []
    for o in outcomes:
        claim = by_id.get(o.id)
        if claim is None:
            out.append(o)
            continue
        decl = lock.get(experiment, claim)
        out.append(dataclasses.replace(o, version=decl.version, fingerprint=fingerprint(experiment, claim)))
    return out


def is_builtin(experiment: Experiment) -> bool:
    """True for an experiment shipped with collapselab (the record covers those)."""
    return getattr(experiment.run_cell, "__module__", "").startswith("collapselab.experiments")
