"""The one training loop for decoder-only language models (:class:`collapselab.nn.DecoderLM`).

Data: token rows ``tokens`` (n, T) int64 and a ``loss_mask`` (n, T - 1) bool over the *targets*
``tokens[:, 1:]``: the loss is the next-token cross-entropy

    loss = sum_{b, t} m_{b,t} * CE(logits_{b,t}, tokens_{b,t+1}) / sum_{b, t} m_{b,t}

(:func:`collapselab.nn.sequence_loss`), so a prompt is given (mask false) and only the CoT / answer
tokens are learned. Each minibatch is cut to its last masked target, and the vocabulary head runs
only from its first masked target on (``DecoderLM.forward(idx, start=...)``): rows of different
lengths and long prompts cost nothing extra.

Optimiser: AdamW (Loshchilov & Hutter 2019) with two weight-decay groups, nanoGPT's rule: every
parameter with >= 2 dimensions (linear and embedding matrices) is decayed, biases and LayerNorm
gains are not. Schedule: linear warm-up over ``warmup * steps`` steps, then a cosine from ``lr`` down
to ``min_lr_ratio * lr`` at the last step. Gradients are clipped to global norm ``grad_clip``.
Minibatches are drawn with replacement from a ``torch.Generator`` (reproducible batch order).
Options of :func:`train_steps` (used by :func:`collapselab.lm.train_lm`): an index sampler (e.g.
:func:`epoch_sampler`, epochs without replacement), gradient accumulation, an integer warm-up
(:func:`lr_at`), AdamW ``betas`` and a per-step callback.

Early stopping on validation: every ``eval_every`` steps ``evaluate(model) -> float`` (higher is
better, e.g. exact match on a validation split disjoint from the test set) is called; training stops
once it reaches ``target`` or after ``patience`` evaluations without improvement, and the weights of
the best evaluation are restored. bf16 autocast is used in the forward pass on CUDA devices only.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from collapselab._rng import as_torch_generator
from collapselab._validation import check_int, check_real


@dataclass(frozen=True)
class LMTrainResult:
    """What :func:`train_lm` did: the loss of every step, the validation history, where it stopped."""

    losses: list[float]
    evals: list[tuple[int, float]] = field(default_factory=list)  # (step, evaluate(model)) in order
    best_step: int | None = None  # step of the best evaluation (whose weights were restored)
    best_score: float | None = None
    stopped_early: bool = False  # target reached or patience exhausted before ``steps``

    @property
    def steps_run(self) -> int:
        return len(self.losses)


def decay_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """AdamW parameter groups: matrices (ndim >= 2) decayed, vectors (biases, norms) not."""
    params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    return [{"params": [p for _, p in params if p.ndim >= 2], "weight_decay": weight_decay},
            {"params": [p for _, p in params if p.ndim < 2], "weight_decay": 0.0}]


def lr_factor(step: int, steps: int, warmup: float = 0.05, min_lr_ratio: float = 0.1) -> float:
    """Multiplier of the base learning rate at ``step`` (0-based): linear warm-up, then cosine decay."""
    n_warm = max(1, int(warmup * steps))
    if step < n_warm:
        return (step + 1) / n_warm
    t = min(1.0, (step - n_warm) / max(1, steps - n_warm))
    return min_lr_ratio + (1.0 - min_lr_ratio) * 0.5 * (1.0 + math.cos(math.pi * t))


def lr_at(step: int, *, steps: int, lr: float, warmup: int, min_lr_ratio: float = 0.1) -> float:
    """Learning rate at optimiser step ``step`` (0-based) with an integer warm-up (the schedule of
    ``train_steps(warmup_steps=...)``): ``lr (step+1)/warmup`` during warm-up, then
    ``lr_min + (lr - lr_min) (1 + cos(pi t)) / 2`` with t = (step - warmup)/(steps - warmup) in [0, 1]
    and ``lr_min = min_lr_ratio lr``. ``warmup = 0`` starts at the full rate; ``min_lr_ratio = 1`` gives
    a constant rate after warm-up. (:func:`lr_factor` is the fractional-warm-up multiplier; the two
    differ in rounding, so each is kept for the runs recorded with it.)"""
    if step < warmup:
        return lr * (step + 1) / warmup
    t = (step - warmup) / max(1, steps - warmup)
    lo = lr * min_lr_ratio
    return lo + (lr - lo) * 0.5 * (1.0 + math.cos(math.pi * min(1.0, t)))


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


def train_steps(model: nn.Module, n: int, batch_loss: Callable[[torch.Tensor], torch.Tensor | None], *,
                steps: int, batch_size: int = 64, lr: float = 1e-3, weight_decay: float = 0.01,
                warmup: float = 0.05, min_lr_ratio: float = 0.1, grad_clip: float | None = 1.0,
                decay_matrices_only: bool = True, fused: bool | None = None,
                betas: tuple[float, float] = (0.9, 0.999), warmup_steps: int | None = None,
                grad_accum: int = 1, sampler: Callable[[int], torch.Tensor] | None = None,
                callback: Callable[[int, int], None] | None = None,
                evaluate: Callable[[nn.Module], float] | None = None, eval_every: int = 100,
                patience: int | None = None, target: float | None = None,
                generator: torch.Generator | int | None = None,
                device: str | torch.device | None = None) -> LMTrainResult:
    """The optimisation loop of :func:`train_lm`, for any model and any per-batch loss.

    Each of the ``steps`` steps draws ``batch_size`` row indices with replacement from range(n) (a CPU
    int64 tensor, from ``generator``) and takes one AdamW step on ``batch_loss(idx)``; a batch whose
    loss is ``None`` (nothing to learn in it) is skipped, recorded as loss 0, and does not advance the
    schedule. Optimiser, schedule, clipping and early stopping as in the module docstring;
    ``decay_matrices_only=False`` decays every parameter (one AdamW group); ``fused`` is passed to
    ``torch.optim.AdamW`` (None: torch's default implementation), and so are ``betas``. The loss
    function owns the forward pass (and any autocast). Returns an :class:`LMTrainResult`; the model is
    left in eval mode.

    Options (the defaults keep the behaviour above): ``sampler(batch_size)`` replaces the with-replacement
    draw (e.g. :func:`epoch_sampler`; ``generator`` is then unused); ``grad_accum`` micro-batches, each
    ``batch_loss(idx) / grad_accum``, are back-propagated before each optimiser step (a ``None``
    micro-batch contributes nothing; the step is skipped only when all are ``None``; its recorded loss is
    the sum of the scaled micro-batch losses); ``warmup_steps`` (an integer, 0 for none) replaces the
    fractional ``warmup`` and sets the rate of each step to :func:`lr_at`; ``callback(step, rows_seen)``
    runs in eval mode after every optimiser step taken (e.g. to evaluate along the run).
    """
    steps = check_int("steps", steps, low=0)
    n = check_int("n", n, low=1)
    batch_size = check_int("batch_size", batch_size, low=1)
    grad_accum = check_int("grad_accum", grad_accum, low=1)
    lr = check_real("lr", lr, low=0.0, low_open=True)
    check_real("weight_decay", weight_decay, low=0.0)
    check_real("warmup", warmup, low=0.0, high=1.0)
    if warmup_steps is not None:
        warmup_steps = check_int("warmup_steps", warmup_steps, low=0)
    check_real("min_lr_ratio", min_lr_ratio, low=0.0, high=1.0)
    eval_every = check_int("eval_every", eval_every, low=1)
    if patience is not None:
        check_int("patience", patience, low=1)
    device = torch.device(device) if device is not None else next(model.parameters()).device
    if sampler is None:
        g = as_torch_generator(generator)

        def sampler(size: int) -> torch.Tensor:
            return torch.randint(0, n, (size,), generator=g)

    model.to(device).train()
    groups = (decay_groups(model, weight_decay) if decay_matrices_only else
              [{"params": [p for p in model.parameters() if p.requires_grad], "weight_decay": weight_decay}])
    opt = torch.optim.AdamW(groups, lr=lr, betas=betas, fused=fused)
    sched = (torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(s, steps, warmup, min_lr_ratio))
             if warmup_steps is None else None)
    losses: list[float] = []
    evals: list[tuple[int, float]] = []
    best, best_step, best_state, since, stopped = -math.inf, None, None, 0, False
    taken = seen = 0  # optimiser steps taken (the clock of an integer warm-up), rows drawn
    for step in range(steps):
        opt.zero_grad(set_to_none=True)
        total: float | None = None
        for _ in range(grad_accum):
            idx = sampler(batch_size)
            seen += len(idx)
            loss = batch_loss(idx)
            if loss is None:
                continue
            if grad_accum > 1:
                loss = loss / grad_accum
            loss.backward()
            total = float(loss.detach()) if total is None else total + float(loss.detach())
        if total is None:
            losses.append(0.0)
            continue
        if grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        if sched is None:
            for group in opt.param_groups:
                group["lr"] = lr_at(taken, steps=steps, lr=lr, warmup=warmup_steps, min_lr_ratio=min_lr_ratio)
        opt.step()
        if sched is not None:
            sched.step()
        taken += 1
        losses.append(total)
        if callback is not None:
            model.eval()
            callback(step, seen)
            model.train()
        if evaluate is not None and ((step + 1) % eval_every == 0 or step + 1 == steps):
            model.eval()
            score = float(evaluate(model))
            model.train()
            evals.append((step + 1, score))
            if score > best:
                best, best_step, since = score, step + 1, 0
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            else:
                since += 1
            if (target is not None and score >= target) or (patience is not None and since >= patience):
                stopped = step + 1 < steps
                break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return LMTrainResult(losses, evals, best_step, None if best_step is None else best, stopped)


def train_lm(model: nn.Module, tokens: torch.Tensor, loss_mask: torch.Tensor, *, steps: int,
             batch_size: int = 64, lr: float = 1e-3, weight_decay: float = 0.01, warmup: float = 0.05,
             min_lr_ratio: float = 0.1, grad_clip: float | None = 1.0,
             evaluate: Callable[[nn.Module], float] | None = None, eval_every: int = 100,
             patience: int | None = None, target: float | None = None,
             generator: torch.Generator | int | None = None,
             device: str | torch.device | None = None) -> LMTrainResult:
    """Train ``model`` (a :class:`DecoderLM`, or any module with ``forward(idx, start=0)``) in place.

    tokens (n, T) int64; loss_mask (n, T - 1) bool, true where ``tokens[:, t + 1]`` is learned.
    ``device`` defaults to the model's. Returns an :class:`LMTrainResult`; the model is left in eval
    mode (with the best validation weights when ``evaluate`` is given). See the module docstring;
    the loop itself is :func:`train_steps` (fused AdamW on CPU and CUDA).
    """
    from collapselab.nn.transformer import sequence_loss

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
    amp = device.type == "cuda"

    def batch_loss(idx: torch.Tensor) -> torch.Tensor | None:
        idx = idx.to(device)
        T, start = int(last[idx].max()), int(first[idx].min())
        if T == 0:  # no learned token in this batch
            return None
        start = min(start, T - 1)
        x, y, m = X[idx, :T], X[idx, start + 1:T + 1], M[idx, start:T]
        with torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=amp):
            logits = model(x, start=start)  # (B, T - start, V)
        return sequence_loss(logits.float(), y, m)

    return train_steps(model, X.shape[0], batch_loss, steps=steps, batch_size=batch_size, lr=lr,
                       weight_decay=weight_decay, warmup=warmup, min_lr_ratio=min_lr_ratio, grad_clip=grad_clip,
                       fused=device.type in ("cpu", "cuda"), evaluate=evaluate, eval_every=eval_every,
                       patience=patience, target=target, generator=generator, device=device)
