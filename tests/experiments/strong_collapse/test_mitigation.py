"""strong-collapse/mitigation: the claim checks on hand-written tables, and a smoke run."""

import numpy as np
import pandas as pd
import pytest

from collapselab.core.runner import run_experiment
from collapselab.core.testing import judge

EXP = "strong-collapse/mitigation"


def _best(a):
    return {"best_weight": pd.DataFrame({"n": [150, 1500, 15000][:len(a)], "best_a": a, "best_error": 0.1})}


def test_best_weight_pass_fail_inconclusive():
    assert judge(EXP, "best-weight-shrinks", _best([0.5, 0.1, 0.02])).status == "PASS"
    assert judge(EXP, "best-weight-shrinks", _best([0.5, 0.5, 0.35])).status == "FAIL"
    assert judge(EXP, "best-weight-shrinks", _best([0.5, 0.1])).status == "INCONCLUSIVE"


def _slope(slope, se):
    return {"iterative_slope": pd.DataFrame({"slope": [slope], "slope_se": [se], "points": [3]})}


def test_iterative_scaling_pass_fail_inconclusive():
    assert judge(EXP, "iterative-scaling", _slope(-1.0, 0.02)).status == "PASS"
    assert judge(EXP, "iterative-scaling", _slope(-0.3, 0.02)).status == "FAIL"  # a plateau
    assert judge(EXP, "iterative-scaling", _slope(-1.0, 0.3)).status == "INCONCLUSIVE"
    empty = {"iterative_slope": pd.DataFrame(columns=["slope", "slope_se", "points"])}
    assert judge(EXP, "iterative-scaling", empty).status == "INCONCLUSIVE"


def _iter(gap, se):
    return {"iterative": pd.DataFrame({"n": [150, 1500], "gap": gap, "se_gap": se, "error_real_half": [1.0, 0.1]})}


def test_iterative_above_pass_fail_inconclusive():
    assert judge(EXP, "iterative-above-real", _iter([0.2, 0.02], [0.01, 0.001])).status == "PASS"
    assert judge(EXP, "iterative-above-real", _iter([0.2, -0.001], [0.01, 0.001])).status == "FAIL"
    assert judge(EXP, "iterative-above-real", _iter([0.2, 0.02], [0.01, 0.05])).status == "INCONCLUSIVE"


@pytest.mark.slow
def test_smoke_run(tmp_path):
    report = run_experiment(EXP, preset="smoke", out_dir=tmp_path, workers=1)
    assert report.counts["failed"] == 0, report.failures
    assert all(c.status != "ERROR" for c in report.claims), [c.error for c in report.claims]
    f = report.frame
    assert all(len(e) == 3 for e in f.loc[f["kind"] == "weighted", "errors"])
    it = f[f["kind"] == "iterative"]
    assert np.all(it["error_iterative"] > 0) and np.all(it["error_real_half"] > 0)
