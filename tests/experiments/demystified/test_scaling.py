"""demystified/scaling: the claim checks on hand-written tables, the quick preset's regime, a smoke run."""

import math

import pandas as pd
import pytest

from collapselab.core import get_experiment, resolve_params
from collapselab.core.runner import run_experiment
from collapselab.core.testing import judge

EXP = "demystified/scaling"
C = 2 / 3  # 2 beta r/(2 beta r + 1) at beta = 2, r = 1/2


def _slopes(fast=-C, clean_late=1 - C, adaptive_late=0.0, se=0.01, err=(0.5, 0.2)):
    rows = [{"n": 0, "mode": "clean", "slope": fast, "slope_se": se, "late_slope": fast, "late_slope_se": se,
             "theory_late_slope": fast, "error_at_max_T": 0.006, "stderr_at_max_T": 1e-4, "max_T": 3000}]
    for n in (1, 16):
        rows.append({"n": n, "mode": "clean", "slope": 0.1, "slope_se": se, "late_slope": clean_late,
                     "late_slope_se": se, "theory_late_slope": 0.29, "error_at_max_T": err[0],
                     "stderr_at_max_T": 0.005, "max_T": 3000})
        rows.append({"n": n, "mode": "adaptive", "slope": -0.1, "slope_se": se, "late_slope": adaptive_late,
                     "late_slope_se": se, "theory_late_slope": -0.04, "error_at_max_T": err[1],
                     "stderr_at_max_T": 0.005, "max_T": 3000})
    return {"slopes": pd.DataFrame(rows)}


def test_clean_rate_pass_fail_inconclusive():
    assert judge(EXP, "clean-rate", _slopes()).status == "PASS"
    assert judge(EXP, "clean-rate", _slopes(fast=-0.5)).status == "FAIL"
    assert judge(EXP, "clean-rate", _slopes(se=0.1)).status == "INCONCLUSIVE"


def test_crossover_exponent_pass_fail_inconclusive():
    assert judge(EXP, "crossover-exponent", _slopes()).status == "PASS"
    assert judge(EXP, "crossover-exponent", _slopes(clean_late=0.0)).status == "FAIL"  # flat, not rising
    assert judge(EXP, "crossover-exponent", _slopes(adaptive_late=-0.5)).status == "FAIL"  # no plateau
    assert judge(EXP, "crossover-exponent", _slopes(se=0.1)).status == "INCONCLUSIVE"


def test_adaptive_wins_pass_fail_inconclusive():
    assert judge(EXP, "adaptive-wins", _slopes()).status == "PASS"
    assert judge(EXP, "adaptive-wins", _slopes(err=(0.2, 0.5))).status == "FAIL"
    noisy = _slopes()["slopes"].assign(stderr_at_max_T=0.5)
    assert judge(EXP, "adaptive-wins", {"slopes": noisy}).status == "INCONCLUSIVE"


def test_quick_preset_regime():
    exp = get_experiment(EXP)
    p = resolve_params(exp.params, exp.presets, "quick")
    clean = {c["T"]: c["lam"] for c in exp.cells(p) if c["n"] == 0}
    assert clean[100] == pytest.approx(100 ** (-2 / 3))  # T^{-l_crit}, beta = 2, r = 1/2
    assert all(math.isfinite(c["lam"]) and c["lam"] > 0 for c in exp.cells(p))
    assert p.T0 > p.d + 1


@pytest.mark.slow
def test_smoke_run(tmp_path):
    report = run_experiment(EXP, preset="smoke", out_dir=tmp_path, workers=1)
    assert report.counts["failed"] == 0, report.failures
    assert all(c.status != "ERROR" for c in report.claims), [c.error for c in report.claims]
