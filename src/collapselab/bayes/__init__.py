"""Bayesian neural networks under attack (Paper 3, "Attacking Bayes", arXiv 2404.19640).

* the stochastic-classifier protocol ``model(x, n_samples) -> logits (S, B, C)`` and the posterior
  predictive ``predictive_log_probs`` (logsumexp of per-sample log_softmax minus log S);
* posteriors behind it: :class:`MAP`, :class:`MCDropout`, :class:`MeanFieldVI`, :class:`DeepEnsemble`,
  :class:`HMC` (with the generic sampler :func:`hmc_sample`), each with fit/save/load;
* differentiable uncertainty: :func:`predictive_entropy`, :func:`mutual_information`,
  :func:`max_probability`;
* attacks in :mod:`collapselab.bayes.attacks` (PGD/FGSM with EOT, best iterate kept, detection and
  semantic-shift attacks), all configured by one :class:`AttackConfig`;
* evaluation hygiene (:func:`evaluate_robustness`, :func:`square_attack`, ...) and the audit of flawed
  evaluations (:func:`audit`, :func:`flawed_pgd`, :func:`softmax_robustness`).
"""

from collapselab.bayes import attacks
from collapselab.bayes._evaluation import (
    FLAWS,
    HygieneReport,
    audit,
    audit_examples,
    auroc,
    auroc_se,
    evaluate_robustness,
    flawed_pgd,
    forward_randomness,
    outputs_look_like_probabilities,
    predict,
    robust_accuracy,
    softmax_robustness,
    softmax_robustness_floor,
    square_attack,
    zero_gradient_fraction,
)
from collapselab.bayes._hmc import HMCResult, hmc_sample, split_rhat
from collapselab.bayes._nets import build_net
from collapselab.bayes._posteriors import (
    HMC,
    MAP,
    DeepEnsemble,
    MCDropout,
    MeanFieldVI,
    Posterior,
    load_posterior,
)
from collapselab.bayes._predictive import (
    SCORES,
    StochasticClassifier,
    expected_entropy,
    log_predictive,
    max_probability,
    mutual_information,
    predictive_entropy,
    predictive_log_probs,
    sample_logits,
    uncertainty,
)
from collapselab.bayes.attacks import (
    AttackConfig,
    AttackResult,
    detection_attack,
    fgsm,
    pgd,
    pgd_run,
    semantic_shift_attack,
)

__all__ = [
    "FLAWS",
    "HMC",
    "AttackConfig",
    "AttackResult",
    "MAP",
    "SCORES",
    "DeepEnsemble",
    "HMCResult",
    "HygieneReport",
    "MCDropout",
    "MeanFieldVI",
    "Posterior",
    "StochasticClassifier",
    "attacks",
    "audit",
    "audit_examples",
    "auroc",
    "auroc_se",
    "build_net",
    "detection_attack",
    "evaluate_robustness",
    "expected_entropy",
    "fgsm",
    "flawed_pgd",
    "forward_randomness",
    "hmc_sample",
    "load_posterior",
    "log_predictive",
    "max_probability",
    "mutual_information",
    "outputs_look_like_probabilities",
    "pgd",
    "pgd_run",
    "predict",
    "predictive_entropy",
    "predictive_log_probs",
    "robust_accuracy",
    "sample_logits",
    "semantic_shift_attack",
    "softmax_robustness",
    "softmax_robustness_floor",
    "split_rhat",
    "square_attack",
    "uncertainty",
    "zero_gradient_fraction",
]
