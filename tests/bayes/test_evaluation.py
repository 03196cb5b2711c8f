import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from collapselab.bayes import (
    MAP,
    MCDropout,
    audit,
    auroc,
    evaluate_robustness,
    flawed_pgd,
    forward_randomness,
    outputs_look_like_probabilities,
    robust_accuracy,
    softmax_robustness,
    softmax_robustness_floor,
    square_attack,
    zero_gradient_fraction,
)


def _images(seed=0, n=16):
    g = torch.Generator().manual_seed(seed)
    x = 0.2 + 0.6 * torch.rand((n, 1, 4, 4), generator=g)
    w = torch.randn((3, 16), generator=g) * 2
    return x, w


def test_probability_output_model_is_caught(linear_model):
    x, w = _images()
    y = (x.flatten(1) @ w.T).argmax(1)
    probs = linear_model(w, softmax=True)
    assert outputs_look_like_probabilities(probs, x)
    assert not outputs_look_like_probabilities(linear_model(w), x)
    rep = evaluate_robustness(probs, x, y, eps=0.1, steps=3, n_samples=1, eval_samples=1, square_queries=5, generator=0)
    assert rep.probability_outputs and any("probabilities" in m for m in rep.warnings)


def test_zero_gradient_fraction_detects_masking(linear_model):
    x, w = _images()
    y = torch.zeros(16, dtype=torch.int64)

    def step_model(xx, s):  # piecewise-constant logits: zero gradient everywhere
        out = (xx.flatten(1) > 0.5).float() @ w.T + 0 * xx.flatten(1) @ w.T
        return out.unsqueeze(0).expand(s, *out.shape)

    assert zero_gradient_fraction(step_model, x, y, 1) == 1.0
    assert zero_gradient_fraction(linear_model(w), x, y, 1) == 0.0
    rep = evaluate_robustness(
        step_model, x, y, eps=0.3, steps=3, n_samples=1, eval_samples=1, square_queries=50, generator=0
    )
    assert any("zero input gradient" in m for m in rep.warnings)
    assert rep.pgd_accuracy == rep.clean_accuracy  # PGD cannot move: sign(0) = 0
    assert rep.worst_case_accuracy <= rep.square_accuracy


def test_forward_randomness():
    arch = {"kind": "mlp", "in_features": 16, "hidden": [8], "out_features": 3}
    x, _ = _images()
    assert forward_randomness(MAP(arch, seed=0), x) == 0.0
    assert forward_randomness(MCDropout(arch, p=0.5, seed=0), x) > 0.0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_auroc_matches_sklearn_with_ties(seed):
    rng = np.random.default_rng(seed)
    neg = rng.integers(0, 5, 30).astype(float)
    pos = rng.integers(1, 7, 20).astype(float)
    want = roc_auc_score(np.r_[np.zeros(30), np.ones(20)], np.r_[neg, pos])
    assert abs(auroc(neg, pos) - want) < 1e-12
    with pytest.raises(ValueError, match="negatives"):
        auroc([], pos)


def test_square_attack_is_gradient_free_and_in_ball(linear_model):
    x, w = _images(1, 32)
    model = linear_model(w)
    y = (x.flatten(1) @ w.T).argmax(1)
    x_sq = square_attack(model, x, y, eps=0.2, n_queries=100, generator=0)
    assert ((x_sq - x).abs() <= 0.2 + 1e-6).all() and (x_sq >= 0).all() and (x_sq <= 1).all()
    assert robust_accuracy(model, x_sq, y, 1) < 1.0
    with pytest.raises(ValueError, match="n_queries"):
        square_attack(model, x, y, eps=0.1, n_queries=0)
    with pytest.raises(ValueError, match="x"):
        square_attack(model, x.flatten(1), y, eps=0.1)


def test_softmax_robustness_floor(linear_model):
    # double softmax over a probability vector: the inf-distance is at most (e-1)/(e+C-1)
    assert abs(softmax_robustness_floor(10) - (1 - (np.e - 1) / (np.e + 9))) < 1e-12
    x, w = _images(2)
    model = linear_model(10 * w)
    x_far = 1 - x
    floor = softmax_robustness_floor(3)
    assert softmax_robustness(model, x, x_far, 1) >= floor - 1e-6
    assert softmax_robustness(model, x, x_far, 1, double_softmax=False) < floor


def test_audit_reports_every_variant(linear_model):
    x, w = _images(3)
    model = linear_model(w)
    y = (x.flatten(1) @ w.T).argmax(1)
    out = audit(model, x, y, eps=0.1, steps=5, n_samples=1, eval_samples=1, generator=0)
    assert set(out) >= {"correct", "double_softmax", "one_sample", "big_step", "all_flaws", "faked"}
    assert all(0.0 <= out[k] <= 1.0 for k in ("correct", "all_flaws"))
    x_bad = flawed_pgd(model, x, y, eps=0.1, steps=2, step_size=2.0)
    assert ((x_bad - x).abs() <= 0.1 + 1e-6).all()


def test_audit_uses_the_fixed_single_sample(linear_model):
    x, w = _images(4)
    model = linear_model(w)
    y = (x.flatten(1) @ w.T).argmax(1)
    # the 1-sample attacks are built on an unrelated model: a pure transfer attack
    other = linear_model(-w)
    out = audit(model, x, y, eps=0.2, steps=5, n_samples=1, eval_samples=1, one_sample_model=other, generator=0)
    assert out["one_sample"] >= out["correct"]


def test_auroc_se_matches_the_spread_over_samples():
    from collapselab.bayes import auroc_se

    rng = np.random.default_rng(0)
    draws = [auroc_se(rng.normal(0, 1, 150), rng.normal(0.8, 1, 100)) for _ in range(400)]
    values = np.array([d.mean for d in draws])
    se = np.mean([d.se for d in draws])
    assert abs(values.std(ddof=1) / se - 1) < 0.15  # 400 replicates: the SD ratio is known to ~4%
    one = auroc_se(np.array([0.1, 0.4, 0.35, 0.8]), np.array([0.9, 0.5, 0.4]))
    assert one.mean == pytest.approx(auroc(np.array([0.1, 0.4, 0.35, 0.8]), np.array([0.9, 0.5, 0.4])))
    with pytest.raises(ValueError, match="at least 2"):
        auroc_se(np.array([0.1]), np.array([0.2, 0.3]))


def test_audit_big_step_runs_as_the_criticised_loop(linear_model):
    """The big-step flaw is run as Carbone et al.'s loop ran it: step 2 from x (no random start) and the LAST
    iterate, the corrected attack's EOT samples otherwise (the flaw isolated)."""
    from collapselab.bayes import audit_examples, predict

    x, w = _images(5)
    model = linear_model(w)
    y = (x.flatten(1) @ w.T).argmax(1)
    out = audit_examples(model, x, y, eps=0.1, steps=5, n_samples=1, eval_samples=1, generator=0)
    cfg = dict(eps=0.1, steps=5, n_samples=1, step_size=2.0, random_start=False)
    last = predict(model, flawed_pgd(model, x, y, double_softmax=False, keep="last", **cfg), 1) == y
    np.testing.assert_array_equal(out["big_step"], last.numpy())
