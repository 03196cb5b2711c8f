"""The three attacking-bayes experiments at `smoke` (metrics sane, claims not judged) and the claim
checks on hand-made result tables (each check can fail)."""

import numpy as np
import pandas as pd
import pytest

import collapselab.experiments  # noqa: F401  (registers the experiments)
from collapselab.core import Results, get_experiment
from collapselab.core.runner import run_experiment
from collapselab.experiments import attacking_bayes as ab


def test_label_smoke(tmp_path):
    rep = run_experiment("attacking-bayes/label", preset="smoke", out_dir=tmp_path)
    assert rep.counts["failed"] == 0 and rep.analysis_error is None
    assert set(rep.frame["method"]) == set(ab.METHODS)
    for _, row in rep.frame.iterrows():
        eps0, eps3 = row["per_eps"][0], row["per_eps"][-1]
        assert eps0["eps"] == 0.0 and 0.0 <= eps0["pgd"] <= 1.0
        for key in ("pgd", "fgsm", "square", "transfer", "worst_case", "audit_all_flaws"):
            assert 0.0 <= eps3[key] <= 1.0
        assert eps3["worst_case"] <= min(eps3["pgd"], eps3["square"], eps3["fgsm"])
        assert row["probability_outputs"] is False or row["probability_outputs"] == 0
        if row["method"] == "map":
            assert row["forward_randomness"] == 0.0
        elif row["method"] in ("mcdropout", "vi"):  # ensembles/HMC may redraw the same member
            assert row["forward_randomness"] > 0.0
    assert {c.status for c in rep.claims} <= {"INCONCLUSIVE"}  # n_eval=20 is too few to judge
    assert (rep.artifact_dir / "figures" / "robust_accuracy_vs_eps.png").is_file()


def test_detection_and_shift_smoke(tmp_path):
    det = run_experiment(
        "attacking-bayes/detection", preset="smoke", out_dir=tmp_path, overrides=["methods=mcdropout,hmc"]
    )
    assert det.counts["failed"] == 0 and det.analysis_error is None
    for _, row in det.frame.iterrows():
        attacks = {e["attack"]: e for e in row["per_attack"]}
        assert set(attacks) == {"fgsm", "pgd", "targeted", "penalty_entropy", "penalty_mutual_information"}
        for e in attacks.values():
            assert 0.0 <= e["misclassified"] <= 1.0
            assert 0.0 <= e["auroc_entropy"] <= 1.0 and 0.0 <= e["auroc_mutual_information"] <= 1.0
    shift = run_experiment(
        "attacking-bayes/semantic-shift", preset="smoke", out_dir=tmp_path, overrides=["methods=ensemble,vi"]
    )
    assert shift.counts["failed"] == 0 and shift.analysis_error is None
    table = shift.frame
    assert all(0.0 <= e["auroc_entropy"] <= 1.0 for r in table["per_eps"] for e in r)
    assert (table["in_accuracy"] >= 0).all()


def _label_table(pgd, flawed):
    rows = []
    for m, a, f in zip(ab.METHODS, pgd, flawed):
        rows += [
            {"method": m, "eps": 0.0, "pgd": 0.9, "audit_all_flaws": 0.9},
            {"method": m, "eps": 0.3, "pgd": a, "audit_all_flaws": f},
        ]
    return {"robust_accuracy": pd.DataFrame(rows)}


def test_label_claim_checks_can_pass_and_fail():
    p = ab.LabelParams()
    ok = Results(pd.DataFrame({"x": [1]}), p, _label_table([0.0] * 5, [0.5] * 5))
    assert ab._check_label_falls(ok).status == "PASS"
    assert ab._check_label_flawed(ok).status == "PASS"
    bad = Results(pd.DataFrame({"x": [1]}), p, _label_table([0.0, 0.0, 0.1, 0.0, 0.0], [0.5, 0.5, 0.2, 0.5, 0.1]))
    assert ab._check_label_falls(bad).status == "FAIL"
    assert ab._check_label_flawed(bad).status == "FAIL"


def test_detection_and_shift_claim_checks():
    p = ab.DetectionParams()
    rows = []
    for m in ab.BNNS:
        rows += [
            {
                "method": m,
                "attack": "pgd",
                "misclassified": 1.0,
                "auroc_entropy": 0.9,
                "auroc_mutual_information": 0.9,
            },
            {
                "method": m,
                "attack": "targeted",
                "misclassified": 0.95,
                "auroc_entropy": 0.3,
                "auroc_mutual_information": 0.55,
            },
        ]
    table = pd.DataFrame(rows)
    assert ab._check_detection(Results(table, p, {"detection": table})).status == "PASS"
    table.loc[table["attack"] == "targeted", "misclassified"] = 0.5
    assert ab._check_detection(Results(table, p, {"detection": table})).status == "FAIL"
    s = ab.ShiftParams()
    rows = [
        {"method": m, "eps": e, "auroc_entropy": a, "auroc_mutual_information": a}
        for m in ab.BNNS
        for e, a in ((0.0, 0.9), (0.1, 0.4))
    ]
    t = pd.DataFrame(rows)
    assert ab._check_shift(Results(t, s, {"semantic_shift": t})).status == "PASS"
    t.loc[np.isclose(t["eps"], 0.1), "auroc_entropy"] = 0.7
    assert ab._check_shift(Results(t, s, {"semantic_shift": t})).status == "FAIL"


def test_params_validation():
    exp = get_experiment("attacking-bayes/label")
    with pytest.raises(ValueError, match="methods"):
        exp.cells(ab.LabelParams(methods=["laplace"]))
    with pytest.raises(ValueError):
        ab.LabelParams(dataset="imagenet")
