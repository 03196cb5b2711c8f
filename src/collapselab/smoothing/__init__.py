"""Randomized smoothing (Cohen et al. 2019) and SWEEN, smoothed weighted ensembling (Liu et al. 2020).

* :class:`Smooth` -- PREDICT and CERTIFY of a smoothed classifier; :func:`smoothed_class_counts`,
  :func:`certify_from_counts`, :func:`predict_from_counts` are its parts.
* :func:`clopper_pearson_lower` (and its exact twin), :func:`expected_certified_radius` (and its
  Monte Carlo twin on a :class:`HalfSpace` base classifier).
* :class:`SWEEN` (weights on the simplex, ``fit_weights``), :class:`AdaptiveSWEEN` and
  :func:`adaptive_combine` (adaptive prediction), :func:`train_with_noise` (Gaussian augmentation).
* :class:`EnsembleHeads` (certify several classifiers on shared noise), :data:`CANDIDATES` /
  :func:`build_candidate` (named candidate nets), :func:`crop_flip` (CIFAR augmentation).
* :func:`certified_accuracy`, :func:`average_certified_radius`; :class:`CifarResNet`.
"""

from collapselab.smoothing._bounds import (
    ExpectedCertificate,
    binomial_two_sided_pvalue,
    clopper_pearson_lower,
    clopper_pearson_lower_exact,
    expected_certified_radius,
    radius_from_bound,
)
from collapselab.smoothing._candidates import CANDIDATES, build_candidate, crop_flip
from collapselab.smoothing._metrics import average_certified_radius, certified_accuracy
from collapselab.smoothing._resnet import CifarResNet
from collapselab.smoothing._smooth import (
    ABSTAIN,
    Certificate,
    HalfSpace,
    Smooth,
    certify_from_counts,
    expected_certified_radius_mc,
    predict_from_counts,
    smoothed_class_counts,
)
from collapselab.smoothing._sween import (
    RULES,
    SWEEN,
    AdaptiveOutput,
    AdaptiveSWEEN,
    EnsembleHeads,
    adaptive_combine,
    noisy_nll,
    train_with_noise,
)

__all__ = ["ABSTAIN", "CANDIDATES", "RULES", "SWEEN", "AdaptiveOutput", "AdaptiveSWEEN", "Certificate",
           "CifarResNet", "EnsembleHeads", "ExpectedCertificate", "HalfSpace", "Smooth",
           "adaptive_combine", "noisy_nll",
           "average_certified_radius", "binomial_two_sided_pvalue", "build_candidate", "certified_accuracy",
           "certify_from_counts", "clopper_pearson_lower", "clopper_pearson_lower_exact", "crop_flip",
           "expected_certified_radius", "expected_certified_radius_mc", "predict_from_counts",
           "radius_from_bound", "smoothed_class_counts", "train_with_noise"]
