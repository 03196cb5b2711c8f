"""beyond-collapse/summarization: the fast synthetic control of Feng et al. Sec. 6 (Llama-2 on XLSUM in
the paper; the real-text version is the language-model experiments' job). A generator samples k
candidate summaries; ROUGE-L against the reference (oracle) or a scoring model selects one; fresh models
are retrained on the selected pairs and scored by ROUGE-L on test documents."""

from __future__ import annotations

import numpy as np
import pandas as pd
from pydantic import Field, field_validator

from collapselab import stats
from collapselab.core import CellContext, Claim, Experiment, Params, Results, register
from collapselab.core.plotting import colors, new_figure
from collapselab.experiments._papers import BEYOND_COLLAPSE
from collapselab.experiments.beyond_collapse._common import (
    DECODE_OVERHEAD,
    STEP_OVERHEAD,
    compare_over_seeds,
    decoder_forward_flops,
)
from collapselab.lm import check_model_dir
from collapselab.verification import (
    HFSummarizer,
    TinySummarizer,
    make_summary_corpus,
    rouge_scores,
    synthesize_select_retrain,
)

STRATEGIES = ("none", "best-of-k/rouge", "best-of-k/model", "real")


class SummaryParams(Params):
    model: str | None = Field(None, description="local Hugging Face causal-LM folder; default: a tiny "
                              "DecoderLM trained from scratch on the built-in corpus")
    dtype: str | None = Field(None, description="Hugging Face path: float32 / bfloat16 / float16")
    n_sentences: int = Field(5, ge=1, description="sentences per synthetic document")
    max_important: int = Field(3, ge=1, description="at most this many newsworthy sentences")
    d_model: int = Field(64, ge=8, description="tiny model width")
    n_layers: int = Field(2, ge=1, description="tiny model depth")
    n_heads: int = Field(4, ge=1)
    n_real: int = Field(300, ge=4, description="real pairs the generator is trained on")
    gen_steps: int = Field(300, ge=1, description="generator training (fine-tuning) steps")
    n_verifier_real: int = Field(3000, ge=4, description="real pairs the scoring-model verifier sees")
    verifier_steps: int = Field(400, ge=1, description="scoring-model training steps")
    n_pool: int = Field(2000, ge=4, description="new documents the generator summarises")
    k: int = Field(4, ge=1, description="sampled candidate summaries per document")
    temperature: float = Field(1.0, gt=0, description="sampling temperature")
    sizes: list[int] = Field([2000], description="amounts of selected data to retrain on")
    retrain_steps: int = Field(400, ge=1, description="training steps of each retrained model")
    batch_size: int = Field(64, ge=1)
    lr: float = Field(2e-3, gt=0, description="learning rate (tiny model; use ~2e-5 for an HF model)")
    max_new_tokens: int = Field(64, ge=1, description="Hugging Face path: longest sampled summary")
    strategies: list[str] = Field(list(STRATEGIES), description="none (first sample), "
                                  "best-of-k/rouge (oracle ROUGE-L), best-of-k/model (scoring model), "
                                  "real (reference summaries: the clean ceiling)")
    n_test: int = Field(500, ge=4, description="test documents")
    resolution: float = Field(0.02, gt=0, description="ROUGE-L difference the claims must resolve (95% CI "
                              "half-width) to return FAIL rather than INCONCLUSIVE")
    min_seeds: int = Field(3, ge=2, description="claims need at least this many seeds")

    @field_validator("model")
    @classmethod
    def _model_local(cls, v: str | None) -> str | None:
        if v is not None:
            check_model_dir(v)  # LMInputError (a ValueError): missing, not local, pickle-only
        return v


def cells(p: SummaryParams) -> list[dict]:
    bad = sorted(set(p.strategies) - set(STRATEGIES))
    if bad:
        raise ValueError(f"unknown strategies {bad}; valid: {STRATEGIES}")
    return [p.model_dump(exclude={"seeds", "resolution", "min_seeds"})]  # one cell per replicate: one generator


