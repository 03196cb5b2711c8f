"""The shared Monte Carlo vs closed-form check (mc-matches) of every simulated experiment."""

import numpy as np
import pandas as pd
import pytest

from collapselab.core.testing import judge

EXPERIMENTS = ["clean-and-cut", "narrow", "generations", "grokking", "bigram"]


def z_table(z):
    z = np.asarray(z, dtype=float)
    return pd.DataFrame({"T": np.arange(z.size) + 1.0, "diff": z * 1e-3, "stderr": np.full(z.size, 1e-3), "z": z})


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_mc_matches(name):
    assert judge(f"tale-of-tails/{name}", "mc-matches", {"mc_z": z_table([0.3, -1.2, 2.0])}).status == "PASS"
    assert judge(f"tale-of-tails/{name}", "mc-matches", {"mc_z": z_table([0.3, -6.0, 2.0])}).status == "FAIL"
    assert judge(f"tale-of-tails/{name}", "mc-matches", {"mc_z": z_table([])}).status == "INCONCLUSIVE"
