"""Evaluating a distilled set: train fresh networks on it, choose the training length on validation."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from collapselab._rng import as_torch_generator, resolve_device
from collapselab._validation import check_choice, check_int, check_real
from collapselab.distill._dataset import DistilledSet, as_arrays
from collapselab.distill._inner import fresh_model, soft_cross_entropy
from collapselab.nn.train import fit


@dataclass(frozen=True)
class Evaluation:
    """Test accuracy of networks trained on a distilled set, at the validation-chosen step count.

    ``mean``/``std``: over the ``n_models`` networks, at ``best_steps``. ``val_by_steps`` and
    ``test_by_steps`` map each step count of the grid to the mean accuracy (the test column is kept for
    inspection only; it never enters the choice).
    """

    mean: float
    std: float
    best_steps: int
    test_accs: list[float]
    val_by_steps: dict[int, float] = field(default_factory=dict)
    test_by_steps: dict[int, float] = field(default_factory=dict)


def _one_batch(batch_size: int | None) -> Callable[[int, torch.Generator | None], list[torch.Tensor]]:
    """A :func:`collapselab.nn.fit` sampler of one batch per epoch: the whole set, or ``batch_size``
    indices drawn without replacement (a fresh draw every step)."""
    def sampler(n: int, generator: torch.Generator | None) -> list[torch.Tensor]:
        if batch_size is None or batch_size >= n:
            return [torch.arange(n)]
        return [torch.randperm(n, generator=generator)[:batch_size]]
    return sampler


@torch.no_grad()
def _acc(net: nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int = 2048) -> float:
    correct = 0
    for i in range(0, len(x), batch):
        correct += int((net(x[i:i + batch]).argmax(1) == y[i:i + batch]).sum())
    return correct / len(x)


def evaluate(distilled: DistilledSet, model_fn: Callable[[], nn.Module], *, n_models: int = 5,
             steps_grid: Sequence[int] = (100, 300, 1000), validation: Any, test: Any,
             optimizer: str = "adam", lr: float = 1e-3, batch_size: int | None = None,
             augment: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None = None,
             device: Any = "cpu", generator: Any = None) -> Evaluation:
    """Train ``n_models`` fresh networks on ``distilled``; report test accuracy at the step count that
    maximises mean validation accuracy.

    Each network starts from ``model_fn()`` (default init drawn from ``generator``) and takes
    max(steps_grid) steps of ``optimizer`` (``"adam"``; ``"sgd"``: momentum 0.9, wd 5e-4, the inner
    optimisers of :func:`distill`) on the (soft) cross-entropy, on the whole set per step or on
    ``batch_size`` images drawn per step (:func:`collapselab.nn.fit` with one batch per "epoch",
    float32 throughout; the optimiser state runs on across the grid). At every step count s in
    ``steps_grid`` it records accuracy on ``validation`` and ``test`` (pairs (x, y)); s* = argmax_s mean
    validation accuracy, and the result is mean and std of test accuracy at s*. The official code picks s
    on the *test* set [code]; this does not.
    """
    if not isinstance(distilled, DistilledSet):
        raise ValueError(f"`distilled` must be a DistilledSet, got {type(distilled).__name__}")
    n_models = check_int("n_models", n_models, low=1)
    grid = sorted({check_int("steps_grid", s, low=1) for s in steps_grid}) if len(steps_grid) else []
    if not grid:
        raise ValueError("`steps_grid` must hold at least one step count")
    check_choice("optimizer", optimizer, ("adam", "sgd"))
    check_real("lr", lr, low=0.0, low_open=True)
    if batch_size is not None:
        check_int("batch_size", batch_size, low=1)
    x_val, y_val = as_arrays(validation, "validation")
    x_te, y_te = as_arrays(test, "test")
    device = resolve_device(device)
    g = as_torch_generator(generator)
    xs, ys = distilled.torch(device)
    xv, yv = torch.as_tensor(x_val, device=device), torch.as_tensor(y_val, device=device)
    xt, yt = torch.as_tensor(x_te, device=device), torch.as_tensor(y_te, device=device)
    val = np.zeros((n_models, len(grid)))
    tst = np.zeros((n_models, len(grid)))
    column = {s: j for j, s in enumerate(grid)}
    for i in range(n_models):
        net = fresh_model(model_fn, g, device)

        def record(epoch: int, model: nn.Module, i: int = i) -> None:
            j = column.get(epoch + 1)  # one "epoch" of the sampler below is one optimiser step
            if j is not None:
                val[i, j], tst[i, j] = _acc(model, xv, yv), _acc(model, xt, yt)

        fit(net, xs, ys, epochs=grid[-1], optimizer=optimizer, lr=lr,
            weight_decay=0.0 if optimizer == "adam" else 5e-4, loss_fn=soft_cross_entropy, augment=augment,
            device=device, generator=g, on_epoch_end=record, sampler=_one_batch(batch_size), autocast=False)
    best = int(np.argmax(val.mean(0)))
    accs = tst[:, best]
    return Evaluation(mean=float(accs.mean()), std=float(accs.std(ddof=1)) if n_models > 1 else 0.0,
                      best_steps=grid[best], test_accs=[float(a) for a in accs],
                      val_by_steps={s: float(v) for s, v in zip(grid, val.mean(0))},
                      test_by_steps={s: float(v) for s, v in zip(grid, tst.mean(0))})


class ZCA:
    """ZCA whitening z = (x - mu) W, W = U diag((lambda + r mean(lambda))^{-1/2}) U^T on flattened images.

    Sigma = U diag(lambda) U^T is the training covariance; r = ``regularization`` (0.1 as the official
    code). Linear and invertible, so distilled images can be saved back in the loaders' input space.
    The official ``preprocess`` also centres and unit-normalises each image before whitening [code];
    that step is not invertible and is left out here.
    """

    def __init__(self, regularization: float = 0.1):
        self.regularization = check_real("regularization", regularization, low=0.0)

    def fit(self, x: np.ndarray) -> ZCA:
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 4:
            raise ValueError(f"`x` must have shape (n, C, H, W), got {x.shape}")
        flat = x.reshape(len(x), -1)
        self.shape_ = x.shape[1:]
        self.mean_ = flat.mean(0)
        cov = np.cov(flat - self.mean_, rowvar=False, bias=True)
        lam, u = np.linalg.eigh(cov)
        lam = np.clip(lam, 0.0, None) + self.regularization * lam.mean()
        self.whiten_ = (u / np.sqrt(lam)) @ u.T
        self.color_ = (u * np.sqrt(lam)) @ u.T
        return self

    def transform(self, x: np.ndarray) -> np.ndarray:
        flat = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
        return ((flat - self.mean_) @ self.whiten_).reshape(len(x), *self.shape_).astype(np.float32)

    def inverse_transform(self, z: np.ndarray) -> np.ndarray:
        flat = np.asarray(z, dtype=np.float64).reshape(len(z), -1)
        return (flat @ self.color_ + self.mean_).reshape(len(z), *self.shape_).astype(np.float32)