def _backend(c: dict, device: str):
    if c["model"]:
        return HFSummarizer(c["model"], dtype=c["dtype"], batch_size=c["batch_size"], lr=c["lr"],
                            temperature=c["temperature"], max_new_tokens=c["max_new_tokens"], device=device)
    return TinySummarizer(n_sentences=c["n_sentences"], max_important=c["max_important"], d_model=c["d_model"],
                          n_layers=c["n_layers"], n_heads=c["n_heads"], batch_size=c["batch_size"], lr=c["lr"],
                          temperature=c["temperature"], device=device)


def run_cell(c: dict, ctx: CellContext) -> dict:
    backend = _backend(c, ctx.device)
    n = c["n_real"] + c["n_verifier_real"] + c["n_pool"] + c["n_test"]
    corpus = make_summary_corpus(n, n_sentences=c["n_sentences"], max_important=c["max_important"],
                                 rng=ctx.generator("corpus"))
    cuts = np.cumsum([0, c["n_real"], c["n_verifier_real"], c["n_pool"], c["n_test"]])
    real, ver, pool, test = ((corpus.documents[a:b], corpus.summaries[a:b]) for a, b in zip(cuts[:-1], cuts[1:]))

    def test_rouge(model) -> dict[str, float]:
        return {k: float(v.mean()) for k, v in rouge_scores(backend.greedy(model, test[0]), test[1]).items()}

    gen = backend.train(*real, c["gen_steps"], ctx.torch_generator("train", "generator", device="cpu"))
    gen_rouge = test_rouge(gen)["rougeL"]
    cands = backend.sample(gen, pool[0], c["k"], ctx.torch_generator("sample"))  # n_pool lists of k
    flat_c = [s for row in cands for s in row]
    oracle = rouge_scores(flat_c, [r for r in pool[1] for _ in range(c["k"])])["rougeL"].reshape(-1, c["k"])
    verifier = backend.train(*ver, c["verifier_steps"], ctx.torch_generator("train", "verifier", device="cpu"))
    flat_docs = [d for d in pool[0] for _ in range(c["k"])]
    model_score = np.asarray(backend.score(verifier, flat_docs, flat_c)).reshape(-1, c["k"])
    del gen, verifier
    rows = []
    for strategy in c["strategies"]:
        def retrain(docs, sums, strategy=strategy):
            g = ctx.torch_generator("train", f"{strategy}:{len(docs)}", device="cpu")
            return test_rouge(backend.train(list(docs), list(sums), c["retrain_steps"], g))

        res = synthesize_select_retrain(
            pool[0], synthesize=None, candidates=[[r] for r in pool[1]] if strategy == "real" else cands,
            retrain=retrain, sizes=c["sizes"], strategy="best-of-k" if strategy.startswith("best-of-k") else "none",
            score=lambda d, cc, strategy=strategy: oracle if strategy == "best-of-k/rouge" else model_score)
        sel = res.selection
        label = 1.0 if strategy == "real" else float(oracle[sel.index, sel.choice].mean())
        rows += [{"strategy": strategy, "size": int(m), **r, "selected_label_rougeL": label}
                 for m, r in zip(res.sizes, res.models)]
    return {"generator_rougeL": gen_rouge, "pool_first_rougeL": float(oracle[:, 0].mean()),
            "pool_best_rougeL": float(oracle.max(1).mean()), "runs": rows}


