"""Paper 4, "Do Efficient Transformers Really Save Computation?" (Yang et al., ICML 2024).

* ``efficient-transformers/min-width``: the smallest hidden width at which a standard, sparse and
  linear transformer solve LIS, edit distance and modular arithmetic with chain of thought, at three
  problem sizes (the paper's experiments, scaled down for a CPU at ``quick``).
* ``efficient-transformers/cost``: FLOPs (by formula) and measured decoding time per generated token
  against context length for each attention, and the total compute of a whole chain of thought when
  the efficient models' width must grow like sqrt(L) (general DP) or stays constant (locality).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from pydantic import Field

from collapselab.core import Analysis, CellContext, Claim, Experiment, Params, Results, Verdict, register
from collapselab.core.plotting import colors, new_figure
from collapselab.experiments._papers import EFFICIENT_TRANSFORMERS
from collapselab.reasoning import attention_flops_per_token, decode_time_per_token, generate, min_width

ATTENTIONS = ["softmax", "sparse", "linear"]


class MinWidthParams(Params):
    tasks: list[str] = Field(["lis", "ed", "arithmetic"], description="tasks among lis, ed, arithmetic")
    lis_sizes: list[int] = Field([3, 5, 7], description="LIS sequence lengths (three sizes)")
    ed_sizes: list[int] = Field([2, 3, 4], description="edit-distance string lengths")
    arithmetic_sizes: list[int] = Field([1, 2, 3], description="numbers of operators")
    attentions: list[str] = Field(ATTENTIONS, description="softmax, sparse, linear")
    widths: list[int] = Field([16, 32, 64], description="hidden widths (doubling grid), tried in ascending order")
    n_layers: int = Field(2, ge=1)
    n_heads: int = Field(2, ge=1)
    block: int = Field(4, ge=1, description="sparse attention block size B")
    steps: int = Field(2000, ge=1, description="AdamW steps per model")
    batch_size: int = Field(64, ge=1)
    lr: float = Field(3e-3, gt=0)
    n_train: int = Field(20000, ge=10)
    n_test: int = Field(300, ge=10)
    threshold: float = Field(0.9, gt=0, le=1, description="exact-match accuracy that counts as solved")


def _sizes(p: MinWidthParams, task: str) -> list[int]:
    return {"lis": p.lis_sizes, "ed": p.ed_sizes, "arithmetic": p.arithmetic_sizes}[task]


def min_width_cells(p: MinWidthParams) -> list[dict]:
    """One cell per (task, size, attention), the longest sequences first (they take longest to train, so
    a pool of workers does not end on one long cell)."""
    for t in p.tasks:
        if t not in ("lis", "ed", "arithmetic"):
            raise ValueError(f"unknown task {t!r}")
    cells = [{"task": t, "size": s, "attention": a, "widths": sorted(p.widths), "threshold": p.threshold,
              "n_layers": p.n_layers, "n_heads": p.n_heads, "block": p.block, "steps": p.steps,
              "batch_size": p.batch_size, "lr": p.lr, "n_train": p.n_train, "n_test": p.n_test}
             for t in p.tasks for s in _sizes(p, t) for a in p.attentions]
    length = {(t, s): max(len(ex.prompt) + len(ex.target) for ex in generate(t, s, 20, seed=0))
              for t in p.tasks for s in _sizes(p, t)}
    return sorted(cells, key=lambda c: -length[c["task"], c["size"]])


def min_width_run(cell: dict, ctx: CellContext) -> dict:
    """Train widths in ascending order until one reaches the threshold (one seed per replicate)."""
    res = min_width(cell["task"], cell["size"], cell["attention"], cell["widths"], cell["threshold"],
                    seeds=[ctx.seed], n_train=cell["n_train"], n_test=cell["n_test"],
                    attn_kwargs={"block": cell["block"]} if cell["attention"] == "sparse" else None,
                    n_layers=cell["n_layers"], n_heads=cell["n_heads"], steps=cell["steps"],
                    batch_size=cell["batch_size"], lr=cell["lr"], device=ctx.device)
    return {"min_width": res.width, "accuracy_by_width": {str(w): a for w, a in res.accuracy.items()},
            "loss_by_width": {str(w): v for w, v in res.final_loss.items()},
            "best_accuracy": max(res.accuracy.values())}


def min_width_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Per (task, size, attention): the smallest width any replicate solved the task at (NaN when no
    width of the grid did), and the best accuracy reached."""
    rows = []
    for (task, size, att), g in frame.groupby(["task", "size", "attention"]):
        solved = g["min_width"].dropna()
        rows.append({"task": task, "size": size, "attention": att,
                     "min_width": float(solved.min()) if len(solved) else math.nan,
                     "max_width_tried": float(max(max(w) for w in g["widths"])),
                     "best_accuracy": float(g["best_accuracy"].max())})
    return pd.DataFrame(rows)


