"""A plain supervised training loop and accuracy evaluation, device- and generator-explicit."""

from __future__ import annotations

from collections.abc import Callable

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
        device: str | torch.device = "cpu", generator: torch.Generator | None = None) -> list[float]:
    """Train ``model`` in place on (x, y) with mini-batches; returns the mean loss of each epoch.

    ``y`` may be int64 labels (cross-entropy) or float soft labels/targets with a custom ``loss_fn``.
    ``augment(xb, generator)`` transforms each input batch (noise, shifts). The batch order comes from
    ``generator`` (CPU), so two calls with equal generators train identically.
    """
    check_int("epochs", epochs, low=0)
    check_int("batch_size", batch_size, low=1)
    check_real("lr", lr, low=0.0, low_open=True)
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"`x` and `y` must have the same length, got {x.shape[0]} and {y.shape[0]}")
    check_choice("optimizer", optimizer, ("adam", "sgd", "adamw"))
    loss_fn = loss_fn or F.cross_entropy
    model.to(device).train()
    params = [p for p in model.parameters() if p.requires_grad]
    if optimizer == "adam":
        opt = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    elif optimizer == "adamw":
        opt = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    else:
        opt = torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=weight_decay)
    history = []
    for _ in range(epochs):
        total, count = 0.0, 0
        for idx in iterate_minibatches(x.shape[0], batch_size, generator):
            xb, yb = x[idx].to(device), y[idx].to(device)
            if augment is not None:
                xb = augment(xb, generator)
            loss = loss_fn(model(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
            count += len(idx)
        history.append(total / max(count, 1))
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
