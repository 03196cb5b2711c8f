"""Randomized smoothing: Monte Carlo PREDICT and CERTIFY (Cohen, Rosenfeld & Kolter 2019, Sec. 3.2).

The smoothed classifier of a base classifier f is

    g(x) = argmax_c P(f(x + delta) = c),   delta ~ N(0, sigma^2 I).

If p_a_lower <= P(f(x + delta) = c_a) then g is constant, equal to c_a, on the L2 ball of radius
sigma * Phi^{-1}(p_a_lower) around x (Theorem 1 with p_b_upper = 1 - p_a_lower).  [V-code]

Layout (locuslab/smoothing's design, with the device and the randomness as arguments):
:func:`smoothed_class_counts` draws the noise in batches on the model's device and counts the base
classifier's votes for one or many inputs; :func:`certify_from_counts` and :func:`predict_from_counts`
are the statistics; :class:`Smooth` wires them together.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import torch
from torch import nn

from collapselab._rng import as_torch_generator
from collapselab._validation import check_int, check_real
from collapselab.smoothing._bounds import (
    binomial_two_sided_pvalue,
    clopper_pearson_lower,
    radius_from_bound,
)
from collapselab.stats import MCEstimate, mean_se

ABSTAIN = -1


class Certificate(NamedTuple):
    """Result of CERTIFY for one input."""

    label: int  # the certified class, or ABSTAIN (-1) when p_a_lower <= 1/2
    radius: float  # sigma * Phi^{-1}(p_a_lower); 0.0 on abstain
    p_a_lower: float  # one-sided (1 - alpha) Clopper-Pearson lower bound on p_a
    n_a: int  # votes for the selected class among the n estimation samples


def _device_of(module: Callable, device) -> torch.device:
    if device is not None:
        return torch.device(device)
    if isinstance(module, nn.Module):
        for p in module.parameters():
            return p.device
        for b in module.buffers():
            return b.device
    return torch.device("cpu")


def _generator_on(generator, device: torch.device) -> torch.Generator:
    g = as_torch_generator(generator, device=device)
    if g.device.type != device.type:
        raise ValueError(f"`generator` lives on {g.device} but the noise is drawn on {device}; "
                         f"pass torch.Generator(device={str(device)!r}) or an int seed")
    return g


@torch.inference_mode()
def smoothed_class_counts(base: Callable[[torch.Tensor], torch.Tensor], xs: torch.Tensor, num: int,
                          sigma: float, *, num_classes: int, batch_size: int = 1000,
                          generator: torch.Generator | int | None = None,
                          device: str | torch.device | None = None) -> torch.Tensor:
    """Votes of the base classifier under Gaussian noise, for a stack of inputs.

    xs: (N, *input_shape). For each input, ``num`` noisy copies x + sigma * eps, eps ~ N(0, I),
    go through ``base`` in batches of ``batch_size`` copies (copies of several inputs share a batch
    when num < batch_size). ``base`` returns scores (B, C), or (B, H, C) for H heads evaluated on
    the same noise; the vote is the argmax over C. Returns int64 counts (N, C) or (N, H, C), on the CPU.
    The noise is drawn on ``device`` (default: the device of base's parameters) from ``generator``.
    """
    num = check_int("num", num, low=1)
    sigma = check_real("sigma", sigma, low=0.0)
    num_classes = check_int("num_classes", num_classes, low=2)
    batch_size = check_int("batch_size", batch_size, low=1)
    if not isinstance(xs, torch.Tensor) or xs.ndim < 2:
        raise ValueError(f"`xs` must be a tensor (N, *input_shape), got {getattr(xs, 'shape', type(xs))}")
    dev = _device_of(base, device)
    gen = _generator_on(generator, dev)
    xs = xs.to(dev, dtype=torch.float32)
    n_inputs, shape = xs.shape[0], xs.shape[1:]
    total = n_inputs * num
    counts = None
    for start in range(0, total, batch_size):
        idx = torch.arange(start, min(start + batch_size, total), device=dev) // num  # input of each copy
        noise = torch.randn((idx.numel(), *shape), generator=gen, device=dev)
        batch = noise.mul_(sigma).add_(xs[idx])  # (b, *input_shape)
        scores = base(batch)
        if scores.shape[-1] != num_classes or scores.ndim not in (2, 3) or scores.shape[0] != idx.numel():
            raise ValueError(f"`base` must return scores (B, {num_classes}) or (B, H, {num_classes}), "
                             f"got {tuple(scores.shape)} for B={idx.numel()}")
        pred = scores.argmax(-1)  # (b,) or (b, H)
        heads = 1 if pred.ndim == 1 else pred.shape[1]
        if counts is None:
            counts = torch.zeros(n_inputs * heads * num_classes, dtype=torch.long, device=dev)
        flat_pred = pred.reshape(idx.numel(), heads)
        head = torch.arange(heads, device=dev)
        key = (idx[:, None] * heads + head[None, :]) * num_classes + flat_pred  # (b, H)
        counts += torch.bincount(key.reshape(-1), minlength=counts.numel())
    out = counts.reshape(n_inputs, heads, num_classes).cpu()
    return out if pred.ndim == 2 else out[:, 0]


def certify_from_counts(counts_select, counts_estimate, alpha: float, sigma: float) -> Certificate:
    """CERTIFY's statistics: c_a = argmax of the selection counts (n0 samples); p_a_lower = one-sided
    Clopper-Pearson bound of counts_estimate[c_a] out of n = sum(counts_estimate) at level alpha;
    radius = sigma * Phi^{-1}(p_a_lower); ABSTAIN when p_a_lower <= 1/2.

    The two count vectors must come from independent noise: the selection must not see the data the
    bound is computed from (Cohen et al. Sec. 3.2, pitfall noted in papers notes 3.1).  [V-code]
    """
    c0 = np.asarray(counts_select)
    c = np.asarray(counts_estimate)
    if c0.ndim != 1 or c.shape != c0.shape:
        raise ValueError(f"`counts_select` and `counts_estimate` must be 1-D of equal length, "
                         f"got {c0.shape} and {c.shape}")
    alpha = check_real("alpha", alpha, low=0.0, high=1.0, low_open=True, high_open=True)
    sigma = check_real("sigma", sigma, low=0.0, low_open=True)
    c_a = int(np.argmax(c0))  # ties -> the lowest class index
    n_a, n = int(c[c_a]), int(c.sum())
    p_lower = clopper_pearson_lower(n_a, n, alpha)
    if p_lower <= 0.5:
        return Certificate(ABSTAIN, 0.0, p_lower, n_a)
    return Certificate(c_a, radius_from_bound(p_lower, sigma), p_lower, n_a)


def predict_from_counts(counts, alpha: float) -> int:
    """PREDICT's statistics: the top class if a two-sided binomial test of n_a vs n_b (top two counts)
    rejects p = 1/2 at level alpha, else ABSTAIN.  Returns a class other than g(x) with probability
    at most alpha (Cohen et al. Prop. 1).  [V-code]"""
    c = np.asarray(counts)
    if c.ndim != 1 or c.size < 2:
        raise ValueError(f"`counts` must be 1-D with at least 2 classes, got shape {c.shape}")
    alpha = check_real("alpha", alpha, low=0.0, high=1.0, low_open=True, high_open=True)
    order = np.argsort(-c, kind="stable")  # ties -> lowest index first
    n_a, n_b = int(c[order[0]]), int(c[order[1]])
    if binomial_two_sided_pvalue(n_a, n_a + n_b) > alpha:
        return ABSTAIN
    return int(order[0])


class Smooth:
    """A smoothed classifier g built on ``base`` (scores (B, num_classes) from inputs (B, *shape)).

    ``base`` is put in eval mode. The noise is drawn on ``device`` (default: the device of base's
    parameters) from the ``generator`` passed to each call (an int seed, a torch.Generator on that
    device, or None for fresh entropy).
    """

    def __init__(self, base: Callable[[torch.Tensor], torch.Tensor], num_classes: int, sigma: float, *,
                 device: str | torch.device | None = None):
        if not callable(base):
            raise ValueError(f"`base` must be callable (an nn.Module), got {type(base).__name__}")
        self.base = base
        self.num_classes = check_int("num_classes", num_classes, low=2)
        self.sigma = check_real("sigma", sigma, low=0.0, low_open=True)
        self.device = _device_of(base, device)
        if isinstance(base, nn.Module):
            base.eval()

    def _counts(self, xs, num, batch_size, generator) -> np.ndarray:
        counts = smoothed_class_counts(self.base, xs, num, self.sigma, num_classes=self.num_classes,
                                       batch_size=batch_size, generator=generator, device=self.device)
        if counts.ndim != 2:
            raise ValueError("`base` must return (B, num_classes) scores for Smooth; "
                             "use smoothed_class_counts for multi-head bases")
        return counts.numpy()

    def predict(self, x: torch.Tensor, n: int, alpha: float, batch_size: int = 1000, *,
                generator: torch.Generator | int | None = None) -> int:
        """PREDICT: g(x) from n noisy samples, or ABSTAIN (-1); wrong with probability <= alpha."""
        check_int("n", n, low=1)
        g = _generator_on(generator, self.device)
        return predict_from_counts(self._counts(x[None], n, batch_size, g)[0], alpha)

    def certify(self, x: torch.Tensor, n0: int, n: int, alpha: float, batch_size: int = 1000, *,
                generator: torch.Generator | int | None = None) -> Certificate:
        """CERTIFY: with probability >= 1 - alpha the returned class equals g(x) and g is constant on
        the L2 ball of the returned radius around x. n0 samples select the class, n fresh samples
        bound its probability.  x: (*input_shape), one input."""
        return self.certify_batch(x[None], n0, n, alpha, batch_size, generator=generator)[0]

    def certify_batch(self, xs: torch.Tensor, n0: int, n: int, alpha: float, batch_size: int = 1000, *,
                      generator: torch.Generator | int | None = None) -> list[Certificate]:
        """CERTIFY for each row of xs (N, *input_shape); noisy copies of several inputs share the
        forward batches, which keeps a fast device busy when n is small. Each certificate holds with
        probability >= 1 - alpha on its own."""
        check_int("n0", n0, low=1)
        check_int("n", n, low=1)
        check_real("alpha", alpha, low=0.0, high=1.0, low_open=True, high_open=True)
        g = _generator_on(generator, self.device)
        c0 = self._counts(xs, n0, batch_size, g)  # selection: independent of the estimation noise
        c = self._counts(xs, n, batch_size, g)
        return [certify_from_counts(c0[i], c[i], alpha, self.sigma) for i in range(xs.shape[0])]


class HalfSpace(nn.Module):
    """Two-class linear base classifier: class 0 when <u, x> + b >= 0, else class 1 (u unit norm).

    At an input x with <u, x> + b = a, the distance to the boundary is a and under Gaussian noise
    p_0 = P(<u, x + delta> + b >= 0) = Phi(a / sigma): the analytic case of Cohen et al. Sec. 3.
    Returns scores (B, 2) = (s, -s) with s = <u, x> + b (ties s = 0 go to class 0).
    """

    def __init__(self, normal: torch.Tensor, offset: float = 0.0):
        super().__init__()
        u = torch.as_tensor(normal, dtype=torch.float32).flatten()
        if u.norm() == 0:
            raise ValueError("`normal` must be non-zero")
        self.register_buffer("u", u / u.norm())
        self.b = float(offset)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x.flatten(1) @ self.u + self.b
        return torch.stack([s, -s], dim=1)


def expected_certified_radius_mc(p_a: float, sigma: float, n0: int, n: int, alpha: float, *,
                                 n_trials: int = 200, batch_size: int = 4096,
                                 generator: torch.Generator | int | None = None,
                                 dim: int = 3) -> tuple[MCEstimate, MCEstimate]:
    """Monte Carlo twin of :func:`expected_certified_radius`: runs :meth:`Smooth.certify` ``n_trials``
    times on a :class:`HalfSpace` at distance a = sigma * Phi^{-1}(p_a) from the input (class 0 = A).
    Returns (mean radius counting only class A, fraction certified A), each a
    :class:`collapselab.stats.MCEstimate` (mean, standard error, n_trials).
    """
    from scipy import stats

    p_a = check_real("p_a", p_a, low=0.0, high=1.0, low_open=True, high_open=True)
    n_trials = check_int("n_trials", n_trials, low=2)
    a = sigma * float(stats.norm.ppf(p_a))
    u = torch.zeros(dim)
    u[0] = 1.0
    smooth = Smooth(HalfSpace(u, offset=a), 2, sigma)
    g = _generator_on(generator, smooth.device)
    xs = torch.zeros(n_trials, dim)  # the same input, n_trials independent certifications
    certs = smooth.certify_batch(xs, n0, n, alpha, batch_size, generator=g)
    r = np.array([c.radius if c.label == 0 else 0.0 for c in certs])
    ok = np.array([c.label == 0 for c in certs], dtype=float)
    return mean_se(r), mean_se(ok)
