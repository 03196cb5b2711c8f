"""Claim checks of tale-of-tails/narrow on hand-written tables."""

import pandas as pd

from collapselab.core.testing import judge


def slopes(slope, se=0.002):
    return pd.DataFrame({"beta": [2.0], "beta_prime": [4.0], "slope": [slope], "slope_se": [se], "groups": [10],
                         "exact_slope": [-0.25], "exact_slope_large_support": [-0.25], "theory": [-0.25]})


def test_narrow_slope():
    assert judge("tale-of-tails/narrow", "narrow-slope", {"slopes": slopes(-0.252)}).status == "PASS"
    assert judge("tale-of-tails/narrow", "narrow-slope", {"slopes": slopes(-0.20)}).status == "FAIL"
    assert judge("tale-of-tails/narrow", "narrow-slope", {"slopes": slopes(-0.25, se=0.1)}).status == "INCONCLUSIVE"
