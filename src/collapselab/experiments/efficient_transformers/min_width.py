"""efficient-transformers/min-width: the smallest hidden width at which standard, sparse and linear
transformers solve CoT dynamic programming (LIS, edit distance) and arithmetic, against the CoT length L;
and the measured decoding time per generated token of the trained models at those widths (Sec. 5 and
Table 1 of the paper; Abstract: Omega(sqrt(L)) width for sparse and linear models on general DP)."""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import pandas as pd
from matplotlib.ticker import FormatStrFormatter, LogLocator, NullFormatter
from pydantic import Field

from collapselab.core import CellContext, Experiment, Params, register
from collapselab.core.plotting import colors, new_figure
from collapselab.experiments._papers import EFFICIENT_TRANSFORMERS
from collapselab.experiments.efficient_transformers._common import (
    ATTENTIONS,
    cot_length,
    exponents,
    shared_seed,
    sparse_block,
)
from collapselab.experiments.efficient_transformers._width_claims import CLAIMS
from collapselab.reasoning import (
    attention_flops_per_token,
    cot_datasets,
    cot_flops,
    encode_examples,
    generation_time_per_token,
    min_width,
    train_cot_model,
    vocabulary,
)


class MinWidthParams(Params):
    tasks: list[str] = Field(["lis"], description="tasks among lis, ed, arithmetic")
    lis_sizes: list[int] = Field([4, 8], description="LIS sequence lengths")
    number_range: int = Field(10, ge=3, description="LIS values in [1, number_range), the same at every size (the "
                              "vocabulary does not grow with L, so width is not driven by the number of tokens)")
    ed_sizes: list[int] = Field([2, 4], description="edit-distance string lengths")
    arithmetic_sizes: list[int] = Field([2, 4], description="numbers of operators")
    attentions: list[str] = Field(ATTENTIONS, description="softmax, sparse, linear")
    widths: list[int] = Field([4, 6, 8, 10, 12, 14, 16, 20, 24, 28, 32, 40, 48],
                              description="hidden width grid (even, for 2 heads; ratio <= 1.5; from 4 so the "
                              "smallest size is not censored at the bottom)")
    coarse: int = Field(4, ge=1, description="search: every coarse-th width upwards until one solves the task, "
                        "then bisection on the grid (1: plain ascending search)")
    n_layers: int = Field(2, ge=1)
    n_heads: int = Field(2, ge=1)
    block_scale: float = Field(1.0, gt=0, description="sparse block B = round(block_scale * sqrt(L))")
    sparse_pattern: Literal["strided", "fixed"] = Field(
        "strided", description="the sparse model's pattern (Child et al. 2019): strided (the last B positions and "
        "every B-th before them) or fixed (its own block and the last position of each earlier block)")
    steps: int = Field(1500, ge=1, description="most AdamW steps per model")
    eval_every: int = Field(100, ge=1, description="steps between validation exact-match evaluations")
    patience: int = Field(4, ge=1, description="evaluations without improvement before stopping")
    stop_at: float = Field(0.98, gt=0, le=1, description="validation exact match that ends training")
    batch_size: int = Field(64, ge=1)
    lr: float = Field(3e-3, gt=0)
    n_train: int = Field(4000, ge=10, description="distinct training problems (fewer when the task has fewer)")
    n_val: int = Field(200, ge=1, description="validation problems (early stopping)")
    n_test: int = Field(300, ge=10, description="test problems, disjoint from train and validation")
    threshold: float = Field(0.9, ge=0, le=1, description="test exact match (whole CoT) that counts as solved")
    fixed_width: int = Field(32, ge=1, description="the one width at which the standard transformer must solve "
                             "every size (claim standard-constant); trained at every size if the search did not "
                             "try it (softmax cells only)")
    time_batch: int = Field(128, ge=1, description="test prompts decoded at once when timing generation")


def _sizes(p: MinWidthParams, task: str) -> list[int]:
    return {"lis": p.lis_sizes, "ed": p.ed_sizes, "arithmetic": p.arithmetic_sizes}[task]


