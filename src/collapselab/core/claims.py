"""Claims: statements from a paper, each with a test declared before the run and a check that applies it.

A :class:`Claim` carries

* ``statement``: what the paper states, no weaker;
* ``source``: where the paper states it (section, theorem, figure or table of the arXiv version), or
  ``derived: <where in docs/>`` for a statement this project derived;
* ``kind``: ``paper`` (a statement about the world that the paper makes; counts in the headline) or
  ``consistency`` (an internal check: theory against simulation, an identity, a sanity bound; shown, never
  counted as reproducing the paper);
* ``test``: the decision rule in words (statistic, null, alpha or equivalence margin, when the data suffice);
* ``scale``: the preset whose verdict decides the claim: ``quick`` (the default) or ``full`` for a claim the
  quick grid cannot decide (its quick verdict is shown as exploratory and counted apart);
* ``decided_by``: empty (the default: the record is the verdict every seed stream agrees on, DIFFER when
  they disagree) or the one seed stream whose verdict is the record, for a claim whose design was set after
  a look at the other stream's seeds (the confirmation stream decides, once);
* ``check``: a function of :class:`Results` (the tables the experiment's ``summarize`` produced and the
  validated parameters) returning a :class:`Verdict`.

Statuses: PASS, FAIL, INCONCLUSIVE (always with what would make it judgeable) and ERROR (the check raised:
its traceback is kept and shown; a broken check never reads as "not enough data").
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd

if TYPE_CHECKING:
    from collapselab.stats import Decision

Status = Literal["PASS", "FAIL", "INCONCLUSIVE", "ERROR"]
STATUSES: tuple[Status, ...] = ("PASS", "FAIL", "INCONCLUSIVE", "ERROR")
Kind = Literal["paper", "consistency"]
KINDS: tuple[Kind, ...] = ("paper", "consistency")
Scale = Literal["quick", "full"]
SCALES: tuple[Scale, ...] = ("quick", "full")


@dataclass(frozen=True)
class Verdict:
    """The outcome of one claim check: a status, the measured figure (free text) and, for INCONCLUSIVE,
    what would make the claim judgeable (``needs``)."""

    status: Status
    measured: str
    needs: str = ""

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"`status` must be one of {STATUSES}, got {self.status!r}")

    @classmethod
    def check(cls, ok: bool, measured: str) -> Verdict:
        """PASS when ``ok`` else FAIL, with the measured figure."""
        return cls("PASS" if bool(ok) else "FAIL", measured)

    @classmethod
    def inconclusive(cls, measured: str, needs: str) -> Verdict:
        """Not enough data to judge; ``needs`` says what would ("needs >= 20 seeds", "needs preset full")."""
        if not needs:
            raise ValueError("an INCONCLUSIVE verdict must say what would make the claim judgeable (`needs`)")
        return cls("INCONCLUSIVE", measured, needs)

    @classmethod
    def of(cls, decision: Decision, prefix: str = "") -> Verdict:
        """A verdict from a :mod:`collapselab.stats` decision rule (``beats``, ``matches``, ``at_most``)."""
        text = f"{prefix}{decision.text}" if prefix else decision.text
        return cls(decision.status, text, decision.needs)

    @classmethod
    def all_of(cls, parts: Sequence[tuple[str, Decision | Verdict]], head: str = "",
               empty_needs: str | None = None) -> Verdict:
        """The one conjunction of labelled parts (:mod:`collapselab.stats` decisions or verdicts) that must
        all PASS: PASS iff every part PASSes; FAIL iff some part FAILs (one definite failure falsifies the
        conjunction); else INCONCLUSIVE with every undecided part's needs (``label: needs``). No part at
        all is INCONCLUSIVE with ``empty_needs`` ("nothing to judge"), or a ValueError when it is not
        given. The text, after ``head``, lists the FAILs, then the INCONCLUSIVEs, then the PASSes as
        ``label: STATUS text`` (one part: ``label: text``); with more than 4 parts it counts them and lists
        at most 3 that did not PASS (or the first part when all PASS). An ERROR part raises ValueError."""
        if not parts:
            if empty_needs is None:
                raise ValueError("`parts` is empty and no `empty_needs` says what would make it judgeable")
            return cls.inconclusive(head + "nothing to judge", empty_needs)
        flat = [(label, x.status, x.measured if isinstance(x, Verdict) else x.text, x.needs) for label, x in parts]
        if any(status not in ("PASS", "FAIL", "INCONCLUSIVE") for _, status, _, _ in flat):
            raise ValueError(f"`parts` holds a part that is not PASS, FAIL or INCONCLUSIVE: {flat!r}")
        order = {"FAIL": 0, "INCONCLUSIVE": 1, "PASS": 2}
        ranked = sorted(flat, key=lambda part: order[part[1]])
        statuses = {status for _, status, _, _ in flat}
        status: Status = "FAIL" if "FAIL" in statuses else "PASS" if statuses == {"PASS"} else "INCONCLUSIVE"
        needs = "; ".join(f"{label}: {n or 'undecided'}" for label, st, _, n in ranked if st == "INCONCLUSIVE")
        if len(flat) == 1:
            text = f"{flat[0][0]}: {flat[0][2]}"
        elif len(flat) <= 4:
            text = "; ".join(f"{label}: {st} {t}" for label, st, t, _ in ranked)
        else:
            bad = [f"{label}: {st} {t}" for label, st, t, _ in flat if st != "PASS"]
            shown = bad[:3] or [f"{flat[0][0]}: {flat[0][1]} {flat[0][2]}"]
            text = f"{len(flat) - len(bad)}/{len(flat)} parts PASS; " + "; ".join(shown)
        return cls(status, head + text, needs if status == "INCONCLUSIVE" else "")


@dataclass
class Results:
    """What a claim check sees: the tables of ``summarize``, the validated params (and, for the legacy
    ``analyze`` path only, the per-(cell, replicate) frame; checks read tables)."""

    frame: pd.DataFrame
    params: Any
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)


@dataclass(frozen=True)
class Claim:
    """A statement from the paper, where the paper makes it, its kind, its declared test and its check.

    ``id`` is short and stable (it keys the stored verdicts).
    """

    id: str
    statement: str
    check: Callable[[Results], Verdict]
    source: str = ""
    kind: Kind = "paper"
    test: str = ""
    scale: Scale = "quick"
    decided_by: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"claim {self.id!r}: `kind` must be one of {KINDS}, got {self.kind!r}")
        if self.scale not in SCALES:
            raise ValueError(f"claim {self.id!r}: `scale` must be one of {SCALES}, got {self.scale!r}")
        if self.decided_by and not self.decided_by.replace("-", "").replace("_", "").isalnum():
            raise ValueError(f"claim {self.id!r}: `decided_by` must name a seed stream, got {self.decided_by!r}")


@dataclass(frozen=True)
class ClaimOutcome:
    id: str
    statement: str
    status: Status
    measured: str
    source: str = ""
    kind: str = "paper"
    test: str = ""
    needs: str = ""
    error: str = ""  # the traceback of a check that raised (status ERROR)
    version: int = 0  # the declaration's version it was judged under (0: unknown, an older store)
    fingerprint: str = ""  # the declaration's fingerprint (collapselab.core.declarations)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ClaimOutcome:
        """Read a stored outcome (older stores lack the newer fields)."""
        known: dict[str, Any] = {k: str(d.get(k, "")) for k in cls.__dataclass_fields__ if k in d}
        if "version" in known:
            known["version"] = int(d["version"] or 0)
        return cls(**{"kind": "paper", **known})


def evaluate_claims(claims: list[Claim], results: Results) -> list[ClaimOutcome]:
    """Run every claim's check. No finished cells: INCONCLUSIVE; a check that raises (or returns something
    other than a Verdict): ERROR, with the traceback kept."""
    out = []
    for claim in claims:
        error = ""
        if results.frame.empty and not results.tables:
            verdict = Verdict.inconclusive("no finished cells", "needs the experiment's cells to run")
        else:
            try:
                verdict = claim.check(results)
                if not isinstance(verdict, Verdict):
                    raise TypeError(f"claim {claim.id!r} returned {type(verdict).__name__}, not Verdict")
            except Exception as exc:  # a broken check must not hide the others, nor pass as "no data"
                last = traceback.format_exception_only(type(exc), exc)[-1].strip()
                verdict, error = Verdict("ERROR", f"check raised: {last}"), traceback.format_exc()
        out.append(ClaimOutcome(claim.id, claim.statement, verdict.status, verdict.measured, claim.source,
                                claim.kind, claim.test, verdict.needs, error))
    return out


def summarize(outcomes: list[ClaimOutcome]) -> dict[str, int]:
    """Counts of PASS / FAIL / INCONCLUSIVE / ERROR."""
    return {s: sum(o.status == s for o in outcomes) for s in STATUSES}


def headline(outcomes: list[ClaimOutcome]) -> str:
    """Paper claims and consistency checks counted apart, e.g. ``paper claims: 28 PASS, 5 FAIL, 3
    INCONCLUSIVE; consistency checks: 25 of 25 PASS``."""
    def part(kind: str) -> dict[str, int]:
        return summarize([o for o in outcomes if o.kind == kind])

    p, c = part("paper"), part("consistency")
    text = "paper claims: " + ", ".join(f"{p[s]} {s}" for s in STATUSES if p[s] or s != "ERROR")
    n_c = sum(c.values())
    text += f"; consistency checks: {c['PASS']} of {n_c} PASS"
    rest = [f"{c[s]} {s}" for s in STATUSES[1:] if c[s]]
    return text + (f" ({', '.join(rest)})" if rest else "")