def min_width_analyze(frame: pd.DataFrame, p: MinWidthParams) -> Analysis:
    table = min_width_table(frame)
    tasks = [t for t in p.tasks if t in set(frame["task"])]
    fig, axes = new_figure(len(tasks), 1, width=4.2 * len(tasks))
    axes = np.atleast_1d(axes)
    for ax, task in zip(axes, tasks):
        for k, (att, c) in enumerate(zip(ATTENTIONS, colors(3))):
            g = table[(table.task == task) & (table.attention == att)].sort_values("size")
            solved = g["min_width"].notna()
            x = g["size"] + 0.06 * (k - 1)  # dodged so that equal widths stay visible
            ax.plot(x[solved], g["min_width"][solved], "o-", color=c, label=att)
            ax.plot(x[~solved], g["max_width_tried"][~solved] * 2, "^", color=c, mfc="none")
        ax.set_yscale("log", base=2)
        ax.set_title(task)
        ax.set_xlabel("problem size")
        ax.set_ylabel("minimal width (open triangle: above the grid)")
        ax.legend()
    acc = pd.DataFrame([{"task": r.task, "size": r.size, "attention": r.attention, "replicate": r.replicate,
                         "width": int(w), "accuracy": a}
                        for r in frame.itertuples() for w, a in r.accuracy_by_width.items()])
    return Analysis(figures={"min_width": fig}, tables={"min_width": table, "accuracy": acc})


def _growth(table: pd.DataFrame, task: str, attention: str) -> tuple[float, bool]:
    """min_width(largest size) / min_width(smallest size); unsolved largest size counts as 2x the grid
    maximum (a lower bound, flagged). NaN when the smallest size is unsolved."""
    g = table[(table.task == task) & (table.attention == attention)].sort_values("size")
    if g.empty or math.isnan(g["min_width"].iloc[0]):
        return math.nan, False
    last = g.iloc[-1]
    bound = math.isnan(last["min_width"])
    top = 2 * last["max_width_tried"] if bound else last["min_width"]
    return top / g["min_width"].iloc[0], bound


def _fmt(x: float, bound: bool) -> str:
    return "unsolved" if math.isnan(x) else (f">={x:g}x" if bound else f"{x:g}x")


def _claim_standard_constant(r: Results) -> Verdict:
    table = r.tables["min_width"]
    out, ok, unknown = [], True, False
    for task in sorted(table.task.unique()):
        g, bound = _growth(table, task, "softmax")
        out.append(f"{task} {_fmt(g, bound)}")
        unknown |= math.isnan(g)
        ok &= (not math.isnan(g)) and not bound and g <= 2
    if unknown:
        return Verdict.inconclusive("standard: " + ", ".join(out))
    return Verdict.check(ok, "standard min-width growth: " + ", ".join(out))


def _claim_efficient_grow(r: Results) -> Verdict:
    table = r.tables["min_width"]
    out, ok, unknown = [], True, False
    for task in ("lis", "ed"):
        for att in ("sparse", "linear"):
            if task not in set(table.task):
                unknown = True
                continue
            g, bound = _growth(table, task, att)
            out.append(f"{att}/{task} {_fmt(g, bound)}")
            unknown |= math.isnan(g)
            ok &= (not math.isnan(g)) and g >= 2
    if unknown:
        return Verdict.inconclusive("; ".join(out) or "LIS/ED not run")
    return Verdict.check(ok, "; ".join(out))


def _claim_arithmetic_local(r: Results) -> Verdict:
    table = r.tables["min_width"]
    if not {"lis", "ed", "arithmetic"} <= set(table.task):
        return Verdict.inconclusive("needs lis, ed and arithmetic")
    out, ok = [], True
    for att in ("sparse", "linear"):
        ga, _ = _growth(table, "arithmetic", att)
        gd = [_growth(table, t, att)[0] for t in ("lis", "ed")]
        unsolved = [t for t, g in zip(("arithmetic", "lis", "ed"), (ga, *gd)) if math.isnan(g)]
        if unsolved:
            return Verdict.inconclusive(f"{att}: the smallest size of {', '.join(unsolved)} is unsolved")
        out.append(f"{att}: arithmetic {ga:g}x vs lis {gd[0]:g}x, ed {gd[1]:g}x")
        ok &= ga < min(gd)
    return Verdict.check(ok, "; ".join(out))


