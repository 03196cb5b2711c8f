"""Claim checks of tale-of-tails/gcd-grokking (recovery and its delay) on hand-written tables."""

import numpy as np
import pandas as pd

from collapselab.core.testing import judge

E = "tale-of-tails/gcd-grokking"


def t50(mix_final, ctrl_final, mix_t50, clean_t50=(200, 250, 150), final_step=700):
    rows = []
    for rep in range(len(mix_final)):
        rows += [{"replicate": rep, "arm": "generator", "pi": 1.0, "t50": clean_t50[rep], "final_acc_lost": 1.0,
                  "final_step": 300},
                 {"replicate": rep, "arm": "mix0.25", "pi": 0.25, "t50": mix_t50[rep], "final_acc_lost": mix_final[rep],
                  "final_step": final_step},
                 {"replicate": rep, "arm": "mix0", "pi": 0.0, "t50": np.nan, "final_acc_lost": ctrl_final[rep],
                  "final_step": final_step}]
    return {"t50": pd.DataFrame(rows)}


def test_recover():
    assert judge(E, "recover", t50([0.9, 0.95, 0.85], [0.0, 0.02, 0.0], [450, 500, 400])).status == "PASS"
    flat = t50([0.02, 0.0, 0.01], [0.01, 0.0, 0.02], [np.nan] * 3, final_step=5000)
    assert judge(E, "recover", flat).status == "FAIL"
    # no rise yet, before the step the memoriser predicts (clean t50 / pi = 1000): judged later
    assert judge(E, "recover", t50([0.02, 0.0, 0.01], [0.01, 0.0, 0.02], [np.nan] * 3)).status == "INCONCLUSIVE"
    assert judge(E, "recover", t50([0.4, 0.3, 0.35], [0.0, 0.0, 0.0], [np.nan] * 3)).status == "INCONCLUSIVE"


def test_delayed():
    assert judge(E, "delayed", t50([0.9] * 3, [0.0] * 3, [450, 500, 400])).status == "PASS"
    assert judge(E, "delayed", t50([0.9] * 3, [0.0] * 3, [200, 250, 150])).status == "FAIL"  # no delay
    assert judge(E, "delayed", t50([0.9] * 3, [0.0] * 3, [450, np.nan, 400])).status == "INCONCLUSIVE"
