"""Claim checks of tale-of-tails/generations on hand-written tables."""

import pandas as pd

from collapselab.core.testing import judge

E = "tale-of-tails/generations"


def steps(rises, se=1e-4):
    ns = [1, 2, 5, 10, 20, 50][: len(rises) + 1]
    rows = [{"chain": ch, "n_lo": a, "n_hi": b, "floor_lo": 0.04, "floor_hi": 0.04 + r, "rise": r, "rise_se": se,
             "groups": 10} for ch in ("memorizer", "resampling") for a, b, r in zip(ns, ns[1:], rises)]
    return pd.DataFrame(rows)


def test_floor_rises():
    assert judge(E, "floor-rises", {"floor_steps": steps([0.01, 0.02, 0.02, 0.03, 0.04])}).status == "PASS"
    # first and last far apart, but the curve stalls between n = 5 and 10: the whole curve must rise
    assert judge(E, "floor-rises", {"floor_steps": steps([0.05, 0.05, 0.0001, 0.05, 0.05])}).status == "FAIL"
    assert judge(E, "floor-rises", {"floor_steps": steps([0.01, 0.01], se=0.01)}).status == "INCONCLUSIVE"
    assert judge(E, "floor-rises", {"floor_steps": steps([])}).status == "INCONCLUSIVE"


def law(exponent, se=0.01):
    return pd.DataFrame({"chain": ["resampling"], "exponent": [exponent], "exponent_se": [se], "groups": [10],
                         "exact_exponent": [0.44], "theory": [0.5], "n_lo": [5], "n_hi": [50]})


def test_floor_law():
    # consistency with the closed form's exponent (0.44 here), not the asymptotic 0.5
    assert judge(E, "floor-law", {"floor_law": law(0.45)}).status == "PASS"
    assert judge(E, "floor-law", {"floor_law": law(0.5)}).status == "FAIL"  # z = 6: the asymptote, not the chain
    assert judge(E, "floor-law", {"floor_law": law(0.2)}).status == "FAIL"