register(Experiment(
    name="efficient-transformers/min-width", paper=EFFICIENT_TRANSFORMERS,
    description="Minimal hidden width at which standard, sparse (fixed pattern, block B) and linear (elu+1) "
                "transformers solve LIS, edit distance and modular arithmetic with chain of thought (whole-CoT "
                "exact match >= threshold, smallest over the seeds), at three sizes per task (Sec. 5 of the paper). "
                "quick: LIS 3/5/7, ED 2/3/4, arithmetic 1/2/3 operators, widths 16/32/64 searched upwards until "
                "one solves the task, 2 layers, 2,000 AdamW steps (about 1 CPU-minute per model); "
                "full: LIS 50/80/100, ED 12/16/20, arithmetic 4/5/6 (the predecessor's sizes), widths 16..512, "
                "3 layers, 50k steps, 3 seeds, GPU.",
    params=MinWidthParams,
    presets={
        "smoke": {"tasks": ["lis"], "lis_sizes": [3, 4], "attentions": ["softmax", "linear"], "widths": [8, 16],
                  "steps": 30, "n_train": 200, "n_test": 20},
        "quick": {},
        "full": {"lis_sizes": [50, 80, 100], "ed_sizes": [12, 16, 20], "arithmetic_sizes": [4, 5, 6],
                 "widths": [16, 32, 64, 128, 256, 512], "n_layers": 3, "n_heads": 4, "block": 10, "steps": 50000,
                 "batch_size": 128, "lr": 1e-3, "n_train": 1000000, "n_test": 10000, "seeds": 3},
    },
    cells=min_width_cells, run_cell=min_width_run, analyze=min_width_analyze,
    claims=[
        Claim("standard-constant", "The standard transformer's minimal width does not grow with problem size "
              "(at most 2x from the smallest to the largest size, every task)", _claim_standard_constant),
        Claim("efficient-grow", "Sparse and linear attention need at least 2x more width from the smallest to "
              "the largest size on LIS and ED", _claim_efficient_grow),
        Claim("arithmetic-local", "On arithmetic (the local task) their width grows less than on LIS and ED",
              _claim_arithmetic_local),
    ],
    uses_device=True,
))


# -------------------------------------------------------------------------------------------------
# cost


class CostParams(Params):
    lengths: list[int] = Field([64, 128, 256, 512, 1024], description="context lengths L (CoT lengths)")
    attentions: list[str] = Field(ATTENTIONS)
    width: int = Field(32, ge=1, description="width of every model at the smallest length (its minimal width)")
    n_layers: int = Field(2, ge=1)
    n_heads: int = Field(2, ge=1)
    block: int = Field(4, ge=1, description="sparse block size at the smallest length")
    vocab: int = Field(32, ge=2)
    measure: int = Field(16, ge=1, description="decoding steps timed per measurement")


def _widths(p: CostParams, L: int, regime: str, attention: str) -> int:
    """Width at length L: standard constant; efficient constant under locality, sqrt(L)-growing in general."""
    if attention == "softmax" or regime == "local":
        return p.width
    grown = p.width * math.sqrt(L / min(p.lengths))
    return max(p.n_heads, int(round(grown / p.n_heads)) * p.n_heads)  # heads must divide the width


def cost_cells(p: CostParams) -> list[dict]:
    return [{"attention": a, "length": L, "width": w, "regime": regime, "n_layers": p.n_layers,
             "n_heads": p.n_heads, "block": p.block, "vocab": p.vocab, "measure": p.measure}
            for regime in ("general", "local") for a in p.attentions for L in p.lengths
            for w in [_widths(p, L, regime, a)] if not (regime == "local" and a == "softmax")]


def cost_run(cell: dict, ctx: CellContext) -> dict:
    kw = {"n_layers": cell["n_layers"], "n_heads": cell["n_heads"], "vocab": cell["vocab"]}
    block = cell["block"]
    attn_kwargs = {"block": block} if cell["attention"] == "sparse" else None
    seconds = decode_time_per_token(cell["attention"], cell["width"], cell["length"], attn_kwargs=attn_kwargs,
                                    measure=cell["measure"], device=ctx.device, seed=ctx.seed, **kw)
    flops_last = attention_flops_per_token(cell["attention"], cell["width"], cell["length"], block=block, **kw)
    total = sum(attention_flops_per_token(cell["attention"], cell["width"], t, block=block, **kw)
                for t in range(1, cell["length"] + 1))
    return {"seconds_per_token": seconds, "flops_per_token": flops_last, "cot_flops": total}


