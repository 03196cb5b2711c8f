"""strong-collapse/lm-scaling: test loss on human text against training tokens when a share p2 of the
training text is synthetic (Sec. 4.2, Fig. 8; the theory's plateau: Cor. 1, Eq. 12).

A generator (the same small GPT-2, trained on held-out human blocks) continues the human prefix of a
random share p2 of the learner's blocks (temperature 1, top-p 1, as the paper samples); the learner
makes one pass over the n blocks (p2 n synthetic, the rest human; the synthetic sets are nested in p2)
with a constant learning rate after warm-up, and its loss on held-out human text is read at training
budgets n/8, n/4, n/2 and n blocks.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from pydantic import Field

from collapselab.core import CellContext, Claim, Experiment, Results, Verdict, register
from collapselab.core.plotting import colors, new_figure
from collapselab.experiments._lm import (
    LMParams,
    cost_units,
    factory,
    fit,
    lm_cells,
    load_data,
    paired_beats,
    work,
)
from collapselab.experiments._papers import STRONG_COLLAPSE
from collapselab.lm import evaluate_lm, synthesize_blocks


class ScalingParams(LMParams):
    p2s: list[float] = Field([0.0, 0.1, 0.5], description="synthetic shares p2 of the training blocks")
    n_blocks: int = Field(2048, ge=8, description="learner's training blocks (one pass); budgets n/8..n")
    checkpoints: int = Field(4, ge=2, description="budgets n / 2^j, j = checkpoints-1 .. 0")
    n_gen: int = Field(512, ge=4, description="human blocks the generator learns from (held out from the learner)")


PRESETS = {
    "smoke": {"max_chars": 60_000, "vocab_size": 300, "block_size": 32, "prompt_tokens": 8, "n_blocks": 64,
              "n_gen": 32, "n_test": 16, "n_embd": 16, "n_head": 2, "n_layer": 1, "epochs": 1.0, "seeds": 2,
              "checkpoints": 2},
    "quick": {"seeds": 8},
    "full": {"max_chars": None, "block_size": 256, "prompt_tokens": 64, "n_blocks": 65536, "n_gen": 8000,
             "n_test": 500, "checkpoints": 6, "n_layer": 6, "n_embd": 384, "n_head": 6, "lr": 1e-3,
             "batch_size": 16, "grad_accum": 4, "p2s": [0.0, 0.01, 0.1, 0.5], "seeds": 8},
}


def cells(p: ScalingParams) -> list[dict]:
    return lm_cells(p, p.n_gen + p.n_blocks, p2s=sorted(p.p2s), n_blocks=p.n_blocks, checkpoints=p.checkpoints,
                    n_gen=p.n_gen)


def run_cell(cell: dict, ctx: CellContext) -> dict:
    n, dev = cell["n_blocks"], ctx.device
    budgets = sorted({n // 2 ** j for j in range(cell["checkpoints"])})
    per_step = cell["batch_size"] * cell["grad_accum"]
    if any(b % per_step for b in budgets):
        raise ValueError(f"budgets {budgets} must be multiples of batch_size x grad_accum = {per_step}")
    data = load_data(cell, cell["n_gen"] + n)
    gen_blocks, pool = data.splits.train[:cell["n_gen"]], data.splits.train[cell["n_gen"]:]
    make = factory(cell, data, dev)
    generator = fit(make, gen_blocks, cell, ctx.torch_generator("fit", "generator", device="cpu"), dev)
    gen_eval = evaluate_lm(generator, data, batch_size=cell["eval_batch"], device=dev)
    order = torch.as_tensor(ctx.generator("synthetic").permutation(n), dtype=torch.long)
    n_syn = int(round(max(cell["p2s"]) * n))
    synthetic = synthesize_blocks(generator, pool[order[:n_syn]], prompt_tokens=cell["prompt_tokens"],
                                  batch_size=cell["sample_batch"], generator=ctx.torch_generator("sample"), device=dev)
    del generator
    rows = []
    for p2 in cell["p2s"]:
        k = int(round(p2 * n))
        blocks = pool.clone()
        blocks[order[:k]] = synthetic[:k]  # the first k of the random order are synthetic (nested in p2)

        def at_budget(model, step, seen, p2=p2):
            if seen in budgets:
                rows.append({"p2": p2, "blocks": seen, "tokens": seen * cell["block_size"],
                             **evaluate_lm(model, data, batch_size=cell["eval_batch"], device=dev)})

        fit(make, blocks, cell, ctx.torch_generator("fit", "learner", p2, device="cpu"), dev, epochs=1.0,
            min_lr_ratio=1.0, callback=at_budget)
    return {"curve": rows, "generator_loss": gen_eval["loss"], "generator_tail_loss": gen_eval["tail_loss"]}


def _work(cell: dict) -> tuple[float, float]:
    n, k = cell["n_blocks"], len(cell["p2s"])
    return work(cell, train_blocks=cell["epochs"] * cell["n_gen"] + k * n,
                sample_prompts=round(max(cell["p2s"]) * n),
                eval_blocks=(1 + k * cell["checkpoints"]) * cell["n_test"])


def cell_flops(cell: dict) -> float:
    """FLOPs of one replicate (:func:`collapselab.experiments._lm.work`): the generator trained for
    ``epochs`` passes over n_gen blocks and each of the len(p2s) learners for one pass over n_blocks
    (3 x forward FLOPs per token), round(max p2 x n_blocks) continuations sampled, and (1 + len(p2s) x
    checkpoints) evaluations of n_test blocks; forward FLOPs per token 2 (12 L d^2 + d V) + 4 L T d."""
    return _work(cell)[0]


def cell_cost(cell: dict) -> float:
    """CPU seconds of one replicate on one thread ~ cell_flops / 2e10 + 0.004 x (optimiser + sampling
    steps) + 2 (:func:`collapselab.experiments._lm.cost_units`; constants from a training step of the
    quick model, 75 ms for 1.6 GFLOP, and the smoke model's per-step overhead)."""
    return cost_units(*_work(cell))


def summarize(frame: pd.DataFrame, p: ScalingParams) -> dict[str, pd.DataFrame]:
    curve = pd.DataFrame([{"replicate": r["replicate"], "generator_loss": r["generator_loss"],
                           **{k: v for k, v in row.items() if k != "bin_loss"}}
                          for _, r in frame.iterrows() for row in r["curve"]])
    means = curve.groupby(["p2", "tokens"])[["loss", "tail_loss"]].agg(["mean", "sem"]).reset_index()
    means.columns = ["_".join(c).rstrip("_") for c in means.columns]
    return {"curve": curve, "curve_means": means}


def plot(tables: dict[str, pd.DataFrame], p: ScalingParams) -> dict:
    m = tables["curve_means"]
    fig, axes = new_figure(1)
    ax = np.atleast_1d(axes)[0]
    for p2, col in zip(sorted(m["p2"].unique()), colors(m["p2"].nunique())):
        g = m[m["p2"] == p2]
        ax.errorbar(g["tokens"], g["loss_mean"], yerr=g["loss_sem"].fillna(0), fmt="o-", color=col, capsize=2,
                    label=f"$p_2$={p2:g}")
    ax.axhline(tables["curve"]["generator_loss"].mean(), ls="--", color="k", lw=0.8, label="generator")
    ax.set_xscale("log")
    ax.set_xlabel("training tokens")
    ax.set_ylabel("test loss on human text (nats/token)")
    ax.set_title("language model: loss vs tokens with a synthetic share $p_2$", fontsize=9)
    ax.legend()
    return {"lm_scaling": fig}


def _at(r: Results, p2: float, tokens: float) -> pd.Series:
    c = r.tables["curve"]
    return c[(c["p2"] == p2) & (c["tokens"] == tokens)].set_index("replicate")["loss"]


def _grid(r: Results) -> tuple[list[float], list[float]]:
    c = r.tables["curve"]
    return sorted(c["p2"].unique()), sorted(c["tokens"].unique())


def _check_lag(r: Results) -> Verdict:
    p2s, tokens = _grid(r)
    T = tokens[-1]
    return Verdict.all_of([(f"loss(p2={q:g}) - loss(0)", paired_beats(_at(r, q, T), _at(r, 0.0, T), 0.02))
                          for q in p2s if q > 0], empty_needs="needs p2 = 0 and >= 2 seeds")


def _check_plateau(r: Results) -> Verdict:
    p2s, tokens = _grid(r)
    if len(tokens) < 3 or 0.0 not in p2s:
        return Verdict.inconclusive(f"{len(tokens)} budgets", "needs >= 3 budgets and p2 = 0")
    a, T = tokens[-3], tokens[-1]

    def gain(q):
        return _at(r, q, a) - _at(r, q, T)
    return Verdict.all_of([(f"gain {a:g}->{T:g} tokens at p2=0 minus at p2={q:g}",
                           paired_beats(gain(0.0), gain(q), 0.02)) for q in p2s if q > 0],
                          empty_needs="needs >= 2 seeds")


def _check_order(r: Results) -> Verdict:
    p2s, tokens = _grid(r)
    pos = [q for q in p2s if q > 0]
    if len(pos) < 2:
        return Verdict.inconclusive("one p2 > 0", "needs two p2 > 0")
    T = tokens[-1]
    return Verdict.all_of([(f"loss(p2={pos[-1]:g}) - loss(p2={pos[0]:g})",
                           paired_beats(_at(r, pos[-1], T), _at(r, pos[0], T), 0.02))], empty_needs="needs >= 2 seeds")


register(Experiment(
    name="strong-collapse/lm-scaling", paper=STRONG_COLLAPSE,
    description="GPT-2 trained on human text (default: Shakespeare) with a share p2 of synthetic blocks from a "
                "generator GPT-2: test loss on human text vs training tokens",
    params=ScalingParams, presets=PRESETS, cells=cells, run_cell=run_cell, summarize=summarize, plot=plot,
    main_figure="lm_scaling", uses_device=True, cell_cost=cell_cost, cell_flops=cell_flops,
    version=2,  # v2: tokenizer learned on the training documents only; 8 seeds; inverse-CDF sampling in batches of 256
    claims=[
        Claim("synthetic-delays-scaling", "With a share p2 > 0 of synthetic text the test loss on human text at the "
              "largest training budget stays above the p2 = 0 curve (synthetic data delay the scaling law)",
              _check_lag, source="Sec. 4.2, Fig. 8", kind="paper",
              test="for each p2 > 0: one-sided paired test over seeds of loss(p2) - loss(0) at the largest budget, "
                   "alpha 0.05; PASS when all pass; FAIL when one has no rise with 95% CI half-width <= 0.02 nats"),
        Claim("slower-gain", "For p2 > 0 more training tokens help less: the loss gained over the last 4x of "
              "tokens is smaller than at p2 = 0 (slower scaling; the plateau itself is the theory's prediction, "
              "not shown at this scale)", _check_plateau,
              source="Sec. 4.2, Fig. 8 (slower scaling with synthetic data); the plateau: Sec. 3.1, Cor. 1, Eq. 12",
              kind="paper",
              test="for each p2 > 0: one-sided paired test over seeds of gain(p2=0) - gain(p2), gain = loss(n/4) - "
                   "loss(n), alpha 0.05; all must pass; resolution 0.02 nats"),
        Claim("more-synthetic-worse", "A larger synthetic share collapses more: at the largest budget the loss at the "
              "larger p2 exceeds the loss at the smaller p2 > 0", _check_order,
              source="Sec. 3.1, Thm 1 (zeta ~ p2^2 tr Delta); Sec. 4.2", kind="paper",
              test="one-sided paired test over seeds of loss(max p2) - loss(min p2 > 0) at the largest budget, alpha "
                   "0.05; resolution 0.02 nats"),
    ]))
