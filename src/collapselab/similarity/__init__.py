"""Representation similarity: transferred discrepancy (Feng et al. 2020) beside CKA, the CCA family
and the orthogonal Procrustes distance.

Every measure takes paired feature matrices (n, d1) and (n, d2), numpy or torch, validates them and
works in float64. Fast feature-space forms have slow Gram-matrix (or covariance) reference twins, and
the TD closed forms have Monte Carlo twins.
"""

from collapselab.similarity._cca import (
    CCAResult,
    cca,
    cca_slow,
    orthogonal_procrustes_distance,
    orthogonal_procrustes_distance_slow,
    pwcca,
    svcca,
)
from collapselab.similarity._cka import (
    center_gram,
    cka_from_grams,
    debiased_cka,
    gram_linear,
    gram_rbf,
    hsic_gram,
    linear_cka,
    linear_cka_gram,
    rbf_cka,
)
from collapselab.similarity._features import extract_features
from collapselab.similarity._td import (
    HEADS,
    LinearHead,
    LogisticHead,
    ProbeOutput,
    TDResult,
    as_head,
    chance_disagreement,
    chance_disagreement_mc,
    isotropic_tasks,
    one_vs_rest_tasks,
    prediction_discrepancy,
    probe_predictions,
    random_linear_tasks,
    random_partition_tasks,
    split_indices,
    transferred_discrepancy,
)
from collapselab.similarity._theory import isotropic_td, isotropic_td_mc, linear_task_td, linear_task_td_mc

__all__ = [
    "CCAResult", "HEADS", "LinearHead", "LogisticHead", "ProbeOutput", "TDResult", "as_head", "cca", "cca_slow",
    "center_gram", "chance_disagreement", "chance_disagreement_mc", "cka_from_grams", "debiased_cka",
    "extract_features", "gram_linear", "gram_rbf", "hsic_gram", "isotropic_tasks", "isotropic_td",
    "isotropic_td_mc", "linear_cka", "linear_cka_gram", "linear_task_td", "linear_task_td_mc", "one_vs_rest_tasks",
    "orthogonal_procrustes_distance", "orthogonal_procrustes_distance_slow", "prediction_discrepancy",
    "probe_predictions", "pwcca", "random_linear_tasks", "random_partition_tasks", "rbf_cka", "split_indices",
    "svcca", "transferred_discrepancy",
]
