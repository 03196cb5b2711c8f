import math

import pytest
import torch

from collapselab.bayes import (
    expected_entropy,
    log_predictive,
    max_probability,
    mutual_information,
    predictive_entropy,
    predictive_log_probs,
    uncertainty,
)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_log_predictive_matches_naive_average(seed):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn((7, 5, 4), generator=g, dtype=torch.float64) * 3
    naive = logits.softmax(-1).mean(0).log()
    assert torch.allclose(log_predictive(logits), naive, atol=1e-12)


def test_log_predictive_is_stable_for_huge_logits():
    logits = torch.tensor([[[1000.0, 0.0]], [[0.0, 1000.0]]])  # two confident, disagreeing samples
    out = log_predictive(logits)
    assert torch.allclose(out, torch.full((1, 2), math.log(0.5)))


def test_predictive_log_probs_checks_protocol():
    x = torch.zeros(3, 2)
    with pytest.raises(ValueError, match="model"):
        predictive_log_probs(lambda x, s: torch.zeros(3, 2), x, 1)
    with pytest.raises(ValueError, match="n_samples"):
        predictive_log_probs(lambda x, s: torch.zeros(s, 3, 2), x, 0)
    with pytest.raises(ValueError, match="x"):
        predictive_log_probs(lambda x, s: torch.zeros(s, 3, 2), [1.0], 1)
    with pytest.raises(ValueError, match="logits"):
        predictive_entropy(torch.zeros(3, 2))


def test_uncertainty_known_values():
    c = 4
    uniform = torch.zeros(3, 2, c)
    assert torch.allclose(predictive_entropy(uniform), torch.full((2,), math.log(c)))
    assert torch.allclose(mutual_information(uniform), torch.zeros(2), atol=1e-6)
    # two samples, each one-hot on a different class: H[p_bar] = log 2, E H[p_s] = 0, MI = log 2
    big = 50.0
    disagree = torch.tensor([[[big, 0, 0, 0]], [[0, big, 0, 0]]])
    assert torch.allclose(mutual_information(disagree), torch.tensor([math.log(2)]), atol=1e-5)
    assert torch.allclose(expected_entropy(disagree), torch.zeros(1), atol=1e-5)
    assert torch.allclose(max_probability(disagree), torch.tensor([0.5]), atol=1e-6)
    assert torch.allclose(uncertainty(disagree, "max_probability"), torch.tensor([0.5]), atol=1e-6)
    with pytest.raises(ValueError, match="score"):
        uncertainty(disagree, "variance")


def test_mutual_information_zero_for_repeated_sample_and_nonnegative():
    g = torch.Generator().manual_seed(0)
    one = torch.randn((1, 6, 5), generator=g)
    assert torch.allclose(mutual_information(one.expand(8, 6, 5)), torch.zeros(6), atol=1e-6)
    many = torch.randn((8, 6, 5), generator=g)
    assert (mutual_information(many) >= 0).all()
    assert (predictive_entropy(many) >= mutual_information(many) - 1e-6).all()


def test_uncertainty_is_differentiable():
    logits = torch.randn(5, 3, 4, requires_grad=True)
    for score in ("entropy", "mutual_information", "max_probability"):
        (g,) = torch.autograd.grad(uncertainty(logits, score).sum(), logits)
        assert torch.isfinite(g).all() and g.abs().sum() > 0
