"""Paper 4, "Do Efficient Transformers Really Save Computation?" (Yang et al., ICML 2024, arXiv 2402.13934).

CoT dynamic-programming tasks and sparse / linear attention (``collapselab.reasoning``,
``collapselab.nn``); one module per experiment:

* ``min_width``: the minimal width per task, size and attention, its exponent against the CoT length,
  and the measured generation time of the trained models at those widths;
* ``cost``: per-token decoding cost against the context length, formula against measured time.
"""

from collapselab.experiments.efficient_transformers import cost, min_width

__all__ = ["cost", "min_width"]
