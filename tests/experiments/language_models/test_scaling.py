import numpy as np
import pandas as pd
import pytest

from collapselab.core.testing import judge

EXP = "strong-collapse/lm-scaling"


def _curve(floor: dict, n: int = 4, noise: float = 0.003):
    """loss = 3 + 2 (T/T0)^-0.5 + floor[p2] (1 - (T0/T)) : the synthetic penalty grows to floor[p2]."""
    rng = np.random.default_rng(0)
    rows = []
    for rep in range(n):
        for p2, f in floor.items():
            for T in (512, 1024, 2048, 4096):
                loss = 3 + 2 * (T / 512) ** -0.5 + f * (1 - 512 / T) + noise * rng.standard_normal()
                rows.append({"replicate": rep, "p2": p2, "tokens": T * 64.0, "blocks": T, "loss": loss,
                             "tail_loss": loss + 3, "generator_loss": 3.5})
    return {"curve": pd.DataFrame(rows)}


@pytest.mark.parametrize(("floor", "status"), [
    ({0.0: 0.0, 0.1: 0.1, 0.5: 0.4}, "PASS"),
    ({0.0: 0.0, 0.1: 0.0, 0.5: 0.4}, "FAIL"),
])
def test_synthetic_delays_scaling(floor, status):
    assert judge(EXP, "synthetic-delays-scaling", _curve(floor)).status == status


def test_synthetic_delays_scaling_inconclusive_when_noisy():
    assert judge(EXP, "synthetic-delays-scaling", _curve({0.0: 0.0, 0.1: 0.03, 0.5: 0.03}, noise=0.1)).status == \
        "INCONCLUSIVE"


@pytest.mark.parametrize(("floor", "status"), [
    ({0.0: 0.0, 0.1: 0.2, 0.5: 0.6}, "PASS"),
    ({0.0: 0.0, 0.1: 0.0, 0.5: 0.6}, "FAIL"),
])
def test_scaling_plateaus(floor, status):
    assert judge(EXP, "scaling-plateaus", _curve(floor)).status == status


def test_scaling_plateaus_needs_three_budgets():
    t = _curve({0.0: 0.0, 0.5: 0.5})
    t["curve"] = t["curve"][t["curve"]["blocks"] >= 2048]
    assert judge(EXP, "scaling-plateaus", t).status == "INCONCLUSIVE"


@pytest.mark.parametrize(("floor", "status"), [
    ({0.0: 0.0, 0.1: 0.1, 0.5: 0.4}, "PASS"),
    ({0.0: 0.0, 0.1: 0.4, 0.5: 0.1}, "FAIL"),
])
def test_more_synthetic_worse(floor, status):
    assert judge(EXP, "more-synthetic-worse", _curve(floor)).status == status


def test_one_replicate_is_inconclusive():
    t = _curve({0.0: 0.0, 0.1: 0.1, 0.5: 0.4}, n=1)
    assert judge(EXP, "more-synthetic-worse", t).status == "INCONCLUSIVE"


@pytest.mark.slow
def test_smoke_run_end_to_end(tmp_path):
    from collapselab.core.runner import run_experiment

    rep = run_experiment(EXP, preset="smoke", out_dir=tmp_path)
    assert not rep.failures and {c.status for c in rep.claims} <= {"PASS", "FAIL", "INCONCLUSIVE"}
