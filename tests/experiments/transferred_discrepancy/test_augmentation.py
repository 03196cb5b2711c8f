"""transferred-discrepancy/augmentation: claim checks on synthetic tables (PASS / FAIL / INCONCLUSIVE), the
augmentations themselves, and a smoke run."""

import numpy as np
import pandas as pd
import pytest
import torch

from collapselab.core.testing import judge
from collapselab.experiments.transferred_discrepancy._common import augment_fn, shared_seed

EXP = "transferred-discrepancy/augmentation"


def table(cond, td_factor, acc_shift, *, n=6, jitter=0.02, norm_factor=None, seed=0):
    """Paired replicates of 'none' and ``cond``: TD x td_factor, accuracy + acc_shift (small jitter)."""
    rng = np.random.default_rng(seed)
    base_td = 0.03 * np.exp(0.1 * rng.standard_normal(n))
    base_acc = 0.95 + 0.002 * rng.standard_normal(n)
    rows = []
    for r in range(n):
        chance = 0.05
        rows.append({"condition": "none", "replicate": r, "td": base_td[r], "chance": chance,
                     "td_norm": base_td[r] / chance, "accuracy": base_acc[r]})
        td = base_td[r] * td_factor * np.exp(jitter * rng.standard_normal())
        nf = td_factor if norm_factor is None else norm_factor
        rows.append({"condition": cond, "replicate": r, "td": td, "chance": chance,
                     "td_norm": base_td[r] / chance * nf * np.exp(jitter * rng.standard_normal()),
                     "accuracy": base_acc[r] + acc_shift + 0.001 * rng.standard_normal()})
    return {"replicates": pd.DataFrame(rows)}


def test_helpful_lowers_td():
    assert judge(EXP, "helpful-lowers-td", table("shift2", 0.8, 0.01)).status == "PASS"
    fail = judge(EXP, "helpful-lowers-td", table("shift2", 1.0, 0.01))  # helps accuracy, TD unchanged
    assert fail.status == "FAIL", fail.measured
    noisy = judge(EXP, "helpful-lowers-td", table("shift2", 1.0, 0.01, jitter=0.5))
    assert noisy.status == "INCONCLUSIVE" and "data" in noisy.needs
    premise = judge(EXP, "helpful-lowers-td", table("shift2", 0.8, -0.01))  # the 'helpful' one does not help
    assert premise.status == "INCONCLUSIVE" and "premise" in premise.needs
    assert judge(EXP, "helpful-lowers-td", table("shift2", 0.8, 0.01, n=3)).status == "INCONCLUSIVE"


def test_harmful_not_lower_on_error_normalised_td():
    # raw TD rises with the error rate; the check reads TD / chance disagreement
    assert judge(EXP, "harmful-not-lower", table("flip", 1.5, -0.1, norm_factor=1.05)).status == "PASS"
    fail = judge(EXP, "harmful-not-lower", table("flip", 1.5, -0.1, norm_factor=0.7))  # raw up, normalised down
    assert fail.status == "FAIL", fail.measured
    noisy = judge(EXP, "harmful-not-lower", table("flip", 1.5, -0.1, norm_factor=1.0, jitter=0.5))
    assert noisy.status == "INCONCLUSIVE"
    premise = judge(EXP, "harmful-not-lower", table("flip", 1.5, 0.0, norm_factor=1.0))
    assert premise.status == "INCONCLUSIVE" and "premise" in premise.needs


def test_augmentations_shift_and_flip():
    x = torch.zeros(64, 1, 8, 8)
    x[:, :, 3, 3] = 1.0
    g = torch.Generator().manual_seed(0)
    shifted = augment_fn("shift2")(x, g)
    pos = shifted[:, 0].flatten(1).argmax(1)
    rows, cols = pos // 8, pos % 8
    assert shifted.sum() == 64 and rows.min() >= 1 and rows.max() <= 5 and len(set(cols.tolist())) == 5
    flipped = augment_fn("flip")(x, g)
    assert flipped.sum() == 64 and set(flipped[:, 0].flatten(1).argmax(1).tolist()) == {27, 28, 35, 36}
    assert augment_fn("none") is None
    with pytest.raises(ValueError, match="augmentation"):
        augment_fn("rotate")


def test_shared_seeds_pair_conditions_by_replicate():
    assert shared_seed("augmentation", 0, 1) == shared_seed("augmentation", 0, 1)
    assert len({shared_seed("augmentation", r, i) for r in range(5) for i in range(3)}) == 15
    assert 0 <= shared_seed("augmentation", 3, 2) < 2**31


@pytest.mark.slow
def test_augmentation_smoke(tmp_path):
    from collapselab.core.runner import run_experiment

    rep = run_experiment(EXP, preset="smoke", out_dir=tmp_path)
    assert rep.counts["failed"] == 0 and rep.counts["done"] == 6  # 3 conditions x 2 replicates
    t = pd.read_csv(rep.artifact_dir / "tables" / "replicates.csv")
    assert set(t["condition"]) == {"none", "shift2", "flip"} and t["td"].between(0, 1).all()
    assert (t["td_norm"] > 0).all() and t["accuracy"].between(0, 1).all()
    assert all(c.status == "INCONCLUSIVE" for c in rep.claims)  # 2 replicates at smoke
