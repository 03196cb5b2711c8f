import numpy as np
import pandas as pd
import pytest

from collapselab.core.testing import judge

EXP = "strong-collapse/lm-scaling"


def _curve(floor: dict, n: int = 6, noise: float = 0.005):
    """loss = 3 + 2 (T/T0)^-0.5 + floor[p2] (1 - (T0/T)) + noise: the synthetic penalty grows to floor[p2].
    Six seeds by default (the exact sign-flip test needs >= 5 to reject one-sided at 0.05); a seed-to-seed
    spread of 0.005 nats lets 6 seeds resolve the claims' 0.02 nats. One fixed draw: a tie (equal floors)
    still passes "beats" in about 1 draw in 20, as it should at alpha 0.05."""
    rng = np.random.default_rng(1)
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
    assert judge(EXP, "slower-gain", _curve(floor)).status == status


def test_scaling_plateaus_needs_three_budgets():
    t = _curve({0.0: 0.0, 0.5: 0.5})
    t["curve"] = t["curve"][t["curve"]["blocks"] >= 2048]
    assert judge(EXP, "slower-gain", t).status == "INCONCLUSIVE"


@pytest.mark.parametrize(("floor", "status"), [
    ({0.0: 0.0, 0.1: 0.1, 0.5: 0.4}, "PASS"),
    ({0.0: 0.0, 0.1: 0.4, 0.5: 0.1}, "FAIL"),
])
def test_more_synthetic_worse(floor, status):
    assert judge(EXP, "more-synthetic-worse", _curve(floor)).status == status


def test_one_replicate_is_inconclusive():
    t = _curve({0.0: 0.0, 0.1: 0.1, 0.5: 0.4}, n=1)
    assert judge(EXP, "more-synthetic-worse", t).status == "INCONCLUSIVE"


@pytest.mark.parametrize("claim", ["synthetic-delays-scaling", "slower-gain", "more-synthetic-worse"])
def test_three_replicates_cannot_pass(claim):
    """The exact sign-flip test's floor: 3 seeds give a smallest one-sided p-value of 1/8, so the clear
    PASS curves stay INCONCLUSIVE and ask for more seeds."""
    out = judge(EXP, claim, _curve({0.0: 0.0, 0.1: 0.2, 0.5: 0.6}, n=3))
    assert out.status == "INCONCLUSIVE" and "replicates" in out.needs


@pytest.mark.slow
def test_smoke_run_end_to_end(tmp_path):
    from collapselab.core.runner import run_experiment

    rep = run_experiment(EXP, preset="smoke", out_dir=tmp_path)
    assert not rep.failures and {c.status for c in rep.claims} <= {"PASS", "FAIL", "INCONCLUSIVE"}
