"""Smoke runs of the strong-collapse experiments through the runner, and sanity of their metrics.

The claims' statuses are not asserted at smoke size (too small to judge); the claim checks themselves
are exercised on synthetic result frames where the answer is known.
"""

import numpy as np
import pandas as pd
import pytest

from collapselab.core import Results, get_experiment
from collapselab.core.runner import run_experiment


def _run(name, tmp_path, **kw):
    report = run_experiment(name, preset="smoke", out_dir=tmp_path, workers=1, **kw)
    assert report.counts["failed"] == 0, report.failures
    assert report.analysis_error is None, report.analysis_error
    assert len(report.claims) == len(get_experiment(name).claims)
    assert list(report.artifact_dir.glob("figures/*.png"))
    return report


def test_scaling_smoke(tmp_path):
    report = _run("strong-collapse/scaling", tmp_path)
    f = report.frame
    assert np.all(f["error"] > 0) and np.all(f["stderr"] >= 0)
    big = f[f["n"] == f["n"].max()]
    # at the largest n the p2 = 0.1 error sits near its floor p2^2 c^2 = 0.01, far above the clean one
    assert big.loc[big["p2"] == 0.1, "error"].mean() == pytest.approx(0.01, rel=0.3)
    assert big.loc[big["p2"] == 0.0, "error"].mean() < 0.005


def test_scaling_power_law_spectrum_smoke(tmp_path):
    report = _run("strong-collapse/scaling", tmp_path, overrides=["spectrum=power_law", "lam=0.01"])
    assert report.frame["theory"].notna().all()


def test_model_size_smoke(tmp_path):
    f = _run("strong-collapse/model-size", tmp_path).frame
    assert np.all(np.isfinite(f[["error_mixed", "error_clean", "theory_zeta"]].to_numpy()))
    assert np.all(f["se_zeta"] >= 0)


def test_pareto_smoke(tmp_path):
    f = _run("strong-collapse/pareto", tmp_path).frame
    assert np.allclose(f["zeta"], f["error_mixed"] - f["error_clean"])


def test_mitigation_smoke(tmp_path):
    f = _run("strong-collapse/mitigation", tmp_path).frame
    w = f[f["kind"] == "weighted"]
    assert all(len(e) == 3 for e in w["errors"])
    it = f[f["kind"] == "iterative"]
    assert np.all(it["error_iterative"] > 0) and np.all(it["error_real_half"] > 0)


def test_neural_smoke(tmp_path):
    f = _run("strong-collapse/neural", tmp_path).frame
    assert set(f["model"]) == {"mlp", "rf"}
    assert np.all((f["test_error"] >= 0) & (f["test_error"] < 0.9))  # better than chance (0.9)
    assert np.all((f["test_mse"] > 0) & (f["test_mse"] < 1.5)) and np.all(f["test_mse_se"] > 0)
    syn = f[f["p2"] > 0]
    assert np.all(syn["synthetic_label_error"] > 0)  # the generator is of limited quality


def _scaling_results(slope0: float, floor_factor: float) -> Results:
    exp = get_experiment("strong-collapse/scaling")
    p = exp.params.model_validate({"d": 10, "ns": [100, 1000, 10_000], "p2s": [0.0, 0.01]})
    rows = []
    for n in p.ns:
        for p2 in p.p2s:
            clean = (n / 100.0) ** slope0
            err = clean + floor_factor * p2**2 if p2 else clean
            rows.append({"n": n, "p2": p2, "error": err, "stderr": 1e-9, "theory": err, "replicate": 0})
    return Results(pd.DataFrame(rows), p, {})


def test_scaling_claim_checks_can_fail():
    exp = get_experiment("strong-collapse/scaling")
    checks = {c.id: c.check for c in exp.claims}
    # clean error too large relative to the floor: no flattening, no plateau judged
    bad = _scaling_results(-0.5, 1.0)
    assert checks["slope-flattens"](bad).status == "FAIL"
    assert checks["plateau"](bad).status == "INCONCLUSIVE"
    # floor 10x too high: plateau fails; theory equals MC: theory-match passes
    wrong = _scaling_results(-3.0, 10.0)
    assert checks["plateau"](wrong).status == "FAIL"
    assert checks["theory-match"](wrong).status == "PASS"
