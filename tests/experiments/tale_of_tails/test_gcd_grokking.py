"""Claim checks of tale-of-tails/gcd-grokking (recovery and its delay) on hand-written tables."""

import numpy as np
import pandas as pd

from collapselab.core.testing import judge

E = "tale-of-tails/gcd-grokking"


def t50(mix_final, ctrl_final, mix_t50, clean_t50=(200, 250, 150, 220, 180, 240), final_step=700):
    rows = []
    for rep in range(len(mix_final)):
        rows += [{"replicate": rep, "arm": "generator", "pi": 1.0, "t50": clean_t50[rep], "final_acc_lost": 1.0,
                  "final_step": 300},
                 {"replicate": rep, "arm": "mix0.25", "pi": 0.25, "t50": mix_t50[rep], "final_acc_lost": mix_final[rep],
                  "final_step": final_step},
                 {"replicate": rep, "arm": "mix0", "pi": 0.0, "t50": np.nan, "final_acc_lost": ctrl_final[rep],
                  "final_step": final_step}]
    return {"t50": pd.DataFrame(rows)}


# six replicates: the exact sign-flip test of the paired differences needs >= 6 pairs two-sided, >= 5 one-sided
MIX, CTRL, LATE = [0.9, 0.95, 0.85, 0.92, 0.88, 0.9], [0.0, 0.02, 0.0, 0.01, 0.0, 0.03], [450, 500, 400, 480, 420, 460]


def test_recover():
    assert judge(E, "recover", t50(MIX, CTRL, LATE)).status == "PASS"
    flat = t50([0.02, 0.0, 0.01, 0.0, 0.01, 0.02], [0.01, 0.0, 0.02, 0.01, 0.0, 0.01], [np.nan] * 6, final_step=5000)
    assert judge(E, "recover", flat).status == "FAIL"
    # the quick preset: 1,200 steps >= the generator's 300 steps / pi 0.25 >= clean t50 / pi, so no rise is a FAIL
    flat_quick = t50([0.02, 0.0, 0.01, 0.0, 0.01, 0.02], [0.01, 0.0, 0.02, 0.01, 0.0, 0.01], [np.nan] * 6,
                     clean_t50=(300, 300, 250, 300, 250, 300), final_step=1200)
    assert judge(E, "recover", flat_quick).status == "FAIL"
    # no rise yet, before the step the memoriser predicts (clean t50 / pi = 1000): judged later
    assert judge(E, "recover", t50([0.02, 0.0, 0.01, 0.0, 0.01, 0.02], CTRL, [np.nan] * 6)).status == "INCONCLUSIVE"
    assert judge(E, "recover", t50([0.4, 0.3, 0.35, 0.3, 0.4, 0.3], [0.0] * 6, [np.nan] * 6)).status == "INCONCLUSIVE"
    # three replicates can never reach p < 0.05 with the exact test (1/8): INCONCLUSIVE, however large the gap
    three = judge(E, "recover", t50(MIX[:3], CTRL[:3], LATE[:3]))
    assert three.status == "INCONCLUSIVE" and "replicates" in three.needs


def test_delayed():
    assert judge(E, "delayed", t50([0.9] * 6, [0.0] * 6, LATE)).status == "PASS"
    assert judge(E, "delayed", t50([0.9] * 6, [0.0] * 6, [200, 250, 150, 220, 180, 240])).status == "FAIL"  # no delay
    assert judge(E, "delayed", t50([0.9] * 6, [0.0] * 6, [450, np.nan, 400, 480, 420, 460])).status == "INCONCLUSIVE"


def test_lost_values_and_cost():
    from collapselab.core import get_experiment, resolve_params
    from collapselab.experiments.tale_of_tails.gcd_grokking import _lost_values

    # known (> threshold) and above top_k; a value at the threshold is not known
    assert _lost_values([1, 5, 10, 12, 15], [1.0, 0.9, 0.8, 0.5, 0.2], 0.5, 6) == [10]
    e = get_experiment(E)
    cell = e.cells(resolve_params(e.params, e.presets, "quick"))[0]
    # the early stop: arms are counted to generator_steps / (2 pi) = 600 of 1,200 steps; no stop: all 1,200
    stopped, full = e.cell_cost(cell), e.cell_cost({**cell, "stop_at": 2.0})
    assert 1.5 < full / stopped < 2.2
    assert e.cell_flops({**cell, "steps": 2 * cell["steps"], "stop_at": 2.0}) > e.cell_flops({**cell, "stop_at": 2.0})
