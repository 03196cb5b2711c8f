"""sween/small-vs-large: claim checks on hand-made tables (PASS, FAIL, INCONCLUSIVE), and a smoke run."""

import pandas as pd
import pytest

from collapselab.core.testing import judge

EXP = "sween/small-vs-large"


def certs(n=100, seeds=3, large_wins_every=0):
    rows = []
    for rep in range(seeds):
        for i in range(n):
            for m in ("sween", "large"):
                lost = m == "sween" and large_wins_every and i % large_wins_every == 0
                rows.append({"sigma": 0.5, "replicate": rep, "image": i, "model": m, "label": 1,
                             "predict": -1 if lost else 1, "radius": 0.0 if lost else 0.8})
    return pd.DataFrame(rows)


def times(ratios, small=10.0):
    return pd.DataFrame([{"sigma": 0.5, "replicate": i, "small_train_seconds": small,
                          "large_train_seconds": small * q, "small_params": 1, "large_params": 4}
                         for i, q in enumerate(ratios)])


def test_comparable_accuracy():
    assert judge(EXP, "comparable-accuracy", {"certificates": certs()}).status == "PASS"
    assert judge(EXP, "comparable-accuracy", {"certificates": certs(large_wins_every=5)}).status == "FAIL"
    few = certs(n=10, seeds=1, large_wins_every=5)
    assert judge(EXP, "comparable-accuracy", {"certificates": few}).status == "INCONCLUSIVE"


def test_cheaper_training():
    assert judge(EXP, "cheaper-training", {"training_time": times([3.0, 3.2, 2.9])}).status == "PASS"
    assert judge(EXP, "cheaper-training", {"training_time": times([1.0, 1.01, 0.99])}).status == "FAIL"
    assert judge(EXP, "cheaper-training", {"training_time": times([3.0])}).status == "INCONCLUSIVE"
    assert judge(EXP, "cheaper-training", {"training_time": times([0.5, 3.0])}).status == "INCONCLUSIVE"


@pytest.mark.slow
def test_smoke_run(tmp_path):
    from collapselab.core.runner import run_experiment

    r = run_experiment(EXP, preset="smoke", out_dir=tmp_path, seeds=2)
    assert r.counts["failed"] == 0 and r.analysis_error is None
    assert len(r.frame) == 2 and (r.frame["large_params"] > r.frame["small_params"] / 2).all()
    assert (r.frame["small_train_seconds"] > 0).all() and (r.frame["large_train_seconds"] > 0).all()
