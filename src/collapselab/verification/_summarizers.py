"""Summariser backends for the synthesize -> select -> retrain pipeline (Feng et al. Sec. 6).

Both expose one interface, so the experiment is the same whatever the model:

* ``train(docs, sums, steps, generator) -> model``: a fresh model fitted to (document, summary) pairs;
* ``sample(model, docs, k, generator) -> list[list[str]]``: k sampled candidate summaries per document;
* ``greedy(model, docs) -> list[str]``: the greedy summary (test-time decoding);
* ``score(model, docs, sums) -> ndarray``: mean per-token log-probability of each summary (the
  scoring-model verifier).

:class:`TinySummarizer` is a :class:`collapselab.nn.DecoderLM` on word tokens of the built-in corpus
(:func:`make_summary_corpus`); :class:`HFSummarizer` fine-tunes a local Hugging Face causal LM (every
``train`` reloads it from its folder). ``generator`` is an int seed or a CPU ``torch.Generator``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from collapselab._rng import as_torch_generator
from collapselab._validation import check_int, check_real
from collapselab.lm import load_causal_lm
from collapselab.verification._eigen import new_model
from collapselab.verification._hf import finetune_causal_lm, sample_summaries, summary_logprob
from collapselab.verification._seqmodel import answer_logprob, beam_search, sample_answers, train_prompt_answer
from collapselab.verification._summarize import EOS, WordVocab, summary_length


class TinySummarizer:
    """A small DecoderLM trained from scratch on the built-in corpus (word tokens).

    n_sentences / max_important: the corpus shape (they fix the prompt and answer lengths);
    d_model, n_layers, n_heads: the transformer; batch_size, lr: AdamW; temperature: sampling.
    """

    def __init__(self, *, n_sentences: int = 5, max_important: int = 3, d_model: int = 64, n_layers: int = 2,
                 n_heads: int = 4, batch_size: int = 64, lr: float = 2e-3, temperature: float = 1.0,
                 device: str | torch.device = "cpu"):
        self.n_sentences = check_int("n_sentences", n_sentences, low=1)
        self.max_important = check_int("max_important", max_important, low=1)
        self.d_model, self.n_layers, self.n_heads = d_model, n_layers, n_heads
        self.batch_size = check_int("batch_size", batch_size, low=1)
        self.lr = check_real("lr", lr, low=0.0, low_open=True)
        self.temperature = check_real("temperature", temperature, low=0.0)
        self.device = device
        self.vocab = WordVocab()
        self.ans_len = summary_length(max_important)
        self.max_len = 5 * n_sentences + 1 + self.ans_len  # 5 words per sentence, SEP, answer

    def train(self, docs: Sequence[str], sums: Sequence[str], steps: int, generator=None):
        g = as_torch_generator(generator)
        model = new_model(len(self.vocab), self.max_len, d_model=self.d_model, n_layers=self.n_layers,
                          n_heads=self.n_heads, seed=g, device=self.device)
        ans, mask = self.vocab.answers(list(sums), self.ans_len)
        train_prompt_answer(model, self.vocab.prompts(list(docs)), ans, mask, steps=steps,
                            batch_size=self.batch_size, lr=self.lr, device=self.device, generator=g)
        return model

    def sample(self, model, docs: Sequence[str], k: int, generator=None) -> list[list[str]]:
        out = sample_answers(model, self.vocab.prompts(list(docs)), num_samples=k, max_new_tokens=self.ans_len,
                             temperature=self.temperature, stop_token=EOS,
                             generator=as_torch_generator(generator, device=next(model.parameters()).device))
        return [[self.vocab.decode(t) for t in row] for row in out.tokens]

    def greedy(self, model, docs: Sequence[str]) -> list[str]:
        out = beam_search(model, self.vocab.prompts(list(docs)), beam_size=1, max_new_tokens=self.ans_len,
                          stop_token=EOS)
        return [self.vocab.decode(row[0]) for row in out.tokens]

    def score(self, model, docs: Sequence[str], sums: Sequence[str]) -> np.ndarray:
        """Mean per-token log-probability (summary tokens and EOS), shape (n,)."""
        ans, mask = self.vocab.answers(list(sums), self.ans_len)
        lp = answer_logprob(model, self.vocab.prompts(list(docs)), ans, mask).numpy()
        return lp / mask.sum(1).clamp_min(1).numpy()


class HFSummarizer:
    """A local Hugging Face causal LM (folder ``path``, loaded by :func:`collapselab.lm.load_causal_lm`:
    safetensors only, else :class:`collapselab.lm.LMInputError`), fine-tuned on summary tokens. dtype:
    None / "float32" (float32), "bfloat16" or "float16"; max_new_tokens: longest sample."""

    def __init__(self, path: str, *, dtype: str | None = None, batch_size: int = 8, lr: float = 2e-5,
                 temperature: float = 1.0, max_new_tokens: int = 64, device: str | torch.device = "cpu"):
        self.path, self.dtype, self.device = path, dtype, device
        self.batch_size = check_int("batch_size", batch_size, low=1)
        self.lr = check_real("lr", lr, low=0.0, low_open=True)
        self.temperature = check_real("temperature", temperature, low=0.0)
        self.max_new_tokens = check_int("max_new_tokens", max_new_tokens, low=1)
        load_causal_lm(path, device="cpu", dtype=dtype)  # fail early: folder and package

    def train(self, docs: Sequence[str], sums: Sequence[str], steps: int, generator=None):
        model, tok = load_causal_lm(self.path, device=self.device, dtype=self.dtype)
        finetune_causal_lm(model, tok, list(docs), list(sums), steps=steps, batch_size=self.batch_size,
                           lr=self.lr, device=self.device, generator=_int_seed(generator))
        return model, tok

    def sample(self, mt, docs: Sequence[str], k: int, generator=None) -> list[list[str]]:
        return sample_summaries(*mt, list(docs), num_samples=k, max_new_tokens=self.max_new_tokens,
                                temperature=self.temperature, device=self.device, seed=_int_seed(generator))

    def greedy(self, mt, docs: Sequence[str]) -> list[str]:
        return [s[0] for s in sample_summaries(*mt, list(docs), num_samples=1, temperature=0.0,
                                               max_new_tokens=self.max_new_tokens, device=self.device)]

    def score(self, mt, docs: Sequence[str], sums: Sequence[str]) -> np.ndarray:
        return np.asarray(summary_logprob(*mt, list(docs), list(sums), device=self.device))


def _int_seed(generator) -> int | None:
    """The HF helpers take an int seed: draw one from a torch.Generator, pass ints through."""
    if generator is None or isinstance(generator, (int, np.integer)):
        return generator
    return int(torch.randint(0, 2**31 - 1, (1,), generator=generator))
