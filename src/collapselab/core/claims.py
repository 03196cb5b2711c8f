"""Claims: statements from a paper, each with a check on a run's results.

A check receives a :class:`Results` (the results frame, the validated parameters and the tables the
experiment's ``analyze`` produced) and returns a :class:`Verdict`: PASS, FAIL or INCONCLUSIVE together
with the measured figure, written so that a reader can compare it with the statement.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import pandas as pd

Status = Literal["PASS", "FAIL", "INCONCLUSIVE"]
STATUSES: tuple[Status, ...] = ("PASS", "FAIL", "INCONCLUSIVE")


@dataclass(frozen=True)
class Verdict:
    """The outcome of one claim check: a status and the measured figure (free text)."""

    status: Status
    measured: str

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"`status` must be one of {STATUSES}, got {self.status!r}")

    @classmethod
    def check(cls, ok: bool, measured: str) -> Verdict:
        """PASS when ``ok`` else FAIL, with the measured figure."""
        return cls("PASS" if bool(ok) else "FAIL", measured)

    @classmethod
    def inconclusive(cls, measured: str) -> Verdict:
        """Not enough data to judge (e.g. a smoke preset too small for the claim)."""
        return cls("INCONCLUSIVE", measured)


@dataclass
class Results:
    """What a claim check sees: the per-(cell, replicate) frame, the params and analyze's tables."""

    frame: pd.DataFrame
    params: Any
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)


@dataclass(frozen=True)
class Claim:
    """A statement from the paper and the check that judges it on a run.

    ``id`` is short and stable (it keys the stored verdicts); ``statement`` is what the paper says,
    with the threshold the check applies.
    """

    id: str
    statement: str
    check: Callable[[Results], Verdict]


@dataclass(frozen=True)
class ClaimOutcome:
    id: str
    statement: str
    status: Status
    measured: str

    def to_dict(self) -> dict[str, str]:
        return {"id": self.id, "statement": self.statement, "status": self.status,
                "measured": self.measured}


def evaluate_claims(claims: list[Claim], results: Results) -> list[ClaimOutcome]:
    """Run every claim's check; a check that raises is INCONCLUSIVE with the error as its figure."""
    out = []
    for claim in claims:
        if results.frame.empty:
            verdict = Verdict.inconclusive("no finished cells")
        else:
            try:
                verdict = claim.check(results)
                if not isinstance(verdict, Verdict):
                    raise TypeError(f"claim {claim.id!r} returned {type(verdict).__name__}, not Verdict")
            except Exception as exc:  # a broken check must not hide the others
                last = traceback.format_exception_only(type(exc), exc)[-1].strip()
                verdict = Verdict.inconclusive(f"check raised: {last}")
        out.append(ClaimOutcome(claim.id, claim.statement, verdict.status, verdict.measured))
    return out


def summarize(outcomes: list[ClaimOutcome]) -> dict[str, int]:
    """Counts of PASS / FAIL / INCONCLUSIVE."""
    return {s: sum(o.status == s for o in outcomes) for s in STATUSES}
