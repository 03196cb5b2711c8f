"""demystified/accumulate: the claim check on hand-written tables, and a smoke run."""

import math

import pandas as pd
import pytest

from collapselab.core.runner import run_experiment
from collapselab.core.testing import judge

EXP = "demystified/accumulate"
D, T0 = 50, 100
EXACT = [D * sum(1 / (k * (k * T0 - D - 1)) for k in range(1, n + 1)) for n in range(1, 11)]
BOUND = D / (T0 - D - 1) * math.pi**2 / 6


def _points(errors=EXACT, se=0.01):
    return {"points": pd.DataFrame({"strategy": "accumulate", "n": range(1, 11), "error": errors, "stderr": se,
                                    "theory": EXACT, "bound": BOUND})}


def test_exact_values_quoted_in_the_claim():
    assert EXACT[-1] == pytest.approx(1.36, abs=0.005) and BOUND == pytest.approx(1.68, abs=0.005)


def test_accumulate_bounded_pass_fail_inconclusive():
    assert judge(EXP, "accumulate-bounded", _points()).status == "PASS"
    assert judge(EXP, "accumulate-bounded", _points([e * 1.3 for e in EXACT])).status == "FAIL"  # above the bound
    assert judge(EXP, "accumulate-bounded", _points(se=0.2)).status == "INCONCLUSIVE"


@pytest.mark.slow
def test_smoke_run(tmp_path):
    report = run_experiment(EXP, preset="smoke", out_dir=tmp_path, workers=1)
    assert report.counts["failed"] == 0, report.failures
    assert all(c.status != "ERROR" for c in report.claims), [c.error for c in report.claims]
