"""Claim checks of tale-of-tails/grokking on hand-written tables."""

import pandas as pd

from collapselab.core.testing import judge

E = "tale-of-tails/grokking"


def tables(descent_ratio, plateau_ratio=1.0, se=1e-5):
    plateau = pd.DataFrame({"T": [1e4, 1e5], "E_mc": [0.1 * plateau_ratio] * 2, "se": [se] * 2, "tail_mass": [0.1] * 2})
    descent = pd.DataFrame({"pi": [0.3], "T": [1e5], "E_mc": [0.002 * descent_ratio], "se": [se],
                            "E_clean_at_piT": [0.002], "tail_mass": [0.1]})
    return {"sim_descent": descent, "sim_plateau": plateau}


def test_second_descent():
    assert judge(E, "second-descent", tables(1.02)).status == "PASS"
    assert judge(E, "second-descent", tables(3.0)).status == "FAIL"  # stuck above the clean curve
    assert judge(E, "second-descent", tables(1.0, plateau_ratio=0.5)).status == "FAIL"  # no plateau
    assert judge(E, "second-descent", tables(1.0, se=0.01)).status == "INCONCLUSIVE"


def test_exact_second_descent():
    d = pd.DataFrame({"pi": [0.1], "T": [1e8], "E_mix": [0.001], "E_clean_at_piT": [0.001], "ratio": [1.0]})
    assert judge(E, "exact-second-descent", {"exact_descent": d}).status == "PASS"
    assert judge(E, "exact-second-descent", {"exact_descent": d.assign(ratio=1.5)}).status == "FAIL"


def grok(plateau_slope, descent_slope, se=0.01):
    return pd.DataFrame({"phase": ["plateau", "descent"], "pi": [0.01] * 2, "T_lo": [300, 1e5], "T_hi": [3000, 1e6],
                         "slope": [plateau_slope, descent_slope], "slope_se": [se] * 2, "groups": [10] * 2,
                         "clean_rate": [0.5] * 2})


def test_grokking():
    assert judge(E, "grokking", {"grok_slopes": grok(-0.03, -0.49)}).status == "PASS"
    assert judge(E, "grokking", {"grok_slopes": grok(-0.45, -0.49)}).status == "FAIL"  # no plateau (pi too large)
    assert judge(E, "grokking", {"grok_slopes": grok(-0.03, -0.02)}).status == "FAIL"  # no second descent yet
    assert judge(E, "grokking", {"grok_slopes": grok(-0.03, -0.49, se=0.2)}).status == "INCONCLUSIVE"
    assert judge(E, "grokking", {"grok_slopes": grok(-0.03, -0.49).iloc[:1]}).status == "INCONCLUSIVE"
