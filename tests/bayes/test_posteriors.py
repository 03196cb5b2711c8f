import pytest
import torch

from collapselab.bayes import HMC, MAP, DeepEnsemble, MCDropout, MeanFieldVI, Posterior, load_posterior
from collapselab.bayes._posteriors import _choose

ARCH = {"kind": "mlp", "in_features": 8, "hidden": [6], "out_features": 3}


def _data(seed=0, n=60):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand((n, 1, 2, 4), generator=g)
    y = (x.flatten(1)[:, :3].argmax(1)).to(torch.int64)
    return x, y


def _fitted(kind):
    x, y = _data()
    if kind == "map":
        return MAP(ARCH, seed=1).fit(x, y, epochs=2, batch_size=20)
    if kind == "mcd":
        return MCDropout(ARCH, p=0.3, seed=1).fit(x, y, epochs=2, batch_size=20)
    if kind == "vi":
        return MeanFieldVI(ARCH, seed=1).fit(x, y, epochs=2, batch_size=20)
    if kind == "ens":
        return DeepEnsemble(ARCH, n_members=3, seed=1).fit(x, y, epochs=2, batch_size=20)
    return HMC(ARCH, seed=1).fit(x, y, n_samples=4, burn_in=5, n_leapfrog=3, thin=2, init_epochs=1, batch_size=20)


KINDS = ["map", "mcd", "vi", "ens", "hmc"]


def test_ensemble_members_trained_together_match_their_twins_trained_alone():
    """fit(together=True) trains the members as one batched model: each ends where it ends alone (its
    own init, batch order and Adam state; float rounding apart), and the members still differ."""
    x, y = _data(n=90)
    alone = DeepEnsemble(ARCH, n_members=4, seed=3).fit(x, y, epochs=3, batch_size=16, weight_decay=1e-3)
    together = DeepEnsemble(ARCH, n_members=4, seed=3).fit(x, y, epochs=3, batch_size=16, weight_decay=1e-3,
                                                           together=True)
    for a, b in zip(alone.members, together.members):
        for (name, pa), pb in zip(a.named_parameters(), b.parameters()):
            torch.testing.assert_close(pb, pa, atol=1e-5, rtol=1e-4, msg=name)
    assert together.info_["final_loss"] == pytest.approx(alone.info_["final_loss"], rel=1e-5)
    first, second = (next(m.parameters()) for m in together.members[:2])
    assert not torch.allclose(first, second)
    xt, _ = _data(2, 5)
    torch.testing.assert_close(together(xt, 4), alone(xt, 4), atol=1e-5, rtol=1e-4)
    untrained = DeepEnsemble(ARCH, n_members=4, seed=3)
    assert not torch.allclose(untrained(xt, 4), together(xt, 4), atol=1e-3)  # the members did train


@pytest.mark.parametrize("kind", KINDS)
def test_protocol_shape_save_load_and_reproducibility(kind, tmp_path):
    model = _fitted(kind)
    x, _ = _data(1, 5)
    out = model(x, 7)
    assert out.shape == (7, 5, 3) and torch.isfinite(out).all()
    path = model.save(tmp_path / "post.pt")
    loaded = load_posterior(path)
    assert type(loaded) is type(model)
    model.reseed(3)
    loaded.reseed(3)
    assert torch.allclose(model(x, 4), loaded(x, 4))
    again = _fitted(kind)  # same seed, same data: identical fit and samples
    again.reseed(3)
    model.reseed(3)
    assert torch.allclose(again(x, 4), model(x, 4))


@pytest.mark.parametrize("kind,random", [("map", False), ("mcd", True), ("vi", True), ("ens", True), ("hmc", True)])
def test_samples_differ_only_for_stochastic_posteriors(kind, random):
    model = _fitted(kind)
    x, _ = _data(2, 4)
    out = model(x, 6)
    spread = float((out - out[0]).detach().abs().max())
    assert (spread > 0) == random


def test_hmc_reports_acceptance_and_needs_fit(tmp_path):
    model = _fitted("hmc")
    assert 0.0 <= model.info_["accept_rate"] <= 1.0 and model.info_["step_size"] > 0
    assert model.n_stored == 4
    assert load_posterior(model.save(tmp_path / "h.pt")).info_["accept_rate"] == model.info_["accept_rate"]
    with pytest.raises(ValueError, match="fit"):
        HMC(ARCH, seed=0)(torch.zeros(2, 1, 2, 4), 1)


