import pytest
import torch

from collapselab.bayes import fgsm, pgd, predictive_log_probs
from collapselab.bayes.attacks import detection_attack, most_likely_wrong_class, semantic_shift_attack


def _two_class(LinearModel, seed, d=12):
    g = torch.Generator().manual_seed(seed)
    w = torch.randn((2, d), generator=g)
    x = 0.3 + 0.4 * torch.rand((5, d), generator=g)  # interior: the box [0,1] never binds at eps=0.1
    y = torch.randint(0, 2, (5,), generator=g)
    return LinearModel(w), x, y


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_linf_attacks_find_the_analytic_optimum(seed, linear_model):
    # -log p_y is decreasing in the margin (w_y - w_o).x, so the L-inf optimum is x - eps*sign(w_y - w_o)
    model, x, y = _two_class(linear_model, seed)
    eps = 0.1
    direction = model.w[y] - model.w[1 - y]  # (B, d)
    optimum = x - eps * direction.sign()
    for x_adv in (pgd(model, x, y, eps=eps, steps=20, generator=seed), fgsm(model, x, y, eps=eps)):
        assert torch.allclose(x_adv, optimum, atol=1e-6)
    targeted = pgd(model, x, 1 - y, eps=eps, steps=20, targeted=True, generator=seed)
    assert torch.allclose(targeted, optimum, atol=1e-6)


@pytest.mark.parametrize("seed", [0, 1])
def test_l2_pgd_converges_to_the_analytic_optimum(seed, linear_model):
    model, x, y = _two_class(linear_model, seed)
    eps = 0.2
    direction = model.w[y] - model.w[1 - y]
    optimum = x - eps * direction / direction.norm(dim=1, keepdim=True)
    x_adv = pgd(model, x, y, eps=eps, steps=200, step_size=eps / 5, norm="l2", keep="last", generator=seed)
    assert torch.allclose(x_adv, optimum, atol=1e-4)
    assert ((x_adv - x).norm(dim=1) <= eps + 1e-5).all()
    # the best iterate is at least as good as the last (float32 ties near the optimum allowed)
    best = pgd(model, x, y, eps=eps, steps=200, step_size=eps / 5, norm="l2", generator=seed)
    margin = lambda z: ((model.w[y] - model.w[1 - y]) * z).sum(1)  # noqa: E731
    assert (margin(best) <= margin(x_adv) + 1e-5).all()
    assert torch.allclose(best, optimum, atol=1e-3)


def test_attack_respects_box_and_ball(linear_model):
    g = torch.Generator().manual_seed(3)
    model = linear_model(torch.randn((3, 8), generator=g))
    x = torch.rand((10, 8), generator=g)
    x[:, 0] = 0.0
    x[:, 1] = 1.0
    y = torch.randint(0, 3, (10,), generator=g)
    x_adv = pgd(model, x, y, eps=0.3, steps=10, generator=0)
    assert (x_adv >= 0).all() and (x_adv <= 1).all()
    assert ((x_adv - x).abs() <= 0.3 + 1e-6).all()
    assert torch.equal(pgd(model, x, y, eps=0.0), x)


def test_eot_recovers_the_expected_gradient_direction(noisy_linear):
    # per-sample weights w + sigma*xi with sigma >> |w|: one sample gets sign(w) right in ~58% of
    # coordinates (Phi(0.2)), the 4000-sample predictive in all of them (miss prob ~ d*Phi(-12.6)).
    d = 20
    w = 0.01 * torch.where(torch.arange(d) % 3 == 0, -1.0, 1.0)
    model = noisy_linear(w, sigma=0.05, seed=0)
    x = torch.full((1, d), 0.5)
    y = torch.tensor([1])
    want = -torch.sign(w)  # lower the class-1 margin
    eot = fgsm(model, x, y, eps=0.1, n_samples=4000) - x
    assert torch.equal(eot.sign()[0], want)
    hits = [
        float((((fgsm(model, x, y, eps=0.1, n_samples=1) - x).sign()[0]) == want).float().mean()) for _ in range(30)
    ]
    assert sum(hits) / len(hits) < 0.8


