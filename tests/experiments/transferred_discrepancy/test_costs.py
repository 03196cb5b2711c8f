"""cell_cost / cell_flops of the transferred-discrepancy experiments and efficient-transformers/cost."""

import pytest

from collapselab.core.params import resolve_params
from collapselab.core.registry import get_experiment
from collapselab.experiments.transferred_discrepancy._common import net_flops, net_forward_flops

NAMES = ["transferred-discrepancy/augmentation", "transferred-discrepancy/inits",
         "transferred-discrepancy/predictiveness", "efficient-transformers/cost"]


@pytest.mark.parametrize("name", NAMES)
def test_costs_declared_and_ordered_by_preset(name):
    exp = get_experiment(name)
    cells = {p: exp.cells(resolve_params(exp.params, exp.presets, p, None, None)) for p in ("smoke", "quick", "full")}
    assert exp.cell_cost is not None and exp.cell_flops is not None
    cost = {p: sum(map(exp.cell_cost, c)) for p, c in cells.items()}
    flops = {p: sum(map(exp.cell_flops, c)) for p, c in cells.items()}
    assert cost["smoke"] < cost["quick"] < cost["full"]
    assert 0 < flops["smoke"] < flops["quick"] < flops["full"]


def test_net_flops_scale_with_epochs_and_width():
    cell = {"arch": "mlp", "width": 128, "epochs": 10, "n_train": 3000, "batch_size": 128}
    f, steps = net_flops(cell)
    f2, steps2 = net_flops({**cell, "epochs": 20})
    assert steps2 == 2 * steps == 2 * 10 * 24
    assert f2 == pytest.approx(2 * f, rel=0.03)  # training dominates the one embedding pass (2%)
    assert net_forward_flops("convnet", 64) > 10 * net_forward_flops("mlp", 64)
