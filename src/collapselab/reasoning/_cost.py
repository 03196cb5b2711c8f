"""Compute per generated token: FLOP counts by formula, and measured decoding time.

FLOPs of one decoding step at context length t (multiply-add = 2 FLOPs), per layer, width D, h heads:

* dense part, every mechanism: q, k, v, output projections 8 D^2 + MLP (4D hidden) 16 D^2 = 24 D^2;
* mixing: ``softmax`` 4 t D (scores and weighted sum over t keys); ``sparse`` 4 a(t) D with a(t) the
  keys its pattern allows (about B + t/B for the fixed pattern); ``linear`` 4 D^2/h + 4 D (update and
  read the per-head state S of size (D/h)^2, and the normaliser).

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

from collapselab._rng import torch_seed_scope
from collapselab._validation import check_choice, check_int
from collapselab.nn import DecoderLM
from collapselab.nn.attention import sparse_mask

ATTENTIONS = ("softmax", "sparse", "linear")


def attention_flops_per_token(attention: str, width: int, context: int, *, n_layers: int = 2, n_heads: int = 2,
                              vocab: int = 32, block: int = 4, pattern: str = "fixed") -> float:
    """FLOPs to generate one token at context length ``context`` (see the module docstring)."""
    check_choice("attention", attention, ATTENTIONS)
    D = check_int("width", width, low=1)
    t = check_int("context", context, low=1)
    dense = 24.0 * D * D
    if attention == "softmax":
        mix = 4.0 * t * D
    elif attention == "sparse":
        allowed = int(sparse_mask(t, block, pattern)[t - 1].sum()) if t <= 4096 else _sparse_count(t, block)
        mix = 4.0 * allowed * D
    else:
        mix = 4.0 * D * D / n_heads + 4.0 * D
    return n_layers * (dense + mix) + 2.0 * D * vocab


def _sparse_count(t: int, block: int) -> int:
    """Keys the fixed pattern allows at query t-1 (own block plus one summary per earlier block)."""
    i = t - 1
    return i % block + 1 + i // block


def cot_flops(attention: str, length: int, width: int | np.ndarray, **kwargs) -> float:
    """Total FLOPs of generating a chain of thought of ``length`` tokens (sum over contexts 1..length)."""
    length = check_int("length", length, low=1)
    return float(sum(attention_flops_per_token(attention, int(width), t, **kwargs) for t in range(1, length + 1)))


@torch.no_grad()
def decode_time_per_token(attention: str, width: int, context: int, *, n_layers: int = 2, n_heads: int = 2,
                          vocab: int = 32, attn_kwargs: dict | None = None, batch: int = 1, measure: int = 32,
                          device: str | torch.device = "cpu", seed: int = 0) -> float:
    """Seconds per generated token at context length ``context``, with the decoding state (KV cache or
    recurrent state): decode ``context`` tokens, timing the last ``measure`` steps (random weights)."""
    check_choice("attention", attention, ATTENTIONS)
    check_int("context", context, low=2)
    measure = min(check_int("measure", measure, low=1), context - 1)
    with torch_seed_scope(seed):
        model = DecoderLM(vocab, d_model=width, n_layers=n_layers, n_heads=n_heads, max_len=context,
                          attention=attention, attn_kwargs=attn_kwargs).to(device).eval()
    states = model.init_state(batch, device=device)
    token = torch.zeros(batch, dtype=torch.long, device=device)
    start = None
    for pos in range(context):
        if pos == context - measure:
            if str(device).startswith("cuda"):
                torch.cuda.synchronize()
            start = time.perf_counter()
        logits, states = model.step(token, states, pos)
        token = logits.argmax(-1)
    if str(device).startswith("cuda"):
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / measure
