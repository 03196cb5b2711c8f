"""Paper 8: Transferred Discrepancy (Feng et al. 2020, arXiv 2007.12446): one module per experiment.

``inits`` (seeds vs the probes' noise floor; task dependence), ``augmentation`` (helpful and harmful
augmentation), ``predictiveness`` (TD, CKA and CCA against downstream disagreement on unseen data).
"""

from collapselab.experiments.transferred_discrepancy import augmentation, inits, predictiveness

__all__ = ["augmentation", "inits", "predictiveness"]
