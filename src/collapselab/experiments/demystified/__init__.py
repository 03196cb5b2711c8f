"""Paper 5, "Model Collapse Demystified: The Case of Regression" (Dohmatob, Feng, Kempe; NeurIPS 2024,
arXiv 2402.07712), with the accumulate strategy of Gerstgrasser et al. (arXiv 2404.01413).

Recursive training on own-model labels (``collapselab.regression``); one module per experiment.
"""

from collapselab.experiments.demystified import (
    accumulate,
    generations,
    kernel,
    overparam,
    ridge_u_curve,
    scaling,
)

__all__ = ["accumulate", "generations", "kernel", "overparam", "ridge_u_curve", "scaling"]
