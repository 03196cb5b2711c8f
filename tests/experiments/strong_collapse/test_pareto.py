"""strong-collapse/pareto: the claim checks on hand-written tables, the rank statistic, a smoke run."""

import numpy as np
import pandas as pd
import pytest

from collapselab.core import get_experiment
from collapselab.core.runner import run_experiment
from collapselab.core.testing import judge

EXP = "strong-collapse/pareto"


def _summary(gap_scale=1.0, se=1e-4, theory_scale=1.0, flip=False):
    rows = []
    for p2 in (0.05, 0.2):
        for m in (20, 50, 80):
            for c2 in (0.02, 0.25, 1.0):
                z = p2 * 0.1 * (1.0 / c2 if flip else c2)
                rows.append({"p2": p2, "c2": c2, "m": m, "error_clean": 1.0, "zeta": gap_scale * z, "se_zeta": se,
                             "error_mixed": 1.0 + gap_scale * z, "theory_zeta": theory_scale * z})
    return pd.DataFrame(rows)


def test_mixture_worse_pass_fail_inconclusive():
    assert judge(EXP, "mixture-worse", {"summary": _summary()}).status == "PASS"
    below = _summary()
    below.loc[0, "zeta"] = -0.01  # one point significantly below the diagonal
    assert judge(EXP, "mixture-worse", {"summary": below}).status == "FAIL"
    assert judge(EXP, "mixture-worse", {"summary": _summary(theory_scale=2.0)}).status == "FAIL"  # half the theory
    assert judge(EXP, "mixture-worse", {"summary": _summary(se=0.05)}).status == "INCONCLUSIVE"


def _order(s):
    return get_experiment(EXP).summarize.__globals__["_quality_order"](s)


def test_quality_order_statistic_and_decisions():
    ordered = _order(_summary())
    assert ordered["rho"].iloc[0] == pytest.approx(1.0) and ordered["strata"].iloc[0] == 6
    assert judge(EXP, "quality-order", {"quality_order": ordered}).status == "PASS"
    reversed_ = _order(_summary(flip=True))  # better quality, larger gap
    assert reversed_["rho"].iloc[0] == pytest.approx(-1.0)
    assert judge(EXP, "quality-order", {"quality_order": reversed_}).status == "FAIL"
    noisy = _order(_summary(se=1.0))
    assert judge(EXP, "quality-order", {"quality_order": noisy}).status == "INCONCLUSIVE"


@pytest.mark.slow
def test_smoke_run(tmp_path):
    report = run_experiment(EXP, preset="smoke", out_dir=tmp_path, workers=1)
    assert report.counts["failed"] == 0, report.failures
    assert all(c.status != "ERROR" for c in report.claims), [c.error for c in report.claims]
    f = report.frame
    assert np.allclose(f["zeta"], f["error_mixed"] - f["error_clean"])
