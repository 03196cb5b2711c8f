"""White-box attacks on stochastic classifiers (``model(x, n_samples) -> (S, B, C)`` logits).

Every attack here is projected gradient ascent on a per-example objective J(x') of the S-sample
logits, with *fresh posterior samples at every step* (expectation over transformation, EOT: the
gradient of the Monte Carlo predictive, Athalye et al. 2018), inputs kept in [0, 1]:

    linf:  x' <- Proj_{B_inf(x, eps) ∩ [0,1]^d}(x' + alpha * sign(grad J))
    l2:    x' <- Proj_{B_2(x, eps) ∩ [0,1]^d}(x' + alpha * grad J / ||grad J||_2)

Objectives (Paper A, three tasks; notes 1.3 [U: the natural construction, exact objectives of the
paper unverified]):

* label attack (:func:`pgd`, :func:`fgsm`): J = -log p_bar_y(x') (untargeted) or +log p_bar_t(x')
  (targeted), log p_bar = logsumexp_s log_softmax(f_s) - log S;
* detection attack (:func:`detection_attack`): misclassify while keeping uncertainty low, either
  targeted PGD towards t != y (drives H[p_bar] and MI towards 0 together) or
  J = -log p_bar_y - lambda * 1[misclassified] * U(x');
* semantic-shift attack (:func:`semantic_shift_attack`): J = -U(x') on out-of-distribution inputs.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from collapselab._rng import as_torch_generator
from collapselab._validation import check_choice, check_int, check_real
from collapselab.bayes._predictive import (
    SCORES,
    StochasticClassifier,
    log_predictive,
    predictive_log_probs,
    sample_logits,
    uncertainty,
)

__all__ = ["attack", "detection_attack", "fgsm", "most_likely_wrong_class", "pgd", "semantic_shift_attack"]

Objective = Callable[[torch.Tensor], torch.Tensor]  # (S, B, C) logits -> (B,) to maximise


def _check_inputs(x: torch.Tensor, eps: float, norm: str) -> tuple[float, str]:
    if not isinstance(x, torch.Tensor) or x.ndim < 2 or not x.is_floating_point():
        raise ValueError("`x` must be a float tensor of shape (B, ...)")
    if x.numel() and (float(x.min()) < 0.0 or float(x.max()) > 1.0):
        raise ValueError(f"`x` must lie in [0, 1], got range [{float(x.min())}, {float(x.max())}]")
    return check_real("eps", eps, low=0.0), check_choice("norm", norm, ("linf", "l2"))


def _l2_norm(t: torch.Tensor) -> torch.Tensor:
    return t.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, *([1] * (t.ndim - 1)))


def _project(x_adv: torch.Tensor, x: torch.Tensor, eps: float, norm: str) -> torch.Tensor:
    delta = x_adv - x
    if norm == "linf":
        delta = delta.clamp(-eps, eps)
    else:
        delta = delta * (eps / _l2_norm(delta)).clamp(max=1.0)
    return (x + delta).clamp(0.0, 1.0)


def _random_start(x: torch.Tensor, eps: float, norm: str, gen: torch.Generator) -> torch.Tensor:
    if norm == "linf":
        u = torch.rand(x.shape, generator=gen, device=x.device, dtype=x.dtype)
        return _project(x + (2 * u - 1) * eps, x, eps, norm)
    g = torch.randn(x.shape, generator=gen, device=x.device, dtype=x.dtype)
    d = x[0].numel()
    r = torch.rand((x.shape[0],), generator=gen, device=x.device, dtype=x.dtype) ** (1.0 / d)
    return _project(x + g / _l2_norm(g) * eps * r.view(-1, *([1] * (x.ndim - 1))), x, eps, norm)


def attack(
    model: StochasticClassifier,
    x: torch.Tensor,
    objective: Objective,
    *,
    eps: float,
    steps: int = 40,
    step_size: float | None = None,
    norm: str = "linf",
    n_samples: int = 1,
    random_start: bool = True,
    generator: torch.Generator | int | None = None,
) -> torch.Tensor:
    """Projected gradient ascent on ``objective(model(x', n_samples))`` (per-example, summed for the
    gradient), with fresh samples at each of ``steps`` steps; returns the last iterate, detached.

    ``step_size`` defaults to 2.5 * eps / steps (Madry et al. 2018). ``generator`` drives the random
    start only; posterior sampling uses the model's own stream.
    """
    eps, norm = _check_inputs(x, eps, norm)
    steps = check_int("steps", steps, low=1)
    n_samples = check_int("n_samples", n_samples, low=1)
    alpha = 2.5 * eps / steps if step_size is None else check_real("step_size", step_size, low=0.0)
    x = x.detach()
    if eps == 0.0:
        return x.clone()
    gen = as_torch_generator(generator, x.device)
    x_adv = _random_start(x, eps, norm, gen) if random_start else x.clone()
    for _ in range(steps):
        x_adv.requires_grad_(True)
        with torch.enable_grad():
            j = objective(sample_logits(model, x_adv, n_samples))  # (B,)
            (grad,) = torch.autograd.grad(j.sum(), x_adv)
        with torch.no_grad():
            step = grad.sign() if norm == "linf" else grad / _l2_norm(grad)
            x_adv = _project(x_adv + alpha * step, x, eps, norm)
    return x_adv.detach()


def _label_objective(y: torch.Tensor, targeted: bool) -> Objective:
    sign = 1.0 if targeted else -1.0

    def objective(logits: torch.Tensor) -> torch.Tensor:
        return sign * log_predictive(logits).gather(1, y.view(-1, 1)).squeeze(1)

    return objective


def _check_labels(y: torch.Tensor, x: torch.Tensor, name: str = "y") -> None:
    if not isinstance(y, torch.Tensor) or y.dtype != torch.int64 or y.shape != (x.shape[0],):
        raise ValueError(f"`{name}` must be an int64 tensor of shape ({x.shape[0]},)")


def pgd(
    model: StochasticClassifier,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    eps: float,
    steps: int = 40,
    step_size: float | None = None,
    norm: str = "linf",
    n_samples: int = 1,
    random_start: bool = True,
    targeted: bool = False,
    generator: torch.Generator | int | None = None,
) -> torch.Tensor:
    """PGD with EOT on the posterior predictive: maximise -log p_bar_y(x') (or, ``targeted``, minimise
    -log p_bar_t(x') with ``y`` holding the targets t) over the eps-ball, pixels in [0, 1]."""
    _check_labels(y, x)
    return attack(
        model,
        x,
        _label_objective(y, targeted),
        eps=eps,
        steps=steps,
        step_size=step_size,
        norm=norm,
        n_samples=n_samples,
        random_start=random_start,
        generator=generator,
    )


def fgsm(
    model: StochasticClassifier,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    eps: float,
    norm: str = "linf",
    n_samples: int = 1,
    targeted: bool = False,
) -> torch.Tensor:
    """One full-size gradient step (Goodfellow et al. 2015): x + eps * sign(grad) for linf,
    x + eps * grad/||grad|| for l2, with the predictive of ``n_samples`` samples."""
    _check_labels(y, x)
    return attack(
        model,
        x,
        _label_objective(y, targeted),
        eps=eps,
        steps=1,
        step_size=eps,
        norm=norm,
        n_samples=n_samples,
        random_start=False,
    )


@torch.no_grad()
def most_likely_wrong_class(
    model: StochasticClassifier, x: torch.Tensor, y: torch.Tensor, n_samples: int
) -> torch.Tensor:
    """argmax_{c != y} p_bar_c(x): the cheapest target for a targeted attack, shape (B,)."""
    logp = predictive_log_probs(model, x, n_samples).clone()
    logp.scatter_(1, y.view(-1, 1), float("-inf"))
    return logp.argmax(1)


def detection_attack(
    model: StochasticClassifier,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    eps: float,
    steps: int = 40,
    step_size: float | None = None,
    norm: str = "linf",
    n_samples: int = 1,
    method: str = "targeted",
    target: torch.Tensor | None = None,
    lam: float = 1.0,
    score: str = "entropy",
    random_start: bool = True,
    generator: torch.Generator | int | None = None,
) -> torch.Tensor:
    """Adversarial examples that are misclassified *and* look certain (defeats uncertainty detectors).

    ``method="targeted"``: PGD minimising -log p_bar_t with t = ``target`` (default: the most likely
    wrong class); a confident wrong prediction has low entropy and low mutual information.
    ``method="penalty"``: maximise -log p_bar_y(x') - lam * 1[argmax p_bar(x') != y] * U(x') with U the
    ``score``: plain PGD until the label flips, then a trade-off that lowers the uncertainty (a penalty
    from the start would keep confident inputs confident in their true class, where U is smallest).
    """
    _check_labels(y, x)
    check_choice("method", method, ("targeted", "penalty"))
    check_choice("score", score, SCORES)
    lam = check_real("lam", lam, low=0.0)
    if method == "targeted":
        t = most_likely_wrong_class(model, x, y, n_samples) if target is None else target
        _check_labels(t, x, "target")
        if bool((t == y).any()):
            raise ValueError("`target` must differ from `y` for every input")
        return pgd(
            model,
            x,
            t,
            eps=eps,
            steps=steps,
            step_size=step_size,
            norm=norm,
            n_samples=n_samples,
            random_start=random_start,
            targeted=True,
            generator=generator,
        )

    def objective(logits: torch.Tensor) -> torch.Tensor:
        logp = log_predictive(logits)
        nll = -logp.gather(1, y.view(-1, 1)).squeeze(1)
        wrong = (logp.argmax(1) != y).to(logp.dtype)  # the penalty acts once the label is flipped
        return nll - lam * wrong * uncertainty(logits, score)

    return attack(
        model,
        x,
        objective,
        eps=eps,
        steps=steps,
        step_size=step_size,
        norm=norm,
        n_samples=n_samples,
        random_start=random_start,
        generator=generator,
    )


def semantic_shift_attack(
    model: StochasticClassifier,
    x: torch.Tensor,
    *,
    eps: float,
    steps: int = 40,
    step_size: float | None = None,
    norm: str = "linf",
    n_samples: int = 1,
    score: str = "entropy",
    random_start: bool = True,
    generator: torch.Generator | int | None = None,
) -> torch.Tensor:
    """Push (out-of-distribution) inputs to low uncertainty: maximise -U(x') for the ``score``.

    For ``max_probability`` the objective is log max_c p_bar_c (better conditioned than -(1 - max p))."""
    check_choice("score", score, SCORES)

    def objective(logits: torch.Tensor) -> torch.Tensor:
        if score == "max_probability":
            return log_predictive(logits).max(-1).values
        return -uncertainty(logits, score)

    return attack(
        model,
        x,
        objective,
        eps=eps,
        steps=steps,
        step_size=step_size,
        norm=norm,
        n_samples=n_samples,
        random_start=random_start,
        generator=generator,
    )
