"""Verification of synthesized data (Feng et al., "Beyond Model Collapse", arXiv 2406.07515).

Gaussian-mixture theory (breakdown point, limit accuracy, with Monte Carlo twins), generators,
verifiers, selection strategies, the generic synthesize -> select -> retrain pipeline, and the two
sequence tasks of the paper's experiments (matrix eigenvalues with beam search, summarisation).
"""

from collapselab.verification._eigen import (
    EigenTask,
    FloatCodec,
    eigen_predict,
    new_model,
    random_symmetric_matrices,
    relative_l1_error,
    sorted_eigenvalues,
)
from collapselab.verification._generators import LabelFlipGenerator, LinearGenerator
from collapselab.verification._gmm import (
    bayes_accuracy,
    breakdown_point,
    kept_label_noise,
    limit_accuracy,
    linear_accuracy,
    sample_mixture,
)
from collapselab.verification._linear import fit_linear_classifier
from collapselab.verification._selection import (
    STRATEGIES,
    PipelineResult,
    Selection,
    select,
    synthesize_select_retrain,
    take,
    take_candidates,
)
from collapselab.verification._seqmodel import (
    Decoded,
    answer_logprob,
    beam_search,
    sample_answers,
    train_prompt_answer,
)
from collapselab.verification._simulate import (
    SelectionOutcome,
    limit_accuracy_mc,
    linear_verifier_limit_accuracy,
    linear_verifier_limit_accuracy_mc,
    simulate_selection,
)
from collapselab.verification._summarize import (
    SummaryCorpus,
    WordVocab,
    make_summary_corpus,
    reference_summary,
    rouge_scores,
    summary_length,
)
from collapselab.verification._summarizers import HFSummarizer, TinySummarizer
from collapselab.verification._verifiers import (
    BreakdownEstimate,
    LinearVerifier,
    RandomPruner,
    estimate_breakdown_point,
)

__all__ = ["STRATEGIES", "BreakdownEstimate", "Decoded", "EigenTask", "FloatCodec", "HFSummarizer",
           "LabelFlipGenerator", "LinearGenerator", "LinearVerifier",
           "PipelineResult", "RandomPruner", "Selection", "SelectionOutcome", "SummaryCorpus",
           "TinySummarizer", "WordVocab", "answer_logprob", "bayes_accuracy", "beam_search", "breakdown_point",
           "eigen_predict", "estimate_breakdown_point", "fit_linear_classifier",
           "kept_label_noise", "limit_accuracy",
           "limit_accuracy_mc", "linear_accuracy", "linear_verifier_limit_accuracy",
           "linear_verifier_limit_accuracy_mc", "make_summary_corpus", "new_model",
           "random_symmetric_matrices", "reference_summary", "relative_l1_error", "rouge_scores",
           "sample_answers", "sample_mixture", "select", "simulate_selection", "sorted_eigenvalues",
           "summary_length", "synthesize_select_retrain", "take", "take_candidates", "train_prompt_answer"]
