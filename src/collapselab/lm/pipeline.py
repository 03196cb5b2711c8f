"""Wiring for the language-model experiments: a corpus and a model source (the small GPT-2 trained
from scratch, or a user's local checkpoint) into token splits, frequency bins and a model factory."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from collapselab._validation import check_int
from collapselab.lm.corpus import Splits, frequency_bins, split_blocks, token_counts, tokenize_documents
from collapselab.lm.evaluate import binned_loss, token_nll
from collapselab.lm.model import load_causal_lm, small_gpt2, train_tokenizer


@dataclass(frozen=True)
class TextData:
    """A tokenised corpus: ``splits`` (disjoint blocks), ``counts`` of each id in the human training
    blocks, ``bins`` (the frequency bin of each id, the last is the tail) and the tokenizer."""

    tokenizer: Any
    splits: Splits
    counts: np.ndarray
    bins: np.ndarray
    vocab_size: int


def prepare_text(documents: Sequence[str], *, block_size: int, n_train: int, n_val: int, n_test: int,
                 tokenizer=None, vocab_size: int = 512, max_chars: int | None = None,
                 mass_edges: Sequence[float] = (0.5, 0.8, 0.95), rng=None, source: str = "corpus") -> TextData:
    """Tokenise ``documents`` (with ``tokenizer``, or a byte-level BPE of ``vocab_size`` learned from them)
    and split into blocks. max_chars: keep an equal share of at most ``max_chars`` characters from the
    start of each document (so a budget spans every document). Frequency bins come from the training
    blocks only."""
    block_size = check_int("block_size", block_size, low=2)
    if max_chars is not None:
        share = max(1, check_int("max_chars", max_chars, low=1) // len(documents))
        documents = [d[:share] for d in documents]
    if tokenizer is None:
        tokenizer = train_tokenizer(documents, vocab_size=vocab_size)
    stream = tokenize_documents(documents, tokenizer)
    splits = split_blocks(stream, block_size=block_size, n_train=n_train, n_val=n_val, n_test=n_test, rng=rng,
                          source=source)
    size = max(len(tokenizer), int(stream.max()) + 1)
    counts = token_counts(splits.train, size)
    return TextData(tokenizer, splits, counts, frequency_bins(counts, mass_edges=mass_edges), size)


def model_factory(model: str | Path | None, *, vocab_size: int, size: dict[str, int], n_positions: int,
                  device: str | torch.device = "cpu", dtype: str | None = None) -> Callable[[torch.Generator], Any]:
    """``make(generator) -> model``: a fresh small GPT-2 of ``size`` (n_layer, n_embd, n_head) initialised
    from ``generator``, or (``model`` a local folder) a fresh copy of that checkpoint, fine-tuned from its
    weights in every generation as the papers fine-tune their base model."""
    if model is None:
        return lambda g: small_gpt2(vocab_size, n_positions=n_positions, generator=g, device=device, **size)
    return lambda g: load_causal_lm(model, device=device, dtype=dtype)[0]


def evaluate_lm(model, data: TextData, *, split: str = "test", batch_size: int = 64,
                device: str | torch.device = "cpu") -> dict[str, Any]:
    """Loss (nats/token) and perplexity on a held-out human split, the loss in each frequency bin
    (``bin_loss``, head to tail) and on the tail (``tail_loss``, the last bin)."""
    blocks = getattr(data.splits, split)
    nll, targets = token_nll(model, blocks, batch_size=batch_size, device=device)
    per_bin = binned_loss(nll, targets, data.bins, int(data.bins.max()) + 1)
    return {"loss": float(nll.mean()), "ppl": float(np.exp(nll.mean())),
            "bin_loss": [float(x) for x in per_bin], "tail_loss": float(per_bin[-1])}
