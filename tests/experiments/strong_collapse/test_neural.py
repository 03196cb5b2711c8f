"""strong-collapse/neural: the claim checks on hand-written tables, reproducibility, a smoke run."""

import numpy as np
import pandas as pd
import pytest
import torch

from collapselab.core import CellContext, get_experiment, resolve_params
from collapselab.core.runner import run_experiment
from collapselab.core.testing import judge

EXP = "strong-collapse/neural"


def _summary(e_clean=(0.20, 0.15), e_syn=(0.30, 0.26), c2=0.4, p2=0.5, se=0.002):
    rows = [{"model": "mlp", "p2": p2_, "n": n, "mean": e, "stderr": se, "c2": c2}
            for p2_, curve in ((0.0, e_clean), (p2, e_syn)) for n, e in zip((1850, 3700), curve)]
    return pd.DataFrame(rows)


def _slopes(clean, syn, p2=0.5):
    rows = [{"model": "mlp", "p2": 0.0, "replicate": i, "slope": s} for i, s in enumerate(clean)]
    rows += [{"model": "mlp", "p2": p2, "replicate": i, "slope": s} for i, s in enumerate(syn)]
    return pd.DataFrame(rows)


CLEAN = [-0.42, -0.40, -0.38, -0.41, -0.39]
FLAT = [-0.10, -0.12, -0.08, -0.11, -0.09]


def test_clean_keeps_falling_pass_fail_inconclusive():
    assert judge(EXP, "clean-keeps-falling", {"summary": _summary()}).status == "PASS"
    assert judge(EXP, "clean-keeps-falling", {"summary": _summary(e_clean=(0.15, 0.16))}).status == "FAIL"
    assert judge(EXP, "clean-keeps-falling", {"summary": _summary(se=0.05)}).status == "INCONCLUSIVE"


def _gaps(first, last, p2=0.5):
    return pd.DataFrame([{"model": "mlp", "p2": p2, "replicate": i, "n_first": 232, "n_last": 3700,
                          "gap_first": a, "gap_last": b} for i, (a, b) in enumerate(zip(first, last))])


RISING = ([0.02, 0.03, 0.01, 0.02, 0.03], [0.11, 0.12, 0.10, 0.11, 0.12])


def test_synthetic_flattens_pass_fail_inconclusive():
    # floor p2^2 c2 = 0.1 >= 25% of the clean 0.15: judged
    tables = {"summary": _summary(), "replicate_slopes": _slopes(CLEAN, FLAT), "replicate_gaps": _gaps(*RISING)}
    assert judge(EXP, "synthetic-flattens", tables).status == "PASS"
    steep = dict(tables, replicate_slopes=_slopes(CLEAN, [-0.6, -0.62, -0.58, -0.61, -0.59]))
    assert judge(EXP, "synthetic-flattens", steep).status == "FAIL"
    # the synthetic curve keeps pace with the clean one: the gap does not rise
    level = dict(tables, replicate_gaps=_gaps([0.10, 0.11, 0.10, 0.09, 0.10], [0.10, 0.10, 0.11, 0.09, 0.10]))
    assert judge(EXP, "synthetic-flattens", level).status == "FAIL"
    few = {"summary": _summary(), "replicate_slopes": _slopes(CLEAN[:2], FLAT[:2]),
           "replicate_gaps": _gaps(RISING[0][:2], RISING[1][:2])}
    assert judge(EXP, "synthetic-flattens", few).status == "INCONCLUSIVE"
    small_floor = dict(tables, summary=_summary(c2=0.05))
    v = judge(EXP, "synthetic-flattens", small_floor)
    assert v.status == "INCONCLUSIVE" and "data_dir" in v.needs


def test_floor_level_pass_fail():
    # E_syn(n_max) = 0.15 + 0.1 + 0.01 (inside +-30% of the floor 0.1)
    assert judge(EXP, "floor-level", {"summary": _summary()}).status == "PASS"
    assert judge(EXP, "floor-level", {"summary": _summary(e_syn=(0.20, 0.16))}).status == "FAIL"  # no floor
    assert judge(EXP, "floor-level", {"summary": _summary(c2=0.05)}).status == "INCONCLUSIVE"


def test_run_cell_is_reproducible():
    exp = get_experiment(EXP)
    p = resolve_params(exp.params, exp.presets, "smoke")
    cell = next(c for c in exp.cells(p) if c["model"] == "mlp" and c["p2"] > 0)
    cell = {**cell, "n": 100, "epochs": 2, "steps": 1}
    a, b = exp.run_cell(cell, CellContext(seed=7)), exp.run_cell(cell, CellContext(seed=7))
    assert a == b
    assert exp.run_cell(cell, CellContext(seed=8))["test_mse"] != a["test_mse"]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_run_cell_on_cuda():
    exp = get_experiment(EXP)
    p = resolve_params(exp.params, exp.presets, "smoke")
    cell = {**next(c for c in exp.cells(p) if c["model"] == "mlp"), "n": 100, "epochs": 2, "steps": 1}
    out = exp.run_cell(cell, CellContext(seed=7, device="cuda"))
    assert np.isfinite(out["test_mse"])


@pytest.mark.slow
def test_smoke_run(tmp_path):
    report = run_experiment(EXP, preset="smoke", out_dir=tmp_path, workers=1)
    assert report.counts["failed"] == 0, report.failures
    assert all(c.status != "ERROR" for c in report.claims), [c.error for c in report.claims]
    f = report.frame
    assert set(f["model"]) == {"mlp", "rf"}
    assert np.all((f["test_error"] >= 0) & (f["test_error"] < 0.9))  # better than chance (0.9)
    assert np.all((f["test_mse"] > 0) & (f["test_mse"] < 1.5)) and np.all(f["test_mse_se"] > 0)
    assert np.all(f.loc[f["p2"] > 0, "synthetic_label_error"] > 0)  # the generator is of limited quality
