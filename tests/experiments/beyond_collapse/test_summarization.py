"""Claim checks of beyond-collapse/summarization on hand-written tables, and the backend interface."""

import pandas as pd
import pytest

from collapselab.core.testing import judge

NAME = "beyond-collapse/summarization"


# Six seeds (>= 5 for the exact sign-flip test to reject one-sided at 0.05, >= 6 two-sided), with a
# seed-to-seed spread of 1-3 ROUGE-L points: none 1-2 points below its generator in every seed, the oracle
# selection 5-7 points above none, the model verifier 4-6.
GEN = (0.48, 0.50, 0.47, 0.49, 0.46, 0.48)
NONE = (0.47, 0.48, 0.46, 0.47, 0.45, 0.47)
ROUGE = (0.53, 0.55, 0.51, 0.54, 0.52, 0.52)
MODEL = (0.52, 0.52, 0.50, 0.53, 0.50, 0.51)


def runs(none=NONE, rouge=ROUGE, model=MODEL, gen=GEN):
    rows = []
    for strategy, vals in (("none", none), ("best-of-k/rouge", rouge), ("best-of-k/model", model),
                           ("real", (0.9,) * len(gen))):
        for rep, (v, g) in enumerate(zip(vals, gen)):
            rows.append({"replicate": rep, "strategy": strategy, "size": 2000, "rouge1": v, "rouge2": v,
                         "rougeL": v, "selected_label_rougeL": 0.6, "generator_rougeL": g})
    return {"runs": pd.DataFrame(rows)}


@pytest.mark.parametrize("claim, key", [("selection", "rouge"), ("model-verifier", "model")])
def test_selection_beats_none(claim, key):
    assert judge(NAME, claim, runs()).status == "PASS"
    tie = (0.47, 0.49, 0.45, 0.47, 0.46, 0.46)  # within 1 point of none: a tie never passes
    assert judge(NAME, claim, runs(**{key: tie})).status == "FAIL"
    noisy = (0.40, 0.60, 0.50, 0.44, 0.58, 0.47)
    assert judge(NAME, claim, runs(**{key: noisy})).status == "INCONCLUSIVE"


def test_collapse():
    assert judge(NAME, "collapse", runs()).status == "PASS"  # none 1-2 points below its generator, tight
    assert judge(NAME, "collapse", runs(none=(0.52, 0.53, 0.50, 0.52, 0.49, 0.51))).status == "FAIL"
    assert judge(NAME, "collapse", runs(none=(0.40, 0.56, 0.48, 0.44, 0.53, 0.45))).status == "INCONCLUSIVE"


@pytest.mark.parametrize("claim", ["selection", "model-verifier", "collapse"])
def test_three_seeds_cannot_pass(claim):
    """The exact sign-flip test's floor: 3 seeds give a smallest one-sided p-value of 1/8, so the clear
    default effects stay INCONCLUSIVE and ask for more seeds."""
    three = runs(none=NONE[:3], rouge=ROUGE[:3], model=MODEL[:3], gen=GEN[:3])
    out = judge(NAME, claim, three)
    assert out.status == "INCONCLUSIVE" and "replicates" in out.needs


def test_missing_strategy_is_inconclusive():
    t = runs()
    t["runs"] = t["runs"][t["runs"]["strategy"] != "best-of-k/rouge"]
    assert judge(NAME, "selection", t).status == "INCONCLUSIVE"


def test_fewer_than_three_seeds_is_inconclusive():
    out = judge(NAME, "selection", runs(none=(0.47, 0.48), rouge=(0.53, 0.54), model=(0.5, 0.5), gen=(0.48, 0.49)))
    assert out.status == "INCONCLUSIVE" and "3 seeds" in out.needs