def cells(p: MinWidthParams) -> list[dict]:
    """One cell per (task, size, attention), the longest sequences first."""
    for t in p.tasks:
        if t not in ("lis", "ed", "arithmetic"):
            raise ValueError(f"unknown task {t!r}")
    keys = ("number_range", "widths", "coarse", "threshold", "fixed_width", "n_layers", "n_heads", "block_scale",
            "sparse_pattern", "steps", "eval_every", "patience", "stop_at", "batch_size", "lr", "n_train", "n_val",
            "n_test", "time_batch")
    out = [{"task": t, "size": s, "attention": a, **{k: getattr(p, k) for k in keys}}
           for t in p.tasks for s in _sizes(p, t) for a in p.attentions]
    length = {(t, s): cot_length(t, s) for t in p.tasks for s in _sizes(p, t)}
    return sorted(out, key=lambda c: -length[c["task"], c["size"]])


def _task_kwargs(cell: dict) -> dict | None:
    """The generator's keyword arguments of the cell's task: LIS takes its value range."""
    return {"number_range": cell["number_range"]} if cell["task"] == "lis" else None


OVERHEAD_WIDTH = 44  # width at which a CPU training step's fixed cost equals its width-dependent cost


def _models(cell: dict) -> int:
    """Models the search trains at most: its ascending probes (every coarse-th width of the grid and the
    largest) plus ceil(log2(min(coarse, grid size))) bisection steps, plus the fixed-width model of a
    softmax cell when the fixed width is off the grid (on it, the search may already have tried it)."""
    grid = sorted(set(cell["widths"]))
    probes = len(range(0, len(grid), cell["coarse"])) + (1 if (len(grid) - 1) % cell["coarse"] else 0)
    bisect = math.ceil(math.log2(min(cell["coarse"], len(grid))))
    fixed = cell["attention"] == "softmax" and cell.get("fixed_width") and cell["fixed_width"] not in grid
    return probes + bisect + int(bool(fixed))


def cell_cost(cell: dict) -> float:
    """Relative cost of a cell, for ``--dry-run``: models trained x steps x batch x layers x L x
    (w0^2 + mean w^2 over the grid). A CPU step was measured to cost about L (0.2 + 1.04e-4 w^2) ms at
    batch 64 and 2 layers (w from 16 to 128, L from 20 to 36), so w0 = 44; the models are :func:`_models`
    (an upper bound: the search stops at its first success). Early stopping is ignored, in stored and
    planned cells alike."""
    grid = sorted(set(cell["widths"]))
    width_term = OVERHEAD_WIDTH**2 + float(np.mean(np.square(grid)))
    L = cot_length(cell["task"], cell["size"], _task_kwargs(cell))
    return _models(cell) * cell["steps"] * cell["batch_size"] * cell["n_layers"] * L * width_term


def cell_flops(cell: dict) -> float:
    """FLOPs of one replicate: for each model the search trains (:func:`_models`, at the grid's mean width
    w), ``steps`` x ``batch_size`` sequences x 3 forward passes (forward + backward) of F(L, w), plus
    ``steps / eval_every`` validation passes of ``n_val`` greedy decodes (one cached forward F each) and
    the test decode; F(L, w) = :func:`collapselab.reasoning.cot_flops` (24 w^2 dense + the attention's
    mixing term + 2 w V per token, summed over the L positions). Early stopping is ignored."""
    grid = sorted(set(cell["widths"]))
    w = int(round(float(np.mean(grid))))
    kw = _task_kwargs(cell)
    L = cot_length(cell["task"], cell["size"], kw)
    fwd = cot_flops(cell["attention"], L, w, n_layers=cell["n_layers"], n_heads=cell["n_heads"],
                    vocab=len(vocabulary(cell["task"], cell["size"], **(kw or {}))),
                    block=sparse_block(L, cell["block_scale"]), pattern=cell["sparse_pattern"])
    per_model = 3.0 * cell["steps"] * cell["batch_size"] * fwd + (
        cell["steps"] / cell["eval_every"] * cell["n_val"] + cell["n_test"]) * fwd
    return _models(cell) * per_model