def test_detection_attacks_misclassify_confidently(linear_model):
    g = torch.Generator().manual_seed(0)
    model = linear_model(3 * torch.randn((3, 16), generator=g))
    x = torch.rand((8, 16), generator=g)
    y = predictive_log_probs(model, x, 1).argmax(1)
    t = most_likely_wrong_class(model, x, y, 1)
    assert (t != y).all()
    x_t = detection_attack(model, x, y, eps=0.5, steps=30, method="targeted", generator=0)
    assert (predictive_log_probs(model, x_t, 1).argmax(1) == t).all()
    x_p = detection_attack(model, x, y, eps=0.5, steps=30, method="penalty", lam=1.0, generator=0)
    assert (predictive_log_probs(model, x_p, 1).argmax(1) != y).all()
    with pytest.raises(ValueError, match="target"):
        detection_attack(model, x, y, eps=0.1, target=y)
    with pytest.raises(ValueError, match="method"):
        detection_attack(model, x, y, eps=0.1, method="other")


def test_semantic_shift_attack_lowers_uncertainty(linear_model):
    from collapselab.bayes import predictive_entropy

    g = torch.Generator().manual_seed(1)
    model = linear_model(torch.randn((4, 16), generator=g))
    x = torch.rand((8, 16), generator=g)
    for score in ("entropy", "mutual_information", "max_probability"):
        x_adv = semantic_shift_attack(model, x, eps=0.3, steps=20, score=score, generator=0)
        if score == "entropy":
            assert (predictive_entropy(model(x_adv, 1)) < predictive_entropy(model(x, 1))).all()


def test_attack_validation(linear_model):
    model, x, y = _two_class(linear_model, 0)
    with pytest.raises(ValueError, match="eps"):
        pgd(model, x, y, eps=-0.1)
    with pytest.raises(ValueError, match="norm"):
        pgd(model, x, y, eps=0.1, norm="l1")
    with pytest.raises(ValueError, match="steps"):
        pgd(model, x, y, eps=0.1, steps=0)
    with pytest.raises(ValueError, match="x"):
        pgd(model, x + 2, y, eps=0.1)
    with pytest.raises(ValueError, match="y"):
        pgd(model, x, y.float(), eps=0.1)


def test_best_iterate_is_the_maximum_over_the_iterates(linear_model):
    from collapselab.bayes.attacks import AttackConfig, _label_objective, run_attack

    g = torch.Generator().manual_seed(5)
    w = torch.randn((3, 10), generator=g)

    def bumpy(x, s):  # non-monotone objective along sign steps: logits oscillate with x
        out = torch.sin(8 * x.flatten(1)) @ w.T
        return out.unsqueeze(0).expand(s, *out.shape)

    x = 0.3 + 0.4 * torch.rand((6, 10), generator=g)
    y = torch.randint(0, 3, (6,), generator=g)
    cfg = AttackConfig(eps=0.3, steps=8, step_size=0.1, keep="last")
    objective = _label_objective(y, False)
    iterates = [run_attack(bumpy, x, objective, cfg.replace(steps=t), generator=1).last for t in range(1, 9)]
    values = torch.stack([objective(bumpy(z, 1)) for z in iterates])  # (T, B), steps 1..8
    res = run_attack(bumpy, x, objective, cfg, generator=1)
    assert (res.best_objective >= values.max(0).values - 1e-6).all()  # no iterate beats the best
    assert (res.best_objective >= objective(bumpy(res.last, 1)) - 1e-6).all()
    assert torch.allclose(objective(bumpy(res.best, 1)), res.best_objective, atol=1e-5)
    assert ((res.best_step >= 0) & (res.best_step <= 8)).all()
    assert bool((res.best_objective > objective(bumpy(res.last, 1)) + 1e-4).any())  # the last is not always best


