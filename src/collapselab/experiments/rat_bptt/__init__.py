"""Paper 7, "Embarrassingly Simple Dataset Distillation" (Feng, Vedantam, Kempe; ICLR 2024, arXiv 2311.07025).

One module per experiment (each registers on import): ``digits`` and ``mnist`` (RaT-BPTT against a random
real subset, same and cross architecture), ``vs_tbptt`` (equal-compute comparison with T-BPTT and BPTT,
graph memory), ``boost`` (intercorrelation and Boost-DD), ``gradient_variance`` (meta-gradient spread).
Library: ``collapselab.distill``. Docs: docs/rat-bptt.md.
"""

from collapselab.experiments.rat_bptt import boost, digits, gradient_variance, mnist, vs_tbptt

__all__ = ["boost", "digits", "gradient_variance", "mnist", "vs_tbptt"]
