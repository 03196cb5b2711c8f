"""The stochastic-classifier protocol, the posterior predictive and differentiable uncertainty.

A *stochastic classifier* is any callable ``model(x, n_samples) -> logits`` of shape
(n_samples, batch, classes) (S, B, C): slice s holds the logits of one posterior sample theta_s
(a deterministic net repeats itself). Everything in :mod:`collapselab.bayes` (attacks, checks,
metrics) takes that protocol, so a user's own BNN only has to honour it.

Posterior predictive (Paper A, Sec. 2; notes part 1.3) [V-doc]:

    p_bar(y | x) = (1/S) sum_s softmax(f_{theta_s}(x))_y
    log p_bar    = logsumexp_s log_softmax(f_{theta_s}(x)) - log S

computed in log space, never as a softmax of probabilities (the double-softmax error of
Carbone et al. 2020, notes 1.5 item 1 [V-code]).
"""

from __future__ import annotations

import math
from typing import Protocol, runtime_checkable

import torch
import torch.nn.functional as F

from collapselab._validation import check_choice, check_int


@runtime_checkable
class StochasticClassifier(Protocol):
    """``model(x, n_samples) -> logits (n_samples, batch, classes)``, one slice per posterior sample."""

    def __call__(self, x: torch.Tensor, n_samples: int) -> torch.Tensor: ...


def sample_logits(model: StochasticClassifier, x: torch.Tensor, n_samples: int) -> torch.Tensor:
    """Call ``model(x, n_samples)`` and check the protocol: a (n_samples, len(x), C) float tensor."""
    n_samples = check_int("n_samples", n_samples, low=1)
    if not isinstance(x, torch.Tensor) or x.ndim < 2:
        raise ValueError(
            f"`x` must be a batched tensor (B, ...), got {type(x).__name__}"
            f"{'' if not isinstance(x, torch.Tensor) else ' of shape ' + str(tuple(x.shape))}"
        )
    out = model(x, n_samples)
    if not isinstance(out, torch.Tensor) or out.ndim != 3 or out.shape[0] != n_samples or out.shape[1] != x.shape[0]:
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValueError(
            f"`model` must return logits of shape (n_samples={n_samples}, batch={x.shape[0]}, classes), got {shape}"
        )
    return out


def log_predictive(logits: torch.Tensor) -> torch.Tensor:
    """log p_bar from per-sample logits (S, B, C): logsumexp_s log_softmax - log S, shape (B, C)."""
    _check_logits(logits)
    return torch.logsumexp(F.log_softmax(logits, dim=-1), dim=0) - math.log(logits.shape[0])


def predictive_log_probs(model: StochasticClassifier, x: torch.Tensor, n_samples: int) -> torch.Tensor:
    """Log of the Monte Carlo posterior predictive mean, (B, C); differentiable in ``x``.

    ``log p_bar(c | x) = logsumexp_s log_softmax(f_s(x))_c - log S`` with S = ``n_samples``. [V-doc]
    """
    return log_predictive(sample_logits(model, x, n_samples))


def _check_logits(logits: torch.Tensor) -> None:
    if not isinstance(logits, torch.Tensor) or logits.ndim != 3:
        raise ValueError(
            f"`logits` must be a (n_samples, batch, classes) tensor, got "
            f"{tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__}"
        )


def predictive_entropy(logits: torch.Tensor) -> torch.Tensor:
    """Total uncertainty H[p_bar] = -sum_c p_bar_c log p_bar_c, shape (B,), in nats. [V-doc]

    ``logits``: (S, B, C) per-sample logits. Ranges in [0, log C]; 0 for a one-hot predictive.
    """
    logp = log_predictive(logits)
    return -(logp.exp() * logp).sum(-1)


def expected_entropy(logits: torch.Tensor) -> torch.Tensor:
    """Aleatoric part E_s H[p_s] = -(1/S) sum_s sum_c p_s,c log p_s,c, shape (B,)."""
    _check_logits(logits)
    logp = F.log_softmax(logits, dim=-1)
    return -(logp.exp() * logp).sum(-1).mean(0)


def mutual_information(logits: torch.Tensor) -> torch.Tensor:
    """Epistemic uncertainty I[y; theta | x] = H[p_bar] - E_s H[p_s] >= 0, shape (B,). [V-doc]

    Zero when every posterior sample agrees (in particular for a deterministic net); clamped at 0
    against round-off (Jensen's inequality makes it non-negative exactly).
    """
    return (predictive_entropy(logits) - expected_entropy(logits)).clamp_min(0.0)


def max_probability(logits: torch.Tensor) -> torch.Tensor:
    """Confidence max_c p_bar_c, shape (B,); the uncertainty score is 1 - max_probability."""
    return log_predictive(logits).exp().max(-1).values


SCORES = ("entropy", "mutual_information", "max_probability")


def uncertainty(logits: torch.Tensor, score: str = "entropy") -> torch.Tensor:
    """An uncertainty score U (higher = more uncertain), shape (B,): ``"entropy"`` (H[p_bar]),
    ``"mutual_information"`` or ``"max_probability"`` (as 1 - max_c p_bar_c)."""
    check_choice("score", score, SCORES)
    if score == "entropy":
        return predictive_entropy(logits)
    if score == "mutual_information":
        return mutual_information(logits)
    return 1.0 - max_probability(logits)
