"""Zipf memorisation models of "A Tale of Tails" (Dohmatob, Feng, Yang, Charton & Kempe, ICML 2024).

Closed forms (numpy, float64) with Monte Carlo twins that draw real datasets and train real
learners: the infinite-memory (Hutter) learner under tail cutting, tail narrowing, mixing and
generation chains; the tailed bigram model with the Hutter++ learner; and the GCD task for a small
transformer.
"""

from collapselab.zipf._bigram import HutterPlusPlus, TailedBigram, hutter_pp_error, simulate_hutter_pp
from collapselab.zipf._distributions import mix, tail_cut, tail_mass, tail_narrow, zipf
from collapselab.zipf._hutter import (
    Memorizer,
    expected_error,
    memorizer_chain_error,
    resampling_chain,
    resampling_chain_error,
    simulate_memorizer,
    simulate_memorizer_chain,
    simulate_resampling_chain,
)

_GCD = ("GCDLearner", "GCDTask", "accuracy_by_value", "gcd_frequency", "gcd_test_set", "known_values",
        "mixed_pairs", "new_gcd_model", "predict_gcd", "sample_pairs", "synthesize_pairs", "train_gcd_model")


def __getattr__(name: str):
    """The GCD task needs torch: imported on first use, so the numpy models stay light."""
    if name in _GCD:
        from collapselab.zipf import _gcd

        return getattr(_gcd, name)
    raise AttributeError(f"module 'collapselab.zipf' has no attribute {name!r}")


__all__ = [*_GCD, "HutterPlusPlus", "Memorizer", "TailedBigram", "expected_error", "hutter_pp_error",
           "simulate_hutter_pp", "memorizer_chain_error", "mix", "resampling_chain",
           "resampling_chain_error", "simulate_memorizer", "simulate_memorizer_chain",
           "simulate_resampling_chain", "tail_cut", "tail_mass", "tail_narrow", "zipf"]
