"""tale-of-tails/gcd-grokking: mixing clean data into tail-cut AI data lets a GCD transformer learn the values
missing from the AI data, after a plateau (Sec. 6 / abstract: "grokking when mixing human and synthesized
data"; the memoriser's version is Thm 3.2)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from pydantic import Field

from collapselab import stats
from collapselab.core import CellContext, Claim, Experiment, Results, Verdict, register
from collapselab.core.plotting import colors, new_figure
from collapselab.experiments._papers import TALE_OF_TAILS
from collapselab.experiments.tale_of_tails._common import (
    GCDModelParams,
    gcd_cost_functions,
    gcd_model_kwargs,
    gcd_score,
)

ACC_RESOLUTION = 0.2  # accuracy on the lost values: a CI half-width this small could have shown recovery
STEP_RESOLUTION = 100  # optimiser steps: the same for the delay


class GrokkingGCDParams(GCDModelParams):
    generator_steps: int = Field(300, ge=1, description="online steps of the clean generator model")
    top_k: int = Field(6, ge=1, description="tail cut: the generator emits only pairs it answers with 1..top_k")
    pis: list[float] = Field([0.0, 0.25], description="fractions of clean pairs in the mixed training data "
                                                      "(0: AI data only, the control)")
    steps: int = Field(1200, ge=1, description="online steps of each mixed model (>= generator_steps / min pi > 0: "
                                              "the memoriser's predicted rise, clean t50 / pi, falls inside the run, "
                                              "so recover can FAIL)")
    eval_every: int = Field(50, ge=1, description="steps between evaluations")
    stop_at: float = Field(0.8, gt=0, description="a mixed arm stops at the first evaluation where its mean accuracy "
                                                  "on the lost values is >= stop_at (>= 0.5, so its t50 is seen; "
                                                  "> 1: never); the pi = 0 control runs while any mixed arm runs")
    per_value: int = Field(30, ge=1, description="test pairs per GCD value")


def cells(p: GrokkingGCDParams) -> list[dict]:
    return [p.model_dump(exclude={"seeds"})]


def _work(cell: dict) -> tuple[float, float, float]:
    """(training rows, greedy decodes, optimiser steps) of one replicate. The generator runs
    ``generator_steps``; each arm runs S = min(steps, generator_steps / (2 pi_min)) steps when ``stop_at``
    <= 1 (the early stop: quick runs measured stops at 350-600 of 1,200 steps, pi_min the smallest pi > 0),
    else ``steps``. An arm step labels about 1.2 (1 - pi) batch AI pairs (kept fraction ~0.9, plus the 10%
    margin of synthesize_pairs); each evaluation decodes max_value x per_value + 1,000 test pairs."""
    mixed = [x for x in cell["pis"] if x > 0]
    S = cell["steps"]
    if mixed and cell["stop_at"] <= 1:
        S = min(S, cell["generator_steps"] / (2 * min(mixed)))
    bs, G = cell["batch_size"], cell["generator_steps"]
    steps = G + S * len(cell["pis"])
    rows = steps * bs
    ai = sum(1.2 * (1 - x) * bs * S for x in cell["pis"])
    evals = math.ceil(G / cell["eval_every"]) + len(cell["pis"]) * math.ceil(S / cell["eval_every"])
    return rows, ai + evals * (cell["max_value"] * cell["per_value"] + 1000), steps


cell_cost, cell_flops = gcd_cost_functions(_work)  # one-thread CPU seconds and FLOPs of one replicate


def _lost_values(values: list[int], accuracy: list[float], threshold: float, top_k: int) -> list[int]:
    """Values the generator knows at its end (accuracy > threshold) above top_k: missing from its AI data."""
    return [v for v, a in zip(values, accuracy) if a > threshold and v > top_k]


def run_cell(cell: dict, ctx: CellContext) -> dict:
    """The clean generator's learning curve; its tail-cut AI data; the mixing fractions' online runs in
    lockstep blocks of ``eval_every`` steps with the accuracy on every value after each block. A mixed arm
    (pi > 0) stops once its mean accuracy on the lost values reaches ``stop_at``; the control (pi = 0)
    stops with the last mixed arm, so each mixed arm's final point has the control at the same step or
    later (at most ``steps``)."""
    from collapselab.zipf import GCDLearner, GCDTask, gcd_test_set, mixed_pairs, sample_pairs

    task = GCDTask(cell["base"], cell["max_int"])
    values = list(range(1, cell["max_value"] + 1))
    test = gcd_test_set(task, values, cell["per_value"], ctx.generator("test"))
    uniform = sample_pairs(task, 1000, ctx.generator("uniform-test"))
    kw, every, bs = gcd_model_kwargs(cell), cell["eval_every"], cell["batch_size"]
    curves = []

    def learner(name: str) -> GCDLearner:
        return GCDLearner(task, **kw, generator=ctx.torch_generator("init", name, device="cpu"), device=ctx.device)

    def block(m: GCDLearner, name: str, teacher, pi: float, n_steps: int, rng) -> list[float]:
        a, b, labels, clean = mixed_pairs(task, teacher, n_steps * bs, pi, rng, top_k=cell["top_k"],
                                          device=ctx.device)
        m.train(a, b, labels)
        ai, truth = ~clean, np.gcd(a, b)
        score = gcd_score(m, task, values, test, uniform)
        curves.append({"arm": name, "pi": pi, "step": m.steps_, **score,
                       "frac_clean": float(clean.mean()), "ai_pairs": int(ai.sum()),
                       # tail leakage: AI pairs whose true gcd is above top_k (carrying a wrong label)
                       "ai_tail_pairs": int((ai & (truth > cell["top_k"])).sum()),
                       "ai_label_errors": int((ai & (labels != truth)).sum())})
        return score["accuracy"]

    g, rng = learner("generator"), ctx.generator("data", "generator")
    acc = []
    for start in range(0, cell["generator_steps"], every):
        acc = block(g, "generator", None, 1.0, min(every, cell["generator_steps"] - start), rng)
    lost = _lost_values(values, acc, cell["threshold"], cell["top_k"])
    arms = {pi: (learner(f"mix{pi:g}"), ctx.generator("data", "mix", f"{pi:g}")) for pi in cell["pis"]}
    running = {pi for pi in cell["pis"] if pi > 0}
    for start in range(0, cell["steps"], every):
        if any(pi > 0 for pi in arms) and not running:
            break
        for pi, (m, rng) in arms.items():
            if pi > 0 and pi not in running:
                continue
            acc = block(m, f"mix{pi:g}", g.model, pi, min(every, cell["steps"] - start), rng)
            if pi > 0 and lost and np.mean([acc[v - 1] for v in lost]) >= cell["stop_at"]:
                running.discard(pi)
    return {"values": values, "curves": curves}


def summarize(frame: pd.DataFrame, p: GrokkingGCDParams) -> dict[str, pd.DataFrame]:
    """``lost``: per replicate the lost values L (known by the generator at its end, above top_k: missing from
    its AI data); ``curves``: per (replicate, arm, step) the mean accuracy on L and on the head 1..top_k;
    ``t50``: per (replicate, arm) the first step with accuracy >= 0.5 on L (NaN: never) and the final one."""
    lost_rows, curve_rows = [], []
    for _, r in frame.iterrows():
        values = np.asarray(r["values"])
        gen = [c for c in r["curves"] if c["arm"] == "generator"]
        lost = _lost_values(values.tolist(), gen[-1]["accuracy"], p.threshold, p.top_k)
        head = [int(v) for v, a in zip(values, gen[-1]["accuracy"]) if a > p.threshold and v <= p.top_k]
        lost_rows.append({"replicate": r["replicate"], "lost_values": " ".join(map(str, lost)), "n_lost": len(lost)})
        for c in r["curves"]:
            acc = dict(zip(values.tolist(), c["accuracy"]))
            curve_rows.append({"replicate": r["replicate"], "arm": c["arm"], "pi": c["pi"], "step": c["step"],
                               "acc_lost": float(np.mean([acc[v] for v in lost])) if lost else float("nan"),
                               "acc_head": float(np.mean([acc[v] for v in head])) if head else float("nan"),
                               "uniform_accuracy": c["uniform_accuracy"], "ai_pairs": c["ai_pairs"],
                               "ai_tail_pairs": c["ai_tail_pairs"], "ai_label_errors": c["ai_label_errors"]})
    curves = pd.DataFrame(curve_rows)
    t50 = []
    for (rep, arm), g in curves.groupby(["replicate", "arm"]):
        g = g.sort_values("step")
        up = g[g["acc_lost"] >= 0.5]
        t50.append({"replicate": rep, "arm": arm, "pi": g["pi"].iloc[0], "t50": float(up["step"].iloc[0])
                    if len(up) else float("nan"), "final_acc_lost": g["acc_lost"].iloc[-1],
                    "final_step": g["step"].iloc[-1], "ai_pairs": g["ai_pairs"].sum(),
                    "ai_tail_pairs": g["ai_tail_pairs"].sum(), "ai_label_errors": g["ai_label_errors"].sum()})
    return {"lost": pd.DataFrame(lost_rows), "curves": curves, "t50": pd.DataFrame(t50)}


def plot(tables: dict[str, pd.DataFrame], p: GrokkingGCDParams) -> dict:
    curves = tables["curves"]
    fig, axes = new_figure(ncols=2)
    ax, ax2 = np.ravel(axes)
    arms = sorted(curves["arm"].unique(), key=lambda a: (a != "generator", a))
    for col, arm in zip(colors(len(arms)), arms):
        c = curves[curves["arm"] == arm]
        label = "clean (generator)" if arm == "generator" else rf"$\pi$={c['pi'].iloc[0]:g}"
        for _, g in c.groupby("replicate"):
            ax.plot(g["step"], g["acc_lost"], color=col, alpha=0.35, lw=0.8)
        m = c.groupby("step")["acc_lost"].mean()
        ax.plot(m.index, m.values, color=col, lw=2, label=label)
        h = c.groupby("step")["acc_head"].mean()
        ax2.plot(h.index, h.values, color=col, lw=2, label=label)
    ax.set(xlabel="optimiser step (online: step x batch = samples T)", ylabel="accuracy on the lost values",
           title=f"values missing from the top-{p.top_k} AI data")
    ax2.set(xlabel="optimiser step", ylabel=f"accuracy on the head 1..{p.top_k}", title="head values")
    ax.legend()
    return {"lost_accuracy_vs_steps": fig}


def _arms(r: Results) -> tuple[pd.DataFrame, pd.DataFrame, float]:
    t = r.tables["t50"]
    mixed_pis = [x for x in r.params.pis if x > 0]
    pi = max(mixed_pis) if mixed_pis else float("nan")
    piv = t.pivot(index="replicate", columns="arm")
    return t, piv, pi


def _steps_needed(t: pd.DataFrame, pi: float) -> str:
    """The memoriser's prediction (Thm 3.2: E_mix(T) ~ E_clean(pi T)): the clean t50 over pi."""
    clean = t[t["arm"] == "generator"]["t50"].dropna()
    if clean.empty:
        return "needs a generator that learns the lost values (more generator_steps)"
    return f"needs steps >= {math.ceil(clean.max() / pi)} (clean t50 {clean.max():.0f} / pi {pi:g}; preset full)"