def cost_analyze(frame: pd.DataFrame, p: CostParams) -> Analysis:
    agg = frame.groupby(["regime", "attention", "length", "width"], as_index=False)[
        ["seconds_per_token", "flops_per_token", "cot_flops"]].mean()
    std = agg[agg.attention == "softmax"][["length", "cot_flops"]].rename(columns={"cot_flops": "std_cot_flops"})
    agg = agg.merge(std, on="length", how="left")
    agg["ratio_to_standard"] = agg["cot_flops"] / agg["std_cot_flops"]
    fig, axes = new_figure(3, 1, width=13)
    for regime, style in (("general", "-"), ("local", "--")):
        for att, c in zip(ATTENTIONS, colors(3)):
            g = agg[(agg.regime == regime) & (agg.attention == att)].sort_values("length")
            if g.empty:
                continue
            lab = f"{att} ({regime})"
            axes[0].plot(g["length"], g["flops_per_token"], style, marker="o", color=c, label=lab)
            axes[1].plot(g["length"], g["seconds_per_token"] * 1e3, style, marker="o", color=c, label=lab)
            axes[2].plot(g["length"], g["cot_flops"], style, marker="o", color=c, label=lab)
    for ax, title in zip(axes, ("FLOPs per token", "measured ms per token", "total CoT FLOPs")):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("CoT length L")
        ax.set_title(title)
    axes[0].legend()
    return Analysis(figures={"cost": fig}, tables={"cost": agg})


def _ratio_trend(r: Results, regime: str) -> tuple[dict, str]:
    t = r.tables["cost"]
    out, text = {}, []
    for att in ("sparse", "linear"):
        g = t[(t.regime == regime) & (t.attention == att)].sort_values("length")
        if len(g) < 2:
            continue
        out[att] = (float(g["ratio_to_standard"].iloc[0]), float(g["ratio_to_standard"].iloc[-1]))
        text.append(f"{att}: {out[att][0]:.2f} -> {out[att][1]:.2f}")
    return out, "; ".join(text)


def _claim_no_saving(r: Results) -> Verdict:
    trend, text = _ratio_trend(r, "general")
    if not trend:
        return Verdict.inconclusive("needs sparse/linear at two lengths or more")
    return Verdict.check(all(last >= 0.5 * first for first, last in trend.values()),
                         f"total CoT FLOPs / standard's, shortest -> longest L, width ~ sqrt(L): {text}")


def _claim_local_saving(r: Results) -> Verdict:
    trend, text = _ratio_trend(r, "local")
    if not trend:
        return Verdict.inconclusive("needs sparse/linear at two lengths or more")
    return Verdict.check(all(last < first and last < 1 for first, last in trend.values()),
                         f"total CoT FLOPs / standard's, constant width (locality): {text}")


register(Experiment(
    name="efficient-transformers/cost", paper=EFFICIENT_TRANSFORMERS,
    description="FLOPs (formula) and measured decoding time per generated token against the CoT length L, for "
                "standard attention (KV cache) and sparse / linear attention (mask with cache / recurrent state), "
                "and the total compute of a whole CoT when the efficient models' width grows like sqrt(L) (general "
                "DP, the paper's lower bound) or stays constant (locality). full: L up to 8192, width 256, GPU.",
    params=CostParams,
    presets={"smoke": {"lengths": [16, 32], "measure": 4}, "quick": {},
             "full": {"lengths": [256, 512, 1024, 2048, 4096, 8192], "width": 256, "n_layers": 3, "n_heads": 4,
                      "block": 16, "measure": 64}},
    cells=cost_cells, run_cell=cost_run, analyze=cost_analyze,
    claims=[
        Claim("no-saving-general", "For general DP (width ~ sqrt(L)) sparse and linear attention do not save "
              "total CoT compute: their ratio to the standard model does not fall (stays >= half its value at "
              "the shortest L)", _claim_no_saving),
        Claim("saving-local", "Under locality (constant width) they do save compute: the ratio falls below 1 and "
              "keeps falling with L", _claim_local_saving),
    ],
    uses_device=True,
))