def summarize(frame: pd.DataFrame, p: SummaryParams) -> dict[str, pd.DataFrame]:
    """``runs``: (replicate, strategy, size) rows; ``curves``: ROUGE-L mean +- SE over seeds;
    ``paired``: paired differences over seeds (selected vs unselected vs clean) at the largest size."""
    rows = [{"replicate": int(r["replicate"]), **pt, "generator_rougeL": r["generator_rougeL"]}
            for _, r in frame.iterrows() for pt in r["runs"]]
    runs = pd.DataFrame(rows, columns=["replicate", "strategy", "size", "rouge1", "rouge2", "rougeL",
                                       "selected_label_rougeL", "generator_rougeL"])
    curves = stats.grouped_mean_se(runs, ["strategy", "size"], "rougeL") if len(runs) else runs
    pairs = []
    if len(runs):
        top = runs[runs["size"] == runs["size"].max()]
        wide = top.pivot_table(index="replicate", columns="strategy", values="rougeL")
        wide["generator"] = top.groupby("replicate")["generator_rougeL"].first()
        for a, b in [("best-of-k/rouge", "none"), ("best-of-k/model", "none"), ("none", "generator"),
                     ("real", "best-of-k/rouge"), ("real", "none")]:
            if a in wide and b in wide and wide[[a, b]].notna().all(axis=None) and len(wide) >= 2:
                cmp = stats.paired_difference(wide[a], wide[b], alternative="two-sided")
                pairs.append({"a": a, "b": b, "difference": cmp.estimate, "ci_low": cmp.low, "ci_high": cmp.high,
                              "seeds": cmp.n})
    return {"runs": runs, "curves": curves, "paired": pd.DataFrame(pairs)}


def plot(tables: dict[str, pd.DataFrame], p: SummaryParams) -> dict:
    curves, runs = tables["curves"], tables["runs"]
    fig, ax = new_figure()
    strategies = list(dict.fromkeys(curves["strategy"]))
    for c, s in zip(colors(len(strategies)), strategies):
        sub = curves[curves["strategy"] == s].sort_values("size")
        ax.errorbar(sub["size"], sub["mean"], yerr=sub["se"].replace(np.inf, 0), color=c, marker="o", label=s)
    if len(runs):
        ax.axhline(float(runs.groupby("replicate")["generator_rougeL"].first().mean()), color="k", ls="--", lw=1,
                   label="generator")
    ax.set(xscale="log", xlabel="selected synthetic pairs", ylabel="test ROUGE-L F1",
           title="summarisation: retrained on selected samples")
    ax.legend()
    return {"rouge_vs_size": fig}


def _pair(a: str, b: str, rule: str):
    def check(r: Results):
        return compare_over_seeds(r.tables["runs"], a, b, rule=rule, resolution=r.params.resolution,
                                  value="rougeL", baseline_column="generator_rougeL", min_seeds=r.params.min_seeds)
    return check


_TEST = ("paired difference of test ROUGE-L (each over n_test documents) across >= 3 seeds at the largest common "
         "size, one-sided t, alpha 0.05: PASS iff the CI low bound > 0; FAIL iff not and the half-width <= "
         "`resolution` (0.02); else INCONCLUSIVE")
SUMMARY_VOCAB = 46  # WordVocab of the built-in corpus
ROUGE_UNITS = 10.0  # cost units per ROUGE-scored pair (rouge-score: ~0.4 ms a pair, measured on 2,000 pairs)