def run_cell(cell: dict, ctx: CellContext) -> dict:
    """Width search on one shared data set; then time generation and count FLOPs at the found width."""
    task, size, att = cell["task"], cell["size"], cell["attention"]
    seed = shared_seed(task, size, ctx.replicate, ctx.stream_key())
    task_kwargs = _task_kwargs(cell)
    data = cot_datasets(task, size, cell["n_train"], cell["n_test"], n_val=cell["n_val"], seed=seed,
                        task_kwargs=task_kwargs)
    L = max(len(e.prompt) + len(e.target) for e in data.train + data.val + data.test)
    block = sparse_block(L, cell["block_scale"])
    res = min_width(task, size, att, sorted(cell["widths"]), cell["threshold"], data=data, seed=seed,
                    coarse=cell["coarse"], task_kwargs=task_kwargs,
                    attn_kwargs={"block": block, "pattern": cell["sparse_pattern"]} if att == "sparse" else None,
                    n_layers=cell["n_layers"], n_heads=cell["n_heads"], steps=cell["steps"],
                    batch_size=cell["batch_size"], lr=cell["lr"], eval_every=cell["eval_every"],
                    patience=cell["patience"], stop_at=cell["stop_at"], device=ctx.device)
    fixed = res.accuracy.get(cell["fixed_width"], math.nan) if att == "softmax" else math.nan
    if att == "softmax" and cell["fixed_width"] not in res.accuracy:
        fixed = train_cot_model(task, size, width=cell["fixed_width"], attention=att, seed=seed, data=data,
                                task_kwargs=task_kwargs, n_layers=cell["n_layers"], n_heads=cell["n_heads"],
                                steps=cell["steps"], batch_size=cell["batch_size"], lr=cell["lr"],
                                eval_every=cell["eval_every"], patience=cell["patience"], stop_at=cell["stop_at"],
                                device=ctx.device).accuracy
    seconds = flops = math.nan
    if res.model is not None:
        P = len(data.test[0].prompt)
        same = [e for e in data.test if len(e.prompt) == P][: cell["time_batch"]]
        tokens, _ = encode_examples(same, vocabulary(task, size, **(task_kwargs or {})))
        new = min(len(e.target) for e in same)
        seconds = generation_time_per_token(res.model, tokens[:, :P], new)
        flops = float(np.mean([attention_flops_per_token(att, res.width, t, n_layers=cell["n_layers"],
                                                         n_heads=cell["n_heads"], block=block,
                                                         pattern=cell["sparse_pattern"],
                                                         vocab=res.model.vocab_size) for t in range(P + 1, L + 1)]))
    return {"L": L, "block": block, "min_width": res.width, "distinct": data.distinct,
            "n_train_used": len(data.train), "n_test_used": len(data.test), "exhausted": data.exhausted,
            "fixed_width_accuracy": fixed, "accuracy_by_width": {str(w): a for w, a in res.accuracy.items()},
            "steps_by_width": {str(w): s for w, s in res.steps.items()},
            "seconds_per_token": seconds, "flops_per_token": flops}


def summarize(frame: pd.DataFrame, p: MinWidthParams) -> dict[str, pd.DataFrame]:
    """``widths`` (per task, size, attention, replicate), ``accuracy`` (per width tried), ``data`` (distinct
    problems per size), and the per-replicate log-log exponents against L of the minimal width, the measured
    seconds and the formula FLOPs per generated token."""
    if "fixed_width_accuracy" not in frame:
        frame = frame.assign(fixed_width_accuracy=math.nan)
    w = frame[["task", "size", "attention", "replicate", "L", "block", "min_width", "fixed_width_accuracy",
               "seconds_per_token", "flops_per_token"]].copy()
    w["min_width"] = pd.to_numeric(w["min_width"], errors="coerce")
    acc = pd.DataFrame([{"task": r.task, "size": r.size, "attention": r.attention, "replicate": r.replicate,
                         "width": int(k), "accuracy": a, "steps": r.steps_by_width[k]}
                        for r in frame.itertuples() for k, a in r.accuracy_by_width.items()],
                       columns=["task", "size", "attention", "replicate", "width", "accuracy", "steps"])
    data = frame.groupby(["task", "size"], as_index=False).agg(
        L=("L", "max"), distinct=("distinct", "min"), n_train=("n_train_used", "min"),
        n_test=("n_test_used", "min"), exhausted=("exhausted", "max"))
    data["requested"] = p.n_train + p.n_val + p.n_test
    return {"widths": w, "accuracy": acc, "data": data,
            "width_exponents": exponents(w, "min_width", grid=sorted(p.widths)),
            "time_exponents": exponents(w, "seconds_per_token"),
            "flops_exponents": exponents(w, "flops_per_token")}


