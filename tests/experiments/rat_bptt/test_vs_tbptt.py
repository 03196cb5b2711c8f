"""rat-bptt/vs-tbptt: claim checks on synthetic tables and a smoke run."""

import pandas as pd
import pytest

from collapselab.core.testing import judge

NAME = "rat-bptt/vs-tbptt"


def _acc(paired_rows, gap1, gap10, noise=0.003, updates=None):
    """RaT-BPTT - T-BPTT gaps per IPC at equal inner steps; ``updates`` (default the same gaps): at equal
    outer updates (RaT-BPTT stopped at T-BPTT's update count, method ``rat_bptt_eq_updates``)."""
    u1, u10 = updates or (gap1, gap10)
    parts = []
    for a, g1, g10, seed in (("rat_bptt", gap1, gap10, 0), ("rat_bptt_eq_updates", u1, u10, 2)):
        parts += [paired_rows([{"ipc": 1}], a, "tbptt", g1, noise, seed=seed),
                  paired_rows([{"ipc": 10}], a, "tbptt", g10, noise, seed=seed + 1)]
    t = pd.concat(parts, ignore_index=True).drop_duplicates(["ipc", "method", "replicate"])
    return {"accuracy": t}


def test_vs_tbptt_pass_fail_inconclusive(paired_rows):
    assert judge(NAME, "vs-tbptt", _acc(paired_rows, 0.03, 0.02)).status == "PASS"
    assert judge(NAME, "vs-tbptt", _acc(paired_rows, 0.03, -0.02)).status == "FAIL"
    assert judge(NAME, "vs-tbptt", _acc(paired_rows, 0.03, 0.01, noise=0.1)).status == "INCONCLUSIVE"


def test_vs_tbptt_needs_both_budgets(paired_rows):
    # ahead at equal inner steps (1.6x the updates), behind at equal outer updates: the v1 pattern -> FAIL
    v = judge(NAME, "vs-tbptt", _acc(paired_rows, 0.03, 0.02, updates=(0.01, -0.03)))
    assert v.status == "FAIL" and "equal outer updates" in v.measured
    v = judge(NAME, "vs-tbptt", _acc(paired_rows, -0.03, 0.02, updates=(0.03, 0.02)))
    assert v.status == "FAIL" and "equal inner steps" in v.measured


def _memory(bptt_mb, rat_mb):
    return {"memory": pd.DataFrame({"ipc": [1, 1], "method": ["bptt", "rat_bptt"], "graph_mb": [bptt_mb, rat_mb]})}


def test_memory_pass_fail():  # quick: T = 40, M = 10, so T/M = 4
    assert judge(NAME, "memory-T-over-M", _memory(3.8, 1.0)).status == "PASS"
    assert judge(NAME, "memory-T-over-M", _memory(1.1, 1.0)).status == "FAIL"
    assert judge(NAME, "memory-T-over-M", _memory(8.0, 1.0)).status == "FAIL"
    bad = {"memory": pd.DataFrame({"ipc": [1], "method": ["bptt"], "graph_mb": [3.0]})}
    assert judge(NAME, "memory-T-over-M", bad).status == "INCONCLUSIVE"


def test_memory_is_summarised_without_a_bptt_run():
    """Quick distils no full-BPTT set, yet every cell measures its graph memory: the check must see it."""
    from collapselab.core.registry import get_experiment

    exp = get_experiment(NAME)
    params = exp.params.model_validate(exp.presets["quick"])
    frame = pd.DataFrame([{"ipc": 1, "replicate": r, "acc_rat_bptt": 0.5, "acc_tbptt": 0.4,
                           **{f"{k}_{m}": 1 for k in ("outer_steps", "inner_steps", "cpu_s")
                              for m in ("rat_bptt", "tbptt")},
                           "graph_mb_bptt": 4.0, "graph_mb_rat_bptt": 1.0, "graph_mb_tbptt": 1.0} for r in range(3)])
    memory = exp.summarize(frame, params)["memory"].set_index("method")["graph_mb"]
    assert memory["bptt"] == 4.0 and memory["rat_bptt"] == 1.0


@pytest.mark.slow
def test_vs_tbptt_smoke(tmp_path):
    from collapselab.core.runner import run_experiment

    rep = run_experiment(NAME, preset="smoke", out_dir=tmp_path)
    assert rep.counts["failed"] == 0, rep.failures
    assert rep.analysis_error is None, rep.analysis_error
    f = rep.frame
    budget = rep.params.inner_step_budget
    for m in ("rat_bptt", "tbptt", "bptt"):
        assert (f[f"inner_steps_{m}"] <= budget).all() and (f[f"inner_steps_{m}"] > budget - rep.params.T).all()
    # equal outer updates: RaT-BPTT stopped at T-BPTT's update count, fewer inner steps
    assert (f["outer_steps_rat_bptt_eq_updates"] == f["outer_steps_tbptt"]).all()
    assert (f["inner_steps_rat_bptt_eq_updates"] <= f["inner_steps_tbptt"]).all()
    assert (f["graph_mb_bptt"] > f["graph_mb_rat_bptt"]).all()
    # same window M: the same graph up to the optimiser state saved at the window's start (N = 0 or not)
    assert f["graph_mb_rat_bptt"].tolist() == pytest.approx(f["graph_mb_tbptt"].tolist(), rel=0.1)
