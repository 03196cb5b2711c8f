"""The summarisation task of Feng et al. Sec. 6 [V: notes A.5], scaled to a built-in corpus.

The paper fine-tunes Llama-2 on XLSUM news. Offline and on a CPU we generate a synthetic corpus whose
reference summary is a deterministic function of the document [R: the issue's reconstruction]:

* a document is ``n_sentences`` sentences "ENTITY VERB OBJECT MODIFIER ." drawn at random;
* a sentence is *newsworthy* when its modifier is one of the ``IMPORTANT`` words; every document
  has between 1 and ``max_important`` newsworthy sentences;
* the summary lists the newsworthy sentences in order, each as "ENTITY VERB OBJECT ;".

Quality is ROUGE (``rouge-score``'s RougeScorer): ROUGE-L F1 against the reference is also the
oracle verifier. Word-level tokens; ids 0..3 are PAD, SEP, EOS and UNK.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import torch

from collapselab._rng import SeedLike, as_rng
from collapselab._validation import check_int

ENTITIES = ("alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy",
            "mallory", "oscar")
VERBS = ("buys", "sells", "paints", "repairs", "finds", "loses", "builds", "moves")
OBJECTS = ("apples", "boats", "cars", "desks", "engines", "flutes", "gates", "houses", "islands",
           "jackets", "kites", "lamps")
IMPORTANT = ("officially", "suddenly", "publicly")
ROUTINE = ("quietly", "slowly", "often", "again", "today")
PAD, SEP, EOS, UNK = 0, 1, 2, 3
SPECIALS = ("<pad>", "<sep>", "<eos>", "<unk>")
PUNCT = (".", ";")


class SummaryCorpus(NamedTuple):
    documents: list[str]
    summaries: list[str]


def reference_summary(document: str) -> str:
    """The deterministic summary of a corpus document (see the module docstring)."""
    words = document.split()
    parts = []
    for i in range(0, len(words), 5):
        ent, verb, obj, mod = words[i:i + 4]
        if mod in IMPORTANT:
            parts.append(f"{ent} {verb} {obj} ;")
    return " ".join(parts)


def make_summary_corpus(n: int, *, n_sentences: int = 5, max_important: int = 3,
                        rng: SeedLike = None) -> SummaryCorpus:
    """n (document, reference summary) pairs of the synthetic corpus."""
    n = check_int("n", n, low=0)
    n_sentences = check_int("n_sentences", n_sentences, low=1)
    max_important = check_int("max_important", max_important, low=1, high=n_sentences)
    rng = as_rng(rng)
    docs = []
    for _ in range(n):
        k = int(rng.integers(1, max_important + 1))
        important = set(rng.choice(n_sentences, size=k, replace=False).tolist())
        sents = []
        for j in range(n_sentences):
            mods = IMPORTANT if j in important else ROUTINE
            sents.append(" ".join([ENTITIES[rng.integers(len(ENTITIES))], VERBS[rng.integers(len(VERBS))],
                                   OBJECTS[rng.integers(len(OBJECTS))], mods[rng.integers(len(mods))], "."]))
        docs.append(" ".join(sents))
    return SummaryCorpus(docs, [reference_summary(d) for d in docs])


class WordVocab:
    """Word <-> id for the synthetic corpus (ids 0..3 are PAD, SEP, EOS, UNK)."""

    def __init__(self, words: Sequence[str] | None = None):
        words = words or (ENTITIES + VERBS + OBJECTS + IMPORTANT + ROUTINE + PUNCT)
        self.itos = list(SPECIALS) + list(words)
        self.stoi = {w: i for i, w in enumerate(self.itos)}

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, text: str) -> list[int]:
        return [self.stoi.get(w, UNK) for w in text.split()]

    def decode(self, ids) -> str:
        """Words up to the first EOS; PAD and SEP are dropped."""
        out = []
        for i in ids:
            i = int(i)
            if i == EOS:
                break
            if i not in (PAD, SEP):
                out.append(self.itos[i])
        return " ".join(out)

    def prompts(self, documents: Sequence[str]) -> torch.Tensor:
        """(n, L + 1): document tokens (all documents have one length L) then SEP."""
        rows = [self.encode(d) + [SEP] for d in documents]
        if len({len(r) for r in rows}) > 1:
            raise ValueError("all `documents` must have the same number of words")
        return torch.tensor(rows, dtype=torch.int64)

    def answers(self, summaries: Sequence[str], length: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(n, length) summary tokens + EOS, right-padded with PAD, and the mask of real tokens."""
        out = torch.full((len(summaries), length), PAD, dtype=torch.int64)
        mask = torch.zeros((len(summaries), length), dtype=torch.bool)
        for i, s in enumerate(summaries):
            ids = (self.encode(s) + [EOS])[:length]
            out[i, :len(ids)] = torch.tensor(ids)
            mask[i, :len(ids)] = True
        return out, mask


def summary_length(max_important: int = 3) -> int:
    """Answer length in tokens: 4 per newsworthy sentence, plus EOS."""
    return 4 * max_important + 1


@functools.lru_cache(maxsize=1)
def _scorer():
    from rouge_score.rouge_scorer import RougeScorer

    return RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=False)


def rouge_scores(predictions: Sequence[str], references: Sequence[str]) -> dict[str, np.ndarray]:
    """Per-pair ROUGE-1, ROUGE-2 and ROUGE-L F1 (``rouge-score``, no stemming); arrays of shape (n,)."""
    if len(predictions) != len(references):
        raise ValueError(f"`predictions` and `references` must have the same length, got "
                         f"{len(predictions)} and {len(references)}")
    scorer = _scorer()
    out = {"rouge1": [], "rouge2": [], "rougeL": []}
    for p, r in zip(predictions, references):
        s = scorer.score(r, p)
        for k in out:
            out[k].append(s[k].fmeasure)
    return {k: np.asarray(v, dtype=np.float64) for k, v in out.items()}
