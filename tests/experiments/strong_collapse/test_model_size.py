"""strong-collapse/model-size: the claim checks on hand-written tables, the peak interval, a smoke run."""

import numpy as np
import pandas as pd
import pytest

from collapselab.core import get_experiment, resolve_params
from collapselab.core.runner import run_experiment
from collapselab.core.testing import judge

EXP = "strong-collapse/model-size"
PSIS = [0.2, 0.5, 0.9, 1.0, 1.1, 2.0, 4.0]


def _summary(zeta, se=0.001, clean=1.0):
    return {"summary": pd.DataFrame({"p2": 0.2, "c2": 1.0, "psi": PSIS, "m": [int(100 * x) for x in PSIS],
                                     "zeta": zeta, "se_zeta": se, "error_clean": clean})}


RISE_FALL = [0.1, 0.3, 0.8, 2.0, 0.9, 0.4, 0.2]


def test_grows_pass_fail_inconclusive():
    assert judge(EXP, "grows", _summary(RISE_FALL)).status == "PASS"
    assert judge(EXP, "grows", _summary([0.8, 0.5, 0.1, 2.0, 0.9, 0.4, 0.2])).status == "FAIL"
    assert judge(EXP, "grows", _summary(RISE_FALL, se=1.0)).status == "INCONCLUSIVE"


def test_falls_pass_fail_inconclusive():
    assert judge(EXP, "falls", _summary(RISE_FALL)).status == "PASS"
    assert judge(EXP, "falls", _summary([0.1, 0.3, 0.8, 1.0, 1.5, 1.8, 2.0])).status == "FAIL"
    assert judge(EXP, "falls", _summary(RISE_FALL, se=2.0)).status == "INCONCLUSIVE"


def test_positive_pass_fail_inconclusive():
    assert judge(EXP, "positive", _summary(RISE_FALL)).status == "PASS"
    assert judge(EXP, "positive", _summary(RISE_FALL[:-1] + [-0.01])).status == "FAIL"
    assert judge(EXP, "positive", _summary(RISE_FALL, se=0.5)).status == "INCONCLUSIVE"


def _peak(low, high, k=5):
    return {"peak": pd.DataFrame({"p2": [0.2], "c2": [1.0], "peak_psi": [(low + high) / 2], "replicates": [k],
                                  "peak_low": [low], "peak_high": [high]})}


def test_peak_pass_fail_inconclusive():
    assert judge(EXP, "peak", _peak(0.9, 1.1)).status == "PASS"
    assert judge(EXP, "peak", _peak(1.5, 2.0)).status == "FAIL"
    assert judge(EXP, "peak", _peak(0.65, 1.1)).status == "INCONCLUSIVE"
    assert judge(EXP, "peak", _peak(np.nan, np.nan, k=2)).status == "INCONCLUSIVE"


def test_peak_interval_from_replicates():
    exp = get_experiment(EXP)
    p = resolve_params(exp.params, exp.presets, "quick")
    rng = np.random.default_rng(1)
    rows = []
    for rep in range(6):
        for psi in p.psis:
            m = int(round(psi * p.n))
            z = 1.0 / (abs(psi - 1.0) + 0.1) + 0.05 * rng.standard_normal()
            rows.append({"p2": 0.1, "c2": 1.0, "m": m, "replicate": rep, "zeta": z})
    peak = exp.summarize.__globals__["_peaks"](pd.DataFrame(rows), p.n)
    assert peak["peak_psi"].iloc[0] == pytest.approx(1.0)
    assert peak["peak_low"].iloc[0] == pytest.approx(1.0) and peak["peak_high"].iloc[0] == pytest.approx(1.0)


@pytest.mark.slow
def test_smoke_run(tmp_path):
    report = run_experiment(EXP, preset="smoke", out_dir=tmp_path, workers=1)
    assert report.counts["failed"] == 0, report.failures
    assert all(c.status != "ERROR" for c in report.claims), [c.error for c in report.claims]
    f = report.frame
    assert np.all(np.isfinite(f[["error_mixed", "error_clean", "theory_zeta"]].to_numpy()))
    assert np.all(f["se_zeta"] >= 0)
