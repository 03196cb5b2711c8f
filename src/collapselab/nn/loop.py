"""The one training loop of collapselab and its configuration.

:class:`TrainConfig` holds every option of an optimisation run; :class:`Trainer` is the loop. The
trainers :func:`collapselab.nn.fit` (classifiers, epochs over (x, y)),
:func:`collapselab.nn.train_steps` / :func:`collapselab.nn.train_decoder` (a fixed number of steps on a
per-batch loss), :func:`collapselab.lm.train_causal_lm` (Hugging Face causal LMs), the distillation
evaluator and :class:`collapselab.zipf.GCDLearner` only build a ``batch_loss(idx)`` and a source of
index batches, and run this loop.

One optimiser step (nanoGPT's loop): zero the gradients; for each of ``grad_accum`` micro-batches idx,
back-propagate ``batch_loss(idx) / grad_accum`` (a micro-batch whose loss is ``None`` has nothing to
learn and adds nothing; a step whose micro-batches are all ``None`` is skipped); clip the global
gradient norm to ``grad_clip``; set the rate of step k (steps taken so far) to :func:`lr_at`; step.

Optimiser (:func:`make_optimizer`): Adam, AdamW (Loshchilov & Hutter 2019) or SGD with momentum, over
the groups of :func:`param_groups`: with ``decay_matrices_only``, nanoGPT's rule, parameters with
>= 2 dimensions (linear and embedding matrices) are decayed, biases and norm gains are not.

Early stopping: ``evaluate(model) -> float`` (higher is better) runs every ``eval_every`` loop steps and
after the last one (or, with ``eval_every=None``, after every epoch); training stops once the score
reaches ``target`` or after ``patience`` evaluations without improvement, and the weights of the best
evaluation are restored. Precision: :func:`autocast` (bf16 on CUDA, float32 elsewhere), applied by the
trainers' forward passes when ``config.autocast``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from collapselab._validation import check_choice, check_int, check_real, with_options

OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULES = ("constant", "cosine", "multistep")


@dataclass(frozen=True)
class TrainConfig:
    """Every option of one optimisation run (see the module docstring for the loop).

    Optimiser: ``optimizer`` (adam | adamw | sgd), ``lr``, ``betas`` (Adam/AdamW), ``momentum`` (SGD),
    ``weight_decay``, ``decay_matrices_only`` (the decay groups of :func:`param_groups`), ``fused``
    (passed to torch; None: torch's default implementation).

    Schedule (:func:`lr_at`): ``schedule`` constant | cosine | multistep; for the cosine, a linear
    warm-up of ``warmup_steps`` steps (an integer; it replaces ``warmup``), or, when ``warmup_steps`` is
    None, of max(1, int(``warmup`` * steps)) steps (a fraction of the run), then a cosine down to
    ``min_lr_ratio * lr`` at the last step; for multistep, the rate is multiplied by ``gamma`` at each
    epoch of ``milestones``.

    Step: ``grad_clip`` (global norm; None: no clipping), ``grad_accum`` micro-batches per step.
    Early stopping: ``evaluate(model) -> float``, ``eval_every`` (loop steps; None: every epoch),
    ``patience`` (evaluations without improvement), ``target`` (score that ends the run).
    Precision: ``autocast`` (bf16 forward passes on CUDA). Callback: ``callback(step, rows_seen)``,
    run with the model in eval mode after every optimiser step taken.

    Build one with ``TrainConfig(lr=...)``, ``TrainConfig.make(base, **options)`` (unknown keys are a
    ValueError listing the valid ones) or ``config.replace(**changes)``.
    """

    optimizer: str = "adam"
    lr: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.999)
    momentum: float = 0.9
    weight_decay: float = 0.0
    decay_matrices_only: bool = False
    fused: bool | None = None
    schedule: str = "constant"
    warmup: float = 0.0
    warmup_steps: int | None = None
    min_lr_ratio: float = 0.0
    milestones: tuple[int, ...] = ()
    gamma: float = 0.1
    grad_clip: float | None = None
    grad_accum: int = 1
    evaluate: Callable[[nn.Module], float] | None = field(default=None, compare=False)
    eval_every: int | None = None
    patience: int | None = None
    target: float | None = None
    autocast: bool = True
    callback: Callable[[int, int], None] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        check_real("lr", self.lr, low=0.0, low_open=True)
        if len(self.betas) != 2:
            raise ValueError(f"`betas` must be a pair, got {self.betas!r}")
        check_real("weight_decay", self.weight_decay, low=0.0)
        check_choice("schedule", self.schedule, SCHEDULES)
        check_real("warmup", self.warmup, low=0.0, high=1.0)
        if self.warmup_steps is not None:
            check_int("warmup_steps", self.warmup_steps, low=0)
        check_real("min_lr_ratio", self.min_lr_ratio, low=0.0, high=1.0)
        object.__setattr__(self, "milestones", tuple(self.milestones))
        if self.schedule == "multistep" and not self.milestones:
            raise ValueError("`schedule='multistep'` needs `milestones` (epochs at which the rate drops)")
        if self.grad_clip is not None:
            check_real("grad_clip", self.grad_clip, low=0.0, low_open=True)
        check_int("grad_accum", self.grad_accum, low=1)
        if self.eval_every is not None:
            check_int("eval_every", self.eval_every, low=1)
        if self.patience is not None:
            check_int("patience", self.patience, low=1)

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with ``changes`` (unknown keys are a ValueError listing the valid ones)."""
        return TrainConfig.make(self, **changes)

    @classmethod
    def make(cls, config: TrainConfig | None = None, **options: Any) -> TrainConfig:
        """``config`` (default: ``TrainConfig()``) with ``options`` applied."""
        return with_options(cls, config, options, "training")


def lr_at(step: int, steps: int, config: TrainConfig, epoch: int = 0) -> float:
    """The learning rate of optimiser step ``step`` (0-based) of a ``steps``-step run, in epoch ``epoch``.

    * constant: ``lr``;
    * multistep: ``lr gamma^(number of milestones <= epoch)``;
    * cosine, integer warm-up w = ``warmup_steps``: ``lr (step+1)/w`` while step < w, then
      ``lr_min + (lr - lr_min) (1 + cos(pi t)) / 2`` with t = min(1, (step - w)/(steps - w)) and
      ``lr_min = min_lr_ratio lr`` (w = 0 starts at the full rate);
    * cosine, fractional warm-up (``warmup_steps`` None): w = max(1, int(warmup steps)) and
      ``lr f`` with f = (step+1)/w during warm-up, then f = r + (1 - r)(1 + cos(pi t))/2, r = min_lr_ratio.

    The two cosine forms are equal in exact arithmetic (for w >= 1) but round differently; each is
    kept, computed in its own order, for the runs recorded with it (the integer form for
    :func:`collapselab.lm.train_causal_lm` and :func:`collapselab.nn.fit`, the fraction for
    :func:`collapselab.nn.train_decoder`).
    """
    lr = config.lr
    if config.schedule == "constant":
        return lr
    if config.schedule == "multistep":
        return lr * config.gamma ** sum(epoch >= m for m in config.milestones)
    ratio = config.min_lr_ratio
    if config.warmup_steps is not None:
        warm = config.warmup_steps
        if step < warm:
            return lr * (step + 1) / warm
        t = (step - warm) / max(1, steps - warm)
        lo = lr * ratio
        return lo + (lr - lo) * 0.5 * (1.0 + math.cos(math.pi * min(1.0, t)))
    warm = max(1, int(config.warmup * steps))
    if step < warm:
        return lr * ((step + 1) / warm)
    t = min(1.0, (step - warm) / max(1, steps - warm))
    return lr * (ratio + (1.0 - ratio) * 0.5 * (1.0 + math.cos(math.pi * t)))


def param_groups(model: nn.Module, weight_decay: float, matrices_only: bool) -> list[dict]:
    """Optimiser parameter groups of the trainable parameters: with ``matrices_only``, matrices
    (ndim >= 2) decayed and vectors (biases, norms) not; else one group, all decayed."""
    params = [p for p in model.parameters() if p.requires_grad]
    if not matrices_only:
        return [{"params": params, "weight_decay": weight_decay}]
    return [{"params": [p for p in params if p.ndim >= 2], "weight_decay": weight_decay},
            {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0}]


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """The optimiser of ``config`` over :func:`param_groups` of ``model``."""
    groups = param_groups(model, config.weight_decay, config.decay_matrices_only)
    if config.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=config.lr, momentum=config.momentum, fused=config.fused)
    cls = torch.optim.Adam if config.optimizer == "adam" else torch.optim.AdamW
    return cls(groups, lr=config.lr, betas=config.betas, fused=config.fused)


