"""collapselab.distill: meta-gradients, truncation, memory, I/O, evaluation, Boost-DD."""

import numpy as np
import pytest
import torch

from collapselab.distill import (
    ZCA,
    DistillConfig,
    DistilledSet,
    GraphMemory,
    InnerOptimizer,
    boost,
    distill,
    evaluate,
    fresh_model,
    graph_memory,
    meta_loss,
    random_subset,
    window,
)
from collapselab.nn import MLP


def _blobs(n: int, seed: int):
    """Two classes: x1 ~ N(+-1, 0.5^2) carries the label, x2 ~ N(0, 3^2) is a nuisance. (n, 1, 1, 2)."""
    r = np.random.default_rng(seed)
    y = r.integers(0, 2, n)
    x = np.stack([(2 * y - 1) + 0.5 * r.standard_normal(n), 3 * r.standard_normal(n)], 1)
    return x.astype(np.float32)[:, None, None, :], y.astype(np.int64)


def _mlp():
    return MLP(2, [8], 2)


def _problem(dtype=torch.float64):
    g = torch.Generator().manual_seed(0)
    net = fresh_model(_mlp, g, "cpu").to(dtype)
    xs = torch.randn(4, 1, 1, 2, generator=g, dtype=dtype)
    ys = torch.tensor([0, 1, 0, 1])
    xr = torch.randn(32, 1, 1, 2, generator=g, dtype=dtype)
    yr = (xr[:, 0, 0, 0] > 0).long()
    return net, xs, ys, xr, yr


@pytest.mark.parametrize("opt", ["adam", "sgd"])
def test_meta_gradient_matches_finite_differences(opt):
    net, xs, ys, xr, yr = _problem()

    def f(x):
        return meta_loss(net, x, ys, xr, yr, n_untracked=0, n_tracked=4, inner_optimizer=opt, inner_lr=0.05)

    x = xs.clone().requires_grad_()
    grad = torch.autograd.grad(f(x), x)[0].flatten()
    h, fd = 1e-6, torch.zeros(xs.numel(), dtype=xs.dtype)
    with torch.no_grad():
        for i in range(xs.numel()):
            e = torch.zeros(xs.numel(), dtype=xs.dtype)
            e[i] = h
            fd[i] = (f(xs + e.view_as(xs)) - f(xs - e.view_as(xs))) / (2 * h)
    assert torch.allclose(grad, fd, rtol=1e-5, atol=1e-8), (grad, fd)


def test_soft_label_meta_gradient_matches_finite_differences():
    net, xs, _, xr, yr = _problem()
    y0 = torch.tensor([[0.9, 0.1], [0.2, 0.8], [1.0, 0.0], [0.3, 0.7]], dtype=xs.dtype)

    def f(y):
        return meta_loss(net, xs, y, xr, yr, n_untracked=0, n_tracked=3, inner_optimizer="sgd", inner_lr=0.1)

    y = y0.clone().requires_grad_()
    grad = torch.autograd.grad(f(y), y)[0].flatten()
    h = 1e-6
    fd = torch.stack([(f(y0 + h * e.view_as(y0)) - f(y0 - h * e.view_as(y0))).detach() / (2 * h)
                      for e in torch.eye(y0.numel(), dtype=y0.dtype)])
    assert torch.allclose(grad, fd, rtol=1e-5, atol=1e-8)


def test_truncation_keeps_the_forward_and_cuts_the_gradient():
    net, xs, ys, xr, yr = _problem()
    x = xs.clone().requires_grad_()
    full = meta_loss(net, x, ys, xr, yr, n_untracked=0, n_tracked=5, inner_lr=0.01)
    trunc = meta_loss(net, x, ys, xr, yr, n_untracked=3, n_tracked=2, inner_lr=0.01)
    assert torch.allclose(full, trunc, rtol=1e-12)  # same trajectory theta_0 -> theta_5
    g_full = torch.autograd.grad(full, x)[0]
    g_trunc = torch.autograd.grad(trunc, x)[0]
    assert not torch.allclose(g_full, g_trunc)
    none = meta_loss(net, x, ys, xr, yr, n_untracked=5, n_tracked=0, inner_lr=0.01)
    assert not none.requires_grad  # nothing tracked: no path to X_s


def test_window_policies():
    g = torch.Generator().manual_seed(0)
    assert window("bptt", 50, 10, g) == (0, 50)
    assert window("tbptt", 50, 10, g) == (40, 10)
    ns = {window("rat_bptt", 12, 4, g)[0] for _ in range(400)}
    assert ns == set(range(9))  # U{0..T-M}, both ends included
    assert {window("rat_bptt", 12, 4, g, min_window=3)[0] for _ in range(200)} <= set(range(3, 9))
    assert window("rat_bptt", 7, 7, g) == (0, 7)


