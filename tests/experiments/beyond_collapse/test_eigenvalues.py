"""Claim checks of beyond-collapse/eigenvalues on hand-written tables (PASS, FAIL, INCONCLUSIVE)."""

import pandas as pd
import pytest

from collapselab import stats
from collapselab.core.testing import judge

NAME = "beyond-collapse/eigenvalues"


def tables(gen=(0.40, 0.42, 0.38), none=(0.30, 0.31, 0.29), oracle=(0.50, 0.52, 0.49),
           bestofk=(0.45, 0.46, 0.44), size=6000, n_test=1000):
    rows = []
    for strategy, accs in (("none", none), ("oracle", oracle), ("best-of-k", bestofk)):
        for rep, (acc, g) in enumerate(zip(accs, gen)):
            rows.append({"replicate": rep, "strategy": strategy, "size": size, "accuracy": acc, "n_kept": size,
                         "selected_label_accuracy": 0.5, "generator_accuracy": g, "n_test": n_test})
    cis = [stats.proportion_ci(round(g * n_test), n_test) for g in gen]
    generator = pd.DataFrame({"replicate": range(len(gen)), "generator_accuracy": gen, "n_test": n_test,
                              "pool_top1_accuracy": gen, "pool_bestofk_accuracy": gen,
                              "ci_low": [c[0] for c in cis], "ci_high": [c[1] for c in cis]})
    return {"runs": pd.DataFrame(rows), "generator": generator}


def test_generator_band():
    assert judge(NAME, "generator-band", tables()).status == "PASS"
    assert judge(NAME, "generator-band", tables(gen=(0.40, 0.05, 0.38))).status == "FAIL"
    assert judge(NAME, "generator-band", tables(gen=(0.40, 0.21, 0.38))).status == "INCONCLUSIVE"  # straddles 0.2


def test_collapse():
    assert judge(NAME, "collapse", tables()).status == "PASS"  # none clearly below its generator
    assert judge(NAME, "collapse", tables(none=(0.50, 0.52, 0.49))).status == "FAIL"  # none beats it
    tie = judge(NAME, "collapse", tables(none=(0.41, 0.40, 0.39)))  # a tie never passes "does not beat"
    assert tie.status == "INCONCLUSIVE"
    noisy = judge(NAME, "collapse", tables(none=(0.20, 0.45, 0.30)))  # too noisy: never a default PASS
    assert noisy.status == "INCONCLUSIVE" and noisy.needs


def test_oracle():
    assert judge(NAME, "oracle", tables()).status == "PASS"
    assert judge(NAME, "oracle", tables(oracle=(0.39, 0.41, 0.37))).status == "FAIL"
    assert judge(NAME, "oracle", tables(oracle=(0.30, 0.60, 0.45))).status == "INCONCLUSIVE"


def test_best_of_k():
    assert judge(NAME, "best-of-k", tables()).status == "PASS"
    assert judge(NAME, "best-of-k", tables(bestofk=(0.30, 0.31, 0.29))).status == "FAIL"  # a tie
    assert judge(NAME, "best-of-k", tables(bestofk=(0.20, 0.50, 0.35))).status == "INCONCLUSIVE"


@pytest.mark.parametrize("claim", ["collapse", "oracle", "best-of-k"])
def test_paper_claims_need_the_gate_and_three_seeds(claim):
    out = judge(NAME, claim, tables(gen=(0.40, 0.05, 0.38)))
    assert out.status == "INCONCLUSIVE" and "band" in out.needs
    two = tables(gen=(0.40, 0.42), none=(0.30, 0.31), oracle=(0.5, 0.52), bestofk=(0.45, 0.46))
    out = judge(NAME, claim, two)
    assert out.status == "INCONCLUSIVE" and "3 seeds" in out.needs
