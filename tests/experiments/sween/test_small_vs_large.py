"""sween/small-vs-large: claim checks on hand-made tables (PASS, FAIL, INCONCLUSIVE), and a smoke run."""

import pandas as pd
import pytest

from collapselab.core.testing import judge

EXP = "sween/small-vs-large"


def certs(n=100, seeds=3, large_wins_every=0):
    rows = []
    for rep in range(seeds):
        for i in range(n):
            for m in ("sween", "large"):
                lost = m == "sween" and large_wins_every and i % large_wins_every == 0
                rows.append({"sigma": 0.5, "replicate": rep, "image": i, "model": m, "label": 1,
                             "predict": -1 if lost else 1, "radius": 0.0 if lost else 0.8})
    return pd.DataFrame(rows)


def times(ratios, small=10.0):
    return pd.DataFrame([{"sigma": 0.5, "replicate": i, "small_train_seconds": small,
                          "large_train_seconds": small * q, "small_params": 1, "large_params": 4}
                         for i, q in enumerate(ratios)])


def test_comparable_accuracy():
    assert judge(EXP, "comparable-accuracy", {"certificates": certs()}).status == "PASS"
    assert judge(EXP, "comparable-accuracy", {"certificates": certs(large_wins_every=5)}).status == "FAIL"
    few = certs(n=10, seeds=1, large_wins_every=5)
    assert judge(EXP, "comparable-accuracy", {"certificates": few}).status == "INCONCLUSIVE"


def test_cheaper_training():
    # the exact sign-flip test over seeds: 5 seeds can PASS, 3 never can (p >= 1/8)
    assert judge(EXP, "cheaper-training", {"training_time": times([3.0, 3.2, 2.9, 3.1, 2.8])}).status == "PASS"
    assert judge(EXP, "cheaper-training", {"training_time": times([3.0, 3.2, 2.9])}).status == "INCONCLUSIVE"
    assert judge(EXP, "cheaper-training", {"training_time": times([1.0, 1.01, 0.99, 1.0, 1.02])}).status == "FAIL"
    assert judge(EXP, "cheaper-training", {"training_time": times([3.0])}).status == "INCONCLUSIVE"
    assert judge(EXP, "cheaper-training", {"training_time": times([0.5, 3.0])}).status == "INCONCLUSIVE"


@pytest.mark.slow
def test_smoke_run(tmp_path):
    from collapselab.core.runner import run_experiment

    r = run_experiment(EXP, preset="smoke", out_dir=tmp_path, seeds=2)
    assert r.counts["failed"] == 0 and r.analysis_error is None
    assert len(r.frame) == 2 and (r.frame["large_params"] > r.frame["small_params"] / 2).all()
    assert (r.frame["small_train_seconds"] > 0).all() and (r.frame["large_train_seconds"] > 0).all()


def test_each_seed_certifies_its_own_test_images():
    """distinct_test_images: replicate k certifies block k of the (strided) test split, so no image serves two
    seeds (audit B9); other sween experiments (no such key) keep one shared set; a split too small raises."""
    import torch

    from collapselab.experiments.sween._common import cell_split

    cell = {"dataset": "digits", "data_dir": None, "n_holdout": 100, "n_test": 20, "test_stride": 1,
            "distinct_test_images": True}
    blocks = [cell_split(cell, k)[4] for k in range(3)]
    assert all(b.shape[0] == 20 for b in blocks)
    assert not torch.equal(blocks[0], blocks[1]) and torch.equal(blocks[0], cell_split(cell, 0)[4])
    from collapselab.data import load

    x_test = torch.as_tensor(load("digits", None).x_test)
    assert all(torch.equal(b, x_test[20 * k: 20 * (k + 1)]) for k, b in enumerate(blocks))
    shared = {k: v for k, v in cell.items() if k != "distinct_test_images"}
    assert torch.equal(cell_split(shared, 2)[4], blocks[0])
    with pytest.raises(ValueError, match="test_block"):
        cell_split({**cell, "n_test": 400}, 2)
