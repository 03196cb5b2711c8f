"""Smoke runs of the Model Collapse Demystified experiments: metrics are sane, claims evaluate."""

import math

import numpy as np
import pytest

from collapselab.core import get_experiment
from collapselab.core.runner import run_experiment

NAMES = ["generations", "ridge-u-curve", "overparam", "scaling", "accumulate", "kernel"]


@pytest.mark.parametrize("name", NAMES)
def test_smoke_run(name, tmp_path):
    report = run_experiment(f"demystified/{name}", preset="smoke", out_dir=tmp_path)
    assert report.counts["failed"] == 0, report.failures
    assert report.analysis_error is None
    exp = get_experiment(f"demystified/{name}")
    assert [c.id for c in report.claims] == [c.id for c in exp.claims]
    assert all(c.status in ("PASS", "FAIL", "INCONCLUSIVE") for c in report.claims)
    assert all("check raised" not in c.measured for c in report.claims)
    frame = report.frame
    if name == "kernel":
        mse = np.concatenate(frame["test_mse"].to_numpy())
        acc = np.concatenate(frame["test_acc"].to_numpy())
        assert np.all(mse > 0) and np.all((acc >= 0) & (acc <= 1))
        assert acc[0] > 0.5  # clean labels: kernel ridge is a decent MNIST classifier even at 100 images
        return
    assert np.all(frame["error"] >= 0) and np.all(frame["stderr"] >= 0)
    assert np.all(np.isfinite(frame["theory"]))
    # smoke reps are few: theory and MC agree within 5 standard errors (+10% for the deterministic
    # equivalent's finite-size bias at these tiny d) at every cell
    gap = np.abs(frame["error"] - frame["theory"])
    assert np.all(gap <= 5 * frame["stderr"] + 0.1 * frame["theory"] + 1e-12)
    assert list(report.artifact_dir.rglob("*.png"))


def test_quick_presets_are_the_claimed_regimes():
    gen = get_experiment("demystified/generations").params.model_validate(
        get_experiment("demystified/generations").presets["quick"])
    assert gen.T0 > gen.d + 1 and 0.0 in gen.lams
    over = get_experiment("demystified/overparam").params.model_validate(
        get_experiment("demystified/overparam").presets["quick"])
    assert all(t < over.d for t in over.T0s) and over.sigma0 == 0
    acc = get_experiment("demystified/accumulate").params.model_validate(
        get_experiment("demystified/accumulate").presets["quick"])
    assert acc.T0 > acc.d + 1
    sc = get_experiment("demystified/scaling")
    cells = sc.cells(sc.params.model_validate(sc.presets["quick"]))
    clean = {c["T"]: c["lam"] for c in cells if c["n"] == 0}
    assert clean[100] == pytest.approx(100 ** (-2 / 3))  # T^{-l_crit}, beta = 2, r = 1/2
    assert all(math.isfinite(c["lam"]) and c["lam"] > 0 for c in cells)
