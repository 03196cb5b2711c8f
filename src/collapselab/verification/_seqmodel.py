"""Prompt -> answer training and decoding for :class:`collapselab.nn.DecoderLM` (own beam search).

A pair is one token row: ``prompt (P tokens) | answer (A tokens)``, where the prompt ends with a
separator token; the loss is the next-token cross-entropy on the answer tokens only
(:func:`collapselab.nn.sequence_loss`). Prompts in a batch share one length P (the tasks here have
fixed-length prompts); answers are right-padded, with ``answer_mask`` marking real tokens.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch
import torch.nn.functional as F

from collapselab._rng import as_torch_generator
from collapselab._validation import check_int, check_real
from collapselab.nn.lm_train import train_decoder
from collapselab.nn.transformer import DecoderLM

# allowed(step, prefix (N, t) answer tokens so far) -> (N, V) or (V,) bool mask of permitted tokens
AllowedFn = Callable[[int, torch.Tensor], torch.Tensor]


def train_prompt_answer(model: DecoderLM, prompts: torch.Tensor, answers: torch.Tensor,
                        answer_mask: torch.Tensor | None = None, *, steps: int, batch_size: int = 128,
                        lr: float = 1e-3, weight_decay: float = 0.01, warmup: float = 0.05,
                        device: str | torch.device = "cpu", generator=None) -> list[float]:
    """Train ``model`` in place for ``steps`` AdamW steps on minibatches drawn with replacement.

    prompts (n, P) and answers (n, A) int64; answer_mask (n, A) bool (default all true). The loop is
    :func:`collapselab.nn.train_decoder` (decay on matrices only, gradient clipping at 1): the learning
    rate warms up linearly over ``warmup * steps`` then decays by a cosine to lr / 10. Returns the
    loss of every step.
    """
    steps = check_int("steps", steps, low=0)
    check_int("batch_size", batch_size, low=1)
    check_real("lr", lr, low=0.0, low_open=True)
    n, P = prompts.shape
    if answers.shape[0] != n or n == 0:
        raise ValueError(f"`prompts` and `answers` must have the same, non-zero length, got {n} and "
                         f"{answers.shape[0]}")
    if answer_mask is None:
        answer_mask = torch.ones_like(answers, dtype=torch.bool)
    tokens = torch.cat([prompts, answers], 1)  # (n, P + A)
    loss_mask = torch.zeros(n, tokens.shape[1] - 1, dtype=torch.bool)
    loss_mask[:, P - 1:] = answer_mask.cpu()  # position P-1 (separator) predicts answer[0]
    res = train_decoder(model, tokens, loss_mask, steps=steps, batch_size=batch_size, lr=lr,
                        weight_decay=weight_decay, warmup=warmup, min_lr_ratio=0.1, grad_clip=1.0,
                        generator=as_torch_generator(generator), device=device)
    return res.losses


class Decoded(NamedTuple):
    tokens: torch.Tensor  # (B, k, A) answer tokens (after a stop token: the stop token repeated)
    logprob: torch.Tensor  # (B, k) total log-probability of each answer under the model


def _reorder(states, index: torch.Tensor):
    """Select rows ``index`` of every tensor in a decoding state (states are batch-first)."""
    if isinstance(states, torch.Tensor):
        return states.index_select(0, index)
    if isinstance(states, dict):
        return {k: _reorder(v, index) for k, v in states.items()}
    if isinstance(states, (list, tuple)):
        return type(states)(_reorder(v, index) for v in states)
    return states


class _Stepper:
    """Next-token log-probabilities for growing rows, with the model's KV cache / recurrent state
    (:meth:`DecoderLM.step`) when ``cache`` is true, else by full recomputation."""

    def __init__(self, model: DecoderLM, prompts: torch.Tensor, cache: bool):
        self.model, self.cache = model, cache
        self.rows = prompts  # (N, T)
        if cache:
            self.states = model.init_state(prompts.shape[0], device=prompts.device)
            for t in range(prompts.shape[1]):
                logits, self.states = model.step(prompts[:, t], self.states, t)
            self.logits = logits

    def logprobs(self) -> torch.Tensor:
        if self.cache:
            logits = self.logits
        else:
            logits = self.model(self.rows, start=self.rows.shape[1] - 1)[:, -1]  # the head at the last position only
        return F.log_softmax(logits.float(), -1)  # (N, V)

    def advance(self, source: torch.Tensor | None, tokens: torch.Tensor, last: bool) -> None:
        """Rows become rows[source] + tokens (N',); the cache follows the same reordering. ``source`` None
        keeps every row in place (no copy of the cache)."""
        pos = self.rows.shape[1]
        rows = self.rows if source is None else self.rows.index_select(0, source)
        self.rows = torch.cat([rows, tokens[:, None]], 1)
        if self.cache and not last:
            if source is not None:
                self.states = _reorder(self.states, source)
            self.logits, self.states = self.model.step(tokens, self.states, pos)


def _can_cache(model) -> bool:
    return hasattr(model, "init_state") and hasattr(model, "step")


def _mask_logits(logits: torch.Tensor, allowed: AllowedFn | None, step: int, prefix: torch.Tensor):
    if allowed is None:
        return logits
    ok = allowed(step, prefix).to(logits.device)
    return logits.masked_fill(~ok, float("-inf"))


@torch.no_grad()
def beam_search(model: DecoderLM, prompts: torch.Tensor, *, beam_size: int, max_new_tokens: int,
                stop_token: int | None = None, allowed: AllowedFn | None = None,
                batch_size: int = 256, cache: bool | None = None) -> Decoded:
    """Beam search: keep the ``beam_size`` highest-log-probability answers at every step.

    prompts (B, P). Finished beams (that emitted ``stop_token``) keep their score and are extended
    with ``stop_token`` at no cost. ``allowed`` restricts tokens per step (constrained decoding).
    Beams are returned best first; beam 0 is the generator's own top-1. ``cache`` (default: when the
    model has ``init_state``/``step``) decodes through the model's KV cache, reordered with the beams;
    otherwise every step recomputes the whole prefix. Returns tokens (B, k, max_new_tokens), log-probs
    (B, k).
    """
    beam_size = check_int("beam_size", beam_size, low=1)
    max_new_tokens = check_int("max_new_tokens", max_new_tokens, low=1)
    cache = _can_cache(model) if cache is None else bool(cache)
    outs, lps = [], []
    for start in range(0, prompts.shape[0], batch_size):
        t, lp = _beam_chunk(model, prompts[start:start + batch_size], beam_size, max_new_tokens,
                            stop_token, allowed, cache)
        outs.append(t)
        lps.append(lp)
    return Decoded(torch.cat(outs), torch.cat(lps))


def _beam_chunk(model, prompts, k, max_new, stop_token, allowed, cache):
    device = next(model.parameters()).device
    model.eval()
    B, P = prompts.shape
    stepper = _Stepper(model, prompts.to(device), cache)  # one live beam per prompt at first
    nb = 1
    scores = torch.zeros(B, 1, device=device)
    done = torch.zeros(B, 1, dtype=torch.bool, device=device)
    for step in range(max_new):
        logp = _mask_logits(stepper.logprobs(), allowed, step, stepper.rows[:, P:])  # (B*nb, V)
        V = logp.shape[-1]
        logp = logp.view(B, nb, V)
        if stop_token is not None:  # a finished beam only continues with stop_token, at no cost
            frozen = torch.full((V,), float("-inf"), device=device)
            frozen[stop_token] = 0.0
            logp = torch.where(done[..., None], frozen, logp)
        total = (scores[..., None] + logp).view(B, nb * V)  # (B, nb*V)
        kk = min(k, nb * V)
        top, arg = total.topk(kk, dim=1)  # (B, kk), best first
        beam, tok = arg // V, arg % V
        source = (torch.arange(B, device=device)[:, None] * nb + beam).reshape(-1)  # rows to extend
        stepper.advance(source, tok.reshape(-1), last=step == max_new - 1)
        nb, scores = kk, top
        done = done.gather(1, beam)
        if stop_token is not None:
            done = done | (tok == stop_token)
    seqs = stepper.rows.view(B, nb, -1)
    bad = ~torch.isfinite(scores)  # beams forced through forbidden tokens: fewer valid than k
    if bad.any():
        seqs = torch.where(bad[..., None], seqs[:, :1].expand_as(seqs), seqs)
        scores = torch.where(bad, scores[:, :1].expand_as(scores), scores)
    if nb < k:  # fewer reachable beams than asked (tiny vocabulary): repeat the last
        seqs = torch.cat([seqs, seqs[:, -1:].expand(-1, k - nb, -1)], 1)
        scores = torch.cat([scores, scores[:, -1:].expand(-1, k - nb)], 1)
    return seqs[:, :, P:].cpu(), scores.cpu()


@torch.no_grad()
def sample_answers(model: DecoderLM, prompts: torch.Tensor, *, num_samples: int, max_new_tokens: int,
                   temperature: float = 1.0, stop_token: int | None = None,
                   allowed: AllowedFn | None = None, generator=None, batch_size: int = 256,
                   cache: bool | None = None) -> Decoded:
    """Draw ``num_samples`` answers per prompt by ancestral sampling at ``temperature`` (0: greedy).

    Returns tokens (B, num_samples, max_new_tokens) and their log-probabilities at temperature 1.
    ``cache`` as in :func:`beam_search`.
    """
    num_samples = check_int("num_samples", num_samples, low=1)
    max_new_tokens = check_int("max_new_tokens", max_new_tokens, low=1)
    temperature = check_real("temperature", temperature, low=0.0)
    cache = _can_cache(model) if cache is None else bool(cache)
    device = next(model.parameters()).device
    g = as_torch_generator(generator, device=device) if generator is not None or temperature > 0 else None
    model.eval()
    B, P = prompts.shape
    rows = prompts.to(device).repeat_interleave(num_samples, 0)  # (B*k, P)
    outs, lps = [], []
    for start in range(0, rows.shape[0], batch_size):
        stepper = _Stepper(model, rows[start:start + batch_size], cache)
        n = stepper.rows.shape[0]
        lp = torch.zeros(n, device=device)
        done = torch.zeros(n, dtype=torch.bool, device=device)
        for step in range(max_new_tokens):
            logp = _mask_logits(stepper.logprobs(), allowed, step, stepper.rows[:, P:])
            if temperature > 0:
                nxt = torch.multinomial(F.softmax(logp / temperature, -1), 1, generator=g).squeeze(1)
            else:
                nxt = logp.argmax(-1)
            if stop_token is not None:
                nxt = torch.where(done, torch.full_like(nxt, stop_token), nxt)
            lp = lp + torch.where(done, torch.zeros_like(lp), logp.gather(1, nxt[:, None]).squeeze(1))
            if stop_token is not None:
                done = done | (nxt == stop_token)
            stepper.advance(None, nxt, last=step == max_new_tokens - 1)
        outs.append(stepper.rows[:, P:].cpu())
        lps.append(lp.cpu())
    return Decoded(torch.cat(outs).view(B, num_samples, -1), torch.cat(lps).view(B, num_samples))


@torch.no_grad()
def answer_logprob(model: DecoderLM, prompts: torch.Tensor, answers: torch.Tensor,
                   answer_mask: torch.Tensor | None = None, *, batch_size: int = 512) -> torch.Tensor:
    """Total log-probability (B,) of each answer given its prompt (a scoring-model verifier)."""
    device = next(model.parameters()).device
    model.eval()
    if answer_mask is None:
        answer_mask = torch.ones_like(answers, dtype=torch.bool)
    P = prompts.shape[1]
    out = []
    for s in range(0, prompts.shape[0], batch_size):
        seq = torch.cat([prompts[s:s + batch_size], answers[s:s + batch_size]], 1).to(device)
        logp = F.log_softmax(model(seq[:, :-1], start=P - 1).float(), -1)  # (b, A, V): the head at answer positions
        tok = logp.gather(2, seq[:, P:, None]).squeeze(2)  # (b, A)
        out.append((tok * answer_mask[s:s + batch_size].to(device)).sum(1).cpu())
    return torch.cat(out)
