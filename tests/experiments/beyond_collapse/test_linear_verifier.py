"""Claim checks of beyond-collapse/linear-verifier on hand-written tables."""

import numpy as np
import pandas as pd

from collapselab.core.testing import judge

NAME = "beyond-collapse/linear-verifier"


def per_generator(rhos, lows):
    return {"per_generator": pd.DataFrame({"generator": [f"flip:{i}" for i in range(len(rhos))],
                                           "spearman": rhos, "ci_low": lows, "settings": 21})}


def test_rank():
    assert judge(NAME, "rank", per_generator([0.95, 0.9], [0.8, 0.7])).status == "PASS"
    assert judge(NAME, "rank", per_generator([0.6, 0.5], [0.3, 0.2])).status == "FAIL"
    assert judge(NAME, "rank", per_generator([0.95, 0.3], [0.8, -0.2])).status == "INCONCLUSIVE"


def settings(n=40, wrong_side=0, limit_dev=0.001):
    p = np.linspace(0.1, 0.9, n)
    p_star = np.full(n, 0.5)
    acc = np.where(p < p_star, 0.8, 0.2)
    acc[:wrong_side] = 1 - acc[:wrong_side]
    return {"settings": pd.DataFrame({"generator": ["flip:x"] * n, "angle": 0.0, "tau": np.arange(n) * 1.0,
                                      "p_hat": p, "p_star_hat": p_star, "accuracy": acc + limit_dev,
                                      "accuracy_pruner": acc, "limit_accuracy": acc})}


def test_side_pruner():
    assert judge(NAME, "side-pruner", settings(n=80)).status == "PASS"
    assert judge(NAME, "side-pruner", settings(n=80, wrong_side=30)).status == "FAIL"
    assert judge(NAME, "side-pruner", settings(n=12)).status == "INCONCLUSIVE"  # too few settings for 90%


def test_side():
    assert judge(NAME, "side", settings(n=80)).status == "PASS"
    # the x-dependent verifier's accuracy off the p* side in 30 of 80 settings (the pruner's still agrees)
    t = settings(n=80, wrong_side=30)["settings"]
    t["accuracy_pruner"] = settings(n=80)["settings"]["accuracy_pruner"]
    assert judge(NAME, "side", {"settings": t}).status == "FAIL"
    assert judge(NAME, "side-pruner", {"settings": t}).status == "PASS"
    assert judge(NAME, "side", settings(n=12)).status == "INCONCLUSIVE"


def test_limit():
    assert judge(NAME, "limit", settings()).status == "PASS"
    assert judge(NAME, "limit", settings(limit_dev=0.05)).status == "FAIL"
