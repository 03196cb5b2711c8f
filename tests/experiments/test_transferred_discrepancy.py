"""Smoke runs of the three transferred-discrepancy experiments through the runner; metric sanity only."""

import numpy as np
import pytest

from collapselab.core.runner import run_experiment


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("td-smoke")


def test_inits_smoke(out_dir):
    rep = run_experiment("transferred-discrepancy/inits", preset="smoke", out_dir=out_dir)
    assert rep.analysis_error is None and rep.counts["failed"] == 0
    row = rep.frame.iloc[0]
    tds = np.array([r["td"] for r in row["records"]])
    assert np.all((tds >= 0) & (tds <= 1)) and len(row["similarities"]) == 2  # 1 pair x 2 layers
    sim = row["similarities"][0]
    assert 0 <= sim["cka"] <= 1 and 0 <= sim["cca_r2"] <= 1 and 0 <= sim["procrustes"] <= 2
    assert {c.id for c in rep.claims} == {"above-noise", "task-dependent"}
    assert (rep.artifact_dir / "figures" / "td_per_task.png").exists()


def test_augmentation_smoke(out_dir):
    rep = run_experiment("transferred-discrepancy/augmentation", preset="smoke", out_dir=out_dir)
    assert rep.analysis_error is None and rep.counts["done"] == 3
    assert set(rep.frame["condition"]) == {"none", "shift2", "flip"}
    assert rep.frame["td_mean"].between(0, 1).all() and rep.frame["accuracy"].between(0, 1).all()
    assert all(c.status == "INCONCLUSIVE" for c in rep.claims)  # k_models=2 at smoke


def test_predictiveness_smoke(out_dir):
    rep = run_experiment("transferred-discrepancy/predictiveness", preset="smoke", out_dir=out_dir)
    assert rep.analysis_error is None
    row = rep.frame.iloc[0]
    assert len(row["pairs"]) == 3 and -1 <= row["spearman_td"] <= 1
    assert rep.claims[0].status == "INCONCLUSIVE"  # 3 networks at smoke


def test_augmentations_shift_and_flip():
    import torch

    from collapselab.experiments.transferred_discrepancy import _augment

    x = torch.zeros(64, 1, 8, 8)
    x[:, :, 3, 3] = 1.0
    g = torch.Generator().manual_seed(0)
    shifted = _augment("shift2")(x, g)
    pos = shifted[:, 0].flatten(1).argmax(1)
    rows, cols = pos // 8, pos % 8
    assert shifted.sum() == 64 and rows.min() >= 1 and rows.max() <= 5 and len(set(cols.tolist())) == 5
    flipped = _augment("flip")(x, g)
    assert flipped.sum() == 64 and set(flipped[:, 0].flatten(1).argmax(1).tolist()) == {27, 28, 35, 36}
    with pytest.raises(ValueError, match="augmentation"):
        _augment("rotate")
