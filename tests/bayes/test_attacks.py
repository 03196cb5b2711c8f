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
    x_adv = pgd(model, x, y, eps=eps, steps=200, step_size=eps / 5, norm="l2", generator=seed)
    assert torch.allclose(x_adv, optimum, atol=1e-4)
    assert ((x_adv - x).norm(dim=1) <= eps + 1e-5).all()


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
