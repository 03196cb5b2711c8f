"""Chain-of-thought DP tasks (LIS, edit distance, modular arithmetic) and transformers with standard,
sparse and linear attention trained on them (Yang et al. 2024, arXiv 2402.13934).

The attention mechanisms live in :mod:`collapselab.nn.attention` (``softmax``, ``sparse``, ``linear``)
and plug into :class:`collapselab.nn.DecoderLM`.
"""

from collapselab.reasoning._cost import (
    attention_flops_per_token,
    cot_flops,
    decode_time_per_token,
    generation_time_per_token,
)
from collapselab.reasoning._tasks import (
                                          TASKS,
                                          Example,
                                          SolverMismatch,
                                          Vocabulary,
                                          ed_table,
                                          edit_distance,
                                          evaluate_expression,
                                          generate,
                                          lis_dp,
                                          lis_length,
                                          vocabulary,
)
from collapselab.reasoning._train import (
                                          CoTConfig,
                                          CoTData,
                                          MinWidth,
                                          TrainResult,
                                          cot_datasets,
                                          encode_batch,
                                          encode_examples,
                                          exact_match,
                                          greedy_solve,
                                          min_width,
                                          problem_key,
                                          train_cot_model,
)

__all__ = ["TASKS", "CoTConfig", "CoTData", "Example", "MinWidth", "SolverMismatch", "TrainResult", "Vocabulary",
           "attention_flops_per_token", "cot_datasets", "cot_flops", "decode_time_per_token", "ed_table",
           "edit_distance", "encode_batch", "encode_examples", "evaluate_expression", "exact_match", "generate",
           "generation_time_per_token", "greedy_solve", "lis_dp", "lis_length", "min_width", "problem_key",
           "train_cot_model", "vocabulary"]
