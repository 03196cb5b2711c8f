"""Hamiltonian Monte Carlo on a flat parameter vector (Neal 2011; Hoffman & Gelman 2014 adaptation).

Target density pi(theta) ∝ exp(log_prob(theta)), theta in R^D, identity mass matrix.
One transition: momentum r ~ N(0, I); L leapfrog steps of size eps

    r <- r + (eps/2) grad log pi(theta);  theta <- theta + eps r;  r <- r + (eps/2) grad log pi(theta)

(the half steps of consecutive iterations merged); accept with probability
min(1, exp(H(theta, r) - H(theta', r'))), H = -log pi(theta) + |r|^2 / 2.
During burn-in the step size follows dual averaging towards ``target_accept`` (Hoffman & Gelman 2014,
Alg. 5: gamma=0.05, t0=10, kappa=0.75, mu=log(10 eps0)); afterwards it is frozen at the averaged value.
Every ``thin``-th post-burn-in state is kept; the step size is jittered by +-``jitter`` per transition.
[R: standard algorithm, checked on a conjugate Gaussian posterior in tests/bayes/test_hmc.py]
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from collapselab._rng import as_torch_generator
from collapselab._validation import check_int, check_real


@dataclass(frozen=True)
class HMCResult:
    samples: torch.Tensor  # (n_samples, D) kept states
    log_probs: torch.Tensor  # (n_samples,) log pi at the kept states
    accept_rate: float  # mean acceptance probability after burn-in
    step_size: float  # the (adapted) step size used after burn-in
    burn_in_accept_rate: float


def _value_and_grad(log_prob: Callable[[torch.Tensor], torch.Tensor], theta: torch.Tensor):
    theta = theta.detach().requires_grad_(True)
    with torch.enable_grad():
        lp = log_prob(theta)
        (g,) = torch.autograd.grad(lp, theta)
    return lp.detach(), g.detach()


def hmc_sample(
    log_prob: Callable[[torch.Tensor], torch.Tensor],
    init: torch.Tensor,
    *,
    n_samples: int,
    burn_in: int = 100,
    n_leapfrog: int = 20,
    step_size: float = 1e-3,
    thin: int = 1,
    target_accept: float = 0.8,
    adapt: bool = True,
    jitter: float = 0.2,
    generator: torch.Generator | int | None = None,
) -> HMCResult:
    """Draw ``n_samples`` states of HMC targeting exp(log_prob) (see module docstring).

    ``log_prob(theta)`` maps a (D,) tensor to a scalar and must be differentiable; ``init`` (D,) is the
    starting state. Total transitions: burn_in + n_samples * thin.
    """
    n_samples = check_int("n_samples", n_samples, low=1)
    burn_in = check_int("burn_in", burn_in, low=0)
    n_leapfrog = check_int("n_leapfrog", n_leapfrog, low=1)
    thin = check_int("thin", thin, low=1)
    eps = check_real("step_size", step_size, low=0.0, low_open=True)
    jitter = check_real("jitter", jitter, low=0.0, high=1.0, high_open=True)
    target_accept = check_real("target_accept", target_accept, low=0.0, high=1.0, low_open=True, high_open=True)
    if not isinstance(init, torch.Tensor) or init.ndim != 1:
        raise ValueError(f"`init` must be a 1-D tensor, got {getattr(init, 'shape', type(init).__name__)}")
    gen = as_torch_generator(generator, init.device)
    theta = init.detach().clone()
    lp, grad = _value_and_grad(log_prob, theta)
    if not torch.isfinite(lp):
        raise ValueError("`log_prob(init)` is not finite")
    # dual-averaging state (Hoffman & Gelman 2014, Alg. 5)
    mu, gamma, t0, kappa = math.log(10 * eps), 0.05, 10.0, 0.75
    h_bar, log_eps_bar = 0.0, math.log(eps)
    kept, kept_lp, acc_burn, acc_post = [], [], [], []
    for it in range(burn_in + n_samples * thin):
        r0 = torch.randn(theta.shape, generator=gen, device=theta.device, dtype=theta.dtype)
        e = eps * (1 + jitter * (2 * float(torch.rand((), generator=gen, device=theta.device)) - 1))
        th, r, g = theta, r0 + 0.5 * e * grad, grad
        for step in range(n_leapfrog):
            th = th + e * r
            new_lp, g = _value_and_grad(log_prob, th)
            r = r + (e if step < n_leapfrog - 1 else 0.5 * e) * g
        h0 = -lp + 0.5 * (r0 * r0).sum()
        h1 = -new_lp + 0.5 * (r * r).sum()
        log_a = float(h0 - h1)
        a = math.exp(min(0.0, log_a)) if math.isfinite(log_a) else 0.0
        u = float(torch.rand((), generator=gen, device=theta.device))
        if u < a:
            theta, lp, grad = th.detach(), new_lp, g
        if it < burn_in:
            acc_burn.append(a)
            if adapt:
                m = it + 1
                h_bar = (1 - 1 / (m + t0)) * h_bar + (target_accept - a) / (m + t0)
                log_eps = mu - math.sqrt(m) / gamma * h_bar
                w = m ** (-kappa)
                log_eps_bar = w * log_eps + (1 - w) * log_eps_bar
                eps = math.exp(log_eps)
                if it == burn_in - 1:
                    eps = math.exp(log_eps_bar)
        else:
            acc_post.append(a)
            if (it - burn_in + 1) % thin == 0:
                kept.append(theta.clone())
                kept_lp.append(lp.clone())
    return HMCResult(
        torch.stack(kept),
        torch.stack(kept_lp),
        float(sum(acc_post) / len(acc_post)),
        eps,
        float(sum(acc_burn) / len(acc_burn)) if acc_burn else float("nan"),
    )


def split_rhat(draws: np.ndarray | torch.Tensor) -> float:
    """Split-R-hat of one scalar quantity (Gelman et al., BDA3 Sec. 11.4), draws of shape (M chains, N) or (N,)
    for one chain.

    Each chain is cut into its first and second half (the middle draw dropped when N is odd), giving 2M
    sequences of n = floor(N/2) draws; with W the mean within-sequence variance and B/n the variance of the
    sequence means, var+ = (n - 1)/n W + B/n and R-hat = sqrt(var+ / W). Near 1 when the sequences agree;
    above about 1.01-1.1 the chains have not mixed (have not forgotten their starts, or sit in different
    modes). A quantity constant over every draw gives 1.0; constant within sequences but not across them
    gives inf."""
    a = np.asarray(torch.as_tensor(draws).detach().cpu(), dtype=np.float64)
    if a.ndim == 1:
        a = a[None, :]
    if a.ndim != 2 or a.shape[1] < 4 or not np.isfinite(a).all():
        raise ValueError(f"`draws` must be finite, shape (chains, N >= 4) or (N >= 4,), got shape {a.shape}")
    n = a.shape[1] // 2
    seqs = np.concatenate([a[:, :n], a[:, a.shape[1] - n:]], axis=0)  # (2M, n)
    w = float(seqs.var(axis=1, ddof=1).mean())
    b_over_n = float(seqs.mean(axis=1).var(ddof=1))
    if w == 0.0:
        return 1.0 if b_over_n == 0.0 else math.inf
    return math.sqrt(((n - 1) / n * w + b_over_n) / w)
