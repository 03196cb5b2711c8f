"""Wiring for the language-model experiments: a corpus and a model source (the small GPT-2 trained
from scratch, or a user's local checkpoint) into token splits, frequency bins and a model factory."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from collapselab._rng import as_rng
from collapselab._validation import check_int
from collapselab.lm._errors import LMInputError
from collapselab.lm.corpus import Splits, frequency_bins, token_counts
from collapselab.lm.evaluate import binned_loss, token_nll
from collapselab.lm.model import load_causal_lm, small_gpt2, train_tokenizer


@dataclass(frozen=True)
class TextData:
    """A tokenised corpus: ``splits`` (disjoint blocks), ``counts`` of each id in the human training
    blocks, ``bins`` (the frequency bin of each id, the last is the tail), the tokenizer, and the text
    ``segments`` each side of the document-level split (``"train"``: the only text a learned tokenizer
    saw; ``"held_out"``: the text the validation and test blocks come from)."""

    tokenizer: Any
    splits: Splits
    counts: np.ndarray
    bins: np.ndarray
    vocab_size: int
    segments: dict[str, list[str]] = field(default_factory=dict, repr=False)


def segment_documents(documents: Sequence[str], *, segment_chars: int = 2000) -> list[tuple[str, bool]]:
    """Cut every document into segments of whole lines, each at most ``segment_chars`` characters
    (a single longer line stays whole): the units of the document-level split. Returns (text, last)
    pairs in corpus order; ``last`` marks the final segment of a document (EOS follows it)."""
    segment_chars = check_int("segment_chars", segment_chars, low=1)
    out: list[tuple[str, bool]] = []
    for doc in documents:
        parts, cur, size = [], [], 0
        for line in doc.splitlines(keepends=True):
            if cur and size + len(line) > segment_chars:
                parts.append("".join(cur))
                cur, size = [], 0
            cur.append(line)
            size += len(line)
        if cur:
            parts.append("".join(cur))
        parts = [q for q in parts if q.strip()] or [doc]
        out += [(q, i == len(parts) - 1) for i, q in enumerate(parts)]
    return out


def _stream(segments: Sequence[tuple[str, bool]], tokenizer) -> np.ndarray:
    """Token ids of ``segments`` in order, EOS after the last segment of each document."""
    eos = tokenizer.eos_token_id
    if eos is None:
        raise ValueError("`tokenizer` has no eos_token_id")
    if not segments:
        return np.zeros(0, dtype=np.int64)
    ids = tokenizer([t for t, _ in segments], add_special_tokens=False)["input_ids"]
    return np.concatenate([np.asarray([*x, eos] if last else x, dtype=np.int64) for x, (_, last) in zip(ids, segments)])


def prepare_text(documents: Sequence[str], *, block_size: int, n_train: int, n_val: int, n_test: int,
                 tokenizer=None, vocab_size: int = 512, max_chars: int | None = None,
                 mass_edges: Sequence[float] = (0.5, 0.8, 0.95), rng=None, segment_chars: int = 2000,
                 source: str = "corpus") -> TextData:
    """Split ``documents`` at the document level, learn the tokenizer on the training side only, and cut
    each side into blocks.

    1. max_chars: keep an equal share of at most ``max_chars`` characters from the start of each
       document (so a budget spans every document).
    2. Cut the documents into segments of whole lines (<= ``segment_chars``, :func:`segment_documents`)
       and shuffle them with ``rng``; the first segments, holding ``c (n_val + n_test) block_size``
       characters, are held out, the rest is the training text (``c``: characters per token, 4 to
       start: generous for a byte-level BPE).
    3. The tokenizer (``tokenizer``, or a byte-level BPE of ``vocab_size`` learned from the **training
       segments only**, so no held-out text shapes the vocabulary) turns each side into a stream (EOS
       after each document's last segment); each stream is cut into blocks of ``block_size``. If the
       held-out blocks are too few, ``c`` is raised to the measured characters per token x 1.25 and
       steps 2-3 are redone (at most 4 times).
    4. Validation and test are disjoint random held-out blocks; train is ``n_train`` random training
       blocks (random order). No token position is in two splits; the two sides share no text.
       Token frequencies and frequency bins come from the training blocks only.

    ``splits.index`` numbers blocks in the stream "training side, then held-out side"."""
    block_size = check_int("block_size", block_size, low=2)
    n_train = check_int("n_train", n_train, low=1)
    n_val, n_test = check_int("n_val", n_val, low=0), check_int("n_test", n_test, low=1)
    if not documents:
        raise ValueError("`documents` must be non-empty")
    if max_chars is not None:
        share = max(1, check_int("max_chars", max_chars, low=1) // len(documents))
        documents = [d[:share] for d in documents]
    segments = segment_documents(documents, segment_chars=segment_chars)
    gen = as_rng(rng)
    order = gen.permutation(len(segments))
    need = n_val + n_test
    chars_per_token = 4.0
    for _ in range(4):
        budget, cut = chars_per_token * need * block_size, 0
        while cut < len(segments) - 1 and sum(len(segments[i][0]) for i in order[:cut]) < budget:
            cut += 1
        held = sorted(int(i) for i in order[:cut])  # corpus order within each side
        train = sorted(int(i) for i in order[cut:])
        tok = tokenizer if tokenizer is not None else train_tokenizer([segments[i][0] for i in train],
                                                                      vocab_size=vocab_size)
        held_stream = _stream([segments[i] for i in held], tok)
        if len(held_stream) // block_size >= need or cut >= len(segments) - 1:
            break
        chars = sum(len(segments[i][0]) for i in held)
        chars_per_token = max(2 * chars_per_token if not len(held_stream) else 0.0,
                              1.25 * chars / max(1, len(held_stream)))
    train_stream = _stream([segments[i] for i in train], tok)
    n_held, n_tr = len(held_stream) // block_size, len(train_stream) // block_size
    if n_held < need or n_tr < n_train:
        raise LMInputError(f"{source} is too small for the split: {n_tr} training blocks and {n_held} held-out "
                           f"blocks of {block_size} tokens, need {n_train} train + {n_val} val + {n_test} test")
    held_perm = gen.permutation(n_held)
    idx = {"test": np.sort(held_perm[:n_test]) + n_tr, "val": np.sort(held_perm[n_test:need]) + n_tr,
           "train": gen.permutation(n_tr)[:n_train]}
    blocks = torch.from_numpy(np.concatenate([train_stream[:n_tr * block_size], held_stream[:n_held * block_size]])
                              .reshape(n_tr + n_held, block_size).copy())
    splits = Splits(train=blocks[idx["train"]], val=blocks[idx["val"]], test=blocks[idx["test"]], index=idx,
                    block_size=block_size)
    size = max(len(tok), int(blocks.max()) + 1)
    counts = token_counts(splits.train, size)
    return TextData(tok, splits, counts, frequency_bins(counts, mass_edges=mass_edges), size,
                    {"train": [segments[i][0] for i in train], "held_out": [segments[i][0] for i in held]})


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
