"""attacking-bayes/detection: claim checks on hand-made tables (PASS, FAIL, INCONCLUSIVE), and a smoke run."""

import pandas as pd
import pytest

from collapselab.core.testing import judge
from collapselab.experiments.attacking_bayes._common import BNNS

EXP = "attacking-bayes/detection"


def clean(k=190, n=200):
    return pd.DataFrame({"method": list(BNNS), "k": k, "n": n, "accuracy": k / n})


def table(auroc, se, k=180, n=180):
    rows = []
    for m in BNNS:
        rows.append({"method": m, "attack": "pgd", "k_misclassified": n, "n": n, "misclassified": 1.0,
                     "auroc_entropy": 0.2, "se_entropy": 0.03, "auroc_mutual_information": 0.2,
                     "se_mutual_information": 0.03})
        rows.append({"method": m, "attack": "targeted", "k_misclassified": k, "n": n, "misclassified": k / n,
                     "auroc_entropy": auroc, "se_entropy": se, "auroc_mutual_information": auroc,
                     "se_mutual_information": se})
    return pd.DataFrame(rows)


def test_adaptive_evades():
    assert judge(EXP, "adaptive-evades", {"detection": table(0.1, 0.02), "clean_accuracy": clean()}).status == "PASS"
    assert judge(EXP, "adaptive-evades", {"detection": table(0.8, 0.02), "clean_accuracy": clean()}).status == "FAIL"
    weak = table(0.1, 0.02, k=90, n=180)  # the attack misclassifies only half: it does not evade
    assert judge(EXP, "adaptive-evades", {"detection": weak, "clean_accuracy": clean()}).status == "FAIL"
    noisy = {"detection": table(0.55, 0.1), "clean_accuracy": clean()}
    assert judge(EXP, "adaptive-evades", noisy).status == "INCONCLUSIVE"
    few = {"detection": table(0.1, 0.05, k=9, n=9), "clean_accuracy": clean()}  # 9/9: Wilson lower bound 0.70
    assert judge(EXP, "adaptive-evades", few).status == "INCONCLUSIVE"


def test_clean_sane():
    assert judge(EXP, "clean-sane", {"clean_accuracy": clean()}).status == "PASS"
    assert judge(EXP, "clean-sane", {"clean_accuracy": clean(k=50)}).status == "FAIL"


@pytest.mark.slow
def test_smoke_run(tmp_path):
    from collapselab.core.runner import run_experiment

    det = run_experiment(EXP, preset="smoke", out_dir=tmp_path, overrides=["methods=mcdropout,hmc"])
    assert det.counts["failed"] == 0 and det.analysis_error is None
    for _, row in det.frame.iterrows():
        attacks = {e["attack"]: e for e in row["per_attack"]}
        assert set(attacks) == {"fgsm", "pgd", "targeted", "penalty_entropy", "penalty_mutual_information"}
        for e in attacks.values():
            assert 0 <= e["k_misclassified"] <= e["n"]
            assert 0.0 <= e["auroc_entropy"] <= 1.0 and e["se_entropy"] >= 0