def _check_recover(r: Results) -> Verdict:
    t, piv, pi = _arms(r)
    mix, ctrl = f"mix{pi:g}", "mix0"
    if math.isnan(pi) or ctrl not in piv["final_acc_lost"] or len(piv) < 3:
        return Verdict.inconclusive("needs a mixed arm, the pi = 0 control and >= 3 seeds", "needs >= 3 seeds")
    piv = piv.dropna(subset=[("final_acc_lost", mix)])
    if len(piv) < 3:
        return Verdict.inconclusive("fewer than 3 seeds with lost values", "needs more seeds")
    a, b = piv["final_acc_lost"][mix], piv["final_acc_lost"][ctrl]
    d = stats.beats(stats.paired_difference(a, b), resolution=ACC_RESOLUTION)
    text = (f"final accuracy on the lost values with pi={pi:g}: {np.round(a.to_numpy(), 2).tolist()}, AI data only: "
            f"{np.round(b.to_numpy(), 2).tolist()}; difference {d.text}")
    if d.status == "PASS" and a.mean() < 0.5:
        return Verdict.inconclusive(text + f"; mean final accuracy {a.mean():.2f} < 0.5 (still rising)",
                                    _steps_needed(t, pi))
    if d.status == "FAIL" and int(piv["final_step"][mix].max()) < t[t["arm"] == "generator"]["t50"].max() / pi:
        return Verdict.inconclusive(text + "; fewer steps than the memoriser predicts the rise needs",
                                    _steps_needed(t, pi))
    return Verdict(d.status, text, d.needs)


