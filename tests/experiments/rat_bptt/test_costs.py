"""cell_cost / cell_flops of the rat-bptt experiments: declared, ordered across presets, and tracking the
parameters they are built from."""

import pytest

from collapselab.core.params import resolve_params
from collapselab.core.registry import get_experiment
from collapselab.experiments.rat_bptt._common import distill_flops, forward_flops

NAMES = ["rat-bptt/digits", "rat-bptt/mnist", "rat-bptt/boost", "rat-bptt/vs-tbptt", "rat-bptt/gradient-variance"]


def _cells(name, preset):
    exp = get_experiment(name)
    return exp, exp.cells(resolve_params(exp.params, exp.presets, preset, None, None))


@pytest.mark.parametrize("name", NAMES)
def test_costs_declared_and_ordered_by_preset(name):
    exp, smoke = _cells(name, "smoke")
    _, quick = _cells(name, "quick")
    _, full = _cells(name, "full")
    assert exp.cell_cost is not None and exp.cell_flops is not None
    total = {p: sum(map(exp.cell_cost, c)) for p, c in (("smoke", smoke), ("quick", quick), ("full", full))}
    assert total["smoke"] < total["quick"] < total["full"]
    # the GPU preset is far beyond quick in FLOPs
    assert sum(map(exp.cell_flops, full)) > 1e4 * sum(map(exp.cell_flops, quick)) > 0


def test_distill_flops_orders_the_methods():
    """Per outer step BPTT tracks T steps, T-BPTT untracks T - M and tracks M, RaT-BPTT untracks (T - M)/2."""
    _, quick = _cells("rat-bptt/vs-tbptt", "quick")
    s = quick[0]["setup"]
    f = {m: distill_flops(s, 1, 10, m) for m in ("bptt", "tbptt", "rat_bptt")}
    assert f["bptt"][0] > f["tbptt"][0] > f["rat_bptt"][0]
    assert f["tbptt"][1] == 10 * s["T"] and f["rat_bptt"][1] == 10 * (s["T"] + s["M"]) // 2
    assert forward_flops({**s, "width": 2 * s["width"]}) > 1.9 * forward_flops(s)


def test_boost_direct_sets_get_the_prefix_budget():
    """B7: the direct set at budget b gets b x steps_per_block, so doubling steps_per_block doubles the
    distillation FLOPs, and the cost is below giving every direct set the total."""
    from collapselab.experiments.rat_bptt import boost

    _, quick = _cells("rat-bptt/boost", "quick")
    c = quick[0]
    more = {**c, "steps_per_block": 2 * c["steps_per_block"]}
    assert boost.cell_flops(more) > boost.cell_flops(c)
    spb, n = c["steps_per_block"], c["n_blocks"]
    direct = sum(distill_flops(c["setup"], b, b * spb)[0] for b in range(1, n + 1))
    everything = sum(distill_flops(c["setup"], b, n * spb)[0] for b in range(1, n + 1))
    assert direct < everything and boost.cell_flops(c) > direct
