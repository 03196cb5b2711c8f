"""sween/adaptive: claim check on hand-made tables (PASS, FAIL, INCONCLUSIVE), and a smoke run."""

import pandas as pd
import pytest

from collapselab.core.testing import judge

EXP = "sween/adaptive"


def tables(saving=0.5, n=150, differ_every=0):
    rows = []
    for i in range(n):
        for m in ("sween", "adaptive", "adaptive-bound"):
            flip = m == "adaptive" and differ_every and i % differ_every == 0
            rows.append({"sigma": 0.25, "replicate": 0, "image": i, "model": m, "label": 1,
                         "predict": 0 if flip else 1, "radius": 0.0 if flip else 0.4})
    saving_t = pd.DataFrame([{"sigma": 0.25, "model": "adaptive", "member_evals": 1, "full_evals": 2,
                              "saving": saving}])
    return {"certificates": pd.DataFrame(rows), "saving": saving_t}


def test_fewer_evals():
    # 150 identical certificates: the exact bound on the paired difference is ~2.4 points, not 0 (no PASS at
    # a 1-point margin); 400 bound it at ~0.9 points
    assert judge(EXP, "fewer-evals", tables()).status == "INCONCLUSIVE"
    assert judge(EXP, "fewer-evals", tables(n=400)).status == "PASS"
    assert judge(EXP, "fewer-evals", tables(saving=0.1)).status == "FAIL"
    assert judge(EXP, "fewer-evals", tables(differ_every=1)).status == "FAIL"  # every image loses its certificate
    assert judge(EXP, "fewer-evals", tables(n=10, differ_every=5)).status == "INCONCLUSIVE"


@pytest.mark.slow
def test_smoke_counts(tmp_path):
    from collapselab.core.runner import run_experiment

    r = run_experiment(EXP, preset="smoke", out_dir=tmp_path)
    assert r.counts["failed"] == 0 and r.analysis_error is None
    row = r.frame.iloc[0]
    assert 0 < row["evals_adaptive-bound"] <= row["full_evals"]
    assert 0 < row["evals_adaptive"] <= row["full_evals"]
    assert row["predict__adaptive-bound"] == row["predict__sween"]  # the exact rule never changes the class
