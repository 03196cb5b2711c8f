"""rat-bptt/vs-tbptt: claim checks on synthetic tables and a smoke run."""

import pandas as pd
import pytest

from collapselab.core.testing import judge

NAME = "rat-bptt/vs-tbptt"


def _acc(paired_rows, gap1, gap10, noise=0.003):
    t = pd.concat([paired_rows([{"ipc": 1}], "rat_bptt", "tbptt", gap1, noise),
                   paired_rows([{"ipc": 10}], "rat_bptt", "tbptt", gap10, noise, seed=1)], ignore_index=True)
    return {"accuracy": t}


def test_vs_tbptt_pass_fail_inconclusive(paired_rows):
    assert judge(NAME, "vs-tbptt", _acc(paired_rows, 0.03, 0.02)).status == "PASS"
    assert judge(NAME, "vs-tbptt", _acc(paired_rows, 0.03, -0.02)).status == "FAIL"
    assert judge(NAME, "vs-tbptt", _acc(paired_rows, 0.03, 0.01, noise=0.1)).status == "INCONCLUSIVE"


def _memory(bptt_mb, rat_mb):
    return {"summary": pd.DataFrame({"ipc": [1, 1], "method": ["bptt", "rat_bptt"], "graph_mb": [bptt_mb, rat_mb]})}


def test_memory_pass_fail():  # quick: T = 40, M = 10, so T/M = 4
    assert judge(NAME, "memory-T-over-M", _memory(3.8, 1.0)).status == "PASS"
    assert judge(NAME, "memory-T-over-M", _memory(1.1, 1.0)).status == "FAIL"
    assert judge(NAME, "memory-T-over-M", _memory(8.0, 1.0)).status == "FAIL"
    bad = {"summary": pd.DataFrame({"ipc": [1], "method": ["bptt"], "graph_mb": [3.0]})}
    assert judge(NAME, "memory-T-over-M", bad).status == "INCONCLUSIVE"


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
    assert (f["graph_mb_bptt"] > f["graph_mb_rat_bptt"]).all()
    # same window M: the same graph up to the optimiser state saved at the window's start (N = 0 or not)
    assert f["graph_mb_rat_bptt"].tolist() == pytest.approx(f["graph_mb_tbptt"].tolist(), rel=0.1)
