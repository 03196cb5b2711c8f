"""demystified/overparam: the claim check on hand-written tables, and a smoke run."""

import pandas as pd
import pytest

from collapselab.core.runner import run_experiment
from collapselab.core.testing import judge

EXP = "demystified/overparam"


def _points(scale=1.0, se=0.002):
    rows = [{"T0": T0, "n": n, "paper_formula": 1 - (T0 / 200) ** n, "stderr": se} for T0 in (50, 100) for n in (1, 4)]
    out = pd.DataFrame(rows)
    out["error"] = scale * out["paper_formula"]
    out["theory"] = out["paper_formula"]
    return {"points": out}


def test_exponential_collapse_pass_fail_inconclusive():
    assert judge(EXP, "exponential-collapse", _points()).status == "PASS"
    assert judge(EXP, "exponential-collapse", _points(scale=0.8)).status == "FAIL"
    assert judge(EXP, "exponential-collapse", _points(se=0.1)).status == "INCONCLUSIVE"
    assert judge(EXP, "exponential-collapse", _points(), sigma0=0.5).status == "INCONCLUSIVE"


@pytest.mark.slow
def test_smoke_run(tmp_path):
    report = run_experiment(EXP, preset="smoke", out_dir=tmp_path, workers=1)
    assert report.counts["failed"] == 0, report.failures
    assert all(c.status != "ERROR" for c in report.claims), [c.error for c in report.claims]
