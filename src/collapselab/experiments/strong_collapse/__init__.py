"""Paper 1, "Strong Model Collapse" (Dohmatob, Feng, Subramonian, Kempe; ICLR 2025, arXiv 2410.04840).

Experiments on ridge / least squares and random projections trained on a mixture of real and synthetic
labels (``collapselab.regression``), on MNIST students, and ``lm-scaling``: a GPT-2 trained on human text
with a share of synthetic text (``collapselab.lm``, Sec. 4.2); one module per experiment.
"""

from collapselab.experiments.strong_collapse import lm_scaling, mitigation, model_size, neural, pareto, scaling

__all__ = ["lm_scaling", "mitigation", "model_size", "neural", "pareto", "scaling"]
