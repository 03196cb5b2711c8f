"""Claim checks of tale-of-tails/bigram on hand-written tables, and the rate prediction."""

import pandas as pd
import pytest

from collapselab.core.testing import judge
from collapselab.experiments.tale_of_tails.bigram import predicted_rate

E = "tale-of-tails/bigram"


def test_predicted_rate():
    assert predicted_rate(1.5) == pytest.approx(-1 / 3)
    assert predicted_rate(3.0) == pytest.approx(-0.5)


def rates(slope, se=0.005, exact=(-0.33, -0.49)):
    return pd.DataFrame({"beta": [1.5, 3.0], "of": ["E/lnT", "E"], "slope": [slope * 2 / 3, slope],
                         "slope_se": [se] * 2, "groups": [5, 5], "exact_slope": list(exact),
                         "predicted": [-1 / 3, -0.5]})


def test_clean_rate():
    assert judge(E, "clean-rate", {"rates": rates(-0.49)}).status == "PASS"
    assert judge(E, "clean-rate", {"rates": rates(-0.35)}).status == "FAIL"
    assert judge(E, "clean-rate", {"rates": rates(-0.5, se=0.2)}).status == "INCONCLUSIVE"


def test_clean_rate_regime_gate():
    # beta = 1.5 outside its regime at this vocabulary (closed form -0.448 vs -1/3): judged on beta = 3 alone
    v = judge(E, "clean-rate", {"rates": rates(-0.49, exact=(-0.448, -0.49))})
    assert v.status == "PASS" and "not judged" in v.measured
    # a simulated slope off the prediction FAILs where the closed form says the regime is reached
    assert judge(E, "clean-rate", {"rates": rates(-0.35, exact=(-0.448, -0.49))}).status == "FAIL"
    # no beta in its regime: INCONCLUSIVE, never a FAIL of the paper's rate
    v = judge(E, "clean-rate", {"rates": rates(-0.35, exact=(-0.448, -0.40))})
    assert v.status == "INCONCLUSIVE" and "n_contexts" in v.needs


def floors(ratio, reached=True):
    return pd.DataFrame({"beta": [2.5], "k": [10], "T": [1e6], "E_mc": [0.04 * ratio], "se": [1e-4],
                         "tail_mass": [0.04], "E_clean_exact": [0.001], "reached": [reached]})


def test_cut_floor():
    assert judge(E, "cut-floor", {"floors": floors(1.02)}).status == "PASS"
    assert judge(E, "cut-floor", {"floors": floors(1.5)}).status == "FAIL"
    assert judge(E, "cut-floor", {"floors": floors(1.0, reached=False)}).status == "INCONCLUSIVE"


def test_exact_cut_floor():
    t = pd.DataFrame({"beta": [2.5], "k": [10], "tail_mass": [0.04], "E_Tmax": [0.041], "ratio": [1.02],
                      "slope_last_decade": [-0.01], "E_clean_Tmax": [0.001], "reached": [True]})
    assert judge(E, "exact-cut-floor", {"exact_floors": t}).status == "PASS"
    assert judge(E, "exact-cut-floor", {"exact_floors": t.assign(ratio=1.3)}).status == "FAIL"
    assert judge(E, "exact-cut-floor", {"exact_floors": t.assign(reached=False)}).status == "INCONCLUSIVE"


def test_clean_rate_gate_is_half_the_margin():
    # the quick beta = 3 case: the closed form sits 5.8% off -1/2 (outside +-5%), so the simulation that
    # follows it (-0.446, 10.8% off) is listed, not judged: INCONCLUSIVE rather than a coin-flip FAIL
    v = judge(E, "clean-rate", {"rates": rates(-0.446, exact=(-0.448, -0.4712))})
    assert v.status == "INCONCLUSIVE"
    # beta = 4: the closed form 2% off is inside; a simulated slope 2% off PASSes, one 25% off FAILs
    assert judge(E, "clean-rate", {"rates": rates(-0.49, exact=(-0.448, -0.490))}).status == "PASS"
    assert judge(E, "clean-rate", {"rates": rates(-0.375, exact=(-0.448, -0.490))}).status == "FAIL"
