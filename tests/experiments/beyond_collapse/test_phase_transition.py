"""Claim checks of beyond-collapse/phase-transition on hand-written tables."""

import numpy as np
import pandas as pd

from collapselab.core.testing import judge

NAME = "beyond-collapse/phase-transition"
BAYES = 0.8413447460685429


def summary(gap=0.0, p_star=0.5):
    p = np.round(np.arange(0.05, 1.0, 0.05), 3)
    acc = np.where(p < p_star, BAYES - gap, 1 - BAYES + gap)
    acc = np.where(np.isclose(p, p_star), 0.5, acc)
    return pd.DataFrame({"phi": 1.0, "psi": 1.0, "p": p, "n": 100_000, "accuracy": acc, "stderr": 0.001,
                         "theory": acc, "p_star": p_star, "bayes": BAYES})


def test_below_and_above():
    assert judge(NAME, "below", {"summary": summary()}).status == "PASS"
    assert judge(NAME, "below", {"summary": summary(gap=0.05)}).status == "FAIL"
    assert judge(NAME, "above", {"summary": summary(gap=0.01)}).status == "PASS"
    assert judge(NAME, "above", {"summary": summary(gap=0.05)}).status == "FAIL"
    assert judge(NAME, "above", {"summary": summary(p_star=0.95)}).status == "INCONCLUSIVE"  # no point above


def test_transition():
    t = {"summary": summary(), "transition": pd.DataFrame({"phi": [1.0], "psi": [1.0], "p_star": [0.5],
                                                           "crossing": [0.51]})}
    assert judge(NAME, "transition", t).status == "PASS"
    t["transition"]["crossing"] = 0.6
    assert judge(NAME, "transition", t).status == "FAIL"
    t["transition"]["p_star"] = 2.0  # p* outside the grid
    assert judge(NAME, "transition", t).status == "INCONCLUSIVE"
