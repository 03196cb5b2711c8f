"""Each Tale of Tails experiment at its smoke preset through the runner: metrics are sane."""

import math

import numpy as np
import pytest

from collapselab.core.runner import run_experiment

EXPERIMENTS = ["clean-and-cut", "narrow", "generations", "grokking", "bigram", "gcd"]


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_smoke(name, tmp_path):
    report = run_experiment(f"tale-of-tails/{name}", preset="smoke", out_dir=tmp_path)
    assert report.analysis_error is None
    assert report.counts["failed"] == 0 and not report.frame.empty
    assert {c.id for c in report.claims} and all(c.status in ("PASS", "FAIL", "INCONCLUSIVE") for c in report.claims)
    assert (report.artifact_dir / "claims.json").exists()
    frame = report.frame
    if name == "gcd":
        acc = np.asarray(frame["accuracy"].iloc[0], dtype=float)  # (stages, values)
        assert acc.shape[0] == len(frame["stages"].iloc[0]) and np.all((acc >= 0) & (acc <= 1))
        assert all(0 <= u <= 1 for u in frame["uniform_accuracy"].iloc[0])
        return
    for errors in frame["errors"]:
        flat = np.ravel(np.asarray(errors, dtype=float))
        assert np.all((flat >= 0) & (flat <= 1)) and not any(math.isnan(x) for x in flat)
