"""rat-bptt/gradient-variance: claim checks on synthetic tables, the variance estimator, a smoke run."""

import math

import numpy as np
import pandas as pd
import pytest

from collapselab.core.testing import judge
from collapselab.experiments.rat_bptt.gradient_variance import relative_variance

NAME = "rat-bptt/gradient-variance"


def _per_seed(log_ratio, noise=0.05, reps=6, seed=0):
    r = np.random.default_rng(seed)
    rows = []
    for rep in range(reps):
        base = r.standard_normal()
        rows += [{"replicate": rep, "method": "rat_bptt", "log_rel_var": base},
                 {"replicate": rep, "method": "bptt", "log_rel_var": base + log_ratio + noise * r.standard_normal()}]
    return {"per_seed": pd.DataFrame(rows)}


def test_bptt_less_stable_pass_fail_inconclusive():
    assert judge(NAME, "bptt-less-stable", _per_seed(1.0)).status == "PASS"
    assert judge(NAME, "bptt-less-stable", _per_seed(-0.5)).status == "FAIL"
    assert judge(NAME, "bptt-less-stable", _per_seed(0.3, noise=2.0)).status == "INCONCLUSIVE"
    assert judge(NAME, "bptt-less-stable", _per_seed(1.0, reps=1)).status == "INCONCLUSIVE"


def test_relative_variance_matches_its_definition():
    r = np.random.default_rng(0)
    mean = np.array([3.0, 4.0])  # ||mean|| = 5
    gs = mean + r.standard_normal((200_000, 2))  # E||g - mean||^2 = 2
    assert relative_variance(gs) == pytest.approx(2 / 25, rel=0.02)
    assert math.isclose(relative_variance(np.ones((3, 4))), 0.0)


@pytest.mark.slow
def test_gradient_variance_smoke(tmp_path):
    from collapselab.core.runner import run_experiment

    rep = run_experiment(NAME, preset="smoke", out_dir=tmp_path)
    assert rep.counts["failed"] == 0, rep.failures
    assert rep.analysis_error is None, rep.analysis_error
    for _, r in rep.frame.iterrows():
        assert len(r["norms"]) == 3 and all(math.isfinite(v) and v >= 0 for v in r["norms"])
        assert sorted(set(r["probe_method"])) == ["bptt", "rat_bptt"] and all(v >= 0 for v in r["rel_var"])
