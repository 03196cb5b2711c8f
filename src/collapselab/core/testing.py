"""Unit-testing claim checks: judge one claim of a registered experiment on tables written by hand.

Every claim check gets a test with a case where the claim clearly holds (PASS), one where it clearly
does not (FAIL) and, where it applies, an underpowered one (INCONCLUSIVE)::

    from collapselab.core.testing import judge
    fits = pd.DataFrame({"T": [100], "lam": [0.0], "slope": [0.49], "slope_se": [0.004], "r2": [0.999]})
    assert judge("demystified/generations", "linear-in-n", {"linear_fits": fits}).status == "PASS"

The check runs exactly as in a real run (:func:`~collapselab.core.claims.evaluate_claims`), so a check
that raises comes back as ERROR with its traceback in ``error``.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from collapselab.core.claims import ClaimOutcome, Results, evaluate_claims
from collapselab.core.params import resolve_params
from collapselab.core.registry import get_experiment


def judge(experiment: str, claim_id: str, tables: dict[str, pd.DataFrame], *, preset: str = "quick",
          frame: pd.DataFrame | None = None, **params: Any) -> ClaimOutcome:
    """Evaluate claim ``claim_id`` of ``experiment`` on ``tables``, with the experiment's ``preset``
    parameters updated by ``params`` (validated by its schema). Returns the outcome (``.status``,
    ``.measured``, ``.needs``, ``.error``)."""
    exp = get_experiment(experiment)
    claims = [c for c in exp.claims if c.id == claim_id]
    if not claims:
        raise KeyError(f"{experiment} has no claim {claim_id!r}; its claims: {[c.id for c in exp.claims]}")
    base = resolve_params(exp.params, exp.presets, preset)
    p = exp.params.model_validate({**base.model_dump(), **params}) if params else base
    if frame is None:
        frame = pd.DataFrame({"replicate": [0]})  # a non-empty frame: the tables are what checks read
    return evaluate_claims(claims, Results(frame, p, dict(tables)))[0]
