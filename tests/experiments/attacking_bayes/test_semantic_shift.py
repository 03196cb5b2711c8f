"""attacking-bayes/semantic-shift: claim checks on hand-made tables (PASS, FAIL, INCONCLUSIVE), and a smoke run."""

import pandas as pd
import pytest

from collapselab.core.testing import judge
from collapselab.experiments.attacking_bayes._common import BNNS

EXP = "attacking-bayes/semantic-shift"


def clean(k=190, n=200):
    return pd.DataFrame({"method": list(BNNS), "k": k, "n": n, "accuracy": k / n})


def table(clean_auroc, attacked_auroc, se):
    rows = []
    for m in BNNS:
        for eps, a in ((0.0, clean_auroc), (0.1, attacked_auroc)):
            rows.append({"method": m, "eps": eps, "seeds": 1, "auroc_entropy": a, "se_entropy": se,
                         "auroc_mutual_information": a, "se_mutual_information": se})
    return pd.DataFrame(rows)


def test_ood_auroc_falls():
    def v(attacked, se):
        return judge(EXP, "ood-auroc-falls", {"semantic_shift": table(0.9, attacked, se), "clean_accuracy": clean()})

    assert v(0.2, 0.03).status == "PASS"
    assert v(0.8, 0.03).status == "FAIL"
    assert v(0.45, 0.1).status == "INCONCLUSIVE"


def test_detector_works():
    def v(before, se):
        return judge(EXP, "detector-works", {"semantic_shift": table(before, 0.2, se)})

    assert v(0.9, 0.02).status == "PASS"
    assert v(0.5, 0.02).status == "FAIL"
    assert v(0.6, 0.1).status == "INCONCLUSIVE"


def test_clean_sane_gates_the_robustness_claim():
    v = judge(EXP, "ood-auroc-falls", {"semantic_shift": table(0.9, 0.2, 0.03), "clean_accuracy": clean(k=40)})
    assert v.status == "INCONCLUSIVE" and "clean" in v.measured


@pytest.mark.slow
def test_smoke_run(tmp_path):
    from collapselab.core.runner import run_experiment

    rep = run_experiment(EXP, preset="smoke", out_dir=tmp_path, overrides=["methods=ensemble,vi"])
    assert rep.counts["failed"] == 0 and rep.analysis_error is None
    assert all(0.0 <= e["auroc_entropy"] <= 1.0 for r in rep.frame["per_eps"] for e in r)
    assert all(len(c) == 20 for c in rep.frame["clean_correct"])
