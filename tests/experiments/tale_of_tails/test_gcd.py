"""Claim check of tale-of-tails/gcd (un-learning against clean retraining) on hand-written tables."""

import pandas as pd

from collapselab.core.testing import judge


def lost(chain, control):
    return pd.DataFrame({"replicate": range(len(chain)), "n_known_gen0": [9] * len(chain), "lost_chain": chain,
                         "lost_control": control})


def test_unlearn():
    assert judge("tale-of-tails/gcd", "unlearn", {"lost": lost([3, 2, 4, 3, 2], [0, 1, 0, 0, 1])}).status == "PASS"
    assert judge("tale-of-tails/gcd", "unlearn", {"lost": lost([1, 0, 1, 0, 1], [1, 0, 1, 0, 1])}).status == "FAIL"
    noisy = lost([4, 0, 5, 0, 3], [0, 3, 0, 4, 0])
    assert judge("tale-of-tails/gcd", "unlearn", {"lost": noisy}).status == "INCONCLUSIVE"
    assert judge("tale-of-tails/gcd", "unlearn", {"lost": lost([3, 2, 4], [0, 0, 0])}).status == "INCONCLUSIVE"
