"""beyond-collapse/lm-verification: synthesize with a collapsing generation-k model, select by a verifier,
retrain (the paper's LLM experiment: news summarisation, best-of-N by a verifier, then fine-tuning).

Generation 0 learns from human blocks, generation k from generation k-1's top-p text (``replace``).
Generation k then writes ``candidates`` continuations of every human prefix (temperature 1, top-p 1).
The verifier (``verifier="reference"``, the default) scores each continuation against the human text it
replaces, as the paper's summaries are judged against references: the bag-of-tokens F1 (ROUGE-1 on BPE
tokens) of the candidate continuation and the true continuation of the block. ``verifier="likelihood"``
keeps the earlier design, a stronger GPT-2's mean log-likelihood (mode-seeking: it prefers bland text,
the opposite of the paper's point). ``selected`` keeps the best-scored candidate of each prefix (best-of-N
per prompt, as the paper keeps one summary per article), ``unselected`` a candidate drawn at random. A fresh model is
trained on each corpus (same size, same steps) and scored on held-out human text.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
import torch
from pydantic import Field

from collapselab import stats
from collapselab.core import CellContext, Claim, Experiment, Results, Verdict, register
from collapselab.core.plotting import colors, new_figure
from collapselab.experiments._lm import (
    LMParams,
    cost_units,
    factory,
    fit,
    lm_cells,
    load_data,
    work,
)
from collapselab.experiments._papers import BEYOND_COLLAPSE
from collapselab.lm import evaluate_lm, recursive_chain, synthesize_blocks, token_nll


class VerificationParams(LMParams):
    n_train: int = Field(512, ge=4, description="human blocks of generation 0 (= prompts of the candidate pool)")
    generation: int = Field(1, ge=0, description="k: the synthesizing model is generation k of a replace chain")
    chain_top_p: float = Field(0.9, gt=0, le=1, description="top-p of the chain that makes generation k")
    candidates: int = Field(4, ge=2, description="continuations generated per human prefix")
    verifier: Literal["reference", "likelihood"] = Field("reference", description="reference: token-overlap F1 "
                                                         "with the true human continuation; likelihood: a "
                                                         "stronger GPT-2's mean log-likelihood")
    verifier_blocks: int = Field(1600, ge=4, description="human blocks the likelihood verifier learns from (held "
                                 "out from the prompts either way)")
    verifier_embd: int = Field(96, ge=8, description="width of the verifier GPT-2 (small model only)")
    verifier_epochs: float = Field(2.0, gt=0, description="verifier passes over its data")


PRESETS = {
    "smoke": {"max_chars": 60_000, "vocab_size": 300, "block_size": 32, "prompt_tokens": 8, "n_train": 32,
              "n_test": 16, "verifier_blocks": 48, "verifier_embd": 16, "n_embd": 16, "n_head": 2, "n_layer": 1,
              "epochs": 1.0, "verifier_epochs": 1.0, "candidates": 2, "seeds": 2},
    "quick": {"seeds": 6},
    "full": {"max_chars": None, "block_size": 256, "prompt_tokens": 64, "n_train": 8000, "n_test": 500,
             "verifier_blocks": 32000, "verifier_embd": 768, "n_layer": 6, "n_embd": 384, "n_head": 6,
             "lr": 1e-3, "epochs": 2.0, "batch_size": 16, "grad_accum": 4, "seeds": 6},
}


def cells(p: VerificationParams) -> list[dict]:
    keys = ("n_train", "generation", "chain_top_p", "candidates", "verifier", "verifier_blocks", "verifier_embd",
            "verifier_epochs")
    return lm_cells(p, p.n_train + p.verifier_blocks, **{k: getattr(p, k) for k in keys})


def run_cell(cell: dict, ctx: CellContext) -> dict:
    n, dev, P = cell["n_train"], ctx.device, cell["prompt_tokens"]
    data = load_data(cell, n + cell["verifier_blocks"])
    human, ver_blocks = data.splits.train[:n], data.splits.train[n:]
    make = factory(cell, data, dev)

    last: dict = {}

    def evaluate(model, k, synthetic):
        last["model"] = model  # generation k, the synthesizer, is the chain's last model
        return evaluate_lm(model, data, batch_size=cell["eval_batch"], device=dev)

    def sample(model, key, top_p, prompts):
        return synthesize_blocks(model, prompts, prompt_tokens=P, top_p=top_p, batch_size=cell["sample_batch"],
                                 generator=ctx.torch_generator("sample", *key), device=dev)

    G = cell["generation"]
    chain = recursive_chain(human, generations=G, strategy="replace",
                            fit=lambda b, k: fit(make, b, cell, ctx.torch_generator("fit", k, device="cpu"), dev),
                            synthesize=lambda m, k: sample(m, ("chain", k), cell["chain_top_p"], human) if k < G
                            else human[:0], evaluate=evaluate, rng=ctx.generator("chain"))
    gen_model = last.pop("model")
    C = cell["candidates"]
    pool = sample(gen_model, ("pool",), 1.0, human.repeat_interleave(C, 0))  # (n C, L): C per prefix
    del gen_model
    if cell["verifier"] == "reference":
        score = overlap_f1(pool[:, P:], human[:, P:].repeat_interleave(C, 0), data.vocab_size).reshape(n, C)
        ver_loss = float("nan")
    else:
        make_v = factory(cell, data, dev, n_embd=cell["verifier_embd"]) if cell["model"] is None else make
        verifier = fit(make_v, ver_blocks, cell, ctx.torch_generator("fit", "verifier", device="cpu"), dev,
                       epochs=cell["verifier_epochs"])
        ver_loss = evaluate_lm(verifier, data, batch_size=cell["eval_batch"], device=dev)["loss"]
        nll, _ = token_nll(verifier, pool, batch_size=cell["eval_batch"], device=dev)
        del verifier
        score = torch.as_tensor(-nll[:, P - 1:].mean(1)).reshape(n, C)  # mean log-lik of the continuation
    best = score.argmax(1)
    rand = torch.as_tensor(ctx.generator("unselected").integers(0, C, n), dtype=torch.long)
    out = {"chain": chain.rows, "verifier_loss": ver_loss, "candidates": C}
    for name, pick in (("selected", best), ("unselected", rand)):
        corpus = pool[torch.arange(n) * C + pick]
        model = fit(make, corpus, cell, ctx.torch_generator("fit", name, device="cpu"), dev)
        ev = evaluate_lm(model, data, batch_size=cell["eval_batch"], device=dev)
        out[f"{name}_loss"], out[f"{name}_tail_loss"] = ev["loss"], ev["tail_loss"]
        out[f"{name}_score"] = float(score[torch.arange(n), pick].mean())
    gk = chain.rows[-1]
    out["generator_loss"], out["generator_tail_loss"] = gk["loss"], gk["tail_loss"]
    out["human_loss"] = chain.rows[0]["loss"]
    return out


def _work(cell: dict) -> tuple[float, float]:
    n, G, C = cell["n_train"], cell["generation"], cell["candidates"]
    flops, steps = work(cell, train_blocks=cell["epochs"] * n * (G + 3), sample_prompts=n * (G + C),
                        eval_blocks=(G + 3) * cell["n_test"])
    if cell["verifier"] == "likelihood":  # the verifier: trained, evaluated, scoring the n C candidates
        v = {**cell, "n_embd": cell["verifier_embd"]}
        vf, vs = work(v, train_blocks=cell["verifier_epochs"] * cell["verifier_blocks"], sample_prompts=0,
                      eval_blocks=cell["n_test"] + n * C)
        flops, steps = flops + vf, steps + vs
    return flops, steps


def cell_flops(cell: dict) -> float:
    """FLOPs of one replicate (:func:`collapselab.experiments._lm.work`): generation + 3 fits of
    ``epochs`` passes over n_train blocks (the chain's generation + 1 models, selected, unselected),
    n_train x (generation + candidates) continuations, generation + 3 evaluations of n_test blocks;
    with ``verifier=likelihood`` also the verifier (width verifier_embd) trained on verifier_blocks
    and scoring the candidates."""
    return _work(cell)[0]


def cell_cost(cell: dict) -> float:
    """CPU seconds of one replicate on one thread ~ cell_flops / 2e10 + 0.004 x (optimiser + sampling
    steps) + 2 (:func:`collapselab.experiments._lm.cost_units`)."""
    return cost_units(*_work(cell))


def overlap_f1(candidates: torch.Tensor, references: torch.Tensor, vocab_size: int) -> torch.Tensor:
    """Bag-of-tokens F1 (ROUGE-1 on tokens) of each candidate row against its reference row:
    F1 = 2 sum_v min(c_v, r_v) / (|c| + |r|), with c_v, r_v the counts of token v in the two rows.
    (n, L) integer tensors of equal shape -> (n,) float64 in [0, 1]."""
    if candidates.shape != references.shape or candidates.ndim != 2:
        raise ValueError(f"`candidates` and `references` must be (n, L) of one shape, got "
                         f"{tuple(candidates.shape)} and {tuple(references.shape)}")
    if candidates.shape[1] == 0:
        raise ValueError("`candidates` has no tokens to compare (L = 0)")

    def counts(t: torch.Tensor) -> torch.Tensor:
        t = t.long().cpu()
        return torch.zeros(t.shape[0], vocab_size, dtype=torch.float64).scatter_add_(
            1, t, torch.ones(t.shape, dtype=torch.float64))

    overlap = torch.minimum(counts(candidates), counts(references)).sum(1)
    return 2 * overlap / (candidates.shape[1] + references.shape[1])


METRICS = ["human_loss", "generator_loss", "unselected_loss", "selected_loss", "verifier_loss",
           "generator_tail_loss", "unselected_tail_loss", "selected_tail_loss", "selected_score", "unselected_score"]


def summarize(frame: pd.DataFrame, p: VerificationParams) -> dict[str, pd.DataFrame]:
    per = frame[["replicate", *METRICS]].sort_values("replicate").reset_index(drop=True)
    means = pd.DataFrame([{"metric": m, "mean": per[m].mean(), "sem": per[m].sem()} for m in METRICS])
    return {"per_replicate": per, "means": means}


def plot(tables: dict[str, pd.DataFrame], p: VerificationParams) -> dict:
    m = tables["means"].set_index("metric")
    fig, axes = new_figure(2)
    for ax, suffix, title in ((axes[0], "loss", "test loss on human text"), (axes[1], "tail_loss", "tail loss")):
        names = [x for x in ("human", "generator", "unselected", "selected") if f"{x}_{suffix}" in m.index]
        vals = [m.loc[f"{x}_{suffix}", "mean"] for x in names]
        errs = [m.loc[f"{x}_{suffix}", "sem"] for x in names]
        ax.bar(range(len(names)), vals, yerr=np.nan_to_num(errs), color=colors(len(names)), capsize=3)
        ax.set_xticks(range(len(names)), ["gen 0 (human)", f"gen {p.generation}", "retrained:\nunselected",
                                          "retrained:\nselected"][-len(names):], fontsize=8)
        ax.set_ylim(min(vals) - 0.2, max(vals) + 0.2)
        ax.set_ylabel("nats / token")
        ax.set_title(title, fontsize=9)
    return {"lm_verification": fig}


def _cmp(r: Results, a: str, b: str):
    per = r.tables["per_replicate"][[a, b]].dropna()
    if len(per) < 2:
        return None
    return stats.paired_difference(per[a], per[b])


def _beats(a: str, b: str, what: str, resolution: float):
    def check(r: Results) -> Verdict:
        cmp = _cmp(r, a, b)
        if cmp is None:
            return Verdict.inconclusive("fewer than 2 replicates", "needs >= 2 seeds")
        return Verdict.of(stats.beats(cmp, resolution=resolution), f"{what}: ")
    return check


def _check_no_collapse(r: Results) -> Verdict:
    cmp = _cmp(r, "selected_loss", "generator_loss")
    if cmp is None:
        return Verdict.inconclusive("fewer than 2 replicates", "needs >= 2 seeds")
    two = stats.paired_difference(r.tables["per_replicate"]["selected_loss"],
                                  r.tables["per_replicate"]["generator_loss"], alternative="two-sided")
    return Verdict.of(stats.at_most(two, resolution=0.05, margin=0.0), "loss(selected) - loss(generator): ")


register(Experiment(
    name="beyond-collapse/lm-verification", paper=BEYOND_COLLAPSE,
    description="Synthesize text with a collapsing generation-k GPT-2, keep the best of N continuations per human "
                "prefix by their token overlap with the human continuation (a reference-based verifier, as "
                "summaries are judged against references), retrain; against a random candidate per prefix",
    params=VerificationParams, presets=PRESETS, cells=cells, run_cell=run_cell, summarize=summarize, plot=plot,
    main_figure="lm_verification", uses_device=True, cell_cost=cell_cost, cell_flops=cell_flops,
    version=3,  # v2: reference-based verifier; v3: tokenizer on training documents only, 6 seeds, sampling in 256s
    claims=[
        Claim("selection-beats-unselected", "Retraining on verifier-selected synthetic text gives a lower test loss on "
              "human text than retraining on the same amount of unselected synthetic text",
              _beats("unselected_loss", "selected_loss", "loss(unselected) - loss(selected)", 0.02),
              source="Abstract; Sec. 1 (LLM news summarisation with a verifier)", kind="paper",
              test="one-sided paired test over seeds of loss(unselected) - loss(selected), alpha 0.05; FAIL when no "
                   "gain with 95% CI half-width <= 0.02 nats"),
        Claim("unselected-collapses", "Retraining on unselected synthetic text collapses: the retrained model is "
              "worse on human text than the generator that wrote the text",
              _beats("unselected_loss", "generator_loss", "loss(unselected) - loss(generator)", 0.02),
              source="Abstract (training on generated data leads to model collapse)", kind="paper",
              test="one-sided paired test over seeds of loss(unselected) - loss(generator), alpha 0.05; resolution "
                   "0.02 nats"),
        Claim("selection-avoids-collapse", "With selection by a good verifier the retrained model is no worse than "
              "its generator (verification prevents the collapse)", _check_no_collapse,
              source="Abstract (selection can even beat the generator); Sec. 1", kind="paper",
              test="two-sided 95% paired-t CI of loss(selected) - loss(generator): PASS when its upper bound <= 0 "
                   "with half-width <= 0.05 nats; FAIL when its lower bound > 0; else INCONCLUSIVE"),
    ]))