def _check_delayed(r: Results) -> Verdict:
    t, piv, pi = _arms(r)
    mix = f"mix{pi:g}"
    if math.isnan(pi) or len(piv) < 3:
        return Verdict.inconclusive("needs a mixed arm and >= 3 seeds", "needs >= 3 seeds")
    t50m, t50c = piv["t50"][mix], piv["t50"]["generator"]
    if t50c.isna().any():
        return Verdict.inconclusive(f"the clean generator did not reach 0.5 on the lost values in "
                                    f"{int(t50c.isna().sum())} seeds", "needs more generator_steps")
    if t50m.isna().any():
        return Verdict.inconclusive(f"the mixed model has not reached 0.5 on the lost values in "
                                    f"{int(t50m.isna().sum())} of {len(t50m)} seeds by step "
                                    f"{int(piv['final_step'][mix].max())}", _steps_needed(t, pi))
    d = stats.beats(stats.paired_difference(t50m, t50c), resolution=STEP_RESOLUTION)
    ratio = float(np.mean(t50m / t50c))
    text = (f"steps to 0.5 accuracy on the lost values, pi={pi:g}: {t50m.astype(int).tolist()}, clean: "
            f"{t50c.astype(int).tolist()}; delay {d.text}; mean ratio {ratio:.2f} (memoriser: 1/pi = {1 / pi:.1f})")
    return Verdict(d.status, text, d.needs)


