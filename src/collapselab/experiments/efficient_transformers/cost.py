"""efficient-transformers/cost: compute per generated token against the context length L for each
attention at a fixed width: the FLOP formula (the prediction) against measured decoding time with the
decoding state (KV cache; sparse mask over the cache with block B ~ sqrt(L); linear attention's constant
recurrent state). The paper's cost claims at the widths the models *need* are judged in
``efficient-transformers/min-width`` on trained models; this experiment checks the per-token cost model
those claims rest on (Sec. 1, Table 1: per-token cost Theta(L D) standard, Theta(sqrt(L) D) sparse,
Theta(D^2) linear)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from pydantic import Field

from collapselab import stats
from collapselab.core import CellContext, Claim, Experiment, Params, Results, Verdict, register
from collapselab.core.plotting import colors, new_figure
from collapselab.experiments._papers import EFFICIENT_TRANSFORMERS
from collapselab.experiments.efficient_transformers._common import ATTENTIONS, MARGIN, TASK_NEEDS, sparse_block
from collapselab.reasoning import attention_flops_per_token, decode_time_per_token


class CostParams(Params):
    lengths: list[int] = Field([512, 1024, 2048, 4096], description="context lengths L")
    attentions: list[str] = Field(ATTENTIONS)
    width: int = Field(64, ge=1, description="model width D (fixed: the cost model at one width)")
    n_layers: int = Field(2, ge=1)
    n_heads: int = Field(2, ge=1)
    block_scale: float = Field(1.0, gt=0, description="sparse block B = round(block_scale * sqrt(L))")
    vocab: int = Field(32, ge=2)
    batch: int = Field(16, ge=1, description="sequences decoded at once")
    measure: int = Field(32, ge=1, description="decoding steps timed at context ~L")


def cells(p: CostParams) -> list[dict]:
    return [{"attention": a, "length": L, "width": p.width, "n_layers": p.n_layers, "n_heads": p.n_heads,
             "block": sparse_block(L, p.block_scale), "vocab": p.vocab, "batch": p.batch, "measure": p.measure}
            for a in p.attentions for L in sorted(p.lengths, reverse=True)]


def run_cell(cell: dict, ctx: CellContext) -> dict:
    kw = {"n_layers": cell["n_layers"], "n_heads": cell["n_heads"], "vocab": cell["vocab"]}
    att = cell["attention"]
    attn_kwargs = {"block": cell["block"]} if att == "sparse" else None
    seconds = decode_time_per_token(att, cell["width"], cell["length"], attn_kwargs=attn_kwargs,
                                    batch=cell["batch"], measure=cell["measure"], device=ctx.device,
                                    seed=ctx.substream_seed("init") % 2**31, **kw)
    flops = attention_flops_per_token(att, cell["width"], cell["length"], block=cell["block"], **kw)
    return {"seconds_per_token": seconds / cell["batch"], "flops_per_token": flops}


STEP_OVERHEAD_FLOPS = 2e6
"""A CPU decoding step of these small models has a fixed ~0.2 ms of framework cost (python, kernel
launches), counted as 2e6 FLOP-equivalents per layer and step in :func:`cell_cost`."""


def cell_flops(cell: dict) -> float:
    """FLOPs of one replicate: ``measure`` timed decoding steps of ``batch`` sequences at context ~L, each
    :func:`collapselab.reasoning.attention_flops_per_token` (24 D^2 dense + the attention's mixing term per
    layer + 2 D V); filling the decoding state with random values is memory traffic, not FLOPs."""
    kw = {"n_layers": cell["n_layers"], "n_heads": cell["n_heads"], "vocab": cell["vocab"]}
    return cell["measure"] * cell["batch"] * attention_flops_per_token(
        cell["attention"], cell["width"], cell["length"], block=cell["block"], **kw)


def cell_cost(cell: dict) -> float:
    """Relative CPU cost of one replicate: :func:`cell_flops` plus STEP_OVERHEAD_FLOPS per layer and timed
    step, plus the decoding state written for the L positions (batch x L x D x layers x 2 floats, counted
    as one FLOP-equivalent each) and a fixed per-cell 1e8 (model construction)."""
    state = cell["batch"] * cell["length"] * cell["width"] * cell["n_layers"] * 2.0
    return (cell_flops(cell) + STEP_OVERHEAD_FLOPS * cell["n_layers"] * cell["measure"] + state + 1e8)


def summarize(frame: pd.DataFrame, p: CostParams) -> dict[str, pd.DataFrame]:
    """``cost``: mean measured seconds and formula FLOPs per token per (attention, L); ``slopes``: per
    (attention, replicate) the log-log slope of measured time and of FLOPs against L."""
    cost = frame.groupby(["attention", "length"], as_index=False).agg(
        seconds_per_token=("seconds_per_token", "mean"), flops_per_token=("flops_per_token", "first"),
        n=("seconds_per_token", "size"))
    rows = []
    for (att, rep), g in frame.groupby(["attention", "replicate"]):
        if g["length"].nunique() < 2:
            continue
        x = np.log(g["length"].to_numpy(float))
        rows.append({"attention": att, "replicate": rep,
                     "time_slope": float(np.polyfit(x, np.log(g["seconds_per_token"].to_numpy(float)), 1)[0]),
                     "flops_slope": float(np.polyfit(x, np.log(g["flops_per_token"].to_numpy(float)), 1)[0])})
    return {"cost": cost, "slopes": pd.DataFrame(rows, columns=["attention", "replicate", "time_slope",
                                                                "flops_slope"])}


def plot(tables: dict[str, pd.DataFrame], p: CostParams) -> dict:
    cost = tables["cost"]
    fig, axes = new_figure(2, 1, width=9)
    for att, c in zip(ATTENTIONS, colors(3)):
        g = cost[cost.attention == att].sort_values("length")
        if g.empty:
            continue
        axes[0].plot(g["length"], g["flops_per_token"], "o-", color=c, label=att)
        axes[1].plot(g["length"], g["seconds_per_token"] * 1e6, "o-", color=c, label=att)
    for ax, title in zip(axes, ("FLOPs per token (formula)", "measured us per token")):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("context length L")
        ax.set_title(title)
    axes[0].legend()
    return {"cost": fig}


def _check_formula(r: Results) -> Verdict:
    s = r.tables["slopes"]
    parts = []
    for att in [a for a in ATTENTIONS if a in set(s.attention)]:
        g = s[s.attention == att]
        if len(g) < 3:
            parts.append((att, Verdict.inconclusive(f"{len(g)} replicates", "needs >= 3 seeds")))
            continue
        d = stats.mean_se(g["time_slope"] - g["flops_slope"])
        cmp = stats.from_estimate(d.mean, d.se, df=d.n - 1, n=d.n, alternative="two-sided")
        pred = float(g["flops_slope"].mean())
        parts.append((att, Verdict.of(stats.matches(cmp, margin=MARGIN),
                                      f"formula slope {pred:.2f}, measured - formula ")))
    return Verdict.all_of(parts, empty_needs=TASK_NEEDS)


def _check_linear_below_softmax(r: Results) -> Verdict:
    s = r.tables["slopes"]
    if not {"softmax", "linear"} <= set(s.attention):
        return Verdict.inconclusive("needs softmax and linear", "needs attentions softmax, linear")
    m = s[s.attention == "softmax"].merge(s[s.attention == "linear"], on="replicate", suffixes=("_s", "_l"))
    if len(m) < 3:
        return Verdict.inconclusive(f"{len(m)} replicates", "needs >= 3 seeds")
    cmp = stats.paired_difference(m["time_slope_s"], m["time_slope_l"], alternative="greater")
    return Verdict.of(stats.beats(cmp, resolution=MARGIN), "softmax - linear time slope ")


register(Experiment(
    name="efficient-transformers/cost", paper=EFFICIENT_TRANSFORMERS,
    description="Per-token decoding cost against the context length L at a fixed width: FLOP formula (the "
                "prediction) and measured time with the decoding state, for standard (KV cache), sparse (fixed "
                "pattern over the cache, block ~ sqrt(L)) and linear attention (recurrent state). quick: L = "
                "512..4096, width 64, batch 16, 3 seeds; full: L to 16384, width 256, GPU.",
    params=CostParams,
    presets={"smoke": {"lengths": [32, 64], "measure": 4, "batch": 2, "width": 16},
             "quick": {"seeds": 3},
             "full": {"lengths": [1024, 2048, 4096, 8192, 16384], "width": 256, "n_layers": 3, "n_heads": 4,
                      "batch": 64, "measure": 64, "seeds": 5}},
    cells=cells, run_cell=run_cell, summarize=summarize, plot=plot, main_figure="cost",
    claims=[
        Claim("formula-predicts-time", "The measured decoding time per token scales with L as the FLOP formula "
              "predicts, for each attention (the cost model behind the paper's complexity table)", _check_formula,
              source="derived: docs/efficient-transformers.md#cost", kind="consistency",
              test="per attention and replicate, log-log slope of measured time minus slope of the formula "
                   "against L; TOST against +-0.25 over >= 3 replicates, alpha 0.05"),
        Claim("linear-time-flat", "With a recurrent state, linear attention's per-token time grows more slowly "
              "with the context than standard attention's with a KV cache", _check_linear_below_softmax,
              source="Sec. 1 (Table 1: per-token cost of the attention layer)", kind="consistency",
              test="paired test over replicates of slope(softmax) - slope(linear) > 0, alpha 0.05 (beats, "
                   "resolution 0.25)"),
    ],
    cell_cost=cell_cost, cell_flops=cell_flops, version=3, uses_device=True,
))
