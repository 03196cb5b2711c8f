"""rat-bptt/boost: are subsets of a distilled set worse than sets distilled directly at their size
(intercorrelation, the premise), and are Boost-DD's nested prefixes near-optimal (paper Sec. 5)?"""

from __future__ import annotations

from typing import Any

import pandas as pd
from pydantic import Field

from collapselab import stats
from collapselab.core import CellContext, Claim, Experiment, Results, Verdict, register
from collapselab.core.plotting import colors, new_figure
from collapselab.distill import boost, distill
from collapselab.experiments._papers import RAT_BPTT
from collapselab.experiments.rat_bptt._common import (
    DistillParams,
    all_beat,
    artifact,
    cost_functions,
    data_of,
    distill_flops,
    distill_kwargs,
    eval_flops,
    evaluate_set,
    gen,
    setup,
)

KINDS = ("direct", "oneshot", "boost")
MARGIN = 0.02  # "near-optimal": within 2 accuracy points of the directly distilled set


class BoostParams(DistillParams):
    block_ipc: int = Field(1, ge=1, description="images per class in each Boost-DD block")
    n_blocks: int = Field(3, ge=2, description="number of blocks (budgets block_ipc * b, b = 1..n_blocks)")
    beta: float = Field(0.1, ge=0, le=1, description="learning-rate factor of earlier blocks (0 = frozen)")
    steps_per_block: int = Field(150, ge=0, description="outer steps per boosting round; the set distilled "
                                 "directly at budget b * block_ipc gets b * steps_per_block (the full-rate steps "
                                 "Boost-DD has spent when its b-block prefix is complete)")


def cells(p: BoostParams) -> list[dict]:
    return [{"setup": setup(p), "block_ipc": p.block_ipc, "n_blocks": p.n_blocks, "beta": p.beta,
             "steps_per_block": p.steps_per_block}]


