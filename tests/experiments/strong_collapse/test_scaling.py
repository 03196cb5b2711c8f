"""strong-collapse/scaling: the claim checks on hand-written tables, and a smoke run."""

import numpy as np
import pandas as pd
import pytest

from collapselab.core.runner import run_experiment
from collapselab.core.testing import judge

EXP = "strong-collapse/scaling"


def _summary(rows):
    s = pd.DataFrame(rows, columns=["p2", "n", "mean", "stderr", "theory"])
    s["rel_err"] = s["mean"] / s["theory"] - 1
    return s


def test_theory_match_pass_fail_inconclusive():
    ok = _summary([(0.0, 1000, 0.101, 0.0005, 0.1), (0.1, 1000, 0.02, 0.0001, 0.0201)])
    assert judge(EXP, "theory-match", {"summary": ok}, d=100).status == "PASS"
    off = _summary([(0.0, 1000, 0.12, 0.0005, 0.1), (0.1, 1000, 0.02, 0.0001, 0.0201)])
    assert judge(EXP, "theory-match", {"summary": off}, d=100).status == "FAIL"
    noisy = _summary([(0.0, 1000, 0.101, 0.02, 0.1)])
    assert judge(EXP, "theory-match", {"summary": noisy}, d=100).status == "INCONCLUSIVE"


def _slopes(flat, clean, se=0.01, flat_1e3=None):
    flat_1e3 = flat if flat_1e3 is None else flat_1e3
    return {"slopes": pd.DataFrame({"p2": [0.0, 0.001, 0.01], "slope": [clean, flat_1e3, flat],
                                    "slope_se": [se] * 3, "points": [3] * 3})}


def test_slope_flattens_pass_fail_inconclusive():
    assert judge(EXP, "slope-flattens", _slopes(-0.02, -1.0)).status == "PASS"
    assert judge(EXP, "slope-flattens", _slopes(-0.5, -1.0)).status == "FAIL"  # not flat
    assert judge(EXP, "slope-flattens", _slopes(-0.02, -0.5)).status == "FAIL"  # clean curve stalled
    # "1 per 1000": an n grid whose last decade has not reached the p2 = 0.001 floor still descends
    assert judge(EXP, "slope-flattens", _slopes(-0.02, -1.0, flat_1e3=-0.5)).status == "FAIL"
    no_1e3 = {"slopes": _slopes(-0.02, -1.0)["slopes"].iloc[[0, 2]]}
    assert judge(EXP, "slope-flattens", no_1e3).status == "INCONCLUSIVE"
    assert judge(EXP, "slope-flattens", _slopes(-0.02, -1.0, se=0.2)).status == "INCONCLUSIVE"
    missing = {"slopes": pd.DataFrame({"p2": [0.0], "slope": [-1.0], "slope_se": [0.01], "points": [3]})}
    assert judge(EXP, "slope-flattens", missing).status == "INCONCLUSIVE"


def test_plateau_pass_fail_inconclusive():
    # c2 = 1: floors 0.01 (p2 = 0.1), 0.25 (p2 = 0.5); clean error 1e-5 at n_max
    ok = _summary([(0.0, 10**8, 1e-5, 1e-7, 1e-5), (0.1, 10**8, 0.0101, 1e-5, 0.0101),
                   (0.5, 10**8, 0.2502, 1e-4, 0.25)])
    assert judge(EXP, "plateau", {"summary": ok}).status == "PASS"
    high = ok.copy()
    high.loc[1, "mean"] = 0.013  # 30% above its floor
    assert judge(EXP, "plateau", {"summary": high}).status == "FAIL"
    noisy = ok.copy()
    noisy["stderr"] = 0.01
    assert judge(EXP, "plateau", {"summary": noisy}).status == "INCONCLUSIVE"
    not_there = _summary([(0.0, 1000, 0.1, 1e-3, 0.1), (0.1, 1000, 0.11, 1e-3, 0.11)])
    assert judge(EXP, "plateau", {"summary": not_there}).status == "INCONCLUSIVE"


@pytest.mark.slow
def test_smoke_run(tmp_path):
    report = run_experiment(EXP, preset="smoke", out_dir=tmp_path, workers=1)
    assert report.counts["failed"] == 0, report.failures
    assert all(c.status != "ERROR" for c in report.claims), [c.error for c in report.claims]
    f = report.frame
    assert np.all(f["error"] > 0) and np.all(f["stderr"] >= 0)
    big = f[f["n"] == f["n"].max()]
    # at the largest n the p2 = 0.1 error sits near its floor p2^2 c^2 = 0.01, far above the clean one
    assert big.loc[big["p2"] == 0.1, "error"].mean() == pytest.approx(0.01, rel=0.3)
    assert big.loc[big["p2"] == 0.0, "error"].mean() < 0.005
    assert list(report.artifact_dir.glob("figures/*.png"))


@pytest.mark.slow
def test_power_law_spectrum_smoke(tmp_path):
    report = run_experiment(EXP, preset="smoke", out_dir=tmp_path, workers=1,
                            overrides=["spectrum=power_law", "lam=0.01"])
    assert report.frame["theory"].notna().all()
