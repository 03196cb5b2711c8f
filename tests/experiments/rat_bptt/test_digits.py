"""rat-bptt/digits: claim checks on synthetic tables (PASS / FAIL / INCONCLUSIVE) and a smoke run."""

import pandas as pd
import pytest

from collapselab.core.testing import judge

NAME = "rat-bptt/digits"


def _acc(paired_rows, gap1, gap10, noise=0.003, arch="same"):
    t1 = paired_rows([{"ipc": 1, "arch": arch}], "rat_bptt", "random", gap1, noise)
    t10 = paired_rows([{"ipc": 10, "arch": arch}], "rat_bptt", "random", gap10, noise, seed=1)
    return {"accuracy": pd.concat([t1, t10], ignore_index=True)}


def test_beats_random_pass_fail_inconclusive(paired_rows):
    assert judge(NAME, "beats-random", _acc(paired_rows, 0.10, 0.03)).status == "PASS"
    assert judge(NAME, "beats-random", _acc(paired_rows, 0.10, -0.03)).status == "FAIL"  # one IPC below: FAIL
    assert judge(NAME, "beats-random", _acc(paired_rows, 0.10, 0.0)).status == "FAIL"  # a tie never passes
    v = judge(NAME, "beats-random", _acc(paired_rows, 0.10, 0.02, noise=0.08))
    assert v.status == "INCONCLUSIVE" and "x the data" in v.needs


def test_beats_random_cross_arch(paired_rows):
    assert judge(NAME, "beats-random-cross-arch", _acc(paired_rows, 0.05, 0.03, arch="cross")).status == "PASS"
    assert judge(NAME, "beats-random-cross-arch", _acc(paired_rows, 0.05, -0.05, arch="cross")).status == "FAIL"
    # the same-architecture rows do not count for the cross claim
    assert judge(NAME, "beats-random-cross-arch", _acc(paired_rows, 0.05, 0.05, arch="same")).status == "INCONCLUSIVE"
    v = judge(NAME, "beats-random-cross-arch", _acc(paired_rows, 0.05, 0.05, arch="cross"), cross_model="none")
    assert v.status == "INCONCLUSIVE" and "cross_model" in v.needs


@pytest.mark.slow
def test_digits_smoke(tmp_path):
    from collapselab.core.runner import run_experiment
    from collapselab.distill import DistilledSet

    rep = run_experiment(NAME, preset="smoke", out_dir=tmp_path)
    assert rep.counts["failed"] == 0, rep.failures
    assert rep.analysis_error is None, rep.analysis_error
    assert {c.id: c.status for c in rep.claims}.keys() == {"beats-random", "beats-random-cross-arch"}
    f = rep.frame
    assert {"acc_random_same", "acc_rat_bptt_same", "acc_rat_bptt_cross"} <= set(f.columns)
    assert f["acc_rat_bptt_same"].dropna().between(0, 1).all()
    ds = DistilledSet.load(rep.artifact_dir / "distilled_rat_bptt_ipc1.npz")
    assert ds.x.shape == (10, 1, 8, 8)
    assert (rep.artifact_dir / "distilled_random_ipc1_rep1.npz").is_file()
