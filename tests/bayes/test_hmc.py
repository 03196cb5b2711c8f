import numpy as np
import pytest
import torch

from collapselab.bayes import hmc_sample


@pytest.mark.parametrize("seed", [0, 1])
def test_hmc_matches_conjugate_bayesian_linear_regression(seed):
    # y = X beta + N(0, s^2), beta ~ N(0, tau^2 I): posterior N(mu, Sigma) with
    # Sigma = (X'X/s^2 + I/tau^2)^-1, mu = Sigma X'y / s^2.
    rng = np.random.default_rng(seed)
    n, d, s, tau = 40, 3, 0.7, 1.0
    X = rng.standard_normal((n, d))
    y = X @ np.array([1.0, -0.5, 0.3]) + s * rng.standard_normal(n)
    prec = X.T @ X / s**2 + np.eye(d) / tau**2
    cov = np.linalg.inv(prec)
    mu = cov @ X.T @ y / s**2
    Xt, yt = torch.tensor(X), torch.tensor(y)

    def log_prob(beta):
        return -((yt - Xt @ beta) ** 2).sum() / (2 * s**2) - (beta**2).sum() / (2 * tau**2)

    res = hmc_sample(
        log_prob,
        torch.zeros(d, dtype=torch.float64),
        n_samples=600,
        burn_in=100,
        n_leapfrog=6,
        step_size=0.05,
        thin=1,
        generator=seed,
    )
    samples = res.samples.numpy()
    sd = np.sqrt(np.diag(cov))
    # Monte Carlo standard error of the chain mean by batch means (20 batches of 30 draws), which
    # accounts for the autocorrelation; 4 standard errors
    batch_means = samples.reshape(20, 30, d).mean(1)
    mcse = batch_means.std(0, ddof=1) / np.sqrt(20)
    assert np.all(np.abs(samples.mean(0) - mu) < 4 * mcse)
    assert np.all(mcse < 0.2 * sd)  # the chain mixes: n_eff > 25
    # a sample variance from n_eff >= 100 draws has relative sd sqrt(2/100) = 0.14; allow 2.5 of them
    assert np.all(np.abs(samples.var(0) / sd**2 - 1) < 0.35)
    assert 0.5 < res.accept_rate <= 1.0
    assert res.samples.shape == (600, d)


def test_hmc_thinning_and_validation():
    res = hmc_sample(
        lambda t: -(t**2).sum() / 2,
        torch.zeros(2),
        n_samples=5,
        burn_in=3,
        thin=4,
        n_leapfrog=2,
        step_size=0.3,
        generator=0,
    )
    assert res.samples.shape == (5, 2) and res.log_probs.shape == (5,)
    with pytest.raises(ValueError, match="init"):
        hmc_sample(lambda t: -(t**2).sum(), torch.zeros(2, 2), n_samples=1)
    with pytest.raises(ValueError, match="step_size"):
        hmc_sample(lambda t: -(t**2).sum(), torch.zeros(2), n_samples=1, step_size=0)
    with pytest.raises(ValueError, match="thin"):
        hmc_sample(lambda t: -(t**2).sum(), torch.zeros(2), n_samples=1, thin=0)


def test_split_rhat_flags_chains_that_disagree():
    from collapselab.bayes import split_rhat

    rng = np.random.default_rng(0)
    mixed = rng.standard_normal((4, 400))
    assert abs(split_rhat(mixed) - 1.0) < 0.01
    apart = mixed + np.array([0.0, 0.0, 2.0, 2.0])[:, None]  # two chains stuck in another mode
    assert split_rhat(apart) > 1.3
    drift = np.linspace(0, 5, 400) + 0.1 * rng.standard_normal(400)  # one chain still moving: its halves differ
    assert split_rhat(drift) > 1.3
    assert split_rhat(np.ones((2, 10))) == 1.0
    with pytest.raises(ValueError, match="draws"):
        split_rhat(np.ones(3))


def test_hmc_posterior_runs_several_chains_and_records_rhat():
    """Chain 0 is the single-chain run exactly (stored results stay identical); further chains start from
    their own initialisations; R-hat of the log posterior and of the predictions are recorded."""
    from collapselab.bayes import HMC

    arch = {"kind": "mlp", "in_features": 8, "hidden": [6], "out_features": 3}
    g = torch.Generator().manual_seed(0)
    x = torch.rand((60, 1, 2, 4), generator=g)
    y = x.flatten(1)[:, :3].argmax(1)
    kw = dict(n_samples=6, burn_in=5, n_leapfrog=3, thin=2, init_epochs=1, batch_size=20)
    one = HMC(arch, seed=1).fit(x, y, **kw)
    three = HMC(arch, seed=1).fit(x, y, n_chains=3, **kw)
    assert three.n_stored == 18 and torch.equal(three.samples_[:6], one.samples_)
    assert not torch.allclose(three.samples_[6], three.samples_[12])
    assert three.info_["n_chains"] == 3 and three.info_["rhat_log_posterior"] >= 1.0
    assert one.rhat_predictive(x[:10], y[:10]) >= 1.0
    few = HMC(arch, seed=1).fit(x, y, **{**kw, "n_samples": 2})
    assert "rhat_log_posterior" not in few.info_ and np.isnan(few.rhat_predictive(x[:4], y[:4]))
    with pytest.raises(ValueError, match="n_chains"):
        HMC(arch, seed=1).fit(x, y, n_chains=0, **kw)
