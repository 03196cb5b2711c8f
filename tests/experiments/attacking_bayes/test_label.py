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


def examples(n=200, every=2, column="one_sample", room=10, eps_list=(0.1, 0.3)):
    """Per-input records for the BNNs: the corrected attack leaves every ``room``-th input robust (0: none);
    the flawed ``column`` also leaves every ``every``-th input robust (``every=0``: exactly the corrected ones)."""
    rows = []
    for m in BNNS:
        for eps in eps_list:
            for i in range(n):
                kept = room > 0 and i % room == 0
                rec = {c: int(kept) for c in label.AUDIT}
                rec[column] = int(kept or (every > 0 and i % every == 0))
                rows.append({"method": m, "replicate": 0, "eps": eps, "image": i, **rec})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("flaw, column", [("flaw-one-sample", "one_sample"), ("flaw-big-step", "big_step")])
def test_flaw_claims(flaw, column):
    tables = {"examples": examples(column=column), "clean_accuracy": clean()}
    assert judge(EXP, flaw, tables).status == "PASS"
    none = {"examples": examples(every=0, column=column), "clean_accuracy": clean()}  # no fake robustness, n=200
    assert judge(EXP, flaw, none).status == "FAIL"
    few = {"examples": examples(n=6, every=3, room=6, column=column), "clean_accuracy": clean()}  # too few
    assert judge(EXP, flaw, few).status == "INCONCLUSIVE"


def test_flaw_claims_judge_only_where_the_corrected_attack_leaves_room():
    """eps where the corrected attack reaches 0% are listed, not judged (declared with v4): a flaw that adds
    nothing there does not FAIL the claim; with no such eps at all the claim is INCONCLUSIVE."""
    ex = examples(column="one_sample")
    saturated = examples(every=0, room=0, column="one_sample", eps_list=(0.3,))
    tables = {"examples": pd.concat([ex[ex["eps"] == 0.1], saturated]), "clean_accuracy": clean()}
    v = judge(EXP, "flaw-one-sample", tables)
    assert v.status == "PASS" and "not judged" in v.measured and "eps=0.3" in v.measured
    only = {"examples": saturated, "clean_accuracy": clean()}
    assert judge(EXP, "flaw-one-sample", only).status == "INCONCLUSIVE"


def metric_examples(moved=True, n=200):
    """The two per-input metrics as softmax_robustness computes them on a toy 10-class predictive: the attack
    moves p_bar (``moved``) or leaves it unchanged because the outputs are saturated (one-hot in float32)."""
    import torch

    from collapselab.bayes import softmax_robustness

    g = torch.Generator().manual_seed(0)
    w = torch.randn(10, 6, generator=g)
    bias = torch.zeros(10) if moved else torch.tensor([200.0] + [0.0] * 9)  # saturated: p_bar one-hot
    x = torch.rand(n, 6, generator=g)
    x_adv = (x + 0.1 * (2 * torch.rand(n, 6, generator=g) - 1)).clamp(0, 1)

    def model(z, n_samples):
        out = z @ w.T + bias
        return out.unsqueeze(0).expand(n_samples, *out.shape)

    flawed = softmax_robustness(model, x, x_adv, 1, reduce=False)
    honest = softmax_robustness(model, x, x_adv, 1, double_softmax=False, reduce=False)
    rows = [{"method": m, "replicate": 0, "eps": 0.1, "image": i, label.METRICS[0]: float(flawed[i]),
             label.METRICS[1]: float(honest[i])} for m in BNNS for i in range(n)]
    return pd.DataFrame(rows)


def test_double_softmax_consistency():
    """PASS where the attack moves the predictive (the contraction bound); FAIL where it cannot move it
    (saturated outputs: both metrics are exactly 1), an outcome real data can produce."""
    from collapselab.core import get_experiment

    claim = {c.id: c for c in get_experiment(EXP).claims}["flaw-double-softmax"]
    assert claim.kind == "consistency"
    moved = metric_examples()
    assert ((moved[label.METRICS[0]] - moved[label.METRICS[1]]) >= 0.64 * (1 - moved[label.METRICS[1]]) - 1e-6).all()
    assert judge(EXP, "flaw-double-softmax", {"examples": moved, "clean_accuracy": clean()}).status == "PASS"
    still = metric_examples(moved=False)
    assert (still[label.METRICS[1]] == 1.0).all()
    assert judge(EXP, "flaw-double-softmax", {"examples": still, "clean_accuracy": clean()}).status == "FAIL"


def test_best_no_weaker():
    def table(est, half):
        return pd.DataFrame([{"method": m, "eps": 0.3, "estimate": est, "se": half / 2, "low": est - half,
                              "high": est + half, "pvalue": 0.5, "n": 200, "df": float("nan"),
                              "test": "exact McNemar/Clopper-Pearson"} for m in METHODS])

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
