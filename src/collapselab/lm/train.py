"""Training a causal LM on token blocks: AdamW, linear warm-up then cosine decay, gradient accumulation,
bf16 autocast on CUDA only (nanoGPT's loop, over any model whose ``forward(input_ids).logits`` is
(B, T, V))."""

from __future__ import annotations

import contextlib
import math

import torch
import torch.nn.functional as F

from collapselab._validation import check_int, check_real


def lr_at(step: int, *, steps: int, lr: float, warmup: int, min_lr_ratio: float = 0.1) -> float:
    """Learning rate at optimiser step ``step`` (0-based): ``lr (step+1)/warmup`` during warm-up, then
    ``lr_min + (lr - lr_min) (1 + cos(pi t)) / 2`` with t = (step - warmup)/(steps - warmup) in [0, 1]
    and ``lr_min = min_lr_ratio lr``. ``min_lr_ratio = 1`` gives a constant rate after warm-up."""
    if step < warmup:
        return lr * (step + 1) / warmup
    t = (step - warmup) / max(1, steps - warmup)
    lo = lr * min_lr_ratio
    return lo + (lr - lo) * 0.5 * (1.0 + math.cos(math.pi * min(1.0, t)))


def _autocast(device: torch.device):
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def lm_loss(model, batch: torch.Tensor) -> torch.Tensor:
    """Mean next-token cross-entropy of ``batch`` (B, T): predict tokens 1..T-1 from their prefixes."""
    logits = model(input_ids=batch[:, :-1]).logits  # (B, T-1, V)
    return F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), batch[:, 1:].reshape(-1))


def train_lm(model, blocks: torch.Tensor, *, steps: int, batch_size: int = 16, grad_accum: int = 1,
             lr: float = 3e-3, warmup: int = 10, min_lr_ratio: float = 0.1, weight_decay: float = 0.1,
             betas: tuple[float, float] = (0.9, 0.95), clip: float = 1.0, generator: torch.Generator,
             device: str | torch.device = "cpu", callback=None) -> list[float]:
    """Train ``model`` in place for ``steps`` optimiser steps on ``blocks`` (N, T) of token ids.

    Each optimiser step averages the gradients of ``grad_accum`` micro-batches of ``batch_size`` blocks;
    the blocks are visited in epochs, each a fresh permutation drawn from ``generator`` (any device), so a run
    of ``steps * grad_accum * batch_size`` blocks sees every block before any repeats. AdamW (decay on
    matrices only), the schedule of :func:`lr_at`, gradient-norm clipping at ``clip``.
    ``callback(step, blocks_seen)`` runs after each optimiser step (e.g. to evaluate along the run).
    Returns the training loss of each optimiser step.
    """
    steps = check_int("steps", steps, low=0)
    batch_size = check_int("batch_size", batch_size, low=1)
    grad_accum = check_int("grad_accum", grad_accum, low=1)
    warmup = check_int("warmup", warmup, low=0)
    lr = check_real("lr", lr, low=0.0, low_open=True)
    blocks = torch.as_tensor(blocks)
    if blocks.ndim != 2 or blocks.shape[0] == 0 or blocks.shape[1] < 2:
        raise ValueError(f"`blocks` must be (N >= 1, T >= 2) token ids, got shape {tuple(blocks.shape)}")
    device = torch.device(device)
    decay = [p for p in model.parameters() if p.requires_grad and p.ndim >= 2]
    other = [p for p in model.parameters() if p.requires_grad and p.ndim < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                             {"params": other, "weight_decay": 0.0}], lr=lr, betas=betas)
    model.to(device).train()
    order, pos, seen, losses = torch.empty(0, dtype=torch.long), 0, 0, []
    for step in range(steps):
        for group in opt.param_groups:
            group["lr"] = lr_at(step, steps=steps, lr=lr, warmup=warmup, min_lr_ratio=min_lr_ratio)
        total = 0.0
        for _ in range(grad_accum):
            if pos + batch_size > len(order):  # next epoch: a fresh permutation, leftovers first
                order = torch.cat([order[pos:], torch.randperm(len(blocks), generator=generator,
                                                               device=generator.device).cpu()])
                pos = 0
            idx = order[pos:pos + batch_size]
            pos += batch_size
            batch = blocks[idx].to(device)
            with _autocast(device):
                loss = lm_loss(model, batch) / grad_accum
            loss.backward()
            total += float(loss.detach())
            seen += len(idx)
        if clip:
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
        opt.zero_grad(set_to_none=True)
        losses.append(total)
        if callback is not None:
            model.eval()
            callback(step, seen)
            model.train()
    model.eval()
    return losses
