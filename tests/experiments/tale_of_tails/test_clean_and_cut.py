"""Claim checks of tale-of-tails/clean-and-cut on hand-written tables."""

import pandas as pd

from collapselab.core.testing import judge

E = "tale-of-tails/clean-and-cut"


def slopes(slope, se=0.003):
    return pd.DataFrame({"beta": [2.0], "slope": [slope], "slope_se": [se], "groups": [10], "exact_slope": [-0.5],
                         "theory": [-0.5]})


def test_clean_slope():
    assert judge(E, "clean-slope", {"slopes": slopes(-0.49)}).status == "PASS"
    assert judge(E, "clean-slope", {"slopes": slopes(-0.40)}).status == "FAIL"  # 20% off, tight SE
    assert judge(E, "clean-slope", {"slopes": slopes(-0.49, se=0.2)}).status == "INCONCLUSIVE"


def plateaus(ratio, se=1e-5, reached=True):
    return pd.DataFrame({"beta": [2.0], "k": [10], "T": [1e5], "E_mc": [0.05 * ratio], "se": [se],
                         "E_exact": [0.05], "tail_mass": [0.05], "reached": [reached]})


def test_cut_plateau():
    assert judge(E, "cut-plateau", {"plateaus": plateaus(1.01)}).status == "PASS"
    assert judge(E, "cut-plateau", {"plateaus": plateaus(1.3)}).status == "FAIL"
    assert judge(E, "cut-plateau", {"plateaus": plateaus(1.0, reached=False)}).status == "INCONCLUSIVE"


def test_exact_plateau():
    t = pd.DataFrame({"beta": [2.0], "k": [10], "tail_mass": [0.05], "E_Tmax": [0.05], "E_Tmax_over_10": [0.05],
                      "rel_dev": [0.001]})
    assert judge(E, "exact-plateau", {"exact_plateaus": t}).status == "PASS"
    assert judge(E, "exact-plateau", {"exact_plateaus": t.assign(rel_dev=0.2)}).status == "FAIL"
