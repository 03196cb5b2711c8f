"""Paper 1, "Strong Model Collapse" (Dohmatob, Feng, Subramonian, Kempe; ICLR 2025, arXiv 2410.04840).

Experiments on ridge / least squares and random projections trained on a mixture of real and synthetic
labels (``collapselab.regression``), and on MNIST students; one module per experiment.
"""

from collapselab.experiments.strong_collapse import mitigation, model_size, neural, pareto, scaling

__all__ = ["mitigation", "model_size", "neural", "pareto", "scaling"]
