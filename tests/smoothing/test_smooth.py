import numpy as np
import pytest
import torch
from scipy import stats

from collapselab.smoothing import (
    ABSTAIN,
    HalfSpace,
    Smooth,
    certify_from_counts,
    predict_from_counts,
    smoothed_class_counts,
)


def halfspace_smooth(a, sigma, dim=3):
    u = torch.zeros(dim)
    u[0] = 1.0
    return Smooth(HalfSpace(u, offset=a), num_classes=2, sigma=sigma)


def test_halfspace_radius_approaches_distance_from_below():
    sigma, a = 0.5, 0.5  # p_A = Phi(1) = 0.841
    smooth = halfspace_smooth(a, sigma)
    x = torch.zeros(3)
    gaps = []
    for n in (1_000, 10_000, 100_000):
        cert = smooth.certify(x, 100, n, 0.001, batch_size=50_000, generator=n)
        assert cert.label == 0
        assert cert.radius < a
        gaps.append(a - cert.radius)
    assert gaps[0] > gaps[1] > gaps[2]
    # at n = 1e5: gap ~ sigma * (z_alpha + N(0,1)) * sqrt(p(1-p)/n) / phi(1) ~ 0.007 +- 0.003
    assert gaps[2] < 0.025


def test_certify_p_a_lower_is_binomial_bound():
    smooth = halfspace_smooth(0.3, 1.0)
    cert = smooth.certify(torch.zeros(3), 50, 2000, 0.01, generator=3)
    assert cert.p_a_lower == pytest.approx(stats.beta.ppf(0.01, cert.n_a, 2000 - cert.n_a + 1))
    assert cert.radius == pytest.approx(stats.norm.ppf(cert.p_a_lower))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_abstains_at_p_a_one_half(seed):
    smooth = halfspace_smooth(0.0, 0.5)  # the input lies on the boundary: p_A = 1/2
    assert smooth.certify(torch.zeros(3), 100, 5000, 0.001, generator=seed).label == ABSTAIN
    assert smooth.predict(torch.zeros(3), 5000, 0.001, generator=seed) == ABSTAIN


def test_predict_far_from_boundary():
    assert halfspace_smooth(2.0, 0.5).predict(torch.zeros(3), 200, 0.001, generator=0) == 0
    assert halfspace_smooth(-2.0, 0.5).predict(torch.zeros(3), 200, 0.001, generator=0) == 1


def test_reproducible_with_generator_seed():
    smooth = halfspace_smooth(0.2, 0.5)
    c1 = smooth.certify(torch.zeros(3), 10, 500, 0.01, generator=7)
    c2 = smooth.certify(torch.zeros(3), 10, 500, 0.01, generator=torch.Generator().manual_seed(7))
    assert c1 == c2


def test_class_counts_batches_and_heads():
    base = HalfSpace(torch.tensor([1.0, 0.0]), offset=0.1)
    xs = torch.tensor([[0.0, 0.0], [5.0, 0.0], [-5.0, 0.0]])
    counts = smoothed_class_counts(base, xs, 300, 0.5, num_classes=2, batch_size=128, generator=0)
    assert counts.shape == (3, 2) and (counts.sum(1) == 300).all()
    assert counts[1, 0] == 300 and counts[2, 1] == 300

    def two_heads(x):  # head 0 = base, head 1 = the opposite classifier
        s = base(x)
        return torch.stack([s, s.flip(1)], dim=1)  # (B, 2, 2)

    counts2 = smoothed_class_counts(two_heads, xs, 300, 0.5, num_classes=2, batch_size=128, generator=0)
    assert counts2.shape == (3, 2, 2)
    assert torch.equal(counts2[:, 0], counts) and torch.equal(counts2[:, 1], counts.flip(1))


def test_certify_batch_shares_batches():
    smooth = halfspace_smooth(0.5, 0.5)
    certs = smooth.certify_batch(torch.zeros(5, 3), 20, 200, 0.01, batch_size=64, generator=0)
    assert len(certs) == 5 and all(c.label in (0, ABSTAIN) for c in certs)


def test_count_statistics():
    assert certify_from_counts([3, 97], [10, 990], 0.001, 1.0).label == 1
    assert certify_from_counts([60, 40], [500, 500], 0.001, 1.0) .label == ABSTAIN
    assert predict_from_counts(np.array([0, 55, 45]), 0.05) == ABSTAIN
    assert predict_from_counts(np.array([0, 90, 10]), 0.05) == 1


def test_validation_errors():
    base = HalfSpace(torch.ones(2))
    with pytest.raises(ValueError, match="sigma"):
        Smooth(base, 2, 0.0)
    with pytest.raises(ValueError, match="num_classes"):
        Smooth(base, 1, 0.5)
    with pytest.raises(ValueError, match="base"):
        Smooth(3, 2, 0.5)
    smooth = Smooth(base, 2, 0.5)
    with pytest.raises(ValueError, match="alpha"):
        smooth.certify(torch.zeros(2), 10, 10, 1.5)
    with pytest.raises(ValueError, match="n0"):
        smooth.certify(torch.zeros(2), 0, 10, 0.01)
    with pytest.raises(ValueError, match="generator"):
        smooth.certify(torch.zeros(2), 10, 10, 0.01, generator="seed")
    with pytest.raises(ValueError, match="base"):
        Smooth(base, 3, 0.5).certify(torch.zeros(2), 10, 10, 0.01)  # scores have 2 classes, not 3
    with pytest.raises(ValueError, match="counts_select"):
        certify_from_counts([1, 2], [1, 2, 3], 0.01, 1.0)
