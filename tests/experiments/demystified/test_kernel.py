"""demystified/kernel: the claim check on hand-written chains, and a smoke run."""

import numpy as np
import pandas as pd
import pytest

from collapselab.core.runner import run_experiment
from collapselab.core.testing import judge

EXP = "demystified/kernel"


def _chains(rise, spread=0.001, chains=5):
    rng = np.random.default_rng(0)
    rows = [{"replicate": c, "n": n, "test_mse": 0.2 + rise * n / 8 + spread * rng.standard_normal(), "test_acc": 0.9}
            for c in range(chains) for n in (0, 1, 2, 4, 8)]
    return {"chains": pd.DataFrame(rows)}


def test_error_rises_pass_fail_inconclusive():
    assert judge(EXP, "error-rises", _chains(0.1)).status == "PASS"
    assert judge(EXP, "error-rises", _chains(-0.02)).status == "FAIL"
    assert judge(EXP, "error-rises", _chains(0.1, spread=0.5)).status == "INCONCLUSIVE"
    assert judge(EXP, "error-rises", _chains(0.1, chains=2)).status == "INCONCLUSIVE"


@pytest.mark.slow
def test_smoke_run(tmp_path):
    report = run_experiment(EXP, preset="smoke", out_dir=tmp_path, workers=1)
    assert report.counts["failed"] == 0, report.failures
    assert all(c.status != "ERROR" for c in report.claims), [c.error for c in report.claims]
    mse = np.concatenate(report.frame["test_mse"].to_numpy())
    acc = np.concatenate(report.frame["test_acc"].to_numpy())
    assert np.all(mse > 0) and np.all((acc >= 0) & (acc <= 1))
    assert acc[0] > 0.5  # clean labels: kernel ridge is a decent MNIST classifier even at 100 images
