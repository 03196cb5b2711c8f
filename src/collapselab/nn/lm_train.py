"""The decoder-LM trainer :func:`train_decoder` and the step-count driver :func:`train_steps`, both over
the one loop (:class:`collapselab.nn.Trainer`).

Data: token rows ``tokens`` (n, T) int64 and a ``loss_mask`` (n, T - 1) bool over the *targets*
``tokens[:, 1:]``: the loss is the next-token cross-entropy

    loss = sum_{b, t} m_{b,t} * CE(logits_{b,t}, tokens_{b,t+1}) / sum_{b, t} m_{b,t}

(:func:`collapselab.nn.sequence_loss`), so a prompt is given (mask false) and only the CoT / answer
tokens are learned. Each minibatch is cut to its last masked target, and the vocabulary head runs
only from its first masked target on (``DecoderLM.forward(idx, start=...)``): rows of different
lengths and long prompts cost nothing extra.

Defaults (:data:`DECODER`): AdamW with nanoGPT's decay groups (matrices decayed, biases and norm gains
not), linear warm-up over ``warmup * steps`` steps then a cosine from ``lr`` down to
``min_lr_ratio * lr`` at the last step, gradients clipped to global norm 1, evaluation every 100 steps
when an ``evaluate`` is given. Minibatches are drawn with replacement from a ``torch.Generator``
(reproducible batch order), or by a ``sampler`` such as :func:`epoch_sampler`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from collapselab._rng import as_torch_generator
from collapselab._validation import check_int
from collapselab.nn.loop import TrainConfig, Trainer, TrainHistory, autocast

DECODER = TrainConfig(optimizer="adamw", lr=1e-3, weight_decay=0.01, decay_matrices_only=True,
                      schedule="cosine", warmup=0.05, min_lr_ratio=0.1, grad_clip=1.0, eval_every=100)
"""The defaults of :func:`train_steps` and :func:`train_decoder`."""


def epoch_sampler(n: int, generator: torch.Generator) -> Callable[[int], torch.Tensor]:
    """An index ``sampler`` for :func:`train_steps` that visits range(n) in epochs without replacement.

    ``sampler(size)`` returns the next ``size`` indices (CPU int64) of a running order; when fewer than
    ``size`` remain, a fresh permutation drawn from ``generator`` (on the generator's own device) is
    appended after the leftovers, so every row is seen once before any repeats.
    """
    n = check_int("n", n, low=1)
    order, pos = torch.empty(0, dtype=torch.long), 0

    def sampler(size: int) -> torch.Tensor:
        nonlocal order, pos
        if pos + size > len(order):  # next epoch: a fresh permutation, leftovers first
            order = torch.cat([order[pos:], torch.randperm(n, generator=generator, device=generator.device).cpu()])
            pos = 0
        idx = order[pos:pos + size]
        pos += size
        return idx

    return sampler


def train_steps(model: nn.Module, n: int, batch_loss: Callable[[torch.Tensor], torch.Tensor | None],
                config: TrainConfig | None = None, *, steps: int, batch_size: int = 64,
                sampler: Callable[[int], torch.Tensor] | None = None,
                generator: torch.Generator | int | None = None,
                device: str | torch.device | None = None, **options: Any) -> TrainHistory:
    """``steps`` steps of the one loop on any model and any per-batch loss.

    Each loop step draws ``grad_accum`` micro-batches of ``batch_size`` row indices with replacement from
    range(n) (a CPU int64 tensor, from ``generator``), or ``sampler(batch_size)`` (e.g.
    :func:`epoch_sampler`; ``generator`` is then unused), and takes one optimiser step on
    ``batch_loss(idx)``; a batch whose loss is ``None`` (nothing to learn in it) is skipped, recorded as
    loss 0, and does not advance the schedule. ``config`` (default :data:`DECODER`) with ``options``
    (any :class:`TrainConfig` field) sets optimiser, schedule (over ``steps``), clipping, accumulation,
    early stopping and the callback. The loss function owns the forward pass (and any autocast).
    Returns a :class:`TrainHistory`; the model is left in eval mode. ``device`` defaults to the model's.
    """
    cfg = TrainConfig.make(config or DECODER, **options)
    steps = check_int("steps", steps, low=0)
    n = check_int("n", n, low=1)
    batch_size = check_int("batch_size", batch_size, low=1)
    if cfg.schedule == "multistep":
        raise ValueError("`schedule='multistep'` counts epochs; train_steps runs one (use fit)")
    if sampler is None:
        g = as_torch_generator(generator)

        def sampler(size: int) -> torch.Tensor:
            return torch.randint(0, n, (size,), generator=g)

    trainer = Trainer(model, cfg, steps=steps, device=device)
    draws = steps * cfg.grad_accum
    return trainer.run(batch_loss, lambda _: (sampler(batch_size) for _ in range(draws)))


def train_decoder(model: nn.Module, tokens: torch.Tensor, loss_mask: torch.Tensor,
                  config: TrainConfig | None = None, *, steps: int, batch_size: int = 64,
                  generator: torch.Generator | int | None = None,
                  device: str | torch.device | None = None, **options: Any) -> TrainHistory:
    """Train ``model`` (a :class:`DecoderLM`, or any module with ``forward(idx, start=0)``) in place.

    tokens (n, T) int64; loss_mask (n, T - 1) bool, true where ``tokens[:, t + 1]`` is learned.
    ``device`` defaults to the model's. Returns a :class:`TrainHistory`; the model is left in eval
    mode (with the best validation weights when ``evaluate`` is given). ``config`` (default
    :data:`DECODER`) with ``options`` (any :class:`TrainConfig` field); the forward pass runs under
    :func:`collapselab.nn.autocast` when ``autocast``; ``fused=None`` means fused AdamW on CPU and CUDA.
    The loop is :func:`train_steps`.
    """
    from collapselab.nn.transformer import sequence_loss

    cfg = TrainConfig.make(config or DECODER, **options)
    check_int("steps", steps, low=0)
    if tokens.ndim != 2 or tokens.shape[0] == 0 or tokens.shape[1] < 2:
        raise ValueError(f"`tokens` must be (n >= 1, T >= 2), got shape {tuple(tokens.shape)}")
    if tuple(loss_mask.shape) != (tokens.shape[0], tokens.shape[1] - 1):
        raise ValueError(f"`loss_mask` must have shape {(tokens.shape[0], tokens.shape[1] - 1)}, "
                         f"got {tuple(loss_mask.shape)}")
    device = torch.device(device) if device is not None else next(model.parameters()).device
    X = tokens.to(device)
    M = loss_mask.to(device=device, dtype=torch.bool)
    has = M.any(1)
    last = torch.where(has, M.shape[1] - M.flip(1).long().argmax(1), 0)  # one past the last masked target
    first = torch.where(has, M.long().argmax(1), M.shape[1])  # first masked target
    if cfg.fused is None:
        cfg = cfg.replace(fused=device.type in ("cpu", "cuda"))

    def batch_loss(idx: torch.Tensor) -> torch.Tensor | None:
        idx = idx.to(device)
        T, start = int(last[idx].max()), int(first[idx].min())
        if T == 0:  # no learned token in this batch
            return None
        start = min(start, T - 1)
        x, y, m = X[idx, :T], X[idx, start + 1:T + 1], M[idx, start:T]
        with autocast(device, cfg.autocast):
            logits = model(x, start=start)  # (B, T - start, V)
        return sequence_loss(logits.float(), y, m)

    return train_steps(model, X.shape[0], batch_loss, cfg, steps=steps, batch_size=batch_size,
                       generator=generator, device=device)
