"""Training a causal LM on token blocks (nanoGPT's recipe, over any model whose
``forward(input_ids).logits`` is (B, T, V)): AdamW with betas (0.9, 0.95), linear warm-up over an
integer number of steps then cosine decay, gradient accumulation, epochs without replacement, bf16
autocast on CUDA only. The loop itself is the shared one, :func:`collapselab.nn.train_steps`."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from collapselab._validation import check_int
from collapselab.nn.lm_train import epoch_sampler, train_steps
from collapselab.nn.loop import TrainConfig, TrainHistory, autocast, lr_at

__all__ = ["CAUSAL_LM", "lm_loss", "lr_at", "train_causal_lm"]

CAUSAL_LM = TrainConfig(optimizer="adamw", lr=3e-3, betas=(0.9, 0.95), weight_decay=0.1, decay_matrices_only=True,
                        schedule="cosine", warmup_steps=10, min_lr_ratio=0.1, grad_clip=1.0)
"""The defaults of :func:`train_causal_lm`: nanoGPT's AdamW, 10 warm-up steps, cosine to lr / 10, clip 1."""


def lm_loss(model, batch: torch.Tensor) -> torch.Tensor:
    """Mean next-token cross-entropy of ``batch`` (B, T): predict tokens 1..T-1 from their prefixes."""
    logits = model(input_ids=batch[:, :-1]).logits  # (B, T-1, V)
    return F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), batch[:, 1:].reshape(-1))


def train_causal_lm(model, blocks: torch.Tensor, config: TrainConfig | None = None, *, steps: int,
                    batch_size: int = 16, generator: torch.Generator, device: str | torch.device = "cpu",
                    **options: Any) -> TrainHistory:
    """Train ``model`` in place for ``steps`` optimiser steps on ``blocks`` (N, T) of token ids.

    Each optimiser step averages the gradients of ``grad_accum`` micro-batches of ``batch_size`` blocks;
    the blocks are visited in epochs, each a fresh permutation drawn from ``generator`` (any device), so a
    run of ``steps * grad_accum * batch_size`` blocks sees every block before any repeats
    (:func:`collapselab.nn.epoch_sampler`). ``config`` (default :data:`CAUSAL_LM`) with ``options`` (any
    :class:`collapselab.nn.TrainConfig` field: ``lr``, ``warmup_steps``, ``grad_accum``, ``grad_clip``,
    ``callback(step, blocks_seen)``, ...). Returns a :class:`collapselab.nn.TrainHistory` (``.losses``:
    the training loss of each optimiser step); the model is left in eval mode.
    """
    cfg = TrainConfig.make(config or CAUSAL_LM, **options)
    steps = check_int("steps", steps, low=0)
    batch_size = check_int("batch_size", batch_size, low=1)
    blocks = torch.as_tensor(blocks)
    if blocks.ndim != 2 or blocks.shape[0] == 0 or blocks.shape[1] < 2:
        raise ValueError(f"`blocks` must be (N >= 1, T >= 2) token ids, got shape {tuple(blocks.shape)}")
    device = torch.device(device)

    def batch_loss(idx: torch.Tensor) -> torch.Tensor:
        batch = blocks[idx].to(device)
        with autocast(device, cfg.autocast):
            return lm_loss(model, batch)

    return train_steps(model, len(blocks), batch_loss, cfg, steps=steps, batch_size=batch_size,
                       sampler=epoch_sampler(len(blocks), generator), device=device)
