"""Causal self-attention mechanisms, pluggable into :class:`collapselab.nn.transformer.DecoderLM`.

Every mechanism is an ``nn.Module`` built as ``cls(d_model, n_heads, max_len, **kwargs)`` whose
``forward(x)`` maps (B, T, C) to (B, T, C) causally, and which decodes one token at a time with
``init_state(batch, device, dtype)`` and ``step(x_t, state, pos) -> (y_t, state)`` (x_t, y_t: (B, 1, C)):

* ``softmax``: standard attention; the state is a key/value cache that grows with the sequence.
* ``sparse``: softmax attention restricted to a fixed or strided pattern (Child et al. 2019) with
  block size B, implemented as a mask in the parallel form; decoding writes keys and values into a
  preallocated cache and attends to the allowed positions only (gathered: O(B + t/B) keys at step t).
* ``linear``: elu+1 feature map (Katharopoulos et al. 2020), causal; the parallel (training) form is
  chunked: masked quadratic within chunks of ``chunk`` positions, the state carried across chunks;
  decoding is recurrent with a constant-size state (S = sum phi(k) v^T, z = sum phi(k)).

Register new mechanisms with :func:`register_attention`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from collapselab._validation import check_choice, check_int

ATTENTIONS: dict[str, type[nn.Module]] = {}
SPARSE_PATTERNS = ("fixed", "strided")


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


class _MultiHead(nn.Module):
    """Shared projections: x -> q, k, v split into heads, and heads -> output projection."""

    def __init__(self, d_model: int, n_heads: int):
        super().__init__()
        check_int("n_heads", n_heads, low=1)
        if d_model % n_heads:
            raise ValueError(f"`d_model` ({d_model}) must be divisible by `n_heads` ({n_heads})")
        self.n_heads = n_heads
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)

    def split_heads(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)
        shape = (B, T, self.n_heads, C // self.n_heads)
        return tuple(t.view(shape).transpose(1, 2) for t in (q, k, v))  # 3 x (B, nh, T, hs)

    def merge_heads(self, y: torch.Tensor) -> torch.Tensor:
        B, nh, T, hs = y.shape
        return self.proj(y.transpose(1, 2).reshape(B, T, nh * hs))  # (B, T, C)


@register_attention("softmax")
class SoftmaxAttention(_MultiHead):
    """Standard causal multi-head attention: softmax(q k^T / sqrt(hs) + causal mask) v."""

    def __init__(self, d_model: int, n_heads: int, max_len: int, dropout: float = 0.0):
        super().__init__(d_model, n_heads)
        self.dropout = dropout
        self.max_len = max_len

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = self.split_heads(x)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True,
                                           dropout_p=self.dropout if self.training else 0.0)
        return self.merge_heads(y)

    def init_state(self, batch: int, device=None, dtype=None) -> dict:
        """A KV cache preallocated for ``max_len`` positions: writing step t's key and value costs O(D),
        not the O(t D) of growing the cache by concatenation."""
        C = self.proj.in_features
        shape = (batch, self.n_heads, self.max_len, C // self.n_heads)
        dtype = dtype or self.proj.weight.dtype
        return {"k": torch.zeros(shape, device=device, dtype=dtype),
                "v": torch.zeros(shape, device=device, dtype=dtype)}

    def _write(self, x_t: torch.Tensor, state: dict, pos: int) -> torch.Tensor:
        """Project ``x_t`` (B, 1, C), store its key and value at ``pos`` in the cache; returns the query."""
        q, k, v = self.split_heads(x_t)  # (B, nh, 1, hs)
        if pos >= state["k"].shape[2]:
            raise ValueError(f"position {pos} exceeds the cache of {state['k'].shape[2]} positions (`max_len`)")
        state["k"][:, :, pos] = k[:, :, 0]
        state["v"][:, :, pos] = v[:, :, 0]
        return q

    def step(self, x_t: torch.Tensor, state: dict, pos: int) -> tuple[torch.Tensor, dict]:
        q = self._write(x_t, state, pos)
        K, V = state["k"][:, :, :pos + 1], state["v"][:, :, :pos + 1]  # the past and itself: no mask needed
        return self.merge_heads(F.scaled_dot_product_attention(q, K, V)), state


def sparse_mask(length: int, block: int, pattern: str = "fixed", summary: int = 1) -> torch.Tensor:
    """Boolean (length, length) mask, True where query i may attend to key j (always j <= i).

    * ``fixed`` (Child et al. 2019): j in i's own block (floor(j/B) = floor(i/B)), or j is one of the
      last ``summary`` positions of a block (j mod B >= B - summary).
    * ``strided``: j within the last B positions (i - j < B), or (i - j) divisible by B.
    """
    check_int("length", length, low=1)
    block = check_int("block", block, low=1)
    check_choice("pattern", pattern, SPARSE_PATTERNS)
    summary = check_int("summary", summary, low=1, high=block)
    i = torch.arange(length)[:, None]
    j = torch.arange(length)[None, :]
    causal = j <= i
    if pattern == "fixed":
        allowed = (i // block == j // block) | (j % block >= block - summary)
    else:
        allowed = ((i - j) < block) | ((i - j) % block == 0)
    return causal & allowed


@register_attention("sparse")
class SparseAttention(SoftmaxAttention):
    """Softmax attention under a fixed/strided sparse pattern with block size ``block`` (as a mask)."""

    def __init__(self, d_model: int, n_heads: int, max_len: int, dropout: float = 0.0, *, block: int = 4,
                 pattern: str = "fixed", summary: int = 1):
        super().__init__(d_model, n_heads, max_len, dropout)
        self.block, self.pattern, self.summary = block, pattern, summary
        self.register_buffer("mask", sparse_mask(max_len, block, pattern, summary), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        T = x.shape[1]
        q, k, v = self.split_heads(x)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=self.mask[:T, :T],
                                           dropout_p=self.dropout if self.training else 0.0)
        return self.merge_heads(y)

    def allowed(self, pos: int, device=None) -> torch.Tensor:
        """Key positions query ``pos`` attends to (ascending), computed arithmetically (no mask row):
        fixed: the summary positions of earlier blocks, then its own block up to ``pos``; strided:
        positions pos - kB (k >= 1), then the last B positions."""
        B, s = self.block, self.summary
        if self.pattern == "fixed":
            own = torch.arange(pos - pos % B, pos + 1, device=device)
            summ = (torch.arange(pos // B, device=device)[:, None] * B
                    + torch.arange(B - s, B, device=device)[None, :]).flatten()
            return torch.cat([summ, own])
        recent = torch.arange(max(0, pos - B + 1), pos + 1, device=device)
        far = torch.arange(pos % B, max(pos % B, pos - B + 1), B, device=device)
        return torch.cat([far, recent])

    def step(self, x_t: torch.Tensor, state: dict, pos: int) -> tuple[torch.Tensor, dict]:
        q = self._write(x_t, state, pos)
        idx = self.allowed(pos, device=state["k"].device)
        y = F.scaled_dot_product_attention(q, state["k"].index_select(2, idx), state["v"].index_select(2, idx))
        return self.merge_heads(y), state


def elu_feature_map(x: torch.Tensor) -> torch.Tensor:
    """phi(x) = elu(x) + 1 > 0 (Katharopoulos et al. 2020)."""
    return F.elu(x) + 1.0


@register_attention("linear")
class LinearAttention(_MultiHead):
    """Causal linear attention: y_i = phi(q_i)^T S_i / (phi(q_i)^T z_i), S_i = sum_{j<=i} phi(k_j) v_j^T,
    z_i = sum_{j<=i} phi(k_j).

    Parallel form, chunked: within a chunk of ``chunk`` positions the masked quadratic form
    tril(phi(Q) phi(K)^T) V, plus phi(Q) S for the state S carried over from the earlier chunks;
    O(T * chunk * hs + T * hs^2) time and O(T * chunk + hs^2) memory per head, where cumulative sums of
    the outer products would take O(T hs^2) memory. ``chunk >= T`` is the purely quadratic form.
    Decoding: the recurrent form with the constant-size state (S, z).
    """

    def __init__(self, d_model: int, n_heads: int, max_len: int, dropout: float = 0.0, *, eps: float = 1e-6,
                 chunk: int = 64):
        super().__init__(d_model, n_heads)
        self.eps = eps
        self.chunk = check_int("chunk", chunk, low=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = self.split_heads(x)
        q, k = elu_feature_map(q), elu_feature_map(k)  # (B, nh, T, hs)
        B, nh, T, hs = q.shape
        S = q.new_zeros(B, nh, hs, v.shape[-1])
        z = q.new_zeros(B, nh, hs, 1)
        out = []
        for s in range(0, T, self.chunk):
            qc, kc, vc = q[:, :, s:s + self.chunk], k[:, :, s:s + self.chunk], v[:, :, s:s + self.chunk]
            A = (qc @ kc.transpose(-1, -2)).tril()  # (B, nh, c, c): phi(q_i)^T phi(k_j), j <= i in the chunk
            num = A @ vc + qc @ S
            den = A.sum(-1, keepdim=True) + qc @ z
            out.append(num / (den + self.eps))
            S = S + kc.transpose(-1, -2) @ vc
            z = z + kc.sum(2).unsqueeze(-1)
        return self.merge_heads(torch.cat(out, dim=2))

    def init_state(self, batch: int, device=None, dtype=None) -> dict:
        C = self.proj.in_features
        hs = C // self.n_heads
        dtype = dtype or self.proj.weight.dtype
        return {"S": torch.zeros(batch, self.n_heads, hs, hs, device=device, dtype=dtype),
                "z": torch.zeros(batch, self.n_heads, hs, device=device, dtype=dtype)}

    def step(self, x_t: torch.Tensor, state: dict, pos: int) -> tuple[torch.Tensor, dict]:
        q, k, v = self.split_heads(x_t)  # (B, nh, 1, hs)
        q, k = elu_feature_map(q[:, :, 0]), elu_feature_map(k[:, :, 0])  # (B, nh, hs)
        S = state["S"] + k.unsqueeze(-1) * v[:, :, 0].unsqueeze(-2)  # (B, nh, hs, hs)
        z = state["z"] + k
        y = torch.einsum("bhd,bhde->bhe", q, S) / (torch.einsum("bhd,bhd->bh", q, z).unsqueeze(-1) + self.eps)
        return self.merge_heads(y.unsqueeze(2)), {"S": S, "z": z}
