"""transferred-discrepancy/inits: claim checks on synthetic tables (PASS / FAIL / INCONCLUSIVE), smoke run."""

import numpy as np
import pandas as pd
import pytest

from collapselab.core.testing import judge

EXP = "transferred-discrepancy/inits"


def replicates(ratio, n=6, jitter=0.02, floor=0.03):
    rng = np.random.default_rng(0)
    f = floor * np.exp(jitter * rng.standard_normal(n))
    s = f * ratio * np.exp(jitter * rng.standard_normal(n))
    t = pd.DataFrame({"replicate": range(n), "layer": "all", "td_seeds": s, "td_floor": f})
    return {"replicates": t.assign(log_ratio=np.log(s / f))}


def test_above_noise_pass_fail_inconclusive():
    assert judge(EXP, "above-noise", replicates(1.5)).status == "PASS"
    fail = judge(EXP, "above-noise", replicates(1.0))  # seeds at the floor, CI narrow (+-2% jitter)
    assert fail.status == "FAIL", fail.measured
    assert judge(EXP, "above-noise", replicates(1.0, jitter=0.5)).status == "INCONCLUSIVE"  # too noisy
    few = judge(EXP, "above-noise", replicates(3.0, n=2))
    assert few.status == "INCONCLUSIVE" and "replicates" in few.needs


def halves(n_tasks, rho_target, per_half=3, seed=0):
    rng = np.random.default_rng(seed)
    true = rng.uniform(0.02, 0.08, n_tasks)
    noise = 0.03 * np.sqrt(1 - rho_target**2) / max(rho_target, 1e-3) if rho_target > 0 else None
    even = true + (rng.normal(0, noise, n_tasks) if noise else 0)
    odd = true + (rng.normal(0, noise, n_tasks) if noise else 0) if rho_target > 0 else rng.permutation(true)
    t = pd.DataFrame({"family": "partition", "task": [f"part{k}" for k in range(n_tasks)], "even": even,
                      "odd": odd, "layer": "hidden2", "replicates_per_half": per_half})
    return {"task_halves": t}


def test_task_dependent_pass_fail_inconclusive():
    assert judge(EXP, "task-dependent", halves(20, 0.95)).status == "PASS"
    fail = judge(EXP, "task-dependent", halves(80, 0.0, seed=1))  # a profile that does not replicate
    assert fail.status == "FAIL", fail.measured
    assert judge(EXP, "task-dependent", halves(8, 0.3, seed=1)).status == "INCONCLUSIVE"  # too few tasks
    assert judge(EXP, "task-dependent", halves(20, 0.95, per_half=1)).status == "INCONCLUSIVE"


@pytest.mark.slow
def test_inits_smoke(tmp_path):
    from collapselab.core.runner import run_experiment

    rep = run_experiment(EXP, preset="smoke", out_dir=tmp_path)
    assert rep.counts["failed"] == 0
    row = rep.frame.iloc[0]
    assert len(row["tasks"]) == 16 and {r["kind"] for r in row["records"]} == {"seeds", "floor"}
    tds = np.concatenate([r["td"] for r in row["records"]])
    assert np.all((tds >= 0) & (tds <= 1))
    sim = row["similarities"][0]
    assert 0 <= sim["cka"] <= 1 and 0 <= sim["cca_r2"] <= 1 and 0 <= sim["procrustes"] <= 2
    assert {c.id for c in rep.claims} == {"above-noise", "task-dependent"}
    assert all(c.status == "INCONCLUSIVE" for c in rep.claims)  # one replicate at smoke
