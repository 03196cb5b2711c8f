"""Causal self-attention mechanisms, pluggable into :class:`collapselab.nn.transformer.DecoderLM`.

Every mechanism is an ``nn.Module`` built as ``cls(d_model, n_heads, max_len, **kwargs)`` whose
``forward(x)`` maps (B, T, C) to (B, T, C) causally. Register new ones with :func:`register_attention`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

ATTENTIONS: dict[str, type[nn.Module]] = {}


def register_attention(name: str):
    def deco(cls: type[nn.Module]) -> type[nn.Module]:
        if name in ATTENTIONS:
            raise KeyError(f"duplicate attention {name!r}")
        ATTENTIONS[name] = cls
        return cls

    return deco


def get_attention(name: str) -> type[nn.Module]:
    if name not in ATTENTIONS:
        raise ValueError(f"`attention` must be one of {sorted(ATTENTIONS)}, got {name!r}")
    return ATTENTIONS[name]


@register_attention("softmax")
class SoftmaxAttention(nn.Module):
    """Standard causal multi-head attention: softmax(q k^T / sqrt(hs) + causal mask) v."""

    def __init__(self, d_model: int, n_heads: int, max_len: int, dropout: float = 0.0):
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"`d_model` ({d_model}) must be divisible by `n_heads` ({n_heads})")
        self.n_heads = n_heads
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)
        self.dropout = dropout

    def split_heads(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)
        shape = (B, T, self.n_heads, C // self.n_heads)
        return tuple(t.view(shape).transpose(1, 2) for t in (q, k, v))  # 3 x (B, nh, T, hs)

    def merge_heads(self, y: torch.Tensor) -> torch.Tensor:
        B, nh, T, hs = y.shape
        return self.proj(y.transpose(1, 2).reshape(B, T, nh * hs))  # (B, T, C)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = self.split_heads(x)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True,
                                           dropout_p=self.dropout if self.training else 0.0)
        return self.merge_heads(y)
