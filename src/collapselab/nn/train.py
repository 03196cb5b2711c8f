"""The classifier trainer :func:`fit` (over the one loop, :mod:`collapselab.nn.loop`) and accuracy
evaluation, device- and generator-explicit."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from collapselab._validation import check_int
from collapselab.nn.loop import TrainConfig, Trainer, autocast


def iterate_minibatches(n: int, batch_size: int, generator: torch.Generator | None,
                        shuffle: bool = True):
    """Yield index tensors covering range(n) in batches (a permutation drawn from ``generator``)."""
    order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
    for start in range(0, n, batch_size):
        yield order[start:start + batch_size]


FIT = TrainConfig(optimizer="adam", lr=1e-3, schedule="constant", warmup_steps=0)
"""The defaults of :func:`fit`: Adam at a constant rate; a cosine (``schedule="cosine"``) has no warm-up."""


def fit(model: nn.Module, x: torch.Tensor, y: torch.Tensor, config: TrainConfig | None = None, *,
        epochs: int = 10, batch_size: int = 128,
        loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
        augment: Callable[[torch.Tensor, torch.Generator | None], torch.Tensor] | None = None,
        device: str | torch.device = "cpu", generator: torch.Generator | None = None,
        validation: tuple[torch.Tensor, torch.Tensor] | None = None,
        on_epoch_end: Callable[[int, nn.Module], None] | None = None,
        sampler: Callable[[int, torch.Generator | None], Iterable[torch.Tensor]] | None = None,
        **options: Any) -> list[float]:
    """Train ``model`` in place on (x, y) with mini-batches; returns the mean loss of each epoch.

    The one classifier trainer of the project, over the one loop (:class:`collapselab.nn.Trainer`).
    ``config`` (default :data:`FIT`) with ``options`` (any :class:`TrainConfig` field: ``lr``,
    ``optimizer``, ``weight_decay``, ``schedule``, ``milestones``, ``gamma``, ``grad_clip``,
    ``decay_matrices_only``, ``patience``, ``autocast``, ...) sets the optimisation. ``y`` may be int64
    labels (cross-entropy) or float soft labels/targets with a custom ``loss_fn``. ``augment(xb,
    generator)`` transforms each input batch (noise, shifts). The batch order comes from ``generator``
    (CPU), so two calls with equal generators train identically. Options:

    * ``schedule="cosine"``: lr (1 + cos(pi t / T)) / 2 over the T optimiser steps (the integer form
      of :func:`collapselab.nn.lr_at` with no warm-up); ``schedule="multistep"``: the rate is multiplied
      by ``gamma`` at each epoch of ``milestones`` (as the step drops of many papers' released code);
    * ``validation=(x_val, y_val)``: accuracy on the validation split after each epoch (the
      ``evaluate`` of early stopping); with ``patience``, stop after ``patience`` epochs without
      improvement; the best epoch's weights are restored;
    * ``on_epoch_end(epoch, model)``: called after each epoch (0-based, train mode), e.g. to record a
      learning curve;
    * ``sampler(n, generator)``: the index batches of one epoch, in place of a shuffled pass over range(n)
      in ``batch_size`` chunks (then ``batch_size`` is unused), e.g. one random subset per epoch so that
      an "epoch" is one optimiser step and ``on_epoch_end`` sees every step.

    On CUDA the forward pass runs under bf16 autocast (the optimiser state stays float32), unless
    ``autocast=False`` (float32 throughout, for loops that must match a float32 reference).
    """
    cfg = TrainConfig.make(config or FIT, **options)
    check_int("epochs", epochs, low=0)
    check_int("batch_size", batch_size, low=1)
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"`x` and `y` must have the same length, got {x.shape[0]} and {y.shape[0]}")
    if validation is not None:
        xv, yv = validation
        cfg = cfg.replace(evaluate=lambda m: accuracy(m, xv, yv, device=device), eval_every=None)
    if cfg.patience is not None and cfg.evaluate is None:
        raise ValueError("`patience` needs `validation` data")
    if sampler is not None and cfg.schedule == "cosine":
        raise ValueError("`schedule='cosine'` needs the number of steps, unknown with a custom `sampler`")
    sampler = sampler or (lambda n, gen: iterate_minibatches(n, batch_size, gen))
    loss_fn = loss_fn or F.cross_entropy
    amp = cfg.autocast and torch.device(device).type == "cuda"

    def batch_loss(idx: torch.Tensor) -> torch.Tensor:
        xb, yb = x[idx].to(device), y[idx].to(device)
        if augment is not None:
            xb = augment(xb, generator)
        with autocast(device, amp):
            out = model(xb)
        return loss_fn(out.float() if amp else out, yb)

    batches_per_epoch = (x.shape[0] + batch_size - 1) // batch_size
    steps = epochs * ((batches_per_epoch + cfg.grad_accum - 1) // cfg.grad_accum)  # the schedule's length
    trainer = Trainer(model, cfg, steps=steps, device=device)
    return trainer.run(batch_loss, lambda _: sampler(x.shape[0], generator), epochs=epochs,
                       on_epoch_end=on_epoch_end).epoch_losses


@torch.no_grad()
def predict_logits(model: nn.Module, x: torch.Tensor, *, batch_size: int = 1024,
                   device: str | torch.device = "cpu") -> torch.Tensor:
    """Logits of ``model`` on x, in eval mode, batched; returned on the CPU."""
    model.to(device).eval()
    return torch.cat([model(x[i:i + batch_size].to(device)).cpu() for i in range(0, x.shape[0], batch_size)])


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, batch_size: int = 1024,
             device: str | torch.device = "cpu") -> float:
    """Top-1 accuracy of ``model`` on labelled data."""
    pred = predict_logits(model, x, batch_size=batch_size, device=device).argmax(1)
    return float((pred == y.cpu()).float().mean())