register(Experiment(
    name="tale-of-tails/gcd-grokking", paper=TALE_OF_TAILS,
    description=("Grokking with mixed data on the GCD task (Sec. 6; the memoriser's Thm 3.2). A clean generator "
                 "model trains online; its AI data are tail-cut: uniform pairs labelled by its greedy answer, "
                 "emitted only when the answer is one of its top-k values 1..k, so the values above k that it "
                 "knew (the lost values) are missing from the AI data, not mislabelled. Fresh models then train "
                 "online on a mixture with a fraction pi of clean pairs (pi = 0: the control). Figure: accuracy on "
                 "the lost values against optimiser steps. Quick: up to 1,200 steps of batch 256 after a 300-step "
                 "generator, pi in {0, 0.25}, 6 seeds; a mixed arm stops once its accuracy on the lost values "
                 "reaches 0.8 (the control with it). Full preset (GPU): more steps, fractions and seeds."),
    params=GrokkingGCDParams,
    presets={"smoke": {"generator_steps": 30, "steps": 4, "eval_every": 2, "batch_size": 64, "d_model": 16,
                       "n_layers": 1, "n_heads": 2, "max_value": 8, "per_value": 4, "seeds": 1},
             "quick": {"seeds": 6},
             "full": {"seeds": 8, "generator_steps": 2000, "pis": [0.0, 0.05, 0.1, 0.25], "steps": 20000,
                      "eval_every": 250, "per_value": 100}},
    cells=cells, run_cell=run_cell, summarize=summarize, plot=plot, main_figure="lost_accuracy_vs_steps",
    claims=[Claim("recover", "Mixing clean data into AI data from which the tail is cut lets the model learn the "
                             "lost values (those missing from the AI data), which AI data alone never teaches",
                  _check_recover, source="Abstract; Sec. 6 (GCD grokking); Thm 3.2", kind="paper",
                  test="per seed, final mean accuracy on the lost values with the largest pi (at its stop: the first "
                       "evaluation with accuracy >= stop_at, else at steps) minus with pi = 0 (the control, trained "
                       "as long); one-sided paired test over >= 3 seeds (exact sign-flip), alpha 0.05 (beats, "
                       "resolution 0.2); INCONCLUSIVE when it beats but the mean final accuracy is < 0.5, or fails "
                       "before the memoriser's predicted step (clean t50 / pi)"),
            Claim("delayed", "The recovery comes after a plateau: the mixed model learns the lost values later than "
                             "the clean model does (grokking)", _check_delayed,
                  source="Abstract; Sec. 6 (GCD grokking); Thm 3.2", kind="paper",
                  test="per seed, t50 = first evaluation step with accuracy >= 0.5 on the lost values; one-sided "
                       "paired test of t50(mixed) - t50(clean) over >= 3 seeds (exact sign-flip), alpha 0.05 (beats, "
                       "resolution 100 steps); INCONCLUSIVE when a mixed run never reaches 0.5 (needs more steps)")],
    version=2, uses_device=True, cell_cost=cell_cost, cell_flops=cell_flops,
))