def test_load_checks_class_and_is_safe(tmp_path):
    path = _fitted("map").save(tmp_path / "m.pt")
    with pytest.raises(ValueError, match="MAP"):
        MCDropout.load(path)
    assert isinstance(Posterior.load(path), MAP)
    with pytest.raises(FileNotFoundError):
        load_posterior(tmp_path / "missing.pt")


def test_choose_covers_samples_evenly():
    g = torch.Generator().manual_seed(0)
    idx = _choose(5, 12, g)
    counts = torch.bincount(idx, minlength=5)
    assert idx.numel() == 12 and counts.min() >= 2 and counts.max() <= 3
    assert torch.unique(_choose(5, 3, g)).numel() == 3


def test_posterior_validation():
    with pytest.raises(ValueError, match="arch"):
        MAP({"kind": "resnet"})
    with pytest.raises(ValueError, match="dropout"):
        MCDropout({**ARCH, "dropout": 0.1})
    with pytest.raises(ValueError, match="p"):
        MCDropout(ARCH, p=1.5)
    with pytest.raises(ValueError, match="n_members"):
        DeepEnsemble(ARCH, n_members=0)
    with pytest.raises(ValueError, match="prior_std"):
        MeanFieldVI(ARCH, prior_std=0.0)
    with pytest.raises(ValueError, match="batch"):
        HMC(
            {
                "kind": "convnet",
                "in_channels": 1,
                "num_classes": 2,
                "image_size": 8,
                "width": 2,
                "depth": 1,
                "norm": "batch",
            }
        )
    x, y = _data()
    with pytest.raises(ValueError, match="y"):
        MAP(ARCH, seed=0).fit(x, y.float())
    with pytest.raises(ValueError, match="epochs"):
        MAP(ARCH, seed=0).fit(x, y, epochs=-1)


def test_vi_kl_matches_monte_carlo():
    # KL(q || p) closed form against E_q[log q - log p] estimated from weight samples
    from torch.distributions import Normal

    vi = MeanFieldVI(ARCH, prior_std=0.5, init_std=0.3, seed=0)
    mu = torch.cat([m.detach().flatten() for m in vi.mu])
    sd = torch.nn.functional.softplus(torch.cat([r.detach().flatten() for r in vi.rho]))
    g = torch.Generator().manual_seed(0)
    w = mu + sd * torch.randn((4000, mu.numel()), generator=g)
    terms = (Normal(mu, sd).log_prob(w) - Normal(0.0, 0.5).log_prob(w)).sum(1)
    se = float(terms.std() / 4000**0.5)
    assert abs(float(terms.mean()) - float(vi.kl().detach())) < 4 * se


@pytest.mark.parametrize("kind", ["ens", "hmc"])
def test_sample_view_is_one_fixed_sample(kind):
    model = _fitted(kind)
    x, _ = _data(4, 5)
    view = model.sample_view(1)
    out = view(x, 3)
    assert out.shape == (3, 5, 3) and torch.equal(out[0], out[2])
    n = model.n_members if kind == "ens" else model.n_stored
    every = model(x, n)  # each stored sample exactly once
    assert any(torch.allclose(out[0], every[i], atol=1e-6) for i in range(n))
    with pytest.raises(ValueError, match="index"):
        model.sample_view(n)


@pytest.mark.parametrize("kind", ["mcd", "vi"])
def test_sample_view_fixes_one_dropout_mask_or_vi_draw(kind):
    """The audit's one-sample flaw attacks ONE fixed posterior sample: for MC dropout a fixed mask, for VI a
    fixed weight draw. Two calls of the view give identical logits (the plain forward does not), other
    indices give other samples, and the view leaves the posterior's own sampling stream untouched."""
    model = _fitted(kind)
    x, _ = _data(4, 5)
    view = model.sample_view(0)
    a, b = view(x, 2), view(x, 1)
    assert a.shape == (2, 5, 3) and torch.equal(a[0], a[1]) and torch.equal(a[0], b[0])
    assert torch.equal(model.sample_view(0)(x)[0], a[0])  # the same index is the same sample
    assert not torch.allclose(model.sample_view(1)(x)[0], a[0])
    assert not torch.allclose(model(x, 1)[0], model(x, 1)[0])  # the posterior itself stays stochastic
    model.reseed(3)
    ref = model(x, 4)
    model.reseed(3)
    view(x)
    assert torch.equal(model(x, 4), ref)
    assert torch.equal(view(x[:2])[0], a[0, :2])  # per-example logits do not depend on the batch
    with pytest.raises(ValueError, match="index"):
        model.sample_view(-1)
