"""Finite-N simulation of generate -> verify -> retrain on the Gaussian mixture, through the
generic pipeline (:func:`synthesize_select_retrain`), the x-dependent linear-verifier limit, and the
Monte Carlo twins of both limits (:func:`limit_accuracy_mc`, :func:`linear_verifier_limit_accuracy_mc`).

Import order: ``_gmm`` (theory) <- ``_generators``, ``_verifiers`` <- ``_simulate``; nothing here is
imported back by the theory module."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.special import ndtr
from scipy.stats import norm

from collapselab._rng import SeedLike, as_rng
from collapselab._validation import check_array, check_choice, check_int, check_real
from collapselab.stats import MCEstimate
from collapselab.verification._generators import LabelFlipGenerator
from collapselab.verification._gmm import _check_mu_sigma, linear_accuracy, sample_mixture
from collapselab.verification._linear import METHODS, fit_linear_classifier
from collapselab.verification._selection import synthesize_select_retrain
from collapselab.verification._verifiers import LinearVerifier, RandomPruner


class SelectionOutcome(NamedTuple):
    accuracy: float  # exact accuracy of the retrained classifier on the mixture
    n_kept: int  # synthetic pairs kept by the selection
    kept_noise: float  # fraction of wrong labels among the kept pairs (NaN when none kept)
    w: np.ndarray  # retrained direction (d,)
    b: float  # retrained bias


def simulate_selection(mu, sigma=None, *, generator, verifier=None, strategy: str = "prune", n: int,
                       n_real: int = 0, method: str = "ridge", reg: float = 1e-3,
                       rng: SeedLike = None) -> SelectionOutcome:
    """Draw n inputs of the mixture, label them with ``generator``, select with ``strategy``
    (``none``, ``prune`` with ``verifier``, ``best-of-k`` over the two labels scored by ``verifier``,
    or ``oracle``), retrain a linear classifier (``method``) on the kept pairs plus ``n_real`` real
    pairs, and return its exact accuracy on the mixture (no test-set noise).
    """
    mu, sigma = _check_mu_sigma(mu, sigma)
    n = check_int("n", n, low=1)
    n_real = check_int("n_real", n_real, low=0)
    check_choice("method", method, METHODS)
    reg = check_real("reg", reg, low=0.0)
    if strategy in ("prune", "best-of-k") and verifier is None:
        raise ValueError(f"strategy {strategy!r} needs a `verifier`")
    rng = as_rng(rng)
    x, y = sample_mixture(n, mu, sigma, rng=rng)
    x_real, y_real = sample_mixture(n_real, mu, sigma, rng=rng)
    y1 = generator.label(x, y_true=y, rng=rng)
    cands = np.stack([y1, -y1], axis=1)  # (n, 2): the generator's label, then the other one

    def retrain(xk, yk):
        return fit_linear_classifier(np.concatenate([x_real, xk]), np.concatenate([y_real, yk]),
                                     method=method, reg=reg)

    res = synthesize_select_retrain(
        x, synthesize=lambda xs: cands, retrain=retrain, strategy=strategy, candidates=cands,
        accept=lambda xs, c: verifier.accept(xs, c[:, 0], y_true=y, rng=rng),
        score=lambda xs, c: np.stack([verifier.score(xs, c[:, j]) for j in range(c.shape[1])], 1),
        correct=lambda xs, c: c == y[:, None])
    w, b = res.models[0]
    sel = res.selection
    n_kept = len(sel.index)
    kept_labels = cands[sel.index, sel.choice]
    noise = float(np.mean(kept_labels != y[sel.index])) if n_kept else float("nan")
    return SelectionOutcome(linear_accuracy(w, b, mu, sigma), n_kept, noise, w, b)


def linear_verifier_limit_accuracy(mu, sigma, p: float, w_v, tau: float = 0.0) -> float:
    """Accuracy as N -> infinity of least squares retrained on label-flip data (flip probability p,
    independent of x) kept by the linear verifier y' (w_v.x) > tau [D, derived here].

    With v = y' x, the kept pairs are v ~ (1-p) N(mu, Sigma) + p N(-mu, Sigma) truncated to
    w_v.v > tau; the law of (x, y') is symmetric under sign change, so the bias vanishes and
    w = E[v v' 1{keep}]^-1 E[v 1{keep}]. For one component N(m, Sigma), with s = sqrt(w_v' Sigma w_v),
    a = (tau - w_v.m) / s, c = Sigma w_v / s, P = Phi(-a):
        E[v 1{keep}]    = m P + c phi(a)
        E[v v' 1{keep}] = (m m' + Sigma) P + (m c' + c m') phi(a) + c c' a phi(a).
    Unlike the x-independent pruner, the kept labels lean towards the verifier's own decision
    sign(w_v.x), so the limit is *not* determined by p* = phi / (phi + psi) alone.
    Monte Carlo twin: :func:`linear_verifier_limit_accuracy_mc`.
    """
    mu, sigma = _check_mu_sigma(mu, sigma)
    p = check_real("p", p, low=0.0, high=1.0)
    w_v = check_array("w_v", w_v, ndim=1)
    if w_v.shape != mu.shape:
        raise ValueError(f"`w_v` must have shape {mu.shape}, got {w_v.shape}")
    tau = check_real("tau", tau)
    s = float(np.sqrt(w_v @ sigma @ w_v))
    if s == 0:
        raise ValueError("`w_v` must be non-zero")
    c = sigma @ w_v / s
    m1 = np.zeros_like(mu)
    m2 = np.zeros((mu.shape[0], mu.shape[0]))
    for weight, m in ((1 - p, mu), (p, -mu)):
        a = (tau - w_v @ m) / s
        big_p, dens = float(ndtr(-a)), float(norm.pdf(a))
        m1 += weight * (m * big_p + c * dens)
        m2 += weight * ((np.outer(m, m) + sigma) * big_p + (np.outer(m, c) + np.outer(c, m)) * dens
                        + np.outer(c, c) * a * dens)
    if not np.any(m1):
        return 0.5
    return linear_accuracy(np.linalg.solve(m2, m1), 0.0, mu, sigma)


def linear_verifier_limit_accuracy_mc(mu, sigma, p: float, w_v, tau: float = 0.0, *, n: int = 100_000,
                                      n_trials: int = 10, rng: SeedLike = None) -> MCEstimate:
    """Monte Carlo twin of :func:`linear_verifier_limit_accuracy`: mean +- SE (``stats.MCEstimate``,
    n = ``n_trials``) of the exact accuracy of finite-``n`` ridge fits (tiny reg) on verified flips."""
    n_trials = check_int("n_trials", n_trials, low=2)
    rng = as_rng(rng)
    gen, ver = LabelFlipGenerator(p), LinearVerifier(w_v, tau)
    accs = np.array([simulate_selection(mu, sigma, generator=gen, verifier=ver, strategy="prune", n=n,
                                        reg=1e-8, rng=rng).accuracy for _ in range(n_trials)])
    return MCEstimate(float(accs.mean()), float(accs.std(ddof=1) / np.sqrt(n_trials)), n_trials)


def limit_accuracy_mc(mu, sigma, p: float, phi: float, psi: float, *, n: int = 100_000,
                      n_trials: int = 10, method: str = "ridge", rng: SeedLike = None) -> MCEstimate:
    """Monte Carlo twin of :func:`collapselab.verification.limit_accuracy`: mean +- SE
    (``stats.MCEstimate``, n = ``n_trials``) of the exact test accuracy of ``n_trials`` finite-``n``
    runs of label flips (p) -> x-independent pruner (phi, psi) -> retrain (:func:`simulate_selection`)."""
    n_trials = check_int("n_trials", n_trials, low=2)
    rng = as_rng(rng)
    gen, ver = LabelFlipGenerator(p), RandomPruner(phi, psi)
    accs = np.array([simulate_selection(mu, sigma, generator=gen, verifier=ver, strategy="prune", n=n,
                                        method=method, rng=rng).accuracy for _ in range(n_trials)])
    return MCEstimate(float(accs.mean()), float(accs.std(ddof=1) / np.sqrt(n_trials)), n_trials)
