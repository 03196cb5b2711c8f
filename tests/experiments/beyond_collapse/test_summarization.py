"""Claim checks of beyond-collapse/summarization on hand-written tables, and the backend interface."""

import pandas as pd
import pytest

from collapselab.core.testing import judge

NAME = "beyond-collapse/summarization"


def runs(none=(0.47, 0.48, 0.46), rouge=(0.53, 0.54, 0.52), model=(0.52, 0.53, 0.52), gen=(0.48, 0.49, 0.47)):
    rows = []
    for strategy, vals in (("none", none), ("best-of-k/rouge", rouge), ("best-of-k/model", model),
                           ("real", (0.9, 0.9, 0.9))):
        for rep, (v, g) in enumerate(zip(vals, gen)):
            rows.append({"replicate": rep, "strategy": strategy, "size": 2000, "rouge1": v, "rouge2": v,
                         "rougeL": v, "selected_label_rougeL": 0.6, "generator_rougeL": g})
    return {"runs": pd.DataFrame(rows)}


@pytest.mark.parametrize("claim, key", [("selection", "rouge"), ("model-verifier", "model")])
def test_selection_beats_none(claim, key):
    assert judge(NAME, claim, runs()).status == "PASS"
    assert judge(NAME, claim, runs(**{key: (0.47, 0.48, 0.46)})).status == "FAIL"  # a tie never passes
    assert judge(NAME, claim, runs(**{key: (0.40, 0.60, 0.50)})).status == "INCONCLUSIVE"


def test_collapse():
    assert judge(NAME, "collapse", runs()).status == "PASS"  # none 0.01 below its generator, tight
    assert judge(NAME, "collapse", runs(none=(0.52, 0.53, 0.51))).status == "FAIL"
    assert judge(NAME, "collapse", runs(none=(0.40, 0.56, 0.48))).status == "INCONCLUSIVE"


def test_missing_strategy_is_inconclusive():
    t = runs()
    t["runs"] = t["runs"][t["runs"]["strategy"] != "best-of-k/rouge"]
    assert judge(NAME, "selection", t).status == "INCONCLUSIVE"


def test_fewer_than_three_seeds_is_inconclusive():
    out = judge(NAME, "selection", runs(none=(0.47, 0.48), rouge=(0.53, 0.54), model=(0.5, 0.5), gen=(0.48, 0.49)))
    assert out.status == "INCONCLUSIVE" and "3 seeds" in out.needs