def plot(tables: dict[str, pd.DataFrame], p: MinWidthParams) -> dict:
    w = tables["widths"]
    tasks = [t for t in p.tasks if t in set(w["task"])]
    fig, axes = new_figure(max(1, len(tasks)), 2, width=4.4 * max(1, len(tasks)), height=7.5)
    axes = np.asarray(axes).reshape(2, -1)
    top = max(p.widths) * 1.5
    for k, task in enumerate(tasks):
        for att, c in zip(ATTENTIONS, colors(3)):
            g = w[(w.task == task) & (w.attention == att)]
            if g.empty:
                continue
            shown = g["min_width"].fillna(top)
            axes[0, k].scatter(g["L"], shown, color=c, alpha=0.5, marker="o")
            m = g.assign(shown=shown).groupby("L")["shown"].apply(lambda s: float(np.exp(np.log(s).mean())))
            axes[0, k].plot(m.index, m.values, "-", color=c, label=att)
            t = g.groupby("L")["seconds_per_token"].mean().dropna()
            if len(t):
                axes[1, k].plot(t.index, t.values * 1e6, "o-", color=c, label=att)
        Ls = np.array(sorted(w[w.task == task]["L"].unique()), float)
        base = float(w[(w.task == task)]["min_width"].min())
        if len(Ls) and np.isfinite(base):
            axes[0, k].plot(Ls, base * np.sqrt(Ls / Ls[0]), "k:", label="sqrt(L) (theory, efficient)")
        axes[0, k].axhline(top, color="0.6", lw=0.8, ls="--")
        for ax, ylab in zip(axes[:, k], ("minimal width (dashed: unsolved)", "us per generated token")):
            if ax.has_data():
                ax.set_xscale("log")
                ax.set_yscale("log")
                ax.set_xticks(Ls, [f"{L:g}" for L in Ls])  # plain labels at the sizes run
                ax.xaxis.set_minor_formatter(NullFormatter())
                ax.yaxis.set_major_locator(LogLocator(subs=(1, 1.5, 2, 3, 4, 5, 7)))
                ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
                ax.yaxis.set_minor_formatter(NullFormatter())
            ax.set_xlabel("CoT length L")
            ax.set_ylabel(ylab)
            ax.set_title(task)
        axes[0, k].legend(fontsize=7)
    fig.tight_layout()
    return {"min_width": fig}


register(Experiment(
    name="efficient-transformers/min-width", paper=EFFICIENT_TRANSFORMERS,
    description="Minimal hidden width (test exact match of the whole CoT >= threshold, widths searched upwards "
                "with early stopping on a validation split) of standard, sparse (strided pattern, "
                "block ~ sqrt(L)) and linear (elu+1) transformers on CoT tasks, with train / validation / test "
                "problems disjoint by construction; the exponent of width against the CoT length L; and the measured "
                "time per generated token of the trained models at their widths; the standard transformer is also "
                "trained at one fixed width at every size. quick: only what its judgeable claims read (the "
                "positive control and standard-constant): the standard transformer, LIS 4 and 8 (L = 12, "
                "20) with values in [1, 10) at both sizes, widths 32 and 48 (fixed width 32), 3 seeds, <= 1,500 "
                "steps; full: all three attentions, LIS "
                "(values in [1, 128)) / ED / arithmetic at "
                "the predecessor's scale, widths 16..512, fixed width 256, 5 seeds, GPU.",
    params=MinWidthParams,
    presets={
        "smoke": {"lis_sizes": [3, 4], "widths": [8, 16], "steps": 30,
                  "eval_every": 10, "n_train": 200, "n_val": 20, "n_test": 20, "time_batch": 8,
                  "threshold": 0.0, "fixed_width": 16},
        "quick": {"seeds": 3, "attentions": ["softmax"], "widths": [32, 48]},
        "full": {"tasks": ["lis", "ed", "arithmetic"], "lis_sizes": [25, 50, 100], "number_range": 128,
                 "ed_sizes": [6, 12, 18],
                 "arithmetic_sizes": [4, 8, 16],
                 "widths": [16, 20, 24, 28, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384, 448,
                            512],
                 "n_layers": 3, "n_heads": 4, "steps": 50000, "eval_every": 1000, "patience": 8,
                 "batch_size": 128, "lr": 1e-3, "n_train": 200000, "n_val": 2000, "n_test": 5000, "seeds": 5,
                 "fixed_width": 256},
    },
    cells=cells, run_cell=run_cell, summarize=summarize, plot=plot, main_figure="min_width", cell_cost=cell_cost,
    claims=CLAIMS,
    cell_flops=cell_flops, version=5, uses_device=True,
))
