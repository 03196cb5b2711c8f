"""The four beyond-collapse experiments at their smoke presets: they run, analyse and judge."""

import numpy as np
import pytest

from collapselab.core.runner import run_experiment

EXPERIMENTS = ["beyond-collapse/phase-transition", "beyond-collapse/linear-verifier",
               "beyond-collapse/eigenvalues", "beyond-collapse/summarization"]


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    out = tmp_path_factory.mktemp("beyond")
    return {name: run_experiment(name, preset="smoke", out_dir=out) for name in EXPERIMENTS}


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_smoke_runs_cleanly(reports, name):
    r = reports[name]
    assert r.counts["failed"] == 0 and r.analysis_error is None
    assert {c.status for c in r.claims} <= {"PASS", "FAIL", "INCONCLUSIVE"}
    assert not any(c.measured.startswith("check raised") for c in r.claims)
    assert any((r.artifact_dir / "figures").glob("*.png"))


def test_phase_transition_metrics(reports):
    f = reports["beyond-collapse/phase-transition"].frame
    assert f["accuracy"].between(0, 1).all()
    assert np.allclose(f["p_star"], 0.75) and np.allclose(f["bayes"], 0.8413447460685429)
    low = f[f["p"] == 0.2]["accuracy"].mean()
    high = f[f["p"] == 0.8]["accuracy"].mean()
    assert low > 0.6 > 0.4 > high  # the two sides of the transition, even at N = 200..1000


def test_linear_verifier_metrics(reports):
    f = reports["beyond-collapse/linear-verifier"].frame
    assert f["p_star_hat"].between(0, 1).all() and f["p_hat"].between(0, 1).all()
    flips = f[f["generator"].str.startswith("flip")]
    assert (flips["limit_accuracy"].between(0, 1)).all()


def test_eigenvalue_metrics(reports):
    f = reports["beyond-collapse/eigenvalues"].frame
    assert set(f["strategy"]) == {"none", "oracle", "best-of-k", "noisy"}
    assert f["generator_accuracy"].between(0, 1).all()
    none = f[f["strategy"] == "none"].iloc[0]
    assert none["n_selected"] == 48 and [pt["size"] for pt in none["curve"]] == [8, 16]
    bok = f[f["strategy"] == "best-of-k"].iloc[0]
    assert bok["pool_bestofk_accuracy"] >= bok["pool_top1_accuracy"]


def test_summarization_metrics(reports):
    f = reports["beyond-collapse/summarization"].frame
    assert set(f["strategy"]) == {"none", "best-of-k/rouge", "best-of-k/model", "real"}
    sel = f.set_index("strategy")["selected_label_rougeL"]
    assert sel["best-of-k/rouge"] >= sel["none"] and sel["real"] == 1.0
    for curve in f["curve"]:
        assert all(0 <= pt["rougeL"] <= 1 for pt in curve)