def _summary_work(c: dict) -> tuple[float, int, float, int]:
    """(FLOPs, optimiser steps, decoding positions x batches, ROUGE pairs) of one replicate with the tiny
    DecoderLM (sequence 5 n_sentences + 1 + 4 max_important + 1 word tokens): generator, verifier and one model
    per (strategy, size) trained 3 x forward per example-step; greedy test decoding by the generator and each
    retrained model; k samples per pool document; the verifier scores every candidate (one forward)."""
    answer = 4 * c["max_important"] + 1
    seq = 5 * c["n_sentences"] + 1 + answer
    fwd = decoder_forward_flops(c["d_model"], c["n_layers"], SUMMARY_VOCAB, seq)
    models = len(c["strategies"]) * len(c["sizes"])
    steps = c["gen_steps"] + c["verifier_steps"] + models * c["retrain_steps"]
    flops = (3 * fwd * c["batch_size"] * steps + fwd * c["n_test"] * (1 + models)
             + 2 * fwd * c["n_pool"] * c["k"])
    batches = (1 + models) * -(-c["n_test"] // 512) + -(-c["n_pool"] * c["k"] // 512)
    return flops, steps, float(answer * batches), c["n_pool"] * c["k"] + c["n_test"] * (1 + models)


def cell_flops(cell: dict) -> float:
    """FLOPs of one replicate on the tiny-model path (:func:`_summary_work`); a Hugging Face model's FLOPs
    depend on its checkpoint and are not counted (NaN)."""
    return float("nan") if cell.get("model") else _summary_work(cell)[0]


def cell_cost(cell: dict) -> float:
    """Relative single-thread CPU cost of one replicate (tiny model): FLOPs / 1e6 + STEP_OVERHEAD per optimiser
    step + DECODE_OVERHEAD per decoding position and batch + ROUGE_UNITS per ROUGE-scored pair + 1e3 per cell
    (corpus, selection). Constants as eigenvalues' (the same DecoderLM and trainer) plus the measured ROUGE
    rate; quick: ~2,700 steps and 11,000 ROUGE pairs per replicate."""
    flops, steps, positions, pairs = _summary_work(cell)
    return flops / 1e6 + STEP_OVERHEAD * steps + DECODE_OVERHEAD * positions + ROUGE_UNITS * pairs + 1e3

register(Experiment(
    cell_cost=cell_cost, cell_flops=cell_flops,
    name="beyond-collapse/summarization", paper=BEYOND_COLLAPSE,
    description=("Feng et al. Sec. 6 (Llama-2 on XLSUM) as a fast synthetic control: by default a tiny "
                 "DecoderLM trained from scratch on a built-in corpus (documents of 'ENTITY VERB OBJECT "
                 "MODIFIER' sentences; the reference summary lists the newsworthy ones). A generator trained "
                 "on few real pairs samples k candidate summaries per new document; the verifier is ROUGE-L "
                 "against the reference (oracle) or a scoring model (a second model's log-likelihood); fresh "
                 "models are retrained on the selected pairs and scored by ROUGE (rouge-score). "
                 "`--set model=PATH` runs the same pipeline on a local Hugging Face causal LM (optional "
                 "`transformers`; use --device cuda). Real text: the language-model experiments."),
    params=SummaryParams,
    presets={"smoke": {"d_model": 16, "n_layers": 1, "n_heads": 2, "n_real": 16, "gen_steps": 3,
                       "n_verifier_real": 16, "verifier_steps": 2, "n_pool": 24, "k": 2, "sizes": [8, 16],
                       "retrain_steps": 3, "batch_size": 8, "n_test": 8},
             "quick": {"seeds": 6},  # v3: 3 seeds cannot decide an exact sign-flip test (smallest p 1/8)
             "full": {"d_model": 128, "n_layers": 4, "n_real": 2000, "gen_steps": 2000,
                      "n_verifier_real": 20000, "verifier_steps": 5000, "n_pool": 50000, "k": 8,
                      "sizes": [5000, 20000, 50000], "retrain_steps": 5000, "n_test": 2000, "seeds": 6,
                      "resolution": 0.01}},
    cells=cells, run_cell=run_cell, summarize=summarize, plot=plot, main_figure="rouge_vs_size",
    claims=[
        Claim("selection", "Training on selected synthetic data (oracle ROUGE-L best-of-k) beats training on "
              "unselected synthetic data (test ROUGE-L)", _pair("best-of-k/rouge", "none", "beats"),
              source="Abstract; Sec. 6 (summarisation)", kind="paper", test=_TEST),
        Claim("model-verifier", "Selection by an imperfect verifier (a scoring model's log-likelihood, best-of-k) "
              "also beats unselected synthetic data", _pair("best-of-k/model", "none", "beats"),
              source="Abstract ('even when the verifier is imperfect'); Sec. 6", kind="paper", test=_TEST),
        Claim("collapse", "Retrained on unselected samples, the model does not beat its generator",
              _pair("none", "generator", "at_most"), source="Abstract; Sec. 6", kind="paper",
              test="paired difference none - generator across >= 3 seeds, two-sided 95% t interval: PASS iff its "
              "upper bound <= 0 with half-width <= `resolution`; FAIL iff its lower bound > 0; else "
              "INCONCLUSIVE"),
    ],
    version=3, uses_device=True,  # v3: 6 seeds at quick, all fresh (the version is part of every cell key)
))
