"""A small decoder-only transformer (GPT-style, pre-norm) with pluggable causal attention."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from collapselab._validation import check_int
from collapselab.nn.attention import get_attention
from collapselab.nn.init import init_parameters


class Block(nn.Module):
    def __init__(self, d_model: int, n_heads: int, max_len: int, attention: str, dropout: float,
                 attn_kwargs: dict):
        super().__init__()
        self.ln1 = nn.LayerNorm(d_model)
        self.attn = get_attention(attention)(d_model, n_heads, max_len, **attn_kwargs)
        self.ln2 = nn.LayerNorm(d_model)
        self.mlp = nn.Sequential(nn.Linear(d_model, 4 * d_model), nn.GELU(), nn.Linear(4 * d_model, d_model),
                                 nn.Dropout(dropout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))

    def step(self, x_t: torch.Tensor, state, pos: int):
        a, state = self.attn.step(self.ln1(x_t), state, pos)
        x_t = x_t + a
        return x_t + self.mlp(self.ln2(x_t)), state


class DecoderLM(nn.Module):
    """Token + learned position embeddings -> n_layers blocks -> LayerNorm -> vocabulary logits.

    ``forward(idx, start=0)`` takes (B, T) int64 token ids (T <= max_len) and returns the logits
    (B, T - start, vocab) of positions start..T-1 (the vocabulary head is skipped before ``start``).
    ``attention`` names a mechanism in :data:`collapselab.nn.attention.ATTENTIONS`. ``generator``
    (a ``torch.Generator``) re-initialises every parameter reproducibly through
    :func:`collapselab.nn.init_parameters`; without it PyTorch's default initialisation draws from the
    global generator.
    """

    def __init__(self, vocab_size: int, *, d_model: int = 64, n_layers: int = 2, n_heads: int = 4,
                 max_len: int = 128, attention: str = "softmax", dropout: float = 0.0,
                 attn_kwargs: dict | None = None, generator: torch.Generator | None = None):
        super().__init__()
        self.vocab_size = check_int("vocab_size", vocab_size, low=2)
        self.max_len = check_int("max_len", max_len, low=1)
        check_int("n_layers", n_layers, low=1)
        self.tok = nn.Embedding(vocab_size, d_model)
        self.pos = nn.Embedding(max_len, d_model)
        self.blocks = nn.ModuleList(Block(d_model, n_heads, max_len, attention, dropout, attn_kwargs or {})
                                    for _ in range(n_layers))
        self.ln_f = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab_size, bias=False)
        if generator is not None:
            init_parameters(self, generator)

    def forward(self, idx: torch.Tensor, start: int = 0) -> torch.Tensor:
        B, T = idx.shape
        if T > self.max_len:
            raise ValueError(f"sequence length {T} exceeds `max_len`={self.max_len}")
        if not 0 <= start < T:
            raise ValueError(f"`start` must be in [0, {T}), got {start}")
        pos = torch.arange(T, device=idx.device)
        x = self.tok(idx) + self.pos(pos)  # (B, T, C)
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln_f(x[:, start:]))  # (B, T - start, vocab)

    @torch.no_grad()
    def init_state(self, batch: int, device=None) -> list:
        """Per-layer decoding state (a KV cache, or a constant-size recurrent state for linear attention)."""
        return [b.attn.init_state(batch, device=device, dtype=self.head.weight.dtype) for b in self.blocks]

    @torch.no_grad()
    def step(self, token: torch.Tensor, states: list, pos: int) -> tuple[torch.Tensor, list]:
        """Logits (B, vocab) of the next token after ``token`` (B,) at position ``pos``, updating states."""
        if pos >= self.max_len:
            raise ValueError(f"position {pos} exceeds `max_len`={self.max_len}")
        x = self.tok(token)[:, None, :] + self.pos.weight[pos]  # (B, 1, C)
        new_states = []
        for block, state in zip(self.blocks, states):
            x, state = block.step(x, state, pos)
            new_states.append(state)
        return self.head(self.ln_f(x))[:, 0, :], new_states

    @torch.no_grad()
    def generate_cached(self, idx: torch.Tensor, max_new_tokens: int) -> torch.Tensor:
        """Greedy decoding token by token through :meth:`step` (KV cache / recurrent state).

        Gives the same tokens as :meth:`generate` with temperature 0, at a per-token cost that does not
        recompute the prefix.
        """
        states = self.init_state(idx.shape[0], device=idx.device)
        logits = None
        for t in range(idx.shape[1]):
            logits, states = self.step(idx[:, t], states, t)
        out = [idx]
        for t in range(idx.shape[1], idx.shape[1] + max_new_tokens):
            nxt = logits.argmax(dim=-1)
            out.append(nxt[:, None])
            if t + 1 < idx.shape[1] + max_new_tokens:
                logits, states = self.step(nxt, states, t)
        return torch.cat(out, dim=1)

    @torch.no_grad()
    def generate(self, idx: torch.Tensor, max_new_tokens: int, *, stop_token: int | None = None,
                 temperature: float = 0.0, generator: torch.Generator | None = None) -> torch.Tensor:
        """Append up to ``max_new_tokens`` tokens (greedy when temperature = 0) to (B, T) ``idx``.

        Full recomputation at every step (no cache): simple and exact for any attention.
        Sequences that emitted ``stop_token`` keep emitting it.
        """
        done = torch.zeros(idx.shape[0], dtype=torch.bool, device=idx.device)
        for _ in range(max_new_tokens):
            logits = self(idx[:, -self.max_len:])[:, -1, :]  # (B, vocab)
            if temperature > 0:
                probs = F.softmax(logits / temperature, dim=-1)
                nxt = torch.multinomial(probs, 1, generator=generator).squeeze(1)
            else:
                nxt = logits.argmax(dim=-1)
            if stop_token is not None:
                nxt = torch.where(done, torch.full_like(nxt, stop_token), nxt)
                done |= nxt == stop_token
            idx = torch.cat([idx, nxt[:, None]], dim=1)
            if stop_token is not None and bool(done.all()):
                break
        return idx


def sequence_loss(logits: torch.Tensor, targets: torch.Tensor, loss_mask: torch.Tensor) -> torch.Tensor:
    """Next-token cross-entropy averaged over positions where ``loss_mask`` is true.

    logits (B, T, V) predict targets (B, T) (already shifted by the caller); loss_mask (B, T) bool.
    """
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), reduction="none")
    mask = loss_mask.reshape(-1).to(loss.dtype)
    return (loss * mask).sum() / mask.sum().clamp_min(1.0)
