"""Scoring and evaluation hygiene for attacks on stochastic classifiers, and the audit mode.

Hygiene (AutoAttack-style runtime checks, Croce & Hein 2020 ``checks.py``; notes 3.6 [V-code]):
zero input-gradient fraction, probability-valued outputs, randomness of the forward pass, a transfer
attack from a deterministic (MAP) net and a gradient-free attack (Square, Andriushchenko et al.
2020) to expose gradient masking. The audit reproduces the three flaws of Carbone et al. (2020)
that Paper A corrects (notes 1.5 [V-code]): softmax applied twice, attack built with 1 posterior
sample but scored with 100, and a PGD step size far above eps.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from scipy.stats import rankdata

from collapselab._rng import as_torch_generator
from collapselab._validation import check_int, check_real
from collapselab.bayes._predictive import (
    StochasticClassifier,
    log_predictive,
    predictive_log_probs,
    sample_logits,
)
from collapselab.bayes.attacks import (
    AttackConfig,
    _check_inputs,
    _check_labels,
    attack,
    fgsm,
    pgd_run,
)
from collapselab.stats import MCEstimate


# ---------------------------------------------------------------------------------------------------
# scores
@torch.no_grad()
def predict(model: StochasticClassifier, x: torch.Tensor, n_samples: int, *, batch_size: int = 512) -> torch.Tensor:
    """argmax_c p_bar_c(x) for each input, shape (B,), batched."""
    return torch.cat(
        [
            predictive_log_probs(model, x[i : i + batch_size], n_samples).argmax(1)
            for i in range(0, x.shape[0], batch_size)
        ]
    )


def robust_accuracy(model: StochasticClassifier, x: torch.Tensor, y: torch.Tensor, n_samples: int) -> float:
    """Accuracy of the S-sample posterior predictive on (possibly attacked) inputs."""
    return float((predict(model, x, n_samples) == y).float().mean())


def auroc(negatives: np.ndarray | torch.Tensor, positives: np.ndarray | torch.Tensor) -> float:
    """Area under the ROC curve of a score that should be larger on ``positives``:
    P(s_pos > s_neg) + P(s_pos = s_neg)/2, by the Mann-Whitney rank formula."""
    neg = np.asarray(torch.as_tensor(negatives).detach().cpu(), dtype=np.float64).ravel()
    pos = np.asarray(torch.as_tensor(positives).detach().cpu(), dtype=np.float64).ravel()
    if neg.size == 0 or pos.size == 0:
        raise ValueError("`negatives` and `positives` must both be non-empty")
    ranks = rankdata(np.concatenate([neg, pos]))
    return float((ranks[neg.size :].sum() - pos.size * (pos.size + 1) / 2) / (neg.size * pos.size))


def auroc_se(negatives: np.ndarray | torch.Tensor, positives: np.ndarray | torch.Tensor) -> MCEstimate:
    """AUROC with its DeLong et al. (1988) standard error, as an :class:`collapselab.stats.MCEstimate`
    (mean = AUROC, n = number of scores).

    With the placements V_i = P(s_neg < pos_i) + P(=)/2 of each positive among the negatives and
    W_j = P(s_pos > neg_j) + P(=)/2 of each negative among the positives, A = mean V = mean W and
    Var(A) ~ Var(V) / n_pos + Var(W) / n_neg (sample variances). Checked against the spread of A over
    independent samples in ``tests/bayes/test_evaluation.py``."""
    neg = np.asarray(torch.as_tensor(negatives).detach().cpu(), dtype=np.float64).ravel()
    pos = np.asarray(torch.as_tensor(positives).detach().cpu(), dtype=np.float64).ravel()
    if neg.size < 2 or pos.size < 2:
        raise ValueError("`negatives` and `positives` must each hold at least 2 scores for a standard error")
    all_ranks = rankdata(np.concatenate([neg, pos]))
    pos_in_all, neg_in_all = all_ranks[neg.size :], all_ranks[: neg.size]
    v = (pos_in_all - rankdata(pos)) / neg.size  # negatives below each positive (ties count 1/2)
    w = 1.0 - (neg_in_all - rankdata(neg)) / pos.size  # positives above each negative
    a = float(v.mean())
    se = float(np.sqrt(v.var(ddof=1) / pos.size + w.var(ddof=1) / neg.size))
    return MCEstimate(a, se, int(neg.size + pos.size))


# ---------------------------------------------------------------------------------------------------
# hygiene checks
def zero_gradient_fraction(model: StochasticClassifier, x: torch.Tensor, y: torch.Tensor, n_samples: int) -> float:
    """Fraction of inputs whose gradient of -log p_bar_y w.r.t. the input is exactly zero everywhere."""
    _check_labels(y, x)
    xg = x.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        loss = -predictive_log_probs(model, xg, n_samples).gather(1, y.view(-1, 1)).sum()
        (g,) = torch.autograd.grad(loss, xg)
    return float((g.flatten(1).abs().amax(1) == 0).float().mean())


@torch.no_grad()
def outputs_look_like_probabilities(
    model: StochasticClassifier, x: torch.Tensor, n_samples: int = 1, *, atol: float = 1e-4
) -> bool:
    """True when every output row lies in [0, 1] and sums to 1: the model returns probabilities where
    the protocol asks for logits (an attack would then apply a second softmax)."""
    out = sample_logits(model, x, n_samples)
    return bool(
        ((out >= 0) & (out <= 1)).all() and torch.allclose(out.sum(-1), torch.ones_like(out[..., 0]), atol=atol)
    )


@torch.no_grad()
def forward_randomness(model: StochasticClassifier, x: torch.Tensor, n_samples: int = 1) -> float:
    """max |log p_bar(x) - log p_bar'(x)| over two forward calls: > 0 means a stochastic forward pass
    (evaluate with EOT and average accuracy over evaluation randomness)."""
    a = predictive_log_probs(model, x, n_samples)
    b = predictive_log_probs(model, x, n_samples)
    return float((a - b).abs().max())


def _margin(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """log p_bar_y - max_{c != y} log p_bar_c, shape (B,); negative = misclassified."""
    logp = log_predictive(logits)
    true = logp.gather(1, y.view(-1, 1)).squeeze(1)
    other = logp.scatter(1, y.view(-1, 1), float("-inf")).max(1).values
    return true - other


@torch.no_grad()
def square_attack(
    model: StochasticClassifier,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    eps: float,
    n_queries: int = 300,
    n_samples: int = 1,
    p_init: float = 0.1,
    generator: torch.Generator | int | None = None,
) -> torch.Tensor:
    """Gradient-free L-inf Square attack (Andriushchenko et al. 2020), a random search on the margin
    m(x') = log p_bar_y - max_{c!=y} log p_bar_c: start from vertical stripes of +-eps, then at query i
    redraw a random square window (side ~ sqrt(p_i * H * W), p_i halving on the paper's schedule) to
    x + (+-eps per channel) and keep it when the margin decreases. Uses no gradient at all."""
    eps, _ = _check_inputs(x, eps, "linf")
    _check_labels(y, x)
    n_queries = check_int("n_queries", n_queries, low=1)
    p_init = check_real("p_init", p_init, low=0.0, high=1.0, low_open=True)
    if x.ndim != 4:
        raise ValueError(f"`x` must be images (B, C, H, W) for square_attack, got shape {tuple(x.shape)}")
    gen = as_torch_generator(generator, x.device)
    b, c, h, w = x.shape
    signs = torch.randint(0, 2, (b, c, 1, w), generator=gen, device=x.device).to(x.dtype) * 2 - 1
    x_adv = (x + eps * signs).clamp(0, 1)
    best = _margin(sample_logits(model, x_adv, n_samples), y)
    rows = torch.arange(h, device=x.device).view(1, 1, h, 1)
    cols = torch.arange(w, device=x.device).view(1, 1, 1, w)
    for i in range(n_queries):
        active = best > 0
        if not bool(active.any()):
            break
        frac = i / n_queries  # the paper's p-halving schedule (for N=10000 queries) rescaled to n_queries
        p = p_init / 2 ** sum(frac > t for t in (0.001, 0.005, 0.02, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8))
        side = max(1, min(h, w, int(round(math.sqrt(p * h * w)))))
        r0 = torch.randint(0, h - side + 1, (b, 1, 1, 1), generator=gen, device=x.device)
        c0 = torch.randint(0, w - side + 1, (b, 1, 1, 1), generator=gen, device=x.device)
        window = (rows >= r0) & (rows < r0 + side) & (cols >= c0) & (cols < c0 + side)  # (B, 1, H, W)
        new_sign = torch.randint(0, 2, (b, c, 1, 1), generator=gen, device=x.device).to(x.dtype) * 2 - 1
        cand = torch.where(window, (x + eps * new_sign).clamp(0, 1), x_adv)
        m = _margin(sample_logits(model, cand, n_samples), y)
        take = active & (m < best)
        x_adv = torch.where(take.view(-1, 1, 1, 1), cand, x_adv)
        best = torch.where(take, m, best)
    return x_adv


@dataclass
class HygieneReport:
    """Every number an honest robustness evaluation reports, and the warnings it raises."""

    eps: float
    n_samples: int  # samples per step used to build the attack (EOT)
    eval_samples: int  # samples of the predictive used to score
    clean_accuracy: float
    pgd_accuracy: float  # PGD's best iterate per example
    pgd_last_accuracy: float  # PGD's last iterate (what a plain PGD loop returns)
    fgsm_accuracy: float
    square_accuracy: float
    transfer_accuracy: float | None  # PGD crafted on the MAP net, scored on this model
    worst_case_accuracy: float  # a point counts as robust only if every attack fails on it
    zero_gradient_fraction: float
    probability_outputs: bool
    forward_randomness: float
    warnings: list[str] = field(default_factory=list)
    correct: dict[str, np.ndarray] = field(default_factory=dict, repr=False)  # per example, per attack

    def to_dict(self) -> dict:
        """The scalar fields and warnings (``correct`` left out)."""
        d = asdict(self)
        d.pop("correct")
        return d


def evaluate_robustness(
    model: StochasticClassifier,
    x: torch.Tensor,
    y: torch.Tensor,
    config: AttackConfig | None = None,
    *,
    eval_samples: int = 100,
    map_model: StochasticClassifier | None = None,
    square_queries: int = 300,
    generator: torch.Generator | int | None = None,
    **options,
) -> HygieneReport:
    """Run PGD (EOT, best and last iterate), FGSM, Square and (given ``map_model``) a MAP transfer
    attack with the budget of ``config`` (an :class:`AttackConfig`; ``options`` build or override it,
    L-inf only for Square) and the hygiene checks; warnings follow AutoAttack's checks (probability
    outputs, zero gradients, randomness, a gradient-free or transfer attack doing better than
    white-box PGD). ``correct`` holds the per-example correctness (bool arrays) under each attack."""
    cfg = AttackConfig.make(config, **options)
    eval_samples = check_int("eval_samples", eval_samples, low=1)
    gen = as_torch_generator(generator, x.device)
    correct = {"clean": predict(model, x, eval_samples) == y}
    res = pgd_run(model, x, y, cfg, generator=gen)
    correct["pgd"] = predict(model, res.best, eval_samples) == y
    last = predict(model, res.last, eval_samples) == y
    correct["fgsm"] = predict(model, fgsm(model, x, y, cfg), eval_samples) == y
    x_sq = square_attack(model, x, y, eps=cfg.eps, n_queries=square_queries, n_samples=cfg.n_samples, generator=gen)
    correct["square"] = predict(model, x_sq, eval_samples) == y
    if map_model is not None:
        x_tr = pgd_run(map_model, x, y, cfg.replace(n_samples=1), generator=gen).best
        correct["transfer"] = predict(model, x_tr, eval_samples) == y
    worst = torch.stack(list(correct.values()) + [last]).all(0)
    acc = {k: float(v.float().mean()) for k, v in correct.items()}
    rep = HygieneReport(
        eps=float(cfg.eps),
        n_samples=cfg.n_samples,
        eval_samples=eval_samples,
        clean_accuracy=acc["clean"],
        pgd_accuracy=acc["pgd"],
        pgd_last_accuracy=float(last.float().mean()),
        fgsm_accuracy=acc["fgsm"],
        square_accuracy=acc["square"],
        transfer_accuracy=acc.get("transfer"),
        worst_case_accuracy=float(worst.float().mean()),
        zero_gradient_fraction=zero_gradient_fraction(model, x, y, cfg.n_samples),
        probability_outputs=outputs_look_like_probabilities(model, x[:64], 1),
        forward_randomness=forward_randomness(model, x[:64], 1),
        correct={**{k: v.cpu().numpy() for k, v in correct.items()}, "pgd_last": last.cpu().numpy(),
                 "worst_case": worst.cpu().numpy()},
    )
    if rep.probability_outputs:
        rep.warnings.append("outputs look like probabilities: return logits (or log p_bar), not softmax")
    if rep.zero_gradient_fraction > 0:
        rep.warnings.append(f"{rep.zero_gradient_fraction:.1%} of inputs have an exactly zero input gradient")
    if rep.forward_randomness > 0 and cfg.n_samples < 2:
        rep.warnings.append("the forward pass is random: attack with EOT (n_samples > 1)")
    if rep.square_accuracy < rep.pgd_accuracy:
        rep.warnings.append(
            f"gradient-free Square ({rep.square_accuracy:.1%}) beats PGD "
            f"({rep.pgd_accuracy:.1%}): gradient masking suspected"
        )
    if rep.transfer_accuracy is not None and rep.transfer_accuracy < rep.pgd_accuracy:
        rep.warnings.append(
            f"transfer from MAP ({rep.transfer_accuracy:.1%}) beats white-box PGD "
            f"({rep.pgd_accuracy:.1%}): the white-box attack is too weak"
        )
    return rep


# ---------------------------------------------------------------------------------------------------
# audit mode: the flawed evaluations
def flawed_pgd(
    model: StochasticClassifier,
    x: torch.Tensor,
    y: torch.Tensor,
    config: AttackConfig | None = None,
    *,
    double_softmax: bool = True,
    generator: torch.Generator | int | None = None,
    **options,
) -> torch.Tensor:
    """PGD as in Carbone et al.'s released code (notes 1.5 [V-code]): the BNN's averaged
    *probabilities* p_bar are fed to a cross-entropy that applies a second softmax,
    loss = -log softmax(p_bar)_y (``double_softmax``); with ``n_samples=1`` the attack sees one
    posterior sample, and a ``step_size`` of about 2 (= 2 / max pixel) makes each step jump to a
    corner of the eps-box. Their loop starts at x and returns the last iterate: without ``config``
    the defaults are ``random_start=False, keep="last"``. ``config`` / ``options``: an
    :class:`AttackConfig`."""
    if config is None:
        options = {"random_start": False, "keep": "last", **options}
    cfg = AttackConfig.make(config, **options)

    def objective(logits: torch.Tensor) -> torch.Tensor:
        logp = log_predictive(logits)
        z = logp.exp() if double_softmax else logp
        return -F.log_softmax(z, dim=-1).gather(1, y.view(-1, 1)).squeeze(1)

    _check_labels(y, x)
    return attack(model, x, objective, cfg, generator=generator)


@torch.no_grad()
def softmax_robustness(
    model: StochasticClassifier,
    x: torch.Tensor,
    x_adv: torch.Tensor,
    n_samples: int,
    *,
    double_softmax: bool = True,
    reduce: bool = True,
) -> float | np.ndarray:
    """Carbone et al.'s metric 1 - mean_j ||softmax(p_bar(x_j)) - softmax(p_bar(x'_j))||_inf.

    With ``double_softmax`` (their code: p_bar are already probabilities) it cannot fall below
    1 - (e - 1)/(e + C - 1) (0.853 for C = 10) whatever the attack does; without, it is the honest
    1 - mean ||p_bar(x) - p_bar(x')||_inf. ``reduce=False``: the per-example values (before the mean)."""
    p = predictive_log_probs(model, x, n_samples).exp()
    q = predictive_log_probs(model, x_adv, n_samples).exp()
    if double_softmax:
        p, q = F.softmax(p, -1), F.softmax(q, -1)
    per = 1 - (p - q).abs().amax(-1)
    return float(per.mean()) if reduce else per.cpu().numpy()


def softmax_robustness_floor(num_classes: int) -> float:
    """The floor of the double-softmax metric: 1 - (e - 1)/(e + C - 1)."""
    c = check_int("num_classes", num_classes, low=2)
    return 1 - (math.e - 1) / (math.e + c - 1)


FLAWS = ("double_softmax", "one_sample", "big_step")


def audit_examples(
    model: StochasticClassifier,
    x: torch.Tensor,
    y: torch.Tensor,
    config: AttackConfig | None = None,
    *,
    eval_samples: int = 100,
    attack_samples: int = 1,
    big_step: float = 2.0,
    one_sample_model: StochasticClassifier | None = None,
    generator: torch.Generator | int | None = None,
    **options,
) -> dict[str, np.ndarray]:
    """Per-example outcome of the correct attack and of each flaw of Carbone et al. (2020), alone and
    all three together, scored with ``eval_samples`` posterior samples.

    ``config`` (or ``options``) is the correct attack: PGD with EOT over ``n_samples`` per step, step
    2.5 eps/steps, random start, best iterate. Each flaw is isolated against it, run as the criticised
    loop ran it: ``double_softmax`` (second softmax in the attack loss; nothing else changed),
    ``one_sample`` (the attack sees ``one_sample_model``, one FIXED posterior sample: a stored ensemble
    member or HMC sample, a fixed dropout mask, a fixed VI weight draw (``sample_view``); without it,
    ``attack_samples`` fresh samples per step), ``big_step`` (step ``big_step`` >> eps from x, no random
    start, returning the LAST iterate as their loop did: with a step far above eps every iterate sits on
    a corner of the eps-box and the last one is what their code scored). ``all_flaws`` is their
    pipeline: all three plus the last iterate. Returns bool arrays ``correct``, ``correct_last`` (the
    correct attack's last iterate) and
    one per flaw (True = still classified correctly), and float arrays
    ``softmax_robustness_flawed_metric`` / ``softmax_robustness_honest_metric``: their metric with
    and without the double softmax on the correct attack's examples."""
    cfg = AttackConfig.make(config, **options)
    eval_samples = check_int("eval_samples", eval_samples, low=1)
    attack_samples = check_int("attack_samples", attack_samples, low=1)
    big_step = check_real("big_step", big_step, low=0.0, low_open=True)
    gen = as_torch_generator(generator, x.device)

    def ok(x_adv: torch.Tensor) -> np.ndarray:
        return (predict(model, x_adv, eval_samples) == y).cpu().numpy()

    res = pgd_run(model, x, y, cfg, generator=gen)
    out: dict[str, np.ndarray] = {"correct": ok(res.best), "correct_last": ok(res.last)}
    variants = {
        "double_softmax": (True, cfg),
        "one_sample": (False, cfg.replace(n_samples=attack_samples)),
        "big_step": (False, cfg.replace(step_size=big_step, random_start=False, keep="last")),
        "all_flaws": (True, cfg.replace(n_samples=attack_samples, step_size=big_step, random_start=False,
                                        keep="last")),
    }
    for name, (double, vcfg) in variants.items():
        source = model if one_sample_model is None or name in ("double_softmax", "big_step") else one_sample_model
        out[name] = ok(flawed_pgd(source, x, y, vcfg, double_softmax=double, generator=gen))
    out["softmax_robustness_flawed_metric"] = softmax_robustness(model, x, res.best, eval_samples, reduce=False)
    out["softmax_robustness_honest_metric"] = softmax_robustness(
        model, x, res.best, eval_samples, double_softmax=False, reduce=False
    )
    return out


def audit(
    model: StochasticClassifier,
    x: torch.Tensor,
    y: torch.Tensor,
    config: AttackConfig | None = None,
    **kwargs: Any,
) -> dict[str, float]:
    """Means of :func:`audit_examples` (which takes the same arguments: robust accuracy per variant, the
    two metrics) and ``faked`` = flawed-all minus correct robust accuracy, in accuracy points (0..1)."""
    per = audit_examples(model, x, y, config, **kwargs)
    out = {k: float(np.mean(v)) for k, v in per.items()}
    out["faked"] = out["all_flaws"] - out["correct"]
    return out
