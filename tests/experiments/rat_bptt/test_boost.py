"""rat-bptt/boost: claim checks on synthetic tables and a smoke run."""

import numpy as np
import pandas as pd
import pytest

from collapselab.core.testing import judge

NAME = "rat-bptt/boost"


def _table(direct_minus_oneshot, boost_minus_oneshot, noise=0.003, budgets=(1, 2, 3), reps=6, seed=0):
    r = np.random.default_rng(seed)
    rows = []
    for k in budgets:
        for rep in range(reps):
            one = 0.7 + 0.05 * k + 0.01 * r.standard_normal()
            last = k == max(budgets)  # at the largest budget the direct set is the one-shot set
            vals = {"oneshot": one, "direct": one if last else one + direct_minus_oneshot + noise * r.standard_normal(),
                    "boost": one + boost_minus_oneshot + noise * r.standard_normal()}
            rows += [{"ipc": k, "kind": kind, "replicate": rep, "acc": v} for kind, v in vals.items()]
    return {"accuracy": pd.DataFrame(rows)}


def test_intercorrelation():
    assert judge(NAME, "intercorrelation", _table(0.05, 0.0)).status == "PASS"
    assert judge(NAME, "intercorrelation", _table(-0.01, 0.0)).status == "FAIL"
    assert judge(NAME, "intercorrelation", _table(0.02, 0.0, noise=0.1)).status == "INCONCLUSIVE"


def test_boost_vs_prefixes():
    assert judge(NAME, "boost-vs-prefixes", _table(0.05, 0.04)).status == "PASS"
    assert judge(NAME, "boost-vs-prefixes", _table(0.05, -0.02)).status == "FAIL"
    assert judge(NAME, "boost-vs-prefixes", _table(0.05, 0.01, noise=0.1)).status == "INCONCLUSIVE"


def test_boost_near_optimal():
    # direct - boost = direct_minus_oneshot - boost_minus_oneshot (budgets below K); at K direct = one-shot
    assert judge(NAME, "boost-near-optimal", _table(0.03, 0.03)).status == "PASS"
    assert judge(NAME, "boost-near-optimal", _table(0.08, 0.0)).status == "FAIL"
    assert judge(NAME, "boost-near-optimal", _table(0.03, 0.03, noise=0.1)).status == "INCONCLUSIVE"


@pytest.mark.slow
def test_boost_smoke(tmp_path):
    from collapselab.core.runner import run_experiment

    rep = run_experiment(NAME, preset="smoke", out_dir=tmp_path)
    assert rep.counts["failed"] == 0, rep.failures
    assert rep.analysis_error is None, rep.analysis_error
    for kind in ("direct", "oneshot", "boost"):
        for accs in rep.frame[f"acc_{kind}"]:
            assert len(accs) == 2 and all(0 <= a <= 1 for a in accs)
    assert (rep.artifact_dir / "distilled_boost_ipc2.npz").is_file()