def autocast(device: str | torch.device, enabled: bool = True):
    """The project's mixed precision: bf16 autocast on CUDA devices (when ``enabled``), float32 elsewhere."""
    return torch.autocast("cuda", dtype=torch.bfloat16, enabled=enabled and torch.device(device).type == "cuda")


@dataclass(frozen=True)
class TrainHistory:
    """What one :meth:`Trainer.run` did."""

    losses: list[float]  # loss of every loop step (0.0 for a skipped step)
    epoch_losses: list[float] = field(default_factory=list)  # per epoch: mean loss per row
    evals: list[tuple[int, float]] = field(default_factory=list)  # (loop steps run, evaluate(model))
    best_step: int | None = None  # loop steps run at the best evaluation (whose weights were restored)
    best_score: float | None = None
    stopped_early: bool = False  # target reached or patience exhausted before the end

    @property
    def steps_run(self) -> int:
        return len(self.losses)


class _Stopper:
    """Early-stopping bookkeeping: the best score, its step and weights, evaluations since."""

    def __init__(self, config: TrainConfig):
        self.config = config
        self.evals: list[tuple[int, float]] = []
        self.best, self.best_step, self.best_state, self.since = -math.inf, None, None, 0

    def __call__(self, model: nn.Module, steps_run: int) -> bool:
        """Evaluate ``model`` (in eval mode); True when training should stop."""
        model.eval()
        score = float(self.config.evaluate(model))
        model.train()
        self.evals.append((steps_run, score))
        if score > self.best:
            self.best, self.best_step, self.since = score, steps_run, 0
            self.best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            self.since += 1
        cfg = self.config
        return (cfg.target is not None and score >= cfg.target) or (cfg.patience is not None
                                                                    and self.since >= cfg.patience)