def test_window_of_T_equals_full_bptt():
    x, y = _blobs(64, 0)
    kw = dict(ipc=1, T=4, steps=3, inner_optimizer="sgd", inner_lr=0.1, outer_lr=0.05, model_fn=_mlp,
              real_batch=32)
    sets = [distill((x, y), method=m, M=4, generator=7, **kw) for m in ("rat_bptt", "tbptt")]
    sets.append(distill((x, y), method="bptt", M=None, generator=7, **kw))
    for s in sets[1:]:
        np.testing.assert_array_equal(s.x, sets[0].x)
    other = distill((x, y), method="tbptt", M=2, generator=7, **kw)
    assert not np.array_equal(other.x, sets[0].x)


def test_inner_optimizer_matches_torch_optim():
    net, xs, ys, _, _ = _problem()
    for kind in ("adam", "sgd"):
        ref = fresh_model(_mlp, torch.Generator().manual_seed(1), "cpu").double()
        params = tuple(p.detach().clone() for p in ref.parameters())
        torch_opt = (torch.optim.Adam(ref.parameters(), lr=0.01) if kind == "adam"
                     else torch.optim.SGD(ref.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4))
        mine = InnerOptimizer(kind, 0.01)
        state = mine.init(params)
        names = [n for n, _ in ref.named_parameters()]
        for _ in range(5):
            loss = torch.nn.functional.cross_entropy(ref(xs), ys)
            torch_opt.zero_grad()
            loss.backward()
            torch_opt.step()
            theta = tuple(p.requires_grad_() for p in params)
            out = torch.func.functional_call(ref, dict(zip(names, theta)), (xs,))
            grads = torch.autograd.grad(torch.nn.functional.cross_entropy(out, ys), theta)
            with torch.no_grad():
                params, state = mine.step(params, grads, state)
            params = tuple(p.detach() for p in params)
        for a, b in zip(params, ref.parameters()):
            assert torch.allclose(a, b.detach(), rtol=1e-6, atol=1e-9)


def test_graph_memory_is_linear_in_the_window_and_ignores_untracked_steps():
    net, xs, ys, xr, yr = _problem(torch.float32)
    x = xs.clone().requires_grad_()
    sizes = {}
    for n, m in ((0, 2), (0, 3), (0, 4), (5, 2)):
        mem = GraphMemory()
        meta_loss(net, x, ys, xr, yr, n_untracked=n, n_tracked=m, memory=mem)
        sizes[(n, m)] = mem.bytes
    assert sizes[(0, 3)] - sizes[(0, 2)] == sizes[(0, 4)] - sizes[(0, 3)] > 0
    assert sizes[(5, 2)] == sizes[(0, 2)]  # untracked steps hold no graph
    with graph_memory() as mem:  # the context manager counts whatever is built inside it
        y = (x * 2).exp().sum()
    assert mem.bytes >= x.numel() * x.element_size() and y.requires_grad


def test_fresh_model_is_reproducible_and_leaves_global_rng_alone():
    state = torch.random.get_rng_state()
    a = fresh_model(_mlp, torch.Generator().manual_seed(3), "cpu")
    b = fresh_model(_mlp, torch.Generator().manual_seed(3), "cpu")
    assert torch.equal(torch.random.get_rng_state(), state)
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)


def test_distilled_set_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    hard = DistilledSet(rng.standard_normal((6, 1, 3, 3)), np.array([0, 1, 2, 0, 1, 2]),
                        {"method": "x", "T": 5})
    soft = DistilledSet(rng.standard_normal((4, 3, 2, 2)), rng.random((4, 2)).astype(np.float32),
                        {"a": [1, 2]})
    for ds in (hard, soft):
        back = DistilledSet.load(ds.save(tmp_path / "d.npz"))
        np.testing.assert_array_equal(back.x, ds.x)
        np.testing.assert_array_equal(back.y, ds.y)
        assert back.x.dtype == np.float32 and back.metadata == ds.metadata
    assert DistilledSet.load(hard.save(tmp_path / "h.npz")).y.dtype == np.int64
    assert soft.soft and soft.num_classes == 2 and hard.num_classes == 3
    nested = hard.take(1)
    np.testing.assert_array_equal(nested.y, [0, 1, 2])
    np.testing.assert_array_equal(nested.x, hard.x[:3])


