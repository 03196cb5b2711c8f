"""Small synthetic tables for the rat-bptt claim tests (fixture ``paired_rows``)."""

import numpy as np
import pandas as pd
import pytest


def _paired_rows(groups, a: str, b: str, gap: float, noise: float, key: str = "method", reps: int = 6,
                base: float = 0.8, extra: dict | None = None, seed: int = 0) -> pd.DataFrame:
    """Rows (group..., key, replicate, acc) with acc(a) - acc(b) = gap + noise * N(0, 1) per replicate."""
    r = np.random.default_rng(seed)
    rows = []
    for grp in groups:
        for rep in range(reps):
            b_acc = base + 0.01 * r.standard_normal()
            a_acc = b_acc + gap + noise * r.standard_normal()
            for name, v in ((a, a_acc), (b, b_acc)):
                rows.append({**grp, key: name, "replicate": rep, "acc": v, **(extra or {})})
    return pd.DataFrame(rows)


@pytest.fixture
def paired_rows():
    return _paired_rows
