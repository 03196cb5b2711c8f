"""Claim checks of tale-of-tails/generations on hand-written tables."""

import pandas as pd

from collapselab.core.testing import judge

E = "tale-of-tails/generations"


def floors(lo, hi, se=1e-4):
    rows = [{"source": "monte-carlo", "chain": ch, "n": n, "T": 1e5, "floor": f, "stderr": se}
            for ch in ("memorizer", "resampling") for n, f in ((1, lo), (50, hi))]
    return pd.DataFrame(rows)


def test_floor_rises():
    assert judge(E, "floor-rises", {"floors": floors(0.04, 0.12)}).status == "PASS"
    assert judge(E, "floor-rises", {"floors": floors(0.04, 0.0401)}).status == "FAIL"  # no rise, narrow CI
    assert judge(E, "floor-rises", {"floors": floors(0.04, 0.045, se=0.01)}).status == "INCONCLUSIVE"


def law(exponent, se=0.01):
    return pd.DataFrame({"chain": ["resampling"], "exponent": [exponent], "exponent_se": [se], "groups": [10],
                         "exact_exponent": [0.44], "theory": [0.5], "n_lo": [5], "n_hi": [50]})


def test_floor_law():
    assert judge(E, "floor-law", {"floor_law": law(0.46)}).status == "PASS"
    assert judge(E, "floor-law", {"floor_law": law(0.2)}).status == "FAIL"
    assert judge(E, "floor-law", {"floor_law": law(0.46, se=0.2)}).status == "INCONCLUSIVE"
