"""Paper 2: "Beyond Model Collapse: Scaling Up with Synthesized Data Requires Verification"
(Feng, Dohmatob, Yang, Charton, Kempe; arXiv 2406.07515). Notes: papers/notes_verification_and_dp.md A.

Five experiments, one module each; the first four run the generic synthesize -> select -> retrain pipeline
of :mod:`collapselab.verification`:

* ``phase-transition``: Gaussian mixture, label flips, x-independent pruner (phi, psi): accuracy
  against p, against the sharp transition at p* = phi / (phi + psi) (Sec. 4).
* ``linear-verifier``: x-dependent linear verifiers of graded quality; does the p* measured on
  labelled data predict the outcome (v2's proxy)?
* ``eigenvalues``: a transformer labels random symmetric matrices with beam search; selection none /
  oracle pruning / best-of-k among beams / noisy verifier; fresh models retrained (Sec. 5).
* ``summarization``: sampled candidate summaries, ROUGE-L oracle or a scoring model as verifier,
  retrain, ROUGE (Sec. 6); a tiny model on a built-in corpus, or ``model=PATH`` (Hugging Face).
* ``lm-verification``: a collapsing generation-k GPT-2 on real text writes N continuations per human
  prefix, a stronger GPT-2 keeps the best by likelihood, fresh models retrain (``collapselab.lm``; the
  paper's LLM news-summarisation experiment).
"""

from collapselab.experiments.beyond_collapse import (
    eigenvalues,
    linear_verifier,
    lm_verification,
    phase_transition,
    summarization,
)

__all__ = ["eigenvalues", "linear_verifier", "lm_verification", "phase_transition", "summarization"]
