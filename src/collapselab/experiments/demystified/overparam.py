"""demystified/overparam: noiseless over-parameterised generators collapse exponentially (paper Sec. 4.5,
Theorem 4.6, Fig. 2b)."""

from __future__ import annotations

import pandas as pd
from pydantic import Field

from collapselab.core import Claim, Experiment, Params, Results, Verdict, register
from collapselab.core.plotting import colors, new_figure
from collapselab.experiments._papers import DEMYSTIFIED
from collapselab.experiments.demystified._common import aggregate, mc_and_theory, recursive_cell_cost, rel_match

MARGIN = 0.05  # |E/||w0||^2 / (1 - (T0/d)^n) - 1|


class OverparamParams(Params):
    d: int = Field(200, ge=2, description="dimension (isotropic Sigma)")
    T0s: list[int] = Field([50, 100, 150], description="rows per generation, T0 < d")
    generations: list[int] = Field(list(range(0, 9)), description="generations n")
    sigma0: float = Field(0.0, ge=0, description="fake-data label noise (the claim is for 0)")
    reps: int = Field(200, ge=2, description="Monte Carlo chains per cell")


def cells(p: OverparamParams) -> list[dict]:
    # T = None: the error of generation n itself (the downstream is the population least squares)
    return [{"spectrum": "isotropic", "d": p.d, "T0": T0, "T": None, "lam": 0.0, "n": n, "sigma": 0.0,
             "sigma0": p.sigma0, "reps": p.reps} for T0 in p.T0s for n in p.generations]


def summarize(frame: pd.DataFrame, p: OverparamParams) -> dict[str, pd.DataFrame]:
    """``points``: MC mean, SE, theory and the paper's ``1 - (T0/d)^n`` (||w0|| = 1) per (T0, n)."""
    agg = aggregate(frame, ["T0", "n"])
    agg["paper_formula"] = 1.0 - (agg["T0"] / p.d) ** agg["n"]  # E/||w0||^2, ||w0|| = 1
    return {"points": agg}


def plot(tables: dict[str, pd.DataFrame], p: OverparamParams) -> dict:
    agg = tables["points"]
    fig, ax = new_figure()
    T0s = sorted(agg["T0"].unique())
    for c, T0 in zip(colors(len(T0s)), T0s):
        s = agg[agg["T0"] == T0].sort_values("n")
        ax.errorbar(s["n"], s["error"], yerr=2 * s["stderr"], fmt="o", color=c, ms=4, label=f"MC T0={T0}")
        ax.plot(s["n"], s["theory"], "-", color=c, alpha=0.5, label=f"theory T0={T0}")
        ax.plot(s["n"], s["paper_formula"], ":", color="k")
    ax.axhline(1.0, color="grey", lw=0.8)
    ax.set(xlabel="generation n", ylabel="E / ||w0||^2",
           title=f"over-parameterised generators, d={p.d}, sigma0={p.sigma0:g} (dotted: 1-(T0/d)^n)")
    ax.legend()
    return {"collapse_vs_generations": fig}


def _check_overparam(r: Results) -> Verdict:
    p = r.params
    if p.sigma0 != 0:
        return Verdict.inconclusive(f"sigma0 = {p.sigma0}", "the claim is for noise-free generators: sigma0 = 0")
    pts = r.tables["points"]
    pts = pts[(pts["n"] > 0) & (pts["T0"] < p.d)]
    if pts.empty:
        return Verdict.inconclusive("no point with n >= 1 and T0 < d", "needs n >= 1 and T0 < d")
    rel = (pts["error"] - pts["paper_formula"]).abs() / pts["paper_formula"]
    i = rel.idxmax()
    parts = [(f"T0={x['T0']},n={x['n']}", rel_match(r, x["error"], x["stderr"], x["paper_formula"], MARGIN))
             for _, x in pts.iterrows()]
    return Verdict.all_of(parts, f"max |E/||w0||^2 / (1-(T0/d)^n) - 1| = {rel.max():.4f} (T0={pts.loc[i, 'T0']}, "
                          f"n={pts.loc[i, 'n']}) over {len(pts)} points; ")


register(Experiment(
    name="demystified/overparam", paper=DEMYSTIFIED,
    description=("Catastrophic collapse without noise (abstract; notes §1.3(iii)): generators fit by "
                 "min-norm least squares on T0 < d rows project onto random T0-dimensional subspaces, so the "
                 "generation-n model decays to the null predictor, E/||w0||^2 = 1 - (T0/d)^n exactly for "
                 "isotropic data. Full preset: d = 1000."),
    params=OverparamParams,
    presets={"smoke": {"d": 20, "T0s": [10], "generations": [0, 1, 2], "reps": 20},
             "quick": {},
             "full": {"d": 1000, "T0s": [100, 250, 500, 750, 900], "generations": list(range(0, 16)),
                      "reps": 1000}},
    cell_cost=recursive_cell_cost,
    cells=cells, run_cell=mc_and_theory, summarize=summarize, plot=plot, main_figure="collapse_vs_generations",
    claims=[Claim("exponential-collapse", "Over-parameterised generators (T0 < d, fresh designs) collapse even "
                  "without label noise, exponentially fast: E/||w0||^2 = 1 - (T0/d)^n (within 5%, n >= 1)",
                  _check_overparam, source="Sec. 4.5, Thm. 4.6, Fig. 2b", kind="paper",
                  test="on the simulation, per (T0, n >= 1): TOST of E/||w0||^2 / (1 - (T0/d)^n) - 1 against "
                       "+-0.05 with the MC SE, alpha 0.05; PASS iff every point is equivalent")],
))


