import numpy as np
import pandas as pd
import pytest

from collapselab.core.testing import judge

EXP = "tale-of-tails/lm-generations"


# Six seeds by default: the exact sign-flip test needs >= 5 to reject one-sided at 0.05. Seed-to-seed spread
# 0.005 nats on the losses and 0.001 on the tail mass, fine enough for the claims' resolutions (0.02 and 0.05
# nats, 0.005). The draws are fixed; as at any alpha 0.05, a tie passes "beats" in about 1 draw in 20 and a
# small effect under heavy noise sometimes passes, so the cases below use one draw where neither happens.


def _chain(rise: float, tail_extra: float, mix_gain: float, n: int = 6, noise: float = 0.005, G: int = 3):
    rng = np.random.default_rng(3)
    rows = []
    for rep in range(n):
        for s in ("replace", "mix"):
            for k in range(G + 1):
                r = rise * k / G * (1.0 if s == "replace" else 1.0 - mix_gain) + noise * rng.standard_normal()
                rows.append({"replicate": rep, "strategy": s, "generation": k, "loss": 4.0 + r,
                             "tail_loss": 7.0 + r + tail_extra * k / G + noise * rng.standard_normal()})
    return pd.DataFrame(rows)


def _cut(drop: float, n: int = 6, noise: float = 0.001):
    rng = np.random.default_rng(4)
    return pd.DataFrame([{"replicate": rep, "top_p": tp, "tail_mass": 0.05 - drop * (1 - tp) / 0.3
                          + noise * rng.standard_normal(), "human_tail_mass": 0.05}
                         for rep in range(n) for tp in (1.0, 0.9, 0.7)])


def _tables(**kw):
    cut = kw.pop("drop", 0.02)
    return {"chain": _chain(**kw), "tail_cut": _cut(cut, n=kw.get("n", 6))}


@pytest.mark.parametrize(("kw", "status"), [
    ({"rise": 0.2, "tail_extra": 0.3, "mix_gain": 0.8}, "PASS"),
    ({"rise": 0.0, "tail_extra": 0.3, "mix_gain": 0.8}, "FAIL"),
    ({"rise": 0.05, "tail_extra": 0.3, "mix_gain": 0.8, "noise": 0.2}, "INCONCLUSIVE"),
])
def test_collapse_over_generations(kw, status):
    assert judge(EXP, "collapse-over-generations", _tables(**kw)).status == status


@pytest.mark.parametrize(("kw", "status"), [
    ({"rise": 0.2, "tail_extra": 0.3, "mix_gain": 0.8}, "PASS"),
    ({"rise": 0.2, "tail_extra": -0.1, "mix_gain": 0.8}, "FAIL"),
    ({"rise": 0.2, "tail_extra": 0.05, "mix_gain": 0.8, "noise": 0.3}, "INCONCLUSIVE"),
])
def test_tail_lost_first(kw, status):
    assert judge(EXP, "tail-lost-first", _tables(**kw)).status == status


@pytest.mark.parametrize(("drop", "status"), [(0.02, "PASS"), (-0.01, "FAIL")])
def test_top_p_cuts_tail(drop, status):
    assert judge(EXP, "top-p-cuts-tail", _tables(rise=0.2, tail_extra=0.3, mix_gain=0.8, drop=drop)).status == status


def test_top_p_cuts_tail_needs_top_p_one():
    t = _tables(rise=0.2, tail_extra=0.3, mix_gain=0.8)
    t["tail_cut"] = t["tail_cut"][t["tail_cut"]["top_p"] < 1]
    assert judge(EXP, "top-p-cuts-tail", t).status == "INCONCLUSIVE"


@pytest.mark.parametrize("claim", ["mixing-restores-loss", "mixing-restores-tail"])
@pytest.mark.parametrize(("gain", "status"), [(0.8, "PASS"), (0.0, "FAIL")])
def test_mixing_restores(claim, gain, status):
    assert judge(EXP, claim, _tables(rise=0.2, tail_extra=0.0, mix_gain=gain)).status == status


def test_mixing_needs_a_mix_chain():
    t = _tables(rise=0.2, tail_extra=0.0, mix_gain=0.8)
    t["chain"] = t["chain"][t["chain"]["strategy"] == "replace"]
    assert judge(EXP, "mixing-restores-loss", t).status == "INCONCLUSIVE"


@pytest.mark.parametrize("claim", ["collapse-over-generations", "tail-lost-first", "top-p-cuts-tail",
                                   "mixing-restores-loss", "mixing-restores-tail"])
def test_three_replicates_cannot_pass(claim):
    """The exact sign-flip test's floor: 3 seeds give a smallest one-sided p-value of 1/8, so the clear
    PASS tables stay INCONCLUSIVE and ask for more seeds."""
    out = judge(EXP, claim, _tables(rise=0.2, tail_extra=0.3, mix_gain=0.8, n=3))
    assert out.status == "INCONCLUSIVE" and "replicates" in out.needs


@pytest.mark.slow
def test_smoke_run_end_to_end(tmp_path):
    from collapselab.core.runner import run_experiment

    rep = run_experiment(EXP, preset="smoke", out_dir=tmp_path)
    assert not rep.failures and {c.status for c in rep.claims} <= {"PASS", "FAIL", "INCONCLUSIVE"}
    assert set(rep.frame["replicate"]) == {0, 1}
