"""rat-bptt/digits: RaT-BPTT against a random real subset of the same size on scikit-learn's 8x8 digits,
same and cross architecture (paper Table 1 analogue)."""

from __future__ import annotations

from collapselab.core import Claim, Experiment, register
from collapselab.experiments._papers import RAT_BPTT
from collapselab.experiments.rat_bptt import _compare as C

CIFAR_FULL = {"dataset": "cifar10", "data_dir": "cifar-10-batches-py", "model": "convnet", "width": 128,
              "depth": 3, "cross_model": "mlp", "cross_width": 512, "zca": True, "flip": True, "T": 200,
              "M": 60, "steps": 20000, "outer_lr": 1e-3, "real_batch": 5000, "eval_models": 8,
              "eval_steps": [300, 600, 1000, 3000], "full_batch": 256, "seeds": 3}


class DigitsParams(C.CompareParams):
    pass


CLAIMS = [
    Claim("beats-random", "A RaT-BPTT distilled set trains a network to higher test accuracy than a random "
          "real subset of the same size, at every IPC", C.check_beats_random,
          source="Table 1 (distilled sets against real-data baselines; facts C4)", kind="paper",
          test=C.BEATS_TEST),
    Claim("beats-random-cross-arch", "The distilled set also trains a network of another architecture, "
          "unseen during distillation, better than the random real subset does, at every IPC",
          C.check_beats_random_cross, source="Table 1, transfer column (per the reviews; facts §3.1)",
          kind="paper", test=C.BEATS_TEST.replace("accuracy", "accuracy of the cross architecture")),
]

register(Experiment(
    name="rat-bptt/digits", paper=RAT_BPTT,
    description=(
        "RaT-BPTT on scikit-learn's 8x8 digits at IPC 1 and 10 against a random real subset of the same size "
        "(and full data): the subset and the distilled set are evaluated with the same fresh networks, of the "
        "inner architecture and of a second architecture never used in distillation (cross); training length "
        "chosen on a validation split from a grid matched to the unroll T. Quick settings were chosen on "
        "validation (docs/rat-bptt.md#calibration). full: CIFAR-10, ConvNet-3 width 128 with instance norm, ZCA, "
        "flips, T=200, M=60, real batch 5000, 20k outer steps, cross = MLP (GPU: --device cuda)."),
    params=DigitsParams,
    presets={
        "smoke": {"T": 6, "M": 2, "steps": 3, "ipcs": [1], "real_batch": 64, "eval_models": 2,
                  "eval_steps": [5, 10], "width": 16, "cross_model": "convnet", "cross_width": 4, "depth": 2,
                  "seeds": 2},
        "quick": {"T": 40, "M": 10, "inner_lr": 1e-2, "steps": 200, "ipcs": [1, 10], "seeds": 3,
                  "learn_labels": True, "init": "real", "eval_steps": [20, 40, 100, 200],
                  "eval_models": 3, "cross_model": "convnet", "cross_width": 16, "depth": 2},
        "full": {**CIFAR_FULL, "ipcs": [1, 10, 50]},
    },
    cells=C.cells, run_cell=C.run_cell, summarize=C.summarize, plot=C.plot, main_figure="accuracy",
    claims=CLAIMS, cell_cost=C.cell_cost, cell_flops=C.cell_flops, version=2, uses_device=True,
))
