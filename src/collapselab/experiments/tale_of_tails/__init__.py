"""Paper 6, "A Tale of Tails: Model Collapse as a Change of Scaling Laws" (Dohmatob, Feng, Yang, Charton &
Kempe; ICML 2024, arXiv 2402.07043); one module per experiment.

The memoriser's scaling law under tail cutting and narrowing, generation chains, mixing ("grokking"), the
tailed bigram model with Hutter++ (``collapselab.zipf``), and a small transformer learning the GCD over
generations of its own data and with clean data mixed back in, and ``lm-generations``: recursive generations of
a GPT-2 on real text (``collapselab.lm``, Sec. 6).
"""

from collapselab.experiments.tale_of_tails import (
    bigram,
    clean_and_cut,
    gcd,
    gcd_grokking,
    generations,
    grokking,
    lm_generations,
    narrow,
)

__all__ = ["bigram", "clean_and_cut", "gcd", "gcd_grokking", "generations", "grokking", "lm_generations", "narrow"]
