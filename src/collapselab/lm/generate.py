"""Sampling a synthetic corpus from a causal LM, with the knobs that cut or narrow the tail of the
next-token distribution (Dohmatob et al. 2024, A Tale of Tails, Sec. 2): temperature, top-k, top-p."""

from __future__ import annotations

import inspect

import torch

from collapselab._validation import check_int, check_real


def filter_logits(logits: torch.Tensor, *, temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0
                  ) -> torch.Tensor:
    """Log-probabilities (..., V) of the sampling distribution: softmax(logits / temperature), keep
    the ``top_k`` most likely ids (0: all), then the smallest set of most likely ids whose probability
    reaches ``top_p`` (nucleus sampling, Holtzman et al. 2020); the rest get -inf. Ties at the cut are
    kept. temperature 0 is greedy (a point mass on the arg-max)."""
    temperature = check_real("temperature", temperature, low=0.0)
    top_k = check_int("top_k", top_k, low=0)
    top_p = check_real("top_p", top_p, low=0.0, high=1.0, low_open=True)
    logits = logits.float()
    if temperature == 0.0:
        top = logits.argmax(-1, keepdim=True)
        return torch.full_like(logits, -torch.inf).scatter(-1, top, 0.0)
    logp = torch.log_softmax(logits / temperature, -1)
    if 0 < top_k < logits.shape[-1]:
        kth = logp.topk(top_k, dim=-1).values[..., -1:]
        logp = logp.masked_fill(logp < kth, -torch.inf)
        logp = logp - logp.logsumexp(-1, keepdim=True)
    if top_p < 1.0:
        sorted_lp, _ = logp.sort(-1, descending=True)
        before = sorted_lp.exp().cumsum(-1) - sorted_lp.exp()  # mass strictly above each sorted id
        keep = before < top_p  # the first id is always kept
        cut = sorted_lp.masked_fill(~keep, torch.inf).min(-1, keepdim=True).values  # smallest kept logp
        logp = logp.masked_fill(logp < cut, -torch.inf)
        logp = logp - logp.logsumexp(-1, keepdim=True)
    return logp


def draw_categorical(logp: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """One draw per row of log-probabilities (B, V) by inversion: with the cumulative sums
    C_v = sum_{u <= v} p_u and U ~ Uniform(0, 1) from ``generator``, the id is the smallest v with
    C_v > U C_V (exact for the categorical distribution p; ids of probability 0 are never drawn).
    Returns (B, 1) int64 ids. One uniform per row (cheaper than ``torch.multinomial`` on a CPU)."""
    cdf = logp.exp().cumsum(-1)
    u = torch.rand(cdf.shape[:-1] + (1,), generator=generator, device=cdf.device, dtype=cdf.dtype) * cdf[..., -1:]
    return torch.searchsorted(cdf, u, right=True).clamp_max_(cdf.shape[-1] - 1)


@torch.no_grad()
def sample_continuations(model, prompts: torch.Tensor, *, max_new_tokens: int, temperature: float = 1.0,
                         top_k: int = 0, top_p: float = 1.0, batch_size: int = 64, generator: torch.Generator,
                         device: str | torch.device = "cpu") -> torch.Tensor:
    """Continue each prompt (N, P) of token ids by ``max_new_tokens`` sampled tokens; returns (N, P +
    max_new_tokens) on the CPU. Batched, with the model's key/value cache; every draw comes from
    ``generator`` (on ``device``), so the corpus is reproducible. EOS is sampled like any token
    (documents run on across it, as in the training stream)."""
    max_new_tokens = check_int("max_new_tokens", max_new_tokens, low=1)
    batch_size = check_int("batch_size", batch_size, low=1)
    prompts = torch.as_tensor(prompts)
    if prompts.ndim != 2 or prompts.shape[1] < 1:
        raise ValueError(f"`prompts` must be (N, P >= 1) token ids, got shape {tuple(prompts.shape)}")
    limit = getattr(model.config, "n_positions", None) or getattr(model.config, "max_position_embeddings", None)
    if limit is not None and prompts.shape[1] + max_new_tokens > limit:
        raise ValueError(f"prompt ({prompts.shape[1]}) + max_new_tokens ({max_new_tokens}) exceeds the model's "
                         f"context of {limit} tokens")
    model.eval()
    # transformers >= 5.x names the key/value cache `cache`; older releases `past_key_values`
    cache_kw = "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"
    out = []
    for s in range(0, len(prompts), batch_size):
        ids = prompts[s:s + batch_size].to(device)
        res = model(input_ids=ids, use_cache=True)
        past, logits, new = res[cache_kw], res.logits[:, -1], []
        for t in range(max_new_tokens):
            logp = filter_logits(logits, temperature=temperature, top_k=top_k, top_p=top_p)
            nxt = draw_categorical(logp, generator)  # (B, 1)
            new.append(nxt)
            if t + 1 < max_new_tokens:
                res = model(input_ids=nxt, use_cache=True, **{cache_kw: past})
                past, logits = res[cache_kw], res.logits[:, -1]
        out.append(torch.cat([ids, *new], 1).cpu())
    return torch.cat(out)
