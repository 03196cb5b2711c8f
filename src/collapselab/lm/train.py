"""Training a causal LM on token blocks (nanoGPT's recipe, over any model whose
``forward(input_ids).logits`` is (B, T, V)): AdamW with betas (0.9, 0.95), linear warm-up over an
integer number of steps then cosine decay, gradient accumulation, epochs without replacement, bf16
autocast on CUDA only. The loop itself is the shared one, :func:`collapselab.nn.lm_train.train_steps`."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import torch
import torch.nn.functional as F

from collapselab._validation import check_int, check_real
from collapselab.nn.lm_train import epoch_sampler, lr_at, train_steps

__all__ = ["lm_loss", "lr_at", "train_lm"]


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
             device: str | torch.device = "cpu",
             callback: Callable[[int, int], None] | None = None) -> list[float]:
    """Train ``model`` in place for ``steps`` optimiser steps on ``blocks`` (N, T) of token ids.

    Each optimiser step averages the gradients of ``grad_accum`` micro-batches of ``batch_size`` blocks;
    the blocks are visited in epochs, each a fresh permutation drawn from ``generator`` (any device), so a run
    of ``steps * grad_accum * batch_size`` blocks sees every block before any repeats
    (:func:`collapselab.nn.lm_train.epoch_sampler`). AdamW (decay on matrices only), the schedule of
    :func:`lr_at` with ``warmup`` steps, gradient-norm clipping at ``clip`` (0: none).
    ``callback(step, blocks_seen)`` runs (model in eval mode) after each optimiser step (e.g. to evaluate
    along the run). Returns the training loss of each optimiser step; the model is left in eval mode.
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

    def batch_loss(idx: torch.Tensor) -> torch.Tensor:
        batch = blocks[idx].to(device)
        with _autocast(device):
            return lm_loss(model, batch)

    return train_steps(model, len(blocks), batch_loss, steps=steps, batch_size=batch_size, lr=lr,
                       weight_decay=weight_decay, warmup_steps=warmup, min_lr_ratio=min_lr_ratio,
                       grad_clip=clip if clip else None, betas=betas, grad_accum=grad_accum,
                       sampler=epoch_sampler(len(blocks), generator), callback=callback,
                       device=device).losses
