"""The independent NumPy MLP used to check saved distilled sets (tests/distill/independent_mlp.py)."""

import importlib.util
from pathlib import Path

import numpy as np

_spec = importlib.util.spec_from_file_location("independent_mlp", Path(__file__).with_name("independent_mlp.py"))
imlp = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(imlp)


def test_numpy_mlp_gradients_match_finite_differences():
    r = np.random.default_rng(0)
    net = imlp.NumpyMLP(5, 7, 3, r)
    x = r.standard_normal((4, 5))
    y = r.random((4, 3))  # unnormalised soft targets, as learned labels are
    _, grads = net.loss_and_grads(x, y)
    h = 1e-6
    for i, p in enumerate(net.params):
        fd = np.zeros_like(p)
        for idx in np.ndindex(p.shape):
            old = p[idx]
            p[idx] = old + h
            up = net.loss_and_grads(x, y)[0]
            p[idx] = old - h
            down = net.loss_and_grads(x, y)[0]
            p[idx] = old
            fd[idx] = (up - down) / (2 * h)
        np.testing.assert_allclose(grads[i], fd, rtol=1e-5, atol=1e-8)


def test_numpy_mlp_learns_and_the_folder_check_pairs_files(tmp_path):
    from collapselab.distill import random_subset

    train, val, test = imlp.load_splits("digits")
    assert len(train[0]) + len(val[0]) + len(test[0]) == 1797 and len(test[0]) == 359
    x4 = train[0].reshape(-1, 1, 8, 8)
    for rep, suffix in ((0, ""), (1, "_rep1")):
        good = random_subset((x4, train[1]), ipc=5, generator=rep)
        bad = random_subset((x4, (train[1] + 1) % 10), ipc=5, generator=rep)  # wrong labels
        good.save(tmp_path / f"distilled_rat_bptt_ipc5{suffix}.npz")
        bad.save(tmp_path / f"distilled_random_ipc5{suffix}.npz")
    out = imlp.check_folder(tmp_path, "digits", steps=(20, 60))
    assert out[5]["n"] == 2 and out[5]["pairs"][0]["rat_bptt"] > 0.6 > out[5]["pairs"][0]["random"]
    assert out[5]["mean_gap"] > 0.5
