"""transferred-discrepancy/predictiveness: claim check on synthetic tables (PASS / FAIL / INCONCLUSIVE), and
a smoke run."""

import numpy as np
import pandas as pd
import pytest

from collapselab.core.testing import judge

EXP = "transferred-discrepancy/predictiveness"


def table(td, cka, cca, *, n=6, jitter=0.03, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for r in range(n):
        for m, v in (("td", td), ("one_minus_cka", cka), ("one_minus_cca_r2", cca), ("accuracy_gap", 0.2)):
            rows.append({"replicate": r, "measure": m, "spearman": v + jitter * rng.standard_normal()})
    return {"replicates": pd.DataFrame(rows)}


def test_td_predicts_best():
    assert judge(EXP, "td-predicts-best", table(0.8, 0.6, 0.3)).status == "PASS"
    fail = judge(EXP, "td-predicts-best", table(0.6, 0.8, 0.3))  # CKA better than TD
    assert fail.status == "FAIL", fail.measured
    tie = judge(EXP, "td-predicts-best", table(0.7, 0.7, 0.3))  # a tie with CKA never passes
    assert tie.status == "FAIL", tie.measured
    noisy = judge(EXP, "td-predicts-best", table(0.75, 0.7, 0.3, jitter=0.3))
    assert noisy.status == "INCONCLUSIVE" and noisy.needs
    assert judge(EXP, "td-predicts-best", table(0.8, 0.6, 0.3, n=3)).status == "INCONCLUSIVE"


@pytest.mark.slow
def test_predictiveness_smoke(tmp_path):
    from collapselab.core.runner import run_experiment

    rep = run_experiment(EXP, preset="smoke", out_dir=tmp_path)
    assert rep.counts["failed"] == 0
    pairs = pd.read_csv(rep.artifact_dir / "tables" / "pairs.csv")
    assert len(pairs) == 3 and pairs["target"].between(0, 1).all() and pairs["td"].between(0, 1).all()
    assert rep.claims[0].status == "INCONCLUSIVE"  # 3 networks, 1 replicate at smoke


def test_digits_resized_like_mnist():
    from collapselab.experiments.transferred_discrepancy._common import digits_28

    x, y = digits_28()
    assert x.shape == (1797, 1, 28, 28) and y.shape == (1797,) and set(y.tolist()) == set(range(10))
    assert x.min() >= 0 and x.max() <= 1 and np.all(x[:, :, :4] == 0) and np.all(x[:, :, :, -4:] == 0)