class Trainer:
    """The one training loop: ``model`` and its optimiser under ``config``, over ``steps`` scheduled steps.

    The optimiser and the schedule's clock (steps taken) persist across :meth:`run` calls, so repeated
    calls continue one optimisation (online training). ``steps`` is the length of the schedule (and the
    last step, after which a step-wise evaluation always runs). ``device`` defaults to the model's.
    """

    def __init__(self, model: nn.Module, config: TrainConfig, *, steps: int = 0,
                 device: str | torch.device | None = None):
        if not isinstance(config, TrainConfig):
            raise ValueError(f"`config` must be a TrainConfig, got {type(config).__name__}")
        self.config = config
        self.steps = check_int("steps", steps, low=0)
        self.device = torch.device(device) if device is not None else next(model.parameters()).device
        self.model = model.to(self.device).train()
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.optimizer = make_optimizer(model, config)
        self.taken = 0  # optimiser steps taken: the clock of the schedule

    def step(self, batch_loss: Callable[[torch.Tensor], torch.Tensor | None], batches: Iterator[torch.Tensor],
             epoch: int = 0) -> tuple[int, int, float | None]:
        """One optimiser step over the next ``grad_accum`` micro-batches of ``batches``.

        Returns (micro-batches drawn, rows drawn, loss): the loss is the sum of the scaled micro-batch
        losses, None when every micro-batch was None (no step taken).
        """
        cfg, opt = self.config, self.optimizer
        opt.zero_grad(set_to_none=True)
        drawn = rows = 0
        total: float | None = None
        for idx in itertools.islice(batches, cfg.grad_accum):
            drawn, rows = drawn + 1, rows + len(idx)
            loss = batch_loss(idx)
            if loss is None:
                continue
            if cfg.grad_accum > 1:
                loss = loss / cfg.grad_accum
            loss.backward()
            total = float(loss.detach()) if total is None else total + float(loss.detach())
        if total is None:
            return drawn, rows, None
        if cfg.grad_clip is not None:
            nn.utils.clip_grad_norm_(self.params, cfg.grad_clip)
        lr = lr_at(self.taken, self.steps, cfg, epoch)
        for group in opt.param_groups:
            group["lr"] = lr
        opt.step()
        self.taken += 1
        return drawn, rows, total

    def run(self, batch_loss: Callable[[torch.Tensor], torch.Tensor | None],
            batches: Callable[[int], Iterable[torch.Tensor]], *, epochs: int = 1,
            on_epoch_end: Callable[[int, nn.Module], None] | None = None) -> TrainHistory:
        """Train for ``epochs`` epochs; epoch e is one pass over ``batches(e)`` (index tensors, drawn lazily).

        ``on_epoch_end(epoch, model)`` runs (train mode) after each epoch, before an epoch-wise
        evaluation. Returns a :class:`TrainHistory`; the model is left in eval mode, with the best
        evaluation's weights when ``config.evaluate`` is given.
        """
        cfg, model = self.config, self.model
        stopper = _Stopper(cfg) if cfg.evaluate is not None else None
        losses: list[float] = []
        epoch_losses: list[float] = []
        step, seen, halt, stopped = 0, 0, False, False
        for epoch in range(epochs):
            model.train()
            it, total, count = iter(batches(epoch)), 0.0, 0
            while True:
                drawn, rows, loss = self.step(batch_loss, it, epoch)
                if drawn == 0:
                    break
                step, seen = step + 1, seen + rows
                losses.append(0.0 if loss is None else loss)
                if loss is None:
                    continue
                total, count = total + loss * rows, count + rows
                if cfg.callback is not None:
                    model.eval()
                    cfg.callback(step - 1, seen)
                    model.train()
                if (stopper is not None and cfg.eval_every is not None
                        and (step % cfg.eval_every == 0 or step == self.steps) and stopper(model, step)):
                    halt, stopped = True, step < self.steps
                    break
            epoch_losses.append(total / max(count, 1))
            if halt:
                break
            if on_epoch_end is not None:
                on_epoch_end(epoch, model)
            if stopper is not None and cfg.eval_every is None and stopper(model, step):
                stopped = epoch + 1 < epochs
                break
        if stopper is not None and stopper.best_state is not None:
            model.load_state_dict(stopper.best_state)
        model.eval()
        best = stopper.best_step if stopper is not None else None
        return TrainHistory(losses, epoch_losses, stopper.evals if stopper is not None else [], best,
                            None if best is None else stopper.best, stopped)