def test_two_blob_distillation_beats_random_subset():
    train, val, test = _blobs(400, 0), _blobs(200, 1), _blobs(400, 2)
    ev = dict(n_models=3, steps_grid=(10, 30), validation=val, test=test, lr=0.1, optimizer="sgd",
              generator=0)
    rand = np.mean([evaluate(random_subset(train, ipc=1, generator=s), _mlp, **ev).mean for s in range(6)])
    ds = distill(train, ipc=1, T=10, M=5, inner_optimizer="sgd", inner_lr=0.1, outer_lr=0.05, steps=60,
                 model_fn=_mlp, generator=0, real_batch=128)
    acc = evaluate(ds, _mlp, **ev).mean
    assert acc >= rand + 0.05, (acc, rand)
    assert ds.metadata["method"] == "rat_bptt" and ds.x.shape == (2, 1, 1, 2)


def test_learned_labels_stay_nonnegative():
    x, y = _blobs(64, 0)
    ds = distill((x, y), ipc=2, T=4, M=2, steps=5, inner_optimizer="sgd", inner_lr=0.1, outer_lr=0.5,
                 learn_labels=True, model_fn=_mlp, generator=0, real_batch=32)
    assert ds.soft and ds.y.shape == (4, 2) and ds.y.min() >= 0


def test_evaluate_chooses_steps_on_validation_only():
    train, val, test = _blobs(100, 0), _blobs(100, 1), _blobs(100, 2)
    ds = random_subset(train, ipc=3, generator=0)
    kw = dict(n_models=2, steps_grid=(2, 5, 20), validation=val, lr=0.1, optimizer="sgd", generator=0)
    a = evaluate(ds, _mlp, test=test, **kw)
    b = evaluate(ds, _mlp, test=(test[0], 1 - test[1]), **kw)  # flipped test labels
    assert a.best_steps == b.best_steps and a.val_by_steps == b.val_by_steps
    assert a.best_steps == max(a.val_by_steps, key=a.val_by_steps.get)
    assert a.mean == pytest.approx(1 - b.mean)


def test_boost_with_beta_zero_freezes_earlier_blocks():
    x, y = _blobs(64, 0)
    kw = dict(block_ipc=1, steps_per_block=3, T=4, M=2, inner_optimizer="sgd", inner_lr=0.1, outer_lr=0.05,
              model_fn=_mlp, real_batch=32, generator=5)
    one = boost((x, y), n_blocks=1, **kw)
    two = boost((x, y), n_blocks=2, beta=0.0, **kw)
    weak = boost((x, y), n_blocks=2, beta=0.5, **kw)
    np.testing.assert_array_equal(two.take(1).x, one.x)
    assert not np.array_equal(weak.take(1).x, one.x)
    assert len(two) == 4 and two.metadata["n_blocks"] == 2


def test_zca_inverts_and_whitens():
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((500, 1, 2, 2)) @ np.diag([3.0, 1.0]) + 1.0).astype(np.float32)
    z = ZCA(regularization=0.0).fit(x)
    w = z.transform(x).reshape(500, -1)
    np.testing.assert_allclose(np.cov(w, rowvar=False, bias=True), np.eye(4), atol=1e-3)
    np.testing.assert_allclose(z.inverse_transform(z.transform(x)), x, atol=1e-4)


def test_errors_name_the_argument():
    x, y = _blobs(40, 0)
    base = dict(ipc=1, T=4, M=2, steps=1, model_fn=_mlp)
    with pytest.raises(ValueError, match="method"):
        distill((x, y), **{**base, "method": "foo"})
    with pytest.raises(ValueError, match="`M`"):
        distill((x, y), **{**base, "M": 5})
    with pytest.raises(ValueError, match="ipc"):
        distill((x, y), **{**base, "ipc": 0})
    with pytest.raises(ValueError, match="ipc"):
        random_subset((x, y), ipc=1000)
    with pytest.raises(ValueError, match="train"):
        distill(x, **base)
    with pytest.raises(ValueError, match="inner_optimizer"):
        distill((x, y), **{**base, "inner_optimizer": "rmsprop"})
    with pytest.raises(ValueError, match="`x`"):
        DistilledSet(np.zeros((3, 4)), np.zeros(3, dtype=np.int64))
    with pytest.raises(ValueError, match="`y`"):
        DistilledSet(np.zeros((3, 1, 2, 2)), np.zeros(2, dtype=np.int64))
    ds = random_subset((x, y), ipc=1, generator=0)
    with pytest.raises(ValueError, match="steps_grid"):
        evaluate(ds, _mlp, steps_grid=[], validation=(x, y), test=(x, y))
    with pytest.raises(ValueError, match="beta"):
        boost((x, y), block_ipc=1, n_blocks=2, beta=2.0, model_fn=_mlp)
    with pytest.raises(ValueError, match="valid keys"):
        distill((x, y), **{**base, "lr": 0.1})
    with pytest.raises(ValueError, match="learn_labels"):
        boost((x, y), block_ipc=1, n_blocks=1, T=4, M=2, model_fn=_mlp, learn_labels=True)
    with pytest.raises(ValueError, match="steps_per_block"):
        boost((x, y), block_ipc=1, n_blocks=1, T=4, M=2, model_fn=_mlp, steps=3)


