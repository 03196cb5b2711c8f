"""White-box attacks on stochastic classifiers (``model(x, n_samples) -> (S, B, C)`` logits).

Every attack here is projected gradient ascent on a per-example objective J(x') of the S-sample
logits, with *fresh posterior samples at every step* (expectation over transformation, EOT: the
gradient of the Monte Carlo predictive, Athalye et al. 2018), inputs kept in [0, 1] and one
:class:`AttackConfig` (eps, steps, step size, norm, samples, start, which iterate to keep) shared
by every attack:

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

The returned point is per example the *best* iterate (:func:`run_attack`), not the last one: PGD's
objective is not monotone along the iterates, and AutoAttack's robust accuracy counts the best.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any, NamedTuple

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

__all__ = ["AttackConfig", "AttackResult", "attack", "detection_attack", "fgsm", "label_success",
           "most_likely_wrong_class", "pgd", "pgd_run", "rescore", "run_attack", "semantic_shift_attack"]

Objective = Callable[[torch.Tensor], torch.Tensor]  # (S, B, C) logits -> (B,) to maximise
Success = Callable[[torch.Tensor], torch.Tensor]  # (S, B, C) logits -> (B,) bool: the attack has succeeded
KEEP = ("best", "last", "rescored")


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


@dataclass(frozen=True)
class AttackConfig:
    """The budget and schedule of a projected-gradient attack, shared by every attack here.

    ``eps``: radius of the ``norm`` ball ("linf" or "l2"), pixels in [0, 1]; ``steps``: gradient steps;
    ``step_size``: alpha (default 2.5 * eps / steps, Madry et al. 2018); ``n_samples``: posterior
    samples per step (EOT); ``random_start``: start uniformly in the ball; ``keep``: which iterate to
    return, ``"best"`` (per example, the highest objective seen, successes first: see :func:`attack`),
    ``"last"``, or ``"rescored"`` (the best and the last iterate re-scored on fresh posterior samples, the
    stronger kept: see :func:`rescore`; for stochastic models the "best" choice is made on the same noisy
    samples that found it, a winner's curse that flatters the model). Build one with
    ``AttackConfig(eps=0.3, steps=40)`` or ``cfg.replace(eps=0.1)``.
    """

    eps: float
    steps: int = 40
    step_size: float | None = None
    norm: str = "linf"
    n_samples: int = 1
    random_start: bool = True
    keep: str = "best"

    def __post_init__(self) -> None:
        object.__setattr__(self, "eps", check_real("eps", self.eps, low=0.0))
        object.__setattr__(self, "steps", check_int("steps", self.steps, low=1))
        if self.step_size is not None:
            object.__setattr__(self, "step_size", check_real("step_size", self.step_size, low=0.0))
        check_choice("norm", self.norm, ("linf", "l2"))
        object.__setattr__(self, "n_samples", check_int("n_samples", self.n_samples, low=1))
        if not isinstance(self.random_start, bool):
            raise ValueError(f"`random_start` must be a bool, got {self.random_start!r}")
        check_choice("keep", self.keep, KEEP)

    @property
    def alpha(self) -> float:
        """The step size actually used."""
        return 2.5 * self.eps / self.steps if self.step_size is None else self.step_size

    def replace(self, **changes: Any) -> AttackConfig:
        """A copy with ``changes`` (unknown keys are a ValueError listing the valid ones)."""
        return AttackConfig.make(self, **changes)

    @classmethod
    def make(cls, config: AttackConfig | None = None, **options: Any) -> AttackConfig:
        """``config`` with ``options`` applied, or a new config from ``options`` alone."""
        valid = tuple(f.name for f in fields(cls))
        bad = sorted(set(options) - set(valid))
        if bad:
            raise ValueError(f"unknown attack option(s) {bad}; valid keys: {valid}")
        if config is None:
            if "eps" not in options:
                raise ValueError("`eps` is required (pass eps=... or config=AttackConfig(eps=...))")
            return cls(**options)
        if not isinstance(config, AttackConfig):
            raise ValueError(f"`config` must be an AttackConfig, got {type(config).__name__}")
        return dataclasses.replace(config, **options) if options else config


class AttackResult(NamedTuple):
    """Both ends of one attack run: the iterate :attr:`AttackConfig.keep` would pick and the last."""

    best: torch.Tensor  # (B, ...) per example the best iterate (successes first, then highest objective)
    last: torch.Tensor  # (B, ...) the last iterate
    best_step: torch.Tensor  # (B,) int64: index of the best iterate (0 = start, steps = last)
    best_objective: torch.Tensor  # (B,) objective at the best iterate (on the samples drawn there)
    success: torch.Tensor  # (B,) bool: success(.) held at the best iterate (all False without success)


def run_attack(
    model: StochasticClassifier,
    x: torch.Tensor,
    objective: Objective,
    config: AttackConfig | None = None,
    *,
    success: Success | None = None,
    generator: torch.Generator | int | None = None,
    **options: Any,
) -> AttackResult:
    """Projected gradient ascent on ``objective(model(x', n_samples))`` (per example, summed for the
    gradient) with fresh posterior samples at each step, tracking the best iterate per example.

    Iterates x_0 (start), x_1, ..., x_T (T = ``steps``). At each x_t the S-sample logits are drawn
    once; they give J(x_t) and the gradient. The best iterate of an example maximises the pair
    (success(x_t), J(x_t)) lexicographically: an iterate where ``success`` holds (e.g. the predictive
    misclassifies) beats any where it does not, and among equals the higher objective wins, i.e. for
    the label attack the lowest log p_bar_y (AutoAttack's rule, Croce & Hein 2020, extended to
    "first misclassification, then the most confident one"). Under EOT J(x_t) is itself a Monte Carlo
    estimate on the attack's S samples. x_T costs one extra forward pass (no gradient).
    ``generator`` drives the random start only; posterior sampling uses the model's own stream.
    """
    cfg = AttackConfig.make(config, **options)
    _check_inputs(x, cfg.eps, cfg.norm)
    x = x.detach()
    b = x.shape[0]
    zeros = torch.zeros(b, dtype=torch.int64, device=x.device)
    if cfg.eps == 0.0:
        with torch.no_grad():
            logits = sample_logits(model, x, cfg.n_samples)
            j = objective(logits).detach()
            ok = success(logits) if success is not None else torch.zeros(b, dtype=torch.bool, device=x.device)
        return AttackResult(x.clone(), x.clone(), zeros, j, ok)
    gen = as_torch_generator(generator, x.device)
    x_adv = _random_start(x, cfg.eps, cfg.norm, gen) if cfg.random_start else x.clone()
    best = x_adv.clone()
    best_j = torch.full((b,), -math.inf, device=x.device)
    best_ok = torch.zeros(b, dtype=torch.bool, device=x.device)
    best_step = zeros.clone()

    def track(t: int, x_t: torch.Tensor, logits: torch.Tensor, j: torch.Tensor) -> None:
        nonlocal best_j, best_ok
        with torch.no_grad():
            j = j.detach().to(best_j.dtype)
            ok = success(logits.detach()) if success is not None else torch.zeros_like(best_ok)
            better = (ok & ~best_ok) | ((ok == best_ok) & (j > best_j))
            best[better] = x_t.detach()[better]
            best_j = torch.where(better, j, best_j)
            best_ok = best_ok | ok
            best_step[better] = t

    for t in range(cfg.steps):
        x_adv.requires_grad_(True)
        with torch.enable_grad():
            logits = sample_logits(model, x_adv, cfg.n_samples)
            j = objective(logits)  # (B,)
            (grad,) = torch.autograd.grad(j.sum(), x_adv)
        track(t, x_adv, logits, j)
        with torch.no_grad():
            step = grad.sign() if cfg.norm == "linf" else grad / _l2_norm(grad)
            x_adv = _project(x_adv + cfg.alpha * step, x, cfg.eps, cfg.norm)
    with torch.no_grad():
        logits = sample_logits(model, x_adv, cfg.n_samples)
        track(cfg.steps, x_adv, logits, objective(logits))
    return AttackResult(best, x_adv.detach(), best_step, best_j, best_ok)


def attack(
    model: StochasticClassifier,
    x: torch.Tensor,
    objective: Objective,
    config: AttackConfig | None = None,
    *,
    success: Success | None = None,
    generator: torch.Generator | int | None = None,
    **options: Any,
) -> torch.Tensor:
    """:func:`run_attack`, returning the iterate ``config.keep`` names ("best" or "last"), detached.

    ``config`` is an :class:`AttackConfig`; keyword ``options`` (eps=..., steps=..., ...) build or
    override one."""
    cfg = AttackConfig.make(config, **options)
    res = run_attack(model, x, objective, cfg, success=success, generator=generator)
    if cfg.keep == "rescored":
        return rescore(model, res, objective, cfg.n_samples, success=success)
    return res.best if cfg.keep == "best" else res.last


@torch.no_grad()
def rescore(
    model: StochasticClassifier,
    result: AttackResult,
    objective: Objective,
    n_samples: int,
    *,
    success: Success | None = None,
) -> torch.Tensor:
    """Per example, the stronger of the best and the last iterate of ``result`` judged on FRESH posterior
    samples: both candidates are scored with ``n_samples`` new draws each (independent of the draws that
    selected the best iterate), and the one with the higher (success, objective) pair, compared
    lexicographically as in :func:`run_attack`, is returned (ties keep the best iterate).

    Under EOT the best iterate maximises J on the very samples drawn at it, so E[J(best) on those samples]
    overstates J(best) on new ones (the maximum of noisy estimates); re-scoring removes that bias from the
    choice, so a stochastic model is not credited with the attack's own sampling luck."""
    n_samples = check_int("n_samples", n_samples, low=1)
    scores = []
    for cand in (result.best, result.last):
        logits = sample_logits(model, cand, n_samples)
        j = objective(logits).detach()
        ok = success(logits) if success is not None else torch.zeros_like(j, dtype=torch.bool)
        scores.append((ok, j))
    (ok_b, j_b), (ok_l, j_l) = scores
    take_last = (ok_l & ~ok_b) | ((ok_l == ok_b) & (j_l > j_b))
    return torch.where(take_last.view(-1, *([1] * (result.best.ndim - 1))), result.last, result.best).detach()


def _label_objective(y: torch.Tensor, targeted: bool) -> Objective:
    sign = 1.0 if targeted else -1.0

    def objective(logits: torch.Tensor) -> torch.Tensor:
        return sign * log_predictive(logits).gather(1, y.view(-1, 1)).squeeze(1)

    return objective


def label_success(y: torch.Tensor, targeted: bool = False) -> Success:
    """Success of a label attack on the S-sample predictive: argmax p_bar != y (untargeted) or
    == y (``targeted``, ``y`` holding the targets)."""

    def success(logits: torch.Tensor) -> torch.Tensor:
        pred = log_predictive(logits).argmax(1)
        return pred == y if targeted else pred != y

    return success


def _check_labels(y: torch.Tensor, x: torch.Tensor, name: str = "y") -> None:
    if not isinstance(y, torch.Tensor) or y.dtype != torch.int64 or y.shape != (x.shape[0],):
        raise ValueError(f"`{name}` must be an int64 tensor of shape ({x.shape[0]},)")


def pgd_run(
    model: StochasticClassifier,
    x: torch.Tensor,
    y: torch.Tensor,
    config: AttackConfig | None = None,
    *,
    targeted: bool = False,
    generator: torch.Generator | int | None = None,
    **options: Any,
) -> AttackResult:
    """:func:`pgd` returning both the best and the last iterate (:class:`AttackResult`)."""
    _check_labels(y, x)
    return run_attack(
        model, x, _label_objective(y, targeted), config, success=label_success(y, targeted), generator=generator,
        **options,
    )


def pgd(
    model: StochasticClassifier,
    x: torch.Tensor,
    y: torch.Tensor,
    config: AttackConfig | None = None,
    *,
    targeted: bool = False,
    generator: torch.Generator | int | None = None,
    **options: Any,
) -> torch.Tensor:
    """PGD with EOT on the posterior predictive: maximise -log p_bar_y(x') (or, ``targeted``, minimise
    -log p_bar_t(x') with ``y`` holding the targets t) over the eps-ball, pixels in [0, 1].

    Returns per example the best iterate (``keep="best"``, the default): the first misclassified ones
    first, the lowest log p_bar_y among them; ``keep="last"`` gives the plain last iterate and
    ``keep="rescored"`` the stronger of the two on fresh samples (:func:`rescore`).
    ``config``/``options``: see :class:`AttackConfig`."""
    cfg = AttackConfig.make(config, **options)
    _check_labels(y, x)
    return attack(model, x, _label_objective(y, targeted), cfg, success=label_success(y, targeted),
                  generator=generator)


def fgsm(
    model: StochasticClassifier,
    x: torch.Tensor,
    y: torch.Tensor,
    config: AttackConfig | None = None,
    *,
    targeted: bool = False,
    **options: Any,
) -> torch.Tensor:
    """One full-size gradient step (Goodfellow et al. 2015): x + eps * sign(grad) for linf,
    x + eps * grad/||grad|| for l2, with the predictive of ``n_samples`` samples. Only ``eps``,
    ``norm`` and ``n_samples`` of the config are used (one step of size eps, no random start, the
    stepped input returned)."""
    cfg = AttackConfig.make(config, **options)
    cfg = cfg.replace(steps=1, step_size=cfg.eps, random_start=False, keep="last")
    _check_labels(y, x)
    return attack(model, x, _label_objective(y, targeted), cfg)


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
    config: AttackConfig | None = None,
    *,
    method: str = "targeted",
    target: torch.Tensor | None = None,
    lam: float = 1.0,
    score: str = "entropy",
    generator: torch.Generator | int | None = None,
    **options: Any,
) -> torch.Tensor:
    """Adversarial examples that are misclassified *and* look certain (defeats uncertainty detectors).

    ``method="targeted"``: PGD minimising -log p_bar_t with t = ``target`` (default: the most likely
    wrong class); a confident wrong prediction has low entropy and low mutual information.
    ``method="penalty"``: maximise -log p_bar_y(x') - lam * 1[argmax p_bar(x') != y] * U(x') with U the
    ``score``: plain PGD until the label flips, then a trade-off that lowers the uncertainty (a penalty
    from the start would keep confident inputs confident in their true class, where U is smallest).
    The best iterate is the one with the highest objective (no early "success": reaching the wrong
    class is not enough, it must also look certain).
    """
    cfg = AttackConfig.make(config, **options)
    _check_labels(y, x)
    check_choice("method", method, ("targeted", "penalty"))
    check_choice("score", score, SCORES)
    lam = check_real("lam", lam, low=0.0)
    if method == "targeted":
        t = most_likely_wrong_class(model, x, y, cfg.n_samples) if target is None else target
        _check_labels(t, x, "target")
        if bool((t == y).any()):
            raise ValueError("`target` must differ from `y` for every input")
        return attack(model, x, _label_objective(t, True), cfg, generator=generator)

    def objective(logits: torch.Tensor) -> torch.Tensor:
        logp = log_predictive(logits)
        nll = -logp.gather(1, y.view(-1, 1)).squeeze(1)
        wrong = (logp.argmax(1) != y).to(logp.dtype)  # the penalty acts once the label is flipped
        return nll - lam * wrong * uncertainty(logits, score)

    return attack(model, x, objective, cfg, generator=generator)


def semantic_shift_attack(
    model: StochasticClassifier,
    x: torch.Tensor,
    config: AttackConfig | None = None,
    *,
    score: str = "entropy",
    generator: torch.Generator | int | None = None,
    **options: Any,
) -> torch.Tensor:
    """Push (out-of-distribution) inputs to low uncertainty: maximise -U(x') for the ``score``.

    For ``max_probability`` the objective is log max_c p_bar_c (better conditioned than -(1 - max p))."""
    cfg = AttackConfig.make(config, **options)
    check_choice("score", score, SCORES)

    def objective(logits: torch.Tensor) -> torch.Tensor:
        if score == "max_probability":
            return log_predictive(logits).max(-1).values
        return -uncertainty(logits, score)

    return attack(model, x, objective, cfg, generator=generator)