def test_success_comes_before_the_objective(linear_model):
    from collapselab.bayes.attacks import AttackConfig, run_attack

    model, x, y = _two_class(linear_model, 0)

    def objective(logits):  # grows along the attack
        return -log_predictive_y(logits, y)

    start = objective(model(x, 1))

    def success(logits):  # holds only where the objective is still at most its starting value
        return objective(logits) <= start + 1e-6

    res = run_attack(model, x, objective, AttackConfig(eps=0.1, steps=5, random_start=False), success=success)
    assert torch.equal(res.best_step, torch.zeros_like(res.best_step)) and res.success.all()
    assert torch.equal(res.best, x)
    plain = run_attack(model, x, objective, AttackConfig(eps=0.1, steps=5, random_start=False))
    assert (plain.best_step >= 1).all()  # reaches the corner, then ties (the earliest is kept)
    assert torch.allclose(plain.best_objective, objective(model(plain.last, 1)))


def log_predictive_y(logits, y):
    from collapselab.bayes import log_predictive

    return log_predictive(logits).gather(1, y.view(-1, 1)).squeeze(1)


def test_attack_config_validation_and_overrides(linear_model):
    from collapselab.bayes.attacks import AttackConfig

    cfg = AttackConfig(eps=0.3, steps=10)
    assert cfg.alpha == pytest.approx(0.075) and cfg.replace(step_size=0.01).alpha == 0.01
    assert cfg.replace(eps=0.1).steps == 10 and cfg.eps == 0.3
    with pytest.raises(ValueError, match="valid keys"):
        cfg.replace(stepz=3)
    with pytest.raises(ValueError, match="keep"):
        AttackConfig(eps=0.1, keep="first")
    with pytest.raises(ValueError, match="eps"):
        AttackConfig.make(steps=3)
    model, x, y = _two_class(linear_model, 1)
    a = pgd(model, x, y, cfg.replace(eps=0.1), generator=0)
    b = pgd(model, x, y, eps=0.1, steps=10, generator=0)
    assert torch.equal(a, b)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_pgd_on_cuda(linear_model):
    model, x, y = _two_class(linear_model, 0)
    model.w, model.b = model.w.cuda(), model.b.cuda()
    x_adv = pgd(model, x.cuda(), y.cuda(), eps=0.1, steps=5, generator=0)
    assert x_adv.device.type == "cuda" and ((x_adv - x.cuda()).abs() <= 0.1 + 1e-6).all()


def test_rescored_keeps_the_stronger_iterate_on_fresh_samples(linear_model, noisy_linear):
    """keep="rescored": on a deterministic model re-scoring cannot beat the best iterate (same answer as
    keep="best"); on a noisy one the candidate that is stronger on FRESH samples wins, whatever the noisy
    objective recorded when the best iterate was chosen (the winner's curse of EOT selection)."""
    from collapselab.bayes import AttackConfig
    from collapselab.bayes.attacks import AttackResult, _label_objective, label_success, rescore

    det, x, y = _two_class(linear_model, 4)
    cfg = AttackConfig(eps=0.1, steps=6, n_samples=1)
    best = pgd(det, x, y, cfg, generator=3)
    torch.testing.assert_close(pgd(det, x, y, cfg.replace(keep="rescored"), generator=3), best)
    model = noisy_linear(torch.ones(4), sigma=3.0, seed=1)  # class-1 logit ~ N(sum x, 9 |x|^2) per sample
    weak, strong = torch.full((8, 1, 2, 2), 0.1), torch.full((8, 1, 2, 2), 0.9)
    lucky = torch.full((8,), 10.0)  # the noisy objective that made `weak` look best when it was found
    res = AttackResult(weak, strong, torch.zeros(8, dtype=torch.int64), lucky, torch.zeros(8, dtype=torch.bool))
    target = torch.ones(8, dtype=torch.int64)
    got = rescore(model, res, _label_objective(target, True), 400, success=label_success(target, True))
    torch.testing.assert_close(got, strong)
    with pytest.raises(ValueError, match="keep"):
        AttackConfig(eps=0.1, keep="worst")
