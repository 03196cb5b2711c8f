"""demystified/ridge-u-curve: the claim check on hand-written tables, and a smoke run."""

import pandas as pd
import pytest

from collapselab.core.runner import run_experiment
from collapselab.core.testing import judge

EXP = "demystified/ridge-u-curve"


def _best(best_lam, left=(2.0, 3.0), se=0.01, interior=True):
    return {"best_lam": pd.DataFrame({"n": [0, 6], "best_lam": best_lam, "interior_min": interior,
                                      "best_lam_theory": best_lam, "min_error": [1.0, 2.0], "min_se": se,
                                      "left_error": list(left), "left_se": se, "right_error": [1.5, 2.6],
                                      "right_se": se})}


def test_u_curve_pass_fail_inconclusive():
    assert judge(EXP, "u-curve-best-lam-grows", _best([0.5, 2.0])).status == "PASS"
    assert judge(EXP, "u-curve-best-lam-grows", _best([2.0, 0.5])).status == "FAIL"  # best lam shrinks
    assert judge(EXP, "u-curve-best-lam-grows", _best([0.5, 2.0], left=(1.0, 2.0))).status == "FAIL"  # flat end
    assert judge(EXP, "u-curve-best-lam-grows", _best([0.5, 2.0], se=0.5)).status == "INCONCLUSIVE"


@pytest.mark.slow
def test_smoke_run(tmp_path):
    report = run_experiment(EXP, preset="smoke", out_dir=tmp_path, workers=1)
    assert report.counts["failed"] == 0, report.failures
    assert all(c.status != "ERROR" for c in report.claims), [c.error for c in report.claims]