def test_config_object_and_keywords_distill_alike():
    x, y = _blobs(40, 0)
    cfg = DistillConfig(T=4, M=2, steps=3, inner_optimizer="sgd", inner_lr=0.1)
    a = distill((x, y), cfg, ipc=1, model_fn=_mlp, generator=5)
    b = distill((x, y), ipc=1, model_fn=_mlp, generator=5, T=4, M=2, steps=3, inner_optimizer="sgd", inner_lr=0.1)
    c = distill((x, y), cfg, ipc=1, model_fn=_mlp, generator=5, steps=2)  # options override the config
    assert np.array_equal(a.x, b.x) and not np.array_equal(a.x, c.x) and c.metadata["steps"] == 2
    assert DistillConfig(method="bptt", T=6, M=None).M == 6


def test_learned_inner_lr_has_the_finite_difference_gradient():
    net, xs, ys, xr, yr = _problem()

    def f(log_lr):
        return meta_loss(net, xs, ys, xr, yr, n_untracked=0, n_tracked=3, inner_optimizer="adam",
                         inner_lr=log_lr.exp())

    a = torch.tensor(np.log(0.05), dtype=torch.float64, requires_grad=True)
    grad = torch.autograd.grad(f(a), a)[0]
    h = 1e-6
    fd = (f(a.detach() + h) - f(a.detach() - h)) / (2 * h)
    assert torch.allclose(grad, fd, rtol=1e-5, atol=1e-9)
    with pytest.raises(ValueError, match="inner_lr"):
        InnerOptimizer("adam", torch.tensor(-1.0))


def test_learn_lr_changes_and_records_the_inner_lr():
    x, y = _blobs(64, 0)
    ds = distill((x, y), ipc=1, T=4, M=2, steps=5, inner_optimizer="sgd", inner_lr=0.1, outer_lr=0.05,
                 learn_lr=True, lr_lr=0.1, model_fn=_mlp, generator=0, real_batch=32)
    assert ds.metadata["learn_lr"] and ds.metadata["inner_lr_init"] == 0.1
    assert ds.metadata["inner_lr"] != 0.1 and ds.metadata["inner_lr"] > 0


def test_inner_step_budget_stops_each_method_at_equal_compute():
    x, y = _blobs(64, 0)
    kw = dict(ipc=1, T=8, M=2, steps=1000, max_inner_steps=60, inner_optimizer="sgd", inner_lr=0.1,
              model_fn=_mlp, generator=0, real_batch=16)
    for method, per_step in (("tbptt", 8), ("bptt", 8)):
        ds = distill((x, y), method=method, **kw)
        assert ds.metadata["inner_steps"] == 56 and ds.metadata["outer_steps"] == 56 // per_step
    rat = distill((x, y), method="rat_bptt", **kw)
    assert 60 - 8 < rat.metadata["inner_steps"] <= 60
    assert rat.metadata["outer_steps"] > 7  # E[N + M] = 5 < 8: more outer steps for the same budget
    with pytest.raises(ValueError, match="max_inner_steps"):
        distill((x, y), **{**kw, "max_inner_steps": 0})


def test_real_init_starts_from_the_random_subset_of_the_same_seed():
    x, y = _blobs(64, 0)
    base = random_subset((x, y), ipc=3, generator=11)
    ds = distill((x, y), ipc=3, T=4, M=2, steps=0, init="real", model_fn=_mlp, generator=11)
    np.testing.assert_array_equal(ds.x, base.x)
    np.testing.assert_array_equal(ds.labels, base.labels)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_distill_and_evaluate_on_cuda():
    x, y = _blobs(64, 0)
    g = torch.Generator(device="cpu").manual_seed(0)
    ds = distill((x, y), ipc=1, T=4, M=2, steps=3, inner_optimizer="sgd", inner_lr=0.1, learn_labels=True,
                 learn_lr=True, model_fn=_mlp, device="cuda", generator=g, real_batch=32)
    assert ds.x.shape == (2, 1, 1, 2) and np.isfinite(ds.x).all()
    ev = evaluate(ds, _mlp, n_models=1, steps_grid=[5], validation=(x, y), test=(x, y), device="cuda",
                  generator=0)
    assert 0 <= ev.mean <= 1
    with graph_memory() as mem:
        net = fresh_model(_mlp, g, "cuda")
        xs = torch.randn(2, 1, 1, 2, device="cuda", requires_grad=True)
        meta_loss(net, xs, torch.tensor([0, 1], device="cuda"), torch.as_tensor(x[:8], device="cuda"),
                  torch.as_tensor(y[:8], device="cuda"), n_untracked=1, n_tracked=2)
    assert mem.bytes > 0
