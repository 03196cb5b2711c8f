"""tale-of-tails/grokking: mixing clean data into tail-cut AI data gives a plateau, then a second descent along
the clean curve at pi T (Sec. 3, Thm 3.2): the shape of one simulated pi > 0 curve is the paper claim; the
match with the clean curve at pi T is an identity of the memoriser (consistency)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from pydantic import Field

from collapselab import stats
from collapselab.core import CellContext, Claim, Experiment, Params, Results, Verdict, register
from collapselab.core.plotting import colors, new_figure
from collapselab.experiments._papers import TALE_OF_TAILS
from collapselab.experiments.tale_of_tails._common import (
    Z_MAX,
    _check_z,
    _logspace,
    _long,
    _mc_cells,
    _z_table,
    group_slopes,
    mc_groups,
    memoriser_cell_cost,
    rel_match,
)
from collapselab.zipf import expected_error, mix, simulate_memorizer, tail_cut, tail_mass, zipf

DESCENT_MARGIN = 0.10  # |E_mix(T) / E_clean(pi T) - 1|
PLATEAU_MARGIN = 0.05  # |E / tail mass - 1| at pi = 0
FLAT = 0.2  # plateau: -slope <= FLAT (1 - 1/beta), a fifth of the clean rate
STEEP = 0.5  # second descent: -slope > STEEP (1 - 1/beta), half the clean rate
SLOPE_RESOLUTION = 0.05  # log-log slope units: the half-width at which a slope is resolved


class GrokkingParams(Params):
    beta: float = Field(2.0, gt=1, description="Zipf exponent")
    k: int = Field(100, ge=1, description="tail cut of the synthetic data")
    pis: list[float] = Field([0.0, 0.01, 0.1, 0.3], description="fractions pi of real data mixed in")
    support: int = Field(10**7, ge=10, description="support N of the exact curves")
    t_max: float = Field(1e10, description="largest T")
    n_t: int = Field(37, ge=3, description="points of the log-spaced T grid (10..t_max)")
    window: float = Field(10.0, gt=0, description="second-descent regime: pi T p_k >= window (the real share "
                                                    "alone sees every head item ~window times)")
    mc_support: int = Field(10**5, ge=10, description="support of the Monte Carlo checks")
    mc_k: int = Field(10, ge=1, description="tail cut of the Monte Carlo checks")
    mc_pis: list[float] = Field([0.0, 0.1, 0.3], description="fractions pi checked by Monte Carlo")
    mc_ts: list[int] = Field([100, 1000, 10**4, 10**5], description="T values of the Monte Carlo checks")
    mc_trials: int = Field(100, ge=2, description="Monte Carlo datasets per point")
    grok_pi: float = Field(0.01, gt=0, lt=1, description="claim grokking: the pi > 0 curve simulated (k = mc_k, "
                                                         "support mc_support)")
    grok_ts: list[int] = Field([300, 1000, 3000, 10**5, 3 * 10**5, 10**6], description="T values of that curve")
    grok_groups: int = Field(10, ge=2, description="independent groups of its mc_trials trials (slope SEs)")
    plateau_window: list[float] = Field([300, 3000], description="T range of the plateau (head seen, "
                                        "pi T p_k << 1; declared from the closed form before the run)")
    descent_window: list[float] = Field([10**5, 10**6], description="T range of the second descent "
                                        "(pi T p_k >= 6)")


def cells(p: GrokkingParams) -> list[dict]:
    ts = _logspace(10, p.t_max, p.n_t)
    out = [{"kind": "exact", "beta": p.beta, "k": p.k, "pi": pi, "support": p.support, "ts": ts} for pi in p.pis]
    out += [{"kind": "clean", "beta": p.beta, "k": 0, "pi": pi, "support": p.support, "ts": ts}
            for pi in p.pis if pi > 0]
    out += _mc_cells(p, lambda p: [{"beta": p.beta, "k": p.mc_k, "pi": pi, "support": p.mc_support,
                                    "ts": [float(t) for t in p.mc_ts], "n_trials": p.mc_trials} for pi in p.mc_pis])
    out.append({"kind": "grok", "beta": p.beta, "k": p.mc_k, "pi": p.grok_pi, "support": p.mc_support,
                "ts": [float(t) for t in p.grok_ts], "n_trials": p.mc_trials, "n_groups": p.grok_groups})
    return out


def run_cell(cell: dict, ctx: CellContext) -> dict:
    pr = zipf(cell["beta"], cell["support"])
    if cell["kind"] == "clean":  # the clean curve evaluated at pi T
        return {"errors": expected_error(pr, pr, np.asarray(cell["ts"]) * cell["pi"]).tolist()}
    q = mix(pr, tail_cut(pr, cell["k"]), cell["pi"])
    if cell["kind"] == "grok":  # one simulated pi > 0 curve in groups of trials: slopes with SEs across groups
        return {**mc_groups(simulate_memorizer, pr, q, cell["ts"], n_trials=cell["n_trials"],
                            n_groups=cell["n_groups"], rng=ctx.rng()), "tail_mass": tail_mass(pr, cell["k"])}
    if cell["kind"] == "mc":
        est = simulate_memorizer(pr, q, cell["ts"], n_trials=cell["n_trials"], rng=ctx.rng())
        ts = np.asarray(cell["ts"])
        return {"errors": est.mean.tolist(), "stderr": est.se.tolist(), "tail_mass": tail_mass(pr, cell["k"]),
                "p_k": float(pr[cell["k"] - 1]), "clean_at_piT": expected_error(pr, pr, ts * cell["pi"]).tolist()}
    return {"errors": expected_error(pr, q, cell["ts"]).tolist(), "tail_mass": tail_mass(pr, cell["k"]),
            "p_k": float(pr[cell["k"] - 1])}


def summarize(frame: pd.DataFrame, p: GrokkingParams) -> dict[str, pd.DataFrame]:
    """``curves``; ``sim_descent``: simulated points in the second-descent regime (pi T p_k >= window) with
    E_clean(pi T); ``sim_plateau``: simulated pi = 0 points at the two largest T with the tail mass;
    ``exact_descent``: the closed-form identity at the large support; ``mc_z``."""
    keys = ["kind", "beta", "k", "pi", "support"]
    grok = frame[frame["kind"] == "grok"] if "kind" in frame else frame.iloc[:0]
    frame = frame[frame["kind"] != "grok"]
    long = _long(frame, keys)
    mixed, clean = long[long["kind"] == "exact"], long[long["kind"] == "clean"]
    exact_rows = frame[frame["kind"] == "exact"]
    p_k = float(exact_rows["p_k"].iloc[0]) if len(exact_rows) else float("nan")
    rows = []
    for pi in sorted(x for x in mixed["pi"].unique() if x > 0):
        a = mixed[mixed["pi"] == pi].set_index("T")["error"]
        b = clean[clean["pi"] == pi].set_index("T")["error"]
        rows += [{"pi": pi, "T": t, "E_mix": a[t], "E_clean_at_piT": b[t], "ratio": a[t] / b[t]}
                 for t in a.index if pi * t * p_k >= p.window]
    sim, plateau = [], []
    mc = long[long["kind"] == "mc"]
    for pi, g in frame[frame["kind"] == "mc"].groupby("pi"):
        r = g.iloc[0]
        m = mc[mc["pi"] == pi].set_index("T")
        for t, clean_t in zip(r["ts"], r["clean_at_piT"]):
            if pi > 0 and pi * t * r["p_k"] >= p.window:
                sim.append({"pi": pi, "T": t, "E_mc": m.loc[t, "error"], "se": m.loc[t, "stderr"],
                            "E_clean_at_piT": clean_t, "tail_mass": r["tail_mass"]})
        if pi == 0:
            for t in sorted(r["ts"])[-2:]:
                plateau.append({"T": t, "E_mc": m.loc[t, "error"], "se": m.loc[t, "stderr"],
                                "tail_mass": r["tail_mass"]})
    return {"curves": long, "sim_descent": pd.DataFrame(sim, columns=["pi", "T", "E_mc", "se", "E_clean_at_piT",
                                                                      "tail_mass"]),
            "sim_plateau": pd.DataFrame(plateau, columns=["T", "E_mc", "se", "tail_mass"]),
            "exact_descent": pd.DataFrame(rows, columns=["pi", "T", "E_mix", "E_clean_at_piT", "ratio"]),
            "grok_slopes": _grok_slopes(grok, p),
            "mc_z": _z_table(long[long["kind"] != "clean"], ["beta", "k", "pi", "support"])}


def _grok_slopes(grok: pd.DataFrame, p: GrokkingParams) -> pd.DataFrame:
    """Log-log slopes of the simulated pi = grok_pi curve over the plateau and the descent windows, fitted per
    group of trials (mean +- SE across groups), beside the clean rate 1 - 1/beta."""
    rows = []
    if len(grok):
        ts = grok["ts"].iloc[0]
        groups = [g for gs in grok["group_errors"] for g in gs]
        for phase, window in (("plateau", p.plateau_window), ("descent", p.descent_window)):
            est = group_slopes(ts, groups, (window[0], window[1]))
            if est is not None:
                rows.append({"phase": phase, "pi": float(grok["pi"].iloc[0]), "T_lo": window[0],
                             "T_hi": window[1], "slope": est.mean, "slope_se": est.se, "groups": est.n,
                             "clean_rate": 1 - 1 / p.beta})
    return pd.DataFrame(rows, columns=["phase", "pi", "T_lo", "T_hi", "slope", "slope_se", "groups", "clean_rate"])


def plot(tables: dict[str, pd.DataFrame], p: GrokkingParams) -> dict:
    long = tables["curves"]
    mixed, clean, mc = (long[long["kind"] == k] for k in ("exact", "clean", "mc"))
    fig, axes = new_figure(ncols=2)
    ax, ax2 = np.ravel(axes)
    pis = sorted(mixed["pi"].unique())
    for col, pi in zip(colors(len(pis)), pis):
        c = mixed[mixed["pi"] == pi]
        ax.loglog(c["T"], c["error"], color=col, label=rf"$\pi$={pi}")
        cc = clean[clean["pi"] == pi]
        if len(cc):
            ax.loglog(cc["T"], cc["error"], color=col, ls=":", lw=0.9)
    ax.set(xlabel="T", ylabel="test error", title=f"closed form, k={p.k}; dotted: clean at $\\pi T$")
    ax.legend()
    mce = long[long["kind"] == "mc-exact"]
    mpis = sorted(mc["pi"].unique())
    for col, pi in zip(colors(len(mpis)), mpis):
        m, e = mc[mc["pi"] == pi], mce[mce["pi"] == pi]
        ax2.loglog(e["T"], e["error"], color=col, label=rf"$\pi$={pi}")
        ax2.errorbar(m["T"], m["error"], yerr=2 * m["stderr"], fmt="o", color=col, ms=3)
    ax2.set(xlabel="T", ylabel="test error", title=f"simulated (dots), k={p.mc_k}, support {p.mc_support}")
    ax2.legend()
    return {"grokking": fig}


def _check_sim_descent(r: Results) -> Verdict:
    d, pl = r.tables["sim_descent"], r.tables["sim_plateau"]
    if d.empty or pl.empty:
        return Verdict.inconclusive("no simulated point in the second-descent regime or no pi = 0 run",
                                    "needs larger simulated T (pi T p_k >= window) and pi = 0 in mc_pis")
    parts = [(f"pi=0, T={x['T']:.0e}: E/tail {x['E_mc'] / x['tail_mass']:.4f}",
              rel_match(x["E_mc"], x["se"], x["tail_mass"], PLATEAU_MARGIN)) for _, x in pl.iterrows()]
    parts += [(f"pi={x['pi']}, T={x['T']:.0e}: E_mix/E_clean(pi T) {x['E_mc'] / x['E_clean_at_piT']:.4f} (plateau "
               f"{x['tail_mass']:.4f})", rel_match(x["E_mc"], x["se"], x["E_clean_at_piT"], DESCENT_MARGIN))
              for _, x in d.iterrows()]
    return Verdict.all_of(parts, "simulated memorisers: ")


def _check_grokking(r: Results) -> Verdict:
    t = r.tables["grok_slopes"]
    phases = {x["phase"]: x for _, x in t.iterrows()} if len(t) else {}
    if set(phases) != {"plateau", "descent"}:
        return Verdict.inconclusive("the simulated pi > 0 curve lacks points in the plateau or descent window",
                                    "needs grok_ts with >= 2 points in plateau_window and in descent_window")
    parts = []
    for phase, x in phases.items():
        rate = x["clean_rate"]
        cmp = stats.from_estimate(-x["slope"] / rate, x["slope_se"] / rate, int(x["groups"]) - 1,
                                  n=int(x["groups"]), alternative="two-sided")
        label = (f"{phase}, T={x['T_lo']:.0e}..{x['T_hi']:.0e}: slope {x['slope']:.3f}+-{x['slope_se']:.3f} "
                 f"(clean rate {-rate:.3f})")
        res = SLOPE_RESOLUTION / rate
        if phase == "plateau":
            parts.append((label, stats.at_most(cmp, resolution=res, margin=FLAT)))
        else:
            shifted = stats.from_estimate(-x["slope"] / rate - STEEP, x["slope_se"] / rate, int(x["groups"]) - 1,
                                          n=int(x["groups"]))
            parts.append((label, stats.beats(shifted, resolution=res)))
    return Verdict.all_of(parts, f"simulated memorisers, pi = {t['pi'].iloc[0]:g}, -slope / (1-1/beta): ")


def _check_second_descent(r: Results) -> Verdict:
    d = r.tables["exact_descent"]
    if d.empty:
        return Verdict.inconclusive("no T in the second-descent regime (pi T p_k >= window)", "needs larger t_max")
    dev = (d["ratio"] - 1).abs()
    worst = d.loc[dev.idxmax()]
    return Verdict.check(bool((dev <= DESCENT_MARGIN).all()),
                         f"max |E_mix(T) / E_clean(pi T) - 1| = {dev.max():.2%} over {len(d)} points "
                         f"(worst pi={worst['pi']}, T={worst['T']:.3g})")


register(Experiment(
    name="tale-of-tails/grokking", paper=TALE_OF_TAILS,
    description=("Mixing a fraction pi of real data into tail-cut synthetic data (Sec. 3, Thm 3.2): E = sum_{i<=k} "
                 "p_i (1 - pi p_i - (1-pi) q_i)^T + sum_{i>k} p_i (1 - pi p_i)^T. Three phases: clean decay, a plateau "
                 "at the lost tail mass, then a second descent ('grokking') along the clean curve at pi T. Judged on "
                 "simulated memorisers with the closed form as the prediction. Full preset: more pis and a larger "
                 "support (CPU)."),
    params=GrokkingParams,
    presets={"smoke": {"k": 10, "pis": [0.0, 0.1], "support": 10**4, "t_max": 1e7, "n_t": 7, "mc_support": 1000,
                       "mc_pis": [0.0, 0.3], "mc_ts": [100, 1000, 10000], "mc_trials": 10,
                       "grok_ts": [300, 1000, 3000, 10**4, 3 * 10**4], "grok_groups": 2,
                       "descent_window": [10**4, 3 * 10**4]},
             "quick": {},
             "full": {"pis": [0.0, 0.001, 0.01, 0.03, 0.1, 0.3], "support": 10**8, "t_max": 1e12, "n_t": 45,
                      "mc_support": 10**6, "mc_ts": [100, 1000, 10**4, 10**5, 10**6], "mc_trials": 400}},
    cells=cells, run_cell=run_cell, summarize=summarize, plot=plot, main_figure="grokking",
    claims=[Claim("grokking", "Mixing a small fraction pi of clean data into tail-cut data: one error curve first "
                              "plateaus, then descends again (grokking)", _check_grokking,
                  source="Sec. 3, Thm 3.2 (the plateau and second descent of the mixed curve)", kind="paper",
                  test="one simulated curve, pi = grok_pi, log-log slope per group of trials (SE across groups, "
                       "Student t): plateau_window: -slope / (1-1/beta) at most 0.2 (two-sided 95% interval, "
                       "resolution 0.05 / (1-1/beta)); descent_window: -slope / (1-1/beta) beats 0.5 (one-sided, "
                       "alpha 0.05); both parts"),
            Claim("second-descent", "Mixing a fraction pi of clean data into tail-cut data: the error plateaus at the "
                                    "lost tail mass without clean data, and with it descends again along the clean "
                                    "curve at pi T", _check_sim_descent, source="Sec. 3, Thm 3.2",
                  kind="consistency",
                  test="simulated memorisers: at pi = 0 and the two largest T, TOST of E / tail mass - 1 against "
                       "+-0.05; at every simulated point with pi T p_k >= window, TOST of E / E_clean(pi T) - 1 "
                       "against +-0.10; SEs of the simulation, alpha 0.05, every part (an identity of the memoriser "
                       "once every head item is seen)"),
            Claim("exact-second-descent", "The closed form in the second-descent regime equals the clean curve at pi T "
                                          "within 10%", _check_second_descent,
                  source="derived: docs/tale-of-tails.md#the-memoriser", kind="consistency",
                  test="max |E_mix(T) / E_clean(pi T) - 1| <= 0.10 over the closed-form grid (an identity as the "
                       "head term vanishes)"),
            Claim("mc-matches", f"The simulated memoriser matches the closed mixed formula (|z| <= {Z_MAX})",
                  _check_z("mc_z"), source="derived: docs/tale-of-tails.md#the-memoriser", kind="consistency",
                  test=f"per point z = (MC - exact) / SE; PASS iff max |z| <= {Z_MAX}")],
    version=2, cell_cost=memoriser_cell_cost,
))
