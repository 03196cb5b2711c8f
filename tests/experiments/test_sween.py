import numpy as np
import pytest

from collapselab.core.runner import run_experiment

NAMES = ["sween/certify", "sween/adaptive", "sween/small-vs-large"]


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    out = tmp_path_factory.mktemp("sween")
    return {name: run_experiment(name, preset="smoke", out_dir=out) for name in NAMES}


@pytest.mark.parametrize("name", NAMES)
def test_smoke_runs_and_records_are_sane(reports, name):
    r = reports[name]
    assert r.counts["failed"] == 0 and r.analysis_error is None
    row = r.frame.iloc[0]
    labels = np.asarray(row["labels"])
    assert len(labels) == 8
    heads = [c[len("radius__"):] for c in r.frame.columns if c.startswith("radius__")]
    assert heads
    for h in heads:
        radius, pred = np.asarray(row[f"radius__{h}"]), np.asarray(row[f"predict__{h}"])
        assert radius.shape == labels.shape and np.all(radius >= 0)
        assert np.all((pred >= -1) & (pred < 10)) and np.all(radius[pred == -1] == 0)
        # n = 60, alpha = 0.001: the largest certifiable radius is sigma * Phi^-1(alpha^(1/60))
        assert radius.max() <= 0.5 * 2.13
    assert np.isclose(sum(row["weights"]), 1.0) and min(row["weights"]) >= 0
    assert {c.status for c in r.claims} <= {"PASS", "FAIL", "INCONCLUSIVE"}
    assert (r.artifact_dir / "figures").exists()


def test_adaptive_counts(reports):
    row = reports["sween/adaptive"].frame.iloc[0]
    assert 0 < row["evals_adaptive-bound"] <= row["full_evals"]
    assert 0 < row["evals_adaptive"] <= row["full_evals"]
    # the exact rule never changes the class: same certificates as the full SWEEN
    assert row["predict__adaptive-bound"] == row["predict__sween"]


def test_certify_envelope_table(reports):
    table = reports["sween/certify"].artifact_dir / "tables" / "certified_accuracy.csv"
    import pandas as pd

    t = pd.read_csv(table)
    assert {"envelope", "sween", "uniform", "cand0", "cand1"} <= set(t["model"])
    env = t[t["model"] == "envelope"].iloc[0]
    cands = t[t["model"].str.startswith("cand")]
    assert env["r=0.25"] == cands["r=0.25"].max()
