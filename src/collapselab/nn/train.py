"""A plain supervised training loop and accuracy evaluation, device- and generator-explicit."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from collapselab._validation import check_choice, check_int, check_real


def iterate_minibatches(n: int, batch_size: int, generator: torch.Generator | None,
                        shuffle: bool = True):
    """Yield index tensors covering range(n) in batches (a permutation drawn from ``generator``)."""
    order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
    for start in range(0, n, batch_size):
        yield order[start:start + batch_size]


def fit(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, epochs: int = 10, batch_size: int = 128,
        lr: float = 1e-3, weight_decay: float = 0.0, optimizer: str = "adam",
        loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
        augment: Callable[[torch.Tensor, torch.Generator | None], torch.Tensor] | None = None,
        device: str | torch.device = "cpu", generator: torch.Generator | None = None,
        schedule: str = "constant", grad_clip: float | None = None, decay_matrices_only: bool = False,
        validation: tuple[torch.Tensor, torch.Tensor] | None = None, patience: int | None = None,
        milestones: Sequence[int] = (), gamma: float = 0.1,
        on_epoch_end: Callable[[int, nn.Module], None] | None = None,
        sampler: Callable[[int, torch.Generator | None], Iterable[torch.Tensor]] | None = None,
        autocast: bool = True) -> list[float]:
    """Train ``model`` in place on (x, y) with mini-batches; returns the mean loss of each epoch.

    The one classifier trainer of the project. ``y`` may be int64 labels (cross-entropy) or float soft
    labels/targets with a custom ``loss_fn``. ``augment(xb, generator)`` transforms each input batch
    (noise, shifts). The batch order comes from ``generator`` (CPU), so two calls with equal generators
    train identically. Options (defaults: a plain constant-rate loop):

    * ``schedule="cosine"``: the rate follows lr * (1 + cos(pi t / T)) / 2 over the T optimiser steps;
      ``schedule="multistep"``: the rate is multiplied by ``gamma`` at each epoch of ``milestones`` (as
      the step drops of many papers' released code);
    * ``grad_clip``: clip the global gradient norm;
    * ``decay_matrices_only``: weight decay on parameters with >= 2 dimensions only (not biases, norms);
    * ``validation=(x_val, y_val)`` with ``patience``: accuracy on the validation split after each epoch;
      stop after ``patience`` epochs without improvement and restore the best epoch's weights;
    * ``on_epoch_end(epoch, model)``: called after each epoch (0-based), e.g. to record a learning curve;
    * ``sampler(n, generator)``: the index batches of one epoch, in place of a shuffled pass over range(n)
      in ``batch_size`` chunks (then ``batch_size`` is unused), e.g. one random subset per epoch so that
      an "epoch" is one optimiser step and ``on_epoch_end`` sees every step.

    On CUDA the forward pass runs under bf16 autocast (the optimiser state stays float32), unless
    ``autocast=False`` (float32 throughout, for loops that must match a float32 reference).
    """
    check_int("epochs", epochs, low=0)
    check_int("batch_size", batch_size, low=1)
    check_real("lr", lr, low=0.0, low_open=True)
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"`x` and `y` must have the same length, got {x.shape[0]} and {y.shape[0]}")
    check_choice("optimizer", optimizer, ("adam", "sgd", "adamw"))
    check_choice("schedule", schedule, ("constant", "cosine", "multistep"))
    if schedule == "multistep" and not milestones:
        raise ValueError("`schedule='multistep'` needs `milestones` (epochs at which the rate drops)")
    if patience is not None and validation is None:
        raise ValueError("`patience` needs `validation` data")
    if sampler is not None and schedule == "cosine":
        raise ValueError("`schedule='cosine'` needs the number of steps, unknown with a custom `sampler`")
    sampler = sampler or (lambda n, gen: iterate_minibatches(n, batch_size, gen))
    loss_fn = loss_fn or F.cross_entropy
    model.to(device).train()
    params = [p for p in model.parameters() if p.requires_grad]
    groups: list = ([{"params": [p for p in params if p.ndim >= 2], "weight_decay": weight_decay},
                     {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0}]
                    if decay_matrices_only else [{"params": params, "weight_decay": weight_decay}])
    if optimizer == "adam":
        opt = torch.optim.Adam(groups, lr=lr)
    elif optimizer == "adamw":
        opt = torch.optim.AdamW(groups, lr=lr)
    else:
        opt = torch.optim.SGD(groups, lr=lr, momentum=0.9)
    total_steps = epochs * -(-x.shape[0] // batch_size)
    autocast = autocast and torch.device(device).type == "cuda"
    history, step = [], 0
    best: tuple[float, dict] | None = None
    bad_epochs = 0
    for epoch in range(epochs):
        total, count = 0.0, 0
        model.train()
        if schedule == "multistep":
            for g in opt.param_groups:
                g["lr"] = lr * gamma ** sum(epoch >= m for m in milestones)
        for idx in sampler(x.shape[0], generator):
            xb, yb = x[idx].to(device), y[idx].to(device)
            if augment is not None:
                xb = augment(xb, generator)
            if schedule == "cosine":
                for g in opt.param_groups:
                    g["lr"] = lr * 0.5 * (1 + math.cos(math.pi * step / max(total_steps, 1)))
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=autocast):
                out = model(xb)
            loss = loss_fn(out.float() if autocast else out, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if grad_clip is not None:
                nn.utils.clip_grad_norm_(params, grad_clip)
            opt.step()
            step += 1
            total += loss.item() * len(idx)
            count += len(idx)
        history.append(total / max(count, 1))
        if on_epoch_end is not None:
            on_epoch_end(epoch, model)
        if validation is not None:
            score = accuracy(model, *validation, device=device)
            if best is None or score > best[0]:
                best, bad_epochs = (score, {k: v.detach().clone() for k, v in model.state_dict().items()}), 0
            else:
                bad_epochs += 1
            if patience is not None and bad_epochs >= patience:
                break
    if best is not None:
        model.load_state_dict(best[1])
    model.eval()
    return history


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
