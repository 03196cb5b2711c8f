"""Claim checks of beyond-collapse/linear-verifier on hand-written tables."""

import numpy as np
import pandas as pd

from collapselab.core.testing import judge

NAME = "beyond-collapse/linear-verifier"


def per_generator(rhos, lows, mean_bounds):
    low, high = mean_bounds
    return {"per_generator": pd.DataFrame({"generator": [f"flip:{i}" for i in range(len(rhos))],
                                           "spearman": rhos, "ci_low": lows, "settings": 21}),
            "mean_rank": pd.DataFrame([{"mean_spearman": float(np.mean(rhos)), "low": low, "high": high,
                                        "generators": len(rhos), "resamples": 2000}])}


def test_rank():
    assert judge(NAME, "rank", per_generator([0.95, 0.9], [0.8, 0.7], (0.85, 0.97))).status == "PASS"
    assert judge(NAME, "rank", per_generator([0.6, 0.5], [0.3, 0.2], (0.4, 0.7))).status == "FAIL"
    # a generator with no significant correlation no longer blocks the FAIL when the mean is clearly low
    assert judge(NAME, "rank", per_generator([0.7, 0.1], [0.4, -0.3], (0.2, 0.6))).status == "FAIL"
    assert judge(NAME, "rank", per_generator([0.95, 0.7], [0.8, -0.2], (0.7, 0.9))).status == "INCONCLUSIVE"
    # every generator significant, the mean near 0.8: its bounds straddle the threshold
    undecided = judge(NAME, "rank", per_generator([0.85, 0.8], [0.5, 0.4], (0.7, 0.9)))
    assert undecided.status == "INCONCLUSIVE" and "straddle" in undecided.needs


def test_mean_rank_bounds_from_the_settings():
    from collapselab.experiments.beyond_collapse.linear_verifier import mean_rank

    rng = np.random.default_rng(0)
    x = np.linspace(0, 1, 21)
    strong = [(x, x + 0.02 * rng.standard_normal(21)) for _ in range(3)]
    m = mean_rank(strong)
    assert m["low"] >= 0.8 and m["low"] <= m["mean_spearman"] <= m["high"] <= 1
    # one generator with no correlation and two moderate ones: the mean's high bound falls below 0.8
    weak = [(x, rng.standard_normal(21)), (x, x + 0.4 * rng.standard_normal(21)),
            (x, x + 0.4 * rng.standard_normal(21))]
    w = mean_rank(weak)
    assert w["high"] < 0.8
    assert mean_rank(weak) == w  # the default seed makes the bounds reproducible


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
