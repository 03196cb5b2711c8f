"""Compute per generated token: FLOP counts by formula, and measured decoding time.

FLOPs of one decoding step at context length t (multiply-add = 2 FLOPs), per layer, width D, h heads:

* dense part, every mechanism: q, k, v, output projections 8 D^2 + MLP (4D hidden) 16 D^2 = 24 D^2;
* mixing: ``softmax`` 4 t D (scores and weighted sum over t keys); ``sparse`` 4 a(t) D with a(t) the
  keys its pattern allows (about B + t/B for the fixed and the strided pattern); ``linear`` 4 D^2/h + 4 D
  (update and read the per-head state S of size (D/h)^2, and the normaliser).

Plus the output head 2 D V once per token. The whole chain of thought of length L costs the sum over
t = 1..L. With a constant width the standard model costs Theta(L^2) in total (the 4 t D term); an
efficient model whose width must grow like sqrt(L) (Yang et al. 2024) pays Theta(L) per token in its
dense part, so Theta(L^2) in total as well: no saving. Under locality its width stays constant and
the total is Theta(L).
"""

from __future__ import annotations

import time

import numpy as np
import torch

from collapselab._validation import check_choice, check_int
from collapselab.nn import DecoderLM
from collapselab.nn.attention import SPARSE_PATTERNS, LinearAttention

ATTENTIONS = ("softmax", "sparse", "linear")


def attention_flops_per_token(attention: str, width: int, context: int, *, n_layers: int = 2, n_heads: int = 2,
                              vocab: int = 32, block: int = 4, pattern: str = "fixed") -> float:
    """FLOPs to generate one token at context length ``context`` (see the module docstring)."""
    check_choice("attention", attention, ATTENTIONS)
    D = check_int("width", width, low=1)
    t = check_int("context", context, low=1)
    check_choice("pattern", pattern, SPARSE_PATTERNS)
    dense = 24.0 * D * D
    if attention == "softmax":
        mix = 4.0 * t * D
    elif attention == "sparse":
        mix = 4.0 * _sparse_count(t, check_int("block", block, low=1), pattern) * D
    else:
        mix = 4.0 * D * D / n_heads + 4.0 * D
    return n_layers * (dense + mix) + 2.0 * D * vocab


def _sparse_count(t: int, block: int, pattern: str = "fixed") -> int:
    """Keys the pattern (summary 1) allows at query i = t-1, in closed form (tested against the rows of
    :func:`collapselab.nn.attention.sparse_mask`, which would cost O(t^2) to build per token): fixed, its own
    block so far plus one summary per earlier block, i mod B + 1 + floor(i/B); strided, the last
    min(B, t) positions plus i - kB for k >= 1, min(B, t) + floor(i/B)."""
    i = t - 1
    if pattern == "strided":
        return min(block, t) + i // block
    return i % block + 1 + i // block


def cot_flops(attention: str, length: int, width: int | np.ndarray, **kwargs) -> float:
    """Total FLOPs of generating a chain of thought of ``length`` tokens (sum over contexts 1..length)."""
    length = check_int("length", length, low=1)
    return float(sum(attention_flops_per_token(attention, int(width), t, **kwargs) for t in range(1, length + 1)))


@torch.no_grad()
def decode_time_per_token(attention: str, width: int, context: int, *, n_layers: int = 2, n_heads: int = 2,
                          vocab: int = 32, attn_kwargs: dict | None = None, batch: int = 1, measure: int = 32,
                          device: str | torch.device = "cpu", seed: int = 0) -> float:
    """Seconds per decoding step (all ``batch`` rows) at context length ~``context``, with the decoding
    state (KV cache, sparse cache or recurrent state) of a model with random weights: the state of the
    first ``context - measure`` positions is filled with random values (the cost of a step does not
    depend on them), then the last ``measure`` steps are decoded and timed."""
    check_choice("attention", attention, ATTENTIONS)
    check_int("context", context, low=2)
    measure = min(check_int("measure", measure, low=1), context - 1)
    device = torch.device(device)
    g = torch.Generator().manual_seed(seed)
    model = DecoderLM(vocab, d_model=width, n_layers=n_layers, n_heads=n_heads, max_len=context,
                      attention=attention, attn_kwargs=attn_kwargs, generator=g).to(device).eval()
    prefix = context - measure
    states = [_random_state(b.attn, st, batch, prefix, g, device)
              for b, st in zip(model.blocks, model.init_state(batch, device=device))]
    token = torch.zeros(batch, dtype=torch.long, device=device)
    _sync(device)
    start = time.perf_counter()
    for pos in range(prefix, context):
        logits, states = model.step(token, states, pos)
        token = logits.argmax(-1)
    _sync(device)
    return (time.perf_counter() - start) / measure


def _random_state(att, state: dict, batch: int, length: int, g: torch.Generator, device) -> dict:
    """A decoding state as if ``length`` tokens had been decoded (random keys, values, sums)."""
    hs = att.proj.in_features // att.n_heads

    def rand(*shape):
        return torch.randn(*shape, generator=g).to(device)

    if isinstance(att, LinearAttention):
        return {"S": rand(batch, att.n_heads, hs, hs), "z": rand(batch, att.n_heads, hs).abs() * length + 1}
    state["k"][:, :, :length] = rand(batch, att.n_heads, length, hs)  # preallocated KV cache (softmax, sparse)
    state["v"][:, :, :length] = rand(batch, att.n_heads, length, hs)
    return state


@torch.no_grad()
def generation_time_per_token(model: DecoderLM, prompts: torch.Tensor, new_tokens: int, *,
                              repeats: int = 3) -> float:
    """Measured wall seconds per generated token of a (trained) model: the prompts (B, P) are fed
    through the decoding state (KV cache / recurrent state, :meth:`DecoderLM.step`), then
    ``new_tokens`` tokens are generated greedily for all B rows at once; the generation phase only is
    timed, divided by B * new_tokens; the median of ``repeats`` runs. Runs on the model's device."""
    check_int("new_tokens", new_tokens, low=1)
    repeats = check_int("repeats", repeats, low=1)
    if prompts.ndim != 2 or prompts.shape[0] == 0:
        raise ValueError(f"`prompts` must be (B >= 1, P >= 1), got shape {tuple(prompts.shape)}")
    if prompts.shape[1] + new_tokens > model.max_len:
        raise ValueError(f"prompt {prompts.shape[1]} + `new_tokens` {new_tokens} exceeds max_len {model.max_len}")
    device = next(model.parameters()).device
    model.eval()
    prompts = prompts.to(device)
    B, P = prompts.shape
    times = []
    for _ in range(repeats):
        states = model.init_state(B, device=device)
        for t in range(P):
            logits, states = model.step(prompts[:, t], states, t)
        _sync(device)
        start = time.perf_counter()
        for t in range(P, P + new_tokens):
            logits, states = model.step(logits.argmax(-1), states, t)
        _sync(device)
        times.append((time.perf_counter() - start) / (B * new_tokens))
    return float(np.median(times))


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
