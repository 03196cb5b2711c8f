"""efficient-transformers/cost: the claim checks on hand-written tables, and a smoke run."""

import pandas as pd
import pytest

from collapselab.core.runner import run_experiment
from collapselab.core.testing import judge

EXP = "efficient-transformers/cost"
FORMULA = {"softmax": 0.8, "sparse": 0.4, "linear": 0.0}


def slopes(time_slope, reps=4):
    return {"slopes": pd.DataFrame([{"attention": a, "replicate": r, "flops_slope": FORMULA[a],
                                     "time_slope": time_slope(a, r)} for a in FORMULA for r in range(reps)])}


def test_formula_predicts_time_pass_fail_inconclusive():
    assert judge(EXP, "formula-predicts-time", slopes(lambda a, r: FORMULA[a] + 0.01 * r)).status == "PASS"
    assert judge(EXP, "formula-predicts-time", slopes(lambda a, r: 0.02 * r)).status == "FAIL"  # all flat
    noisy = slopes(lambda a, r: FORMULA[a] + (-1) ** r * 0.6)
    assert judge(EXP, "formula-predicts-time", noisy).status == "INCONCLUSIVE"


def test_linear_time_flat_pass_fail():
    # a paired test over replicates: the exact sign-flip test needs >= 5 (4 can never reach p < 0.05)
    assert judge(EXP, "linear-time-flat", slopes(lambda a, r: FORMULA[a] + 0.01 * r, reps=5)).status == "PASS"
    four = judge(EXP, "linear-time-flat", slopes(lambda a, r: FORMULA[a] + 0.01 * r))
    assert four.status == "INCONCLUSIVE" and "needs >= 5 replicates" in four.needs
    same = slopes(lambda a, r: 0.5 + 0.01 * r * (a == "linear"), reps=5)
    assert judge(EXP, "linear-time-flat", same).status == "FAIL"


@pytest.mark.slow
def test_smoke_run(tmp_path):
    rep = run_experiment(EXP, preset="smoke", out_dir=tmp_path)
    assert rep.counts["failed"] == 0 and rep.analysis_error is None
    f = rep.frame
    assert (f["seconds_per_token"] > 0).all() and (f["flops_per_token"] > 0).all()
    assert (rep.artifact_dir / "figures" / "cost.png").is_file()
