"""Text corpora from local files, tokenised and chunked into train / validation / test blocks.

Formats (:func:`read_documents`):

* a ``.txt`` (or any plain-text) file: one document per non-empty line;
* a ``.jsonl`` file: one JSON object per line, the document under ``text_field``;
* a folder: every file whose suffix is in ``suffixes`` (``.txt`` by default), searched recursively in
  sorted order, one document per file.

Splitting (:func:`split_blocks`). The documents are tokenised, each followed by the tokenizer's EOS,
and concatenated into one stream ``s_0 s_1 ... s_{N-1}``; block ``j`` is ``s[jL : (j+1)L]`` for block
length ``L`` (the tail shorter than ``L`` is dropped). A seeded permutation of the block indices assigns
disjoint index sets to train / validation / test, so no token position of the stream is in two splits
(``tests/lm/test_corpus.py`` checks the positions).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from collapselab._rng import as_rng
from collapselab._validation import check_int
from collapselab.lm._errors import LMInputError


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise LMInputError(f"corpus file {str(path)!r} is not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise LMInputError(f"corpus file {str(path)!r} cannot be read: {exc.strerror}") from None


def read_documents(path: str | Path, *, text_field: str = "text",
                   suffixes: Sequence[str] = (".txt",)) -> list[str]:
    """The documents of a local corpus (see the module docstring for the formats).

    Raises :class:`LMInputError` naming the file when it is missing, unreadable, not UTF-8, malformed
    JSONL, or holds no non-blank document.
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise LMInputError(f"corpus {str(path)!r} does not exist")
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in suffixes)
        if not files:
            raise LMInputError(f"corpus folder {str(path)!r} holds no file ending in {', '.join(suffixes)}")
        docs = [t for t in (_read_text(f).strip() for f in files) if t]
    elif path.suffix.lower() == ".jsonl":
        docs = []
        for i, line in enumerate(_read_text(path).splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                raise LMInputError(f"corpus {str(path)!r} line {i} is not JSON") from None
            if not isinstance(row, dict) or not isinstance(row.get(text_field), str):
                raise LMInputError(f"corpus {str(path)!r} line {i} has no string field {text_field!r}")
            if row[text_field].strip():
                docs.append(row[text_field].strip())
    else:
        docs = [line.strip() for line in _read_text(path).splitlines() if line.strip()]
    if not docs:
        raise LMInputError(f"corpus {str(path)!r} holds no non-blank document")
    return docs


def tokenize_documents(documents: Sequence[str], tokenizer, *, max_tokens: int | None = None) -> np.ndarray:
    """One int64 token stream: each document's ids followed by ``tokenizer.eos_token_id``.

    max_tokens: stop once the stream holds at least this many tokens (documents are taken in order).
    """
    if not documents:
        raise ValueError("`documents` must be non-empty")
    eos = tokenizer.eos_token_id
    if eos is None:
        raise ValueError("`tokenizer` has no eos_token_id")
    parts, total = [], 0
    for doc in documents:
        ids = tokenizer(doc, add_special_tokens=False)["input_ids"]
        parts.append(np.asarray([*ids, eos], dtype=np.int64))
        total += len(ids) + 1
        if max_tokens is not None and total >= max_tokens:
            break
    return np.concatenate(parts)


@dataclass(frozen=True)
class Splits:
    """Disjoint blocks of one token stream: ``train``, ``val``, ``test`` are int64 tensors (n_i, L);
    ``index`` maps each split to the block numbers it took (block j covers stream positions [jL, jL+L))."""

    train: torch.Tensor
    val: torch.Tensor
    test: torch.Tensor
    index: dict[str, np.ndarray]
    block_size: int


def split_blocks(stream: np.ndarray, *, block_size: int, n_val: int, n_test: int, n_train: int | None = None,
                 rng=None, source: str = "corpus") -> Splits:
    """Cut ``stream`` into blocks of ``block_size`` and assign them to disjoint splits at random.

    n_val, n_test: blocks held out (validation, test); n_train: training blocks (default: all the
    rest). Raises :class:`LMInputError` naming ``source`` when the stream is too short.
    """
    block_size = check_int("block_size", block_size, low=2)
    n_val = check_int("n_val", n_val, low=0)
    n_test = check_int("n_test", n_test, low=1)
    stream = np.asarray(stream, dtype=np.int64)
    if stream.ndim != 1:
        raise ValueError(f"`stream` must be 1-D, got shape {stream.shape}")
    n_blocks = len(stream) // block_size
    need = n_val + n_test + (1 if n_train is None else check_int("n_train", n_train, low=1))
    if n_blocks < need:
        raise LMInputError(f"{source} is too small for the split: {len(stream)} tokens make {n_blocks} blocks "
                           f"of {block_size}, need {need} ({n_train or 'some'} train + {n_val} val + {n_test} "
                           "test)")
    perm = as_rng(rng).permutation(n_blocks)
    idx = {"test": np.sort(perm[:n_test]), "val": np.sort(perm[n_test:n_test + n_val])}
    rest = perm[n_test + n_val:]
    idx["train"] = rest if n_train is None else rest[:n_train]  # train order is the random order
    blocks = torch.from_numpy(stream[:n_blocks * block_size].reshape(n_blocks, block_size).copy())
    return Splits(train=blocks[idx["train"]], val=blocks[idx["val"]], test=blocks[idx["test"]], index=idx,
                  block_size=block_size)


def token_counts(blocks: torch.Tensor, vocab_size: int) -> np.ndarray:
    """Occurrences of each token id in ``blocks`` (any shape), length ``vocab_size``."""
    vocab_size = check_int("vocab_size", vocab_size, low=1)
    flat = torch.as_tensor(blocks).reshape(-1).cpu()
    if flat.numel() and (int(flat.min()) < 0 or int(flat.max()) >= vocab_size):
        raise ValueError(f"`blocks` holds ids outside [0, {vocab_size})")
    return torch.bincount(flat, minlength=vocab_size).numpy().astype(np.int64)


def frequency_bins(counts: np.ndarray, *, mass_edges: Sequence[float] = (0.5, 0.8, 0.95)) -> np.ndarray:
    """Bin every token id by how frequent it is in a reference (human) corpus.

    Ids are ranked by count (descending; ties by id) and the cumulative share of occurrences
    F(r) = sum_{r' <= r} c_(r') / sum c is cut at ``mass_edges`` 0 < m_1 < ... < m_{B-1} < 1: an id of
    rank r falls in bin b when m_b <= F(r-1) < m_{b+1} (m_0 = 0, m_B = 1), so bin 0 is the head (the
    most frequent ids, together a share m_1 of the text) and bin B-1 the tail (the rarest ids, a share
    1 - m_{B-1}, including every id never seen). This is the "tail" of Dohmatob et al. (2024, A Tale
    of Tails): the rare part of a Zipf-like token distribution that sampling cuts first.
    Returns an int array of length ``len(counts)`` with values in 0..B-1.
    """
    counts = np.asarray(counts, dtype=np.float64)
    edges = np.asarray(mass_edges, dtype=np.float64)
    if counts.ndim != 1 or counts.size == 0 or (counts < 0).any() or counts.sum() <= 0:
        raise ValueError("`counts` must be a non-empty 1-D array of non-negative counts with a positive sum")
    if edges.ndim != 1 or edges.size == 0 or (edges <= 0).any() or (edges >= 1).any() or (np.diff(edges) <= 0).any():
        raise ValueError(f"`mass_edges` must increase strictly inside (0, 1), got {list(mass_edges)}")
    order = np.lexsort((np.arange(counts.size), -counts))
    before = np.concatenate([[0.0], np.cumsum(counts[order])[:-1]]) / counts.sum()  # F(r-1)
    bins = np.empty(counts.size, dtype=np.int64)
    bins[order] = np.searchsorted(edges, before, side="right")
    return bins


def bin_mass(counts: np.ndarray, bins: np.ndarray, n_bins: int | None = None) -> np.ndarray:
    """Share of the occurrences in ``counts`` that fall in each bin of ``bins`` (sums to 1)."""
    counts = np.asarray(counts, dtype=np.float64)
    bins = np.asarray(bins)
    if counts.shape != bins.shape:
        raise ValueError(f"`counts` {counts.shape} and `bins` {bins.shape} must have the same shape")
    n_bins = int(bins.max()) + 1 if n_bins is None else n_bins
    total = counts.sum()
    if total <= 0:
        raise ValueError("`counts` must have a positive sum")
    return np.bincount(bins, weights=counts, minlength=n_bins) / total

