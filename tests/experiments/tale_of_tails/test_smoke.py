"""Each Tale of Tails experiment end to end at its smoke preset: cells run, tables and claims come out."""

import numpy as np
import pytest

from collapselab.core.runner import run_experiment

EXPERIMENTS = ["clean-and-cut", "narrow", "generations", "grokking", "bigram", "gcd", "gcd-grokking"]


@pytest.mark.slow
@pytest.mark.parametrize("name", EXPERIMENTS)
def test_smoke(name, tmp_path):
    report = run_experiment(f"tale-of-tails/{name}", preset="smoke", out_dir=tmp_path)
    assert report.analysis_error is None
    assert report.counts["failed"] == 0 and not report.frame.empty
    assert {c.id for c in report.claims} and all(c.status != "ERROR" for c in report.claims)
    if name.startswith("gcd"):
        rows = report.frame["models" if name == "gcd" else "curves"].iloc[0]
        acc = np.asarray([r["accuracy"] for r in rows], dtype=float)
        assert np.all((acc[~np.isnan(acc)] >= 0) & (acc[~np.isnan(acc)] <= 1))
        return
    for errors in report.frame["errors"]:
        flat = np.ravel(np.asarray(errors, dtype=float))
        assert np.all((flat >= 0) & (flat <= 1))