def run_cell(cell: dict, ctx: CellContext) -> dict:
    """Per seed: a set distilled directly at every budget k = block_ipc * b with b * steps_per_block outer
    steps (the steps Boost-DD has taken when its k-prefix is complete, so the direct IPC-1 set and Boost-DD's
    first block both get steps_per_block full-rate steps; the largest is the one-shot set, whose prefixes
    are the subsets, with Boost-DD's total), and a Boost-DD set; every set and prefix evaluated with the same
    networks (sub-stream "eval", k)."""
    s = cell["setup"]
    data = data_of(s)
    train = data[0]
    kw = distill_kwargs(s, train, ctx.device)
    budgets = [cell["block_ipc"] * b for b in range(1, cell["n_blocks"] + 1)]
    sets = {k: distill(train, ipc=k, method="rat_bptt", steps=cell["steps_per_block"] * (k // cell["block_ipc"]),
                       learn_labels=False, generator=gen(ctx, "direct", k), **kw) for k in budgets}
    boosted = boost(train, block_ipc=cell["block_ipc"], n_blocks=cell["n_blocks"], beta=cell["beta"],
                    steps_per_block=cell["steps_per_block"], generator=gen(ctx, "boost"), **kw)
    oneshot = sets[budgets[-1]]
    out: dict[str, Any] = {"budgets": budgets}
    for kind in KINDS:
        accs = []
        for k in budgets:
            ds = sets[k] if kind == "direct" else (oneshot if kind == "oneshot" else boosted).take(k)
            accs.append(evaluate_set(ds, s, data, gen(ctx, "eval", k), ctx.device)["acc"])
        out[f"acc_{kind}"] = accs
    out["artifacts"] = {**artifact(boosted, f"boost_ipc{budgets[-1]}", ctx, data[3]),
                        **artifact(oneshot, f"rat_bptt_ipc{budgets[-1]}", ctx, data[3])}
    return out


def _parts(cell: dict) -> list[tuple[float, int]]:
    """(FLOPs, steps) of one replicate: the direct sets (budget b * block_ipc, b * steps_per_block outer
    steps), Boost-DD's rounds (round b re-distils b blocks for steps_per_block steps) and 3 x n_blocks
    evaluations (direct, one-shot prefix, boosted prefix at every budget)."""
    s, spb, bi = cell["setup"], cell["steps_per_block"], cell["block_ipc"]
    budgets = range(1, cell["n_blocks"] + 1)
    return ([distill_flops(s, b * bi, b * spb) for b in budgets] + [distill_flops(s, b * bi, spb) for b in budgets]
            + [eval_flops(s, b * bi) for b in budgets for _ in KINDS])


cell_cost, cell_flops = cost_functions(_parts)  # relative CPU cost and FLOPs of one replicate


def summarize(frame: pd.DataFrame, p: BoostParams) -> dict[str, pd.DataFrame]:
    """``accuracy``: one row per (ipc, kind, replicate); ``summary``: mean +- SE over seeds."""
    rows = []
    for _, r in frame.iterrows():
        for kind in KINDS:
            for k, a in zip(r["budgets"], r[f"acc_{kind}"]):
                rows.append({"ipc": int(k), "kind": kind, "replicate": int(r["replicate"]), "acc": float(a)})
    acc = pd.DataFrame(rows, columns=["ipc", "kind", "replicate", "acc"])
    return {"accuracy": acc, "summary": stats.grouped_mean_se(acc, ["ipc", "kind"], "acc")}


def plot(tables: dict[str, pd.DataFrame], p: BoostParams) -> dict[str, Any]:
    t = tables["summary"]
    fig, ax = new_figure()
    labels = {"direct": "distilled directly at this size", "oneshot": "prefixes of the one-shot set",
              "boost": f"Boost-DD prefixes (beta={p.beta})"}
    for kind, c in zip(KINDS, colors(3)):
        sub = t[t.kind == kind]
        ax.errorbar(sub["ipc"], 100 * sub["mean"], yerr=200 * sub["se"], fmt="o-", color=c, capsize=3,
                    label=labels[kind])
    ax.set(xlabel="images per class (budget)", ylabel="test accuracy (%)", title=f"{p.dataset}: mean +- 2 SE")
    ax.legend()
    return {"prefixes": fig}


def _smaller(r: Results) -> pd.DataFrame:
    t = r.tables["accuracy"]
    return t[t.ipc < t.ipc.max()]


def _check_intercorrelation(r: Results) -> Verdict:
    return all_beat(_smaller(r), "direct", "oneshot", ["ipc"],
                    "directly distilled - prefix of the one-shot set, accuracy points, per budget", 0.02, key="kind")


def _check_boost_vs_prefixes(r: Results) -> Verdict:
    return all_beat(_smaller(r), "boost", "oneshot", ["ipc"],
                    "Boost-DD prefix - one-shot prefix, accuracy points, per budget", 0.02, key="kind")


def _check_near_optimal(r: Results) -> Verdict:
    t = r.tables["accuracy"]
    decisions = []
    for ipc, sub in t.groupby("ipc", sort=True):
        w = sub.pivot_table(index="replicate", columns="kind", values="acc")
        if not {"direct", "boost"} <= set(w.columns) or len(w[["direct", "boost"]].dropna()) < 2:
            decisions.append((f"IPC {ipc}", stats.Decision("INCONCLUSIVE", "fewer than 2 seeds of both sets",
                                                           "needs >= 2 seeds of both sets")))
            continue
        w = w[["direct", "boost"]].dropna()
        cmp = stats.paired_difference(w["direct"], w["boost"], alternative="two-sided", level=0.90)
        d = stats.at_most(cmp, margin=MARGIN, resolution=MARGIN)
        decisions.append((f"IPC {ipc}", stats.Decision(d.status, f"direct - boost {100 * cmp.estimate:+.1f} "
                                                       f"[{100 * cmp.low:+.1f}, {100 * cmp.high:+.1f}]", d.needs)))
    return Verdict.all_of(decisions, empty_needs="needs both sets",
                          head=f"directly distilled - Boost-DD prefix, points, 90% CI, margin {100 * MARGIN:g}; ")


_PAIRED = ("one-sided paired test over seeds per budget k < K, alpha 0.05; PASS iff every budget rejects "
           "'gap <= 0'; FAIL if one does not with 95% CI half-width <= 2 points; else INCONCLUSIVE")

register(Experiment(
    name="rat-bptt/boost", paper=RAT_BPTT,
    description=(
        "Boost-DD (paper Sec. 5) and its premise. Per seed: RaT-BPTT sets distilled directly at every budget "
        "k = block_ipc * b (b = 1..n_blocks), each with b * steps_per_block outer steps, the full-rate steps "
        "Boost-DD has spent when its k-prefix is complete (the largest, K, is the one-shot set, with Boost-DD's "
        "total); a Boost-DD set of n_blocks blocks (each round re-distils the union for "
        "steps_per_block steps, earlier blocks at beta x the learning rate). The k-prefixes of the one-shot "
        "and boosted sets are compared with the direct set of size k, all evaluated with the same networks. "
        "Digits + MLP at quick; full: CIFAR-10 ConvNet-3 (GPU)."),
    params=BoostParams,
    presets={
        "smoke": {"T": 6, "M": 2, "n_blocks": 2, "steps_per_block": 2, "real_batch": 64, "eval_models": 2,
                  "eval_steps": [5, 10], "width": 16, "seeds": 2},
        "quick": {"T": 40, "M": 10, "inner_lr": 1e-2, "block_ipc": 1, "n_blocks": 3, "steps_per_block": 60,
                  "beta": 0.1, "seeds": 6, "eval_steps": [20, 40, 100, 200], "eval_models": 3},
        "full": {"dataset": "cifar10", "data_dir": "cifar-10-batches-py", "model": "convnet", "width": 128,
                 "depth": 3, "zca": True, "flip": True, "T": 200, "M": 60, "outer_lr": 1e-3, "real_batch": 5000,
                 "eval_models": 8, "eval_steps": [300, 600, 1000, 3000], "block_ipc": 10, "n_blocks": 5,
                 "steps_per_block": 5000, "beta": 0.1, "seeds": 3},
    },
    cells=cells, run_cell=run_cell, summarize=summarize, plot=plot, main_figure="prefixes",
    claims=[
        Claim("intercorrelation", "A subset of a distilled set does clearly worse than a set of the same size "
              "distilled directly (distilled images are strongly inter-correlated)", _check_intercorrelation,
              source="Abstract; Sec. 5 (facts C5)", kind="paper", test=_PAIRED),
        Claim("boost-vs-prefixes", "Boost-DD's nested prefixes do better than the same-size prefixes of a set "
              "distilled in one shot", _check_boost_vs_prefixes, source="Abstract; Sec. 5, Figs. 7-9 (per the "
              "reviews; facts C6)", kind="paper", test=_PAIRED),
        Claim("boost-near-optimal", "Boost-DD's nested prefixes are near-optimal at every budget: no worse than "
              "a set distilled directly at that size", _check_near_optimal,
              source="Abstract; Sec. 5 (facts C6)", kind="paper",
              test=f"per budget, paired 90% two-sided CI over seeds of direct - boost accuracy; PASS iff every "
                   f"budget's upper bound <= {100 * MARGIN:g} points (half-width <= {100 * MARGIN:g}); FAIL iff "
                   f"one lower bound > {100 * MARGIN:g} points; else INCONCLUSIVE"),
    ],
    cell_cost=cell_cost, cell_flops=cell_flops, version=3, uses_device=True,
))
