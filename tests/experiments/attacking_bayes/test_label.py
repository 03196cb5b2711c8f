"""attacking-bayes/label: every claim check on hand-made tables (PASS, FAIL, INCONCLUSIVE), and a smoke run."""

import numpy as np
import pandas as pd
import pytest

from collapselab.core.testing import judge
from collapselab.experiments.attacking_bayes import label
from collapselab.experiments.attacking_bayes._common import BNNS, METHODS

EXP = "attacking-bayes/label"


def clean(k=190, n=200, methods=METHODS):
    return pd.DataFrame({"method": list(methods), "k": k, "n": n, "accuracy": k / n})


def robust(k_pgd=0, n=200, worst_method=None, worst_k=None):
    rows = [{"method": m, "eps": 0.3, "n": n, "k_pgd": worst_k if m == worst_method else k_pgd} for m in METHODS]
    return pd.DataFrame(rows)


def test_clean_sane():
    assert judge(EXP, "clean-sane", {"clean_accuracy": clean()}).status == "PASS"
    bad = clean()
    bad.loc[2, "k"] = 100  # 50% clean accuracy: a model that did not learn
    assert judge(EXP, "clean-sane", {"clean_accuracy": bad}).status == "FAIL"
    assert judge(EXP, "clean-sane", {"clean_accuracy": clean(k=17, n=20)}).status == "INCONCLUSIVE"


def test_all_fall():
    ok = {"robust_accuracy": robust(), "clean_accuracy": clean()}
    assert judge(EXP, "all-fall", ok).status == "PASS"
    bad = {"robust_accuracy": robust(worst_method="hmc", worst_k=40), "clean_accuracy": clean()}
    assert judge(EXP, "all-fall", bad).status == "FAIL"
    few = {"robust_accuracy": robust(n=20), "clean_accuracy": clean()}
    assert judge(EXP, "all-fall", few).status == "INCONCLUSIVE"
    untrained = {"robust_accuracy": robust(), "clean_accuracy": clean(k=60)}
    v = judge(EXP, "all-fall", untrained)
    assert v.status == "INCONCLUSIVE" and "clean-sane" in v.needs


def examples(n=200, every=2, column="one_sample"):
    """Per-input records for the BNNs at two eps: the correct attack breaks every input; the flawed
    ``column`` leaves every ``every``-th input robust (or raises the metric there); ``every=0``: never."""
    rows = []
    for m in BNNS:
        for eps in (0.1, 0.3):
            for i in range(n):
                rec = {c: 0 for c in label.AUDIT} | {c: 0.1 for c in label.METRICS}
                hit = every > 0 and i % every == 0
                rec[column] = (0.6 if hit else 0.1) if column in label.METRICS else int(hit)
                rows.append({"method": m, "replicate": 0, "eps": eps, "image": i, **rec})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("flaw, column", [("flaw-one-sample", "one_sample"), ("flaw-big-step", "big_step"),
                                          ("flaw-double-softmax", "softmax_robustness_flawed_metric")])
def test_flaw_claims(flaw, column):
    tables = {"examples": examples(column=column), "clean_accuracy": clean()}
    assert judge(EXP, flaw, tables).status == "PASS"
    none = {"examples": examples(every=0, column=column), "clean_accuracy": clean()}  # no fake robustness, n=200
    assert judge(EXP, flaw, none).status == "FAIL"
    few = {"examples": examples(n=6, every=3, column=column), "clean_accuracy": clean()}  # 2 of 6: too few
    assert judge(EXP, flaw, few).status == "INCONCLUSIVE"


def test_best_no_weaker():
    def table(est, half):
        return pd.DataFrame([{"method": m, "eps": 0.3, "estimate": est, "se": half / 2, "low": est - half,
                              "high": est + half, "pvalue": 0.5, "n": 200} for m in METHODS])

    assert judge(EXP, "best-no-weaker", {"best_vs_last": table(0.0, 0.005)}).status == "PASS"
    assert judge(EXP, "best-no-weaker", {"best_vs_last": table(0.05, 0.02)}).status == "FAIL"
    assert judge(EXP, "best-no-weaker", {"best_vs_last": table(0.0, 0.05)}).status == "INCONCLUSIVE"


def test_params_validation():
    from collapselab.core import get_experiment

    with pytest.raises(ValueError, match="methods"):
        get_experiment(EXP).cells(label.LabelParams(methods=["laplace"]))
    with pytest.raises(ValueError):
        label.LabelParams(dataset="imagenet")


@pytest.mark.slow
def test_smoke_run(tmp_path):
    from collapselab.core.runner import run_experiment

    rep = run_experiment(EXP, preset="smoke", out_dir=tmp_path)
    assert rep.counts["failed"] == 0 and rep.analysis_error is None
    assert set(rep.frame["method"]) == set(METHODS)
    for _, row in rep.frame.iterrows():
        e3 = row["per_eps"][-1]
        assert e3["eps"] == 0.3 and len(e3["pgd"]) == 20
        worst = np.asarray(e3["worst_case"])
        for key in ("pgd", "pgd_last", "fgsm", "square"):
            assert set(e3[key]) <= {0, 1} and (worst <= np.asarray(e3[key])).all()
        assert not row["probability_outputs"]
        if row["method"] == "map":
            assert row["forward_randomness"] == 0.0
    ex = pd.read_csv(rep.artifact_dir / "tables" / "examples.csv")
    assert len(ex) == 5 * 2 * 20 and {"correct", "one_sample", "all_flaws"} <= set(ex.columns)
    assert (rep.artifact_dir / "figures" / "robust_accuracy_vs_eps.png").is_file()
