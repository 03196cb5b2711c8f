"""Dataset distillation by (random) truncated backpropagation through time: RaT-BPTT, T-BPTT, BPTT and
Boost-DD (Feng, Vedantam, Kempe, "Embarrassingly Simple Dataset Distillation", ICLR 2024).

``distill`` learns a small synthetic set; ``evaluate`` trains fresh networks on it (step count chosen on a
validation split); ``boost`` builds nested sets; ``random_subset`` is the real-data baseline;
``meta_loss`` and ``graph_memory`` expose the unrolled outer loss and the memory its graph holds.
"""

from collapselab.distill._dataset import DistilledSet, random_subset
from collapselab.distill._distill import METHODS, DistillConfig, boost, distill, flip_augment, window
from collapselab.distill._evaluate import ZCA, Evaluation, evaluate
from collapselab.distill._inner import InnerOptimizer, fresh_model, meta_loss, soft_cross_entropy, unroll
from collapselab.distill._memory import GraphMemory, graph_memory

__all__ = ["METHODS", "ZCA", "DistillConfig", "DistilledSet", "Evaluation", "GraphMemory", "InnerOptimizer", "boost",
           "distill", "evaluate", "flip_augment", "fresh_model", "graph_memory", "meta_loss",
           "random_subset", "soft_cross_entropy", "unroll", "window"]
