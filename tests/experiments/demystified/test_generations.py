"""demystified/generations: the claim checks on hand-written tables, and a smoke run."""

import numpy as np
import pandas as pd
import pytest

from collapselab.core.runner import run_experiment
from collapselab.core.testing import judge

EXP = "demystified/generations"
SLOPE = 50 / (150 - 50 - 1)  # quick: sigma0^2 d/(T0-d-1), d = 50, T0 = 150


def _fits(slope=SLOPE, se=0.004, lof_p=0.5):
    return {"linear_fits": pd.DataFrame({"T": [100, 200], "lam": 0.0, "slope": slope, "slope_se": se,
                                         "chi2": 9.0, "dof": 9, "lof_p": lof_p, "paper_slope": SLOPE})}


def test_linear_in_n_pass_fail_inconclusive():
    assert judge(EXP, "linear-in-n", _fits()).status == "PASS"
    assert judge(EXP, "linear-in-n", _fits(slope=1.2 * SLOPE)).status == "FAIL"  # wrong slope
    assert judge(EXP, "linear-in-n", _fits(lof_p=1e-4)).status == "FAIL"  # not a straight line
    assert judge(EXP, "linear-in-n", _fits(se=0.05)).status == "INCONCLUSIVE"
    assert judge(EXP, "linear-in-n", _fits(), T0=50).status == "INCONCLUSIVE"  # T0 <= d + 1


def _points(error, se):
    return {"points": pd.DataFrame({"T": 100, "lam": 0.0, "n": [0, 5], "error": error, "stderr": se,
                                    "theory": [1.0, 3.5], "rel_dev": np.array(error) / [1.0, 3.5] - 1})}


def test_theory_matches_pass_fail_inconclusive():
    assert judge(EXP, "theory-matches", _points([1.005, 3.49], [0.005, 0.01])).status == "PASS"
    assert judge(EXP, "theory-matches", _points([1.005, 3.9], [0.005, 0.01])).status == "FAIL"
    assert judge(EXP, "theory-matches", _points([1.005, 3.49], [0.005, 0.3])).status == "INCONCLUSIVE"


@pytest.mark.slow
def test_smoke_run(tmp_path):
    report = run_experiment(EXP, preset="smoke", out_dir=tmp_path, workers=1)
    assert report.counts["failed"] == 0, report.failures
    assert all(c.status != "ERROR" for c in report.claims), [c.error for c in report.claims]
    f = report.frame
    assert np.all(f["error"] >= 0) and np.all(np.isfinite(f["theory"]))
    # smoke reps are few: theory and MC agree within 5 SEs (+10% finite-size bias of the equivalent)
    assert np.all(np.abs(f["error"] - f["theory"]) <= 5 * f["stderr"] + 0.1 * f["theory"] + 1e-12)
