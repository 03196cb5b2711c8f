"""RaT-BPTT, T-BPTT and BPTT dataset distillation, and Boost-DD (Feng, Vedantam, Kempe, ICLR 2024).

One outer step (paper Alg. 1; official ``framework/distill_higher.py``) [code]:

1. theta_0 <- a fresh random initialisation of the network;
2. N steps of the inner optimiser on S without a graph, N ~ U{min_window, ..., T - M} (RaT-BPTT),
   N = T - M (T-BPTT) or N = 0 with M = T (full BPTT);
3. M differentiable steps theta_N -> theta_{N+M};
4. L = CE(f(x_real; theta_{N+M}), y_real) on a real batch; g = dL/dX_s (and dL/dY_s);
5. clip ||g|| to ``clip_factor`` x EMA(||g||) (coefficient ``clip_ema``); Adam step on X_s (and Y_s,
   then Y_s <- max(Y_s, 0)).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from collapselab._rng import as_torch_generator, resolve_device
from collapselab._validation import check_choice, check_int, check_real, with_options
from collapselab.distill._dataset import DistilledSet, as_arrays
from collapselab.distill._inner import fresh_model, meta_loss
from collapselab.distill._memory import GraphMemory

METHODS = ("rat_bptt", "tbptt", "bptt")


def window(method: str, T: int, M: int, generator: torch.Generator, min_window: int = 0) -> tuple[int, int]:
    """(N, M'): untracked and tracked inner steps of one outer step.

    ``rat_bptt``: N ~ U{min_window, ..., T - M} (both ends included), M' = M; ``tbptt``: N = T - M;
    ``bptt``: N = 0, M' = T. The draw is made for every method, so runs of different methods from equal
    generators share their initialisations and batches (common random numbers).
    """
    n = int(torch.randint(min(min_window, T - M), T - M + 1, (1,), generator=generator))
    if method == "bptt":
        return 0, T
    if method == "tbptt":
        return T - M, M
    return n, M


def flip_augment(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Horizontal flip of each image with probability 1/2 (differentiable in x). Not for digits."""
    mask = torch.rand(len(x), generator=generator) < 0.5
    return torch.where(mask.to(x.device)[:, None, None, None], x.flip(-1), x)


def _init_images(kind: str, x: np.ndarray, y: np.ndarray, ipc: int, k: int, g: torch.Generator) -> np.ndarray:
    """(ipc * k, C, H, W) initial images in class-interleaved order (class c at positions c, c+k, ...)."""
    shape = (ipc * k, *x.shape[1:])
    if kind == "noise":  # N(0, 1) scaled to unit L2 norm per image, as the official code [code]
        z = torch.randn(shape, generator=g)
        return (z / z.flatten(1).norm(dim=1)[:, None, None, None]).numpy()
    rows = []
    for _ in range(ipc):
        rows.append([None] * k)
    for c in range(k):
        idx = np.flatnonzero(y == c)
        if len(idx) < ipc:
            raise ValueError(f"`ipc`={ipc} exceeds the {len(idx)} training images of class {c} (init='real')")
        pick = idx[torch.randperm(len(idx), generator=g)[:ipc].numpy()]
        for i in range(ipc):
            rows[i][c] = x[pick[i]]
    return np.stack([img for row in rows for img in row])


@dataclass(frozen=True)
class DistillConfig:
    """The settings of :func:`distill` and :func:`boost` (see :func:`distill` for their meaning).

    ``method``, ``T``, ``M`` (ignored and set to T for ``"bptt"``), ``min_window``: the unroll;
    ``inner_optimizer``, ``inner_lr``, ``inner_batch``: the inner loop; ``outer_lr``, ``steps``,
    ``real_batch``, ``clip_factor``, ``clip_ema``: the outer loop; ``init``: the initial images;
    ``learn_labels``, ``label_lr_scale``, ``learn_lr``, ``lr_lr``: what else is learned;
    ``max_inner_steps``: an inner-step budget; ``track_memory``: record the graph's saved bytes.
    Build one with ``DistillConfig(T=..., M=...)`` or ``DistillConfig.make(base, **options)`` (unknown
    keys are a ValueError listing the valid ones).
    """

    method: str = "rat_bptt"
    T: int = 100
    M: int | None = 20
    min_window: int = 0
    inner_optimizer: str = "adam"
    inner_lr: float = 1e-3
    inner_batch: int | None = None
    outer_lr: float = 1e-3
    steps: int = 1000
    real_batch: int = 256
    clip_factor: float = 2.0
    clip_ema: float = 0.9
    init: str = "noise"
    learn_labels: bool = False
    label_lr_scale: float = 1.0
    learn_lr: bool = False
    lr_lr: float = 1e-2
    max_inner_steps: int | None = None
    track_memory: bool = False

    def __post_init__(self) -> None:
        check_choice("method", self.method, METHODS)
        T = check_int("T", self.T, low=1)
        if self.method == "bptt":
            object.__setattr__(self, "M", T)  # full BPTT unrolls all T steps; the given M is not used
        elif self.M is None:
            raise ValueError(f"`M` is required for method={self.method!r}")
        M = check_int("M", self.M, low=1, high=T)
        check_choice("inner_optimizer", self.inner_optimizer, ("adam", "sgd"))
        check_real("inner_lr", self.inner_lr, low=0.0, low_open=True)
        check_real("outer_lr", self.outer_lr, low=0.0, low_open=True)
        check_int("steps", self.steps, low=0)
        check_int("real_batch", self.real_batch, low=1)
        if self.inner_batch is not None:
            check_int("inner_batch", self.inner_batch, low=1)
        check_int("min_window", self.min_window, low=0, high=T - M)
        check_real("clip_factor", self.clip_factor, low=0.0, low_open=True)
        check_real("clip_ema", self.clip_ema, low=0.0, high=1.0, high_open=True)
        check_choice("init", self.init, ("noise", "real"))
        check_real("label_lr_scale", self.label_lr_scale, low=0.0)
        check_real("lr_lr", self.lr_lr, low=0.0)
        if self.max_inner_steps is not None:
            check_int("max_inner_steps", self.max_inner_steps, low=1)

    @classmethod
    def make(cls, config: DistillConfig | None = None, **options: Any) -> DistillConfig:
        """``config`` (default: ``DistillConfig()``) with ``options`` applied."""
        return with_options(cls, config, options, "distillation")


@dataclass
class _Problem:
    """What one outer loop optimises against: the real data, the network, randomness and hooks."""

    x_real: torch.Tensor
    y_real: torch.Tensor
    model_fn: Callable[[], nn.Module]
    device: torch.device
    g: torch.Generator
    augment: Any = None
    callback: Any = None


def _outer_loop(x_blocks: list[torch.Tensor], block_lrs: list[float], y_syn: torch.Tensor, cfg: DistillConfig,
                prob: _Problem, *, label_lr: float = 0.0, log_lr: torch.Tensor | None = None) -> dict[str, Any]:
    """Run ``cfg.steps`` outer steps in place on the leaf tensors ``x_blocks`` (and ``y_syn`` when
    ``cfg.learn_labels``, and the log inner learning rate ``log_lr`` when given), or fewer: stop before
    the step that would take the inner steps run so far (N + M' per outer step) past
    ``cfg.max_inner_steps``."""
    groups = [{"params": [xb], "lr": lr} for xb, lr in zip(x_blocks, block_lrs)]
    leaves = list(x_blocks)
    if cfg.learn_labels:
        groups.append({"params": [y_syn], "lr": label_lr})
        leaves.append(y_syn)
    if log_lr is not None:
        groups.append({"params": [log_lr], "lr": cfg.lr_lr})
        leaves.append(log_lr)
    opt = torch.optim.Adam(groups, betas=(0.9, 0.999), eps=1e-8)
    state = {"ema": None, "total_time": 0.0, "last_loss": float("nan"), "inner_steps": 0, "done": 0}
    for step in range(cfg.steps):
        t0 = time.perf_counter()
        net = fresh_model(prob.model_fn, prob.g, prob.device)
        n_untracked, n_tracked = window(cfg.method, cfg.T, cfg.M, prob.g, cfg.min_window)
        if cfg.max_inner_steps is not None and state["inner_steps"] + n_untracked + n_tracked > cfg.max_inner_steps:
            break
        state["inner_steps"] += n_untracked + n_tracked
        state["done"] += 1
        idx = torch.randperm(len(prob.x_real), generator=prob.g)[:cfg.real_batch].to(prob.device)
        mem = GraphMemory() if cfg.track_memory else None
        x_syn = torch.cat(x_blocks) if len(x_blocks) > 1 else x_blocks[0]
        lr = log_lr.exp() if log_lr is not None else cfg.inner_lr
        loss = meta_loss(net, x_syn, y_syn, prob.x_real[idx], prob.y_real[idx], n_untracked=n_untracked,
                         n_tracked=n_tracked, inner_optimizer=cfg.inner_optimizer, inner_lr=lr,
                         inner_batch=cfg.inner_batch, augment=prob.augment, generator=prob.g, memory=mem)
        info = _outer_update(opt, leaves, loss, y_syn if cfg.learn_labels else None, cfg, state)
        seconds = time.perf_counter() - t0
        state["total_time"] += seconds
        state["last_loss"] = info["meta_loss"]
        info = {"step": step, **info, "n_untracked": n_untracked, "n_tracked": n_tracked, "seconds": seconds}
        if mem is not None:
            info["saved_bytes"] = mem.bytes
        if prob.callback is not None:
            prob.callback(info, x_syn.detach())
    return {"seconds_per_step": state["total_time"] / max(state["done"], 1), "final_meta_loss": state["last_loss"],
            "outer_steps": state["done"], "inner_steps": state["inner_steps"]}


def _outer_update(opt: torch.optim.Optimizer, leaves: list[torch.Tensor], loss: torch.Tensor,
                  labels: torch.Tensor | None, cfg: DistillConfig, state: dict) -> dict[str, Any]:
    """One outer Adam step on ``leaves`` from dL/dleaves, clipped to ``clip_factor`` x EMA of its norm
    (the EMA in ``state``); a non-finite norm skips the update. Learned ``labels`` are clamped at 0."""
    grads = torch.autograd.grad(loss, leaves)
    norm = float(torch.sqrt(sum((gr.double() ** 2).sum() for gr in grads)))
    if not math.isfinite(norm):  # a diverged unroll: skip the update, keep the EMA
        return {"meta_loss": float(loss.detach()), "grad_norm": norm, "skipped": True}
    ema = state["ema"]
    limit = cfg.clip_factor * ema if ema is not None else math.inf
    scale = min(1.0, limit / (norm + 1e-12))
    opt.zero_grad(set_to_none=True)
    for leaf, gr in zip(leaves, grads):
        leaf.grad = gr * scale
    opt.step()
    if labels is not None:
        with torch.no_grad():
            labels.clamp_(min=0.0)
    state["ema"] = norm if ema is None else cfg.clip_ema * ema + (1 - cfg.clip_ema) * norm
    return {"meta_loss": float(loss.detach()), "grad_norm": norm, "clipped_norm": norm * scale, "skipped": False}


def distill(train: Any, config: DistillConfig | None = None, *, ipc: int, model_fn: Callable[[], nn.Module],
            device: Any = "cpu", generator: Any = None,
            augment: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None = None,
            callback: Callable[[dict, torch.Tensor], None] | None = None, **options: Any) -> DistilledSet:
    """Distil ``train`` = (x, y) into ``ipc`` images per class by RaT-BPTT, T-BPTT or BPTT.

    Bilevel problem (paper Sec. 3): min_S L(S) = CE(f(x_real; theta_T(S)), y_real), where theta_T(S) is
    T steps of the inner optimiser on S from a random theta_0. ``method`` picks the meta-gradient:

    * ``"rat_bptt"`` (paper): back-propagate through M steps starting at N ~ U{min_window..T-M},
      redrawn every outer step (the official ``--complete_random``; the code's default redraws once
      per pass over the real loader) [code];
    * ``"tbptt"``: the last M steps (N = T - M);
    * ``"bptt"``: all T steps (``M`` is ignored).

    ``config`` (default ``DistillConfig()``) with ``options`` (any :class:`DistillConfig` field, e.g.
    ``method``, ``T``, ``M``, ``steps``, ``inner_lr``) holds the settings below. Settings as the official
    code unless given [code]: inner/outer Adam lr 1e-3; images initialised
    as N(0, 1) noise scaled to unit norm (``init="noise"``; ``"real"`` starts from a random real
    subset); meta-gradient clipped to 2x EMA(0.9) of its norm; learned labels start one-hot, get lr
    ``outer_lr * label_lr_scale`` and are clamped at 0 (soft targets, not renormalised).

    ``learn_lr``: the inner learning rate is learned too, as log(lr) (outer Adam, lr ``lr_lr``), from
    ``inner_lr`` (Wang et al. 2018's learned step size; not in the official RaT-BPTT code); the learned
    value is ``metadata["inner_lr"]`` (the initial one ``metadata["inner_lr_init"]``).
    ``max_inner_steps``: an inner-step budget (N + M' summed over outer steps): the run stops before
    the outer step that would exceed it, whatever ``steps`` says (equal-compute comparisons of methods).

    ``model_fn()`` builds the network on the CPU; every outer step re-initialises it with PyTorch's
    default init drawn from ``generator`` (see :func:`fresh_model`). ``real_batch`` real images per
    outer step; ``inner_batch`` synthetic images per inner step (None = all). ``augment(x, g)`` (e.g.
    :func:`flip_augment`) is applied to synthetic and real batches. ``callback(info, x_syn)`` is called
    after each outer step with ``info`` = {step, meta_loss, grad_norm (before clipping), clipped_norm,
    n_untracked, n_tracked, seconds[, saved_bytes when ``track_memory``]}.

    Returns a :class:`DistilledSet` (x float32 (ipc*K, C, H, W), class-interleaved; y int64, or float32
    (ipc*K, K) when ``learn_labels``) whose metadata records the settings and the time per outer step.
    """
    x, y = as_arrays(train)
    check_int("ipc", ipc, low=1)
    cfg = DistillConfig.make(config, **options)
    if not callable(model_fn):
        raise ValueError("`model_fn` must be a callable returning an nn.Module")
    device = resolve_device(device)
    g = as_torch_generator(generator)
    k = int(y.max()) + 1
    x0 = _init_images(cfg.init, x, y, ipc, k, g)
    x_syn = torch.tensor(x0, dtype=torch.float32, device=device, requires_grad=True)
    labels = torch.arange(k).repeat(ipc).to(device)  # (ipc*k,) class-interleaved
    y_syn = (torch.nn.functional.one_hot(labels, k).float().requires_grad_() if cfg.learn_labels else labels)
    prob = _Problem(torch.as_tensor(x, device=device), torch.as_tensor(y, device=device), model_fn, device, g,
                    augment, callback)
    log_lr = (torch.tensor(math.log(cfg.inner_lr), dtype=torch.float32, device=device, requires_grad=True)
              if cfg.learn_lr else None)
    stats = _outer_loop([x_syn], [cfg.outer_lr], y_syn, cfg, prob, label_lr=cfg.outer_lr * cfg.label_lr_scale,
                        log_lr=log_lr)
    meta = {"method": cfg.method, "ipc": ipc, "T": cfg.T, "M": cfg.M, "steps": cfg.steps,
            "inner_optimizer": cfg.inner_optimizer,
            "inner_lr": float(log_lr.detach().exp()) if cfg.learn_lr else cfg.inner_lr, "inner_lr_init": cfg.inner_lr,
            "learn_lr": cfg.learn_lr, "outer_lr": cfg.outer_lr, "learn_labels": cfg.learn_labels, "init": cfg.init,
            "real_batch": cfg.real_batch, "min_window": cfg.min_window, **stats}
    y_out = y_syn.detach().cpu().numpy() if cfg.learn_labels else labels.cpu().numpy()
    return DistilledSet(x_syn.detach().cpu().numpy(), y_out, meta)


def boost(train: Any, config: DistillConfig | None = None, *, block_ipc: int, n_blocks: int, beta: float = 0.1,
          steps_per_block: int = 500, model_fn: Callable[[], nn.Module], device: Any = "cpu", generator: Any = None,
          augment: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None = None,
          callback: Callable[[dict, torch.Tensor], None] | None = None, **options: Any) -> DistilledSet:
    """Boost-DD (paper Sec. 5): nested blocks of ``block_ipc`` images per class, ``n_blocks`` of them.

    Block 1 is distilled alone for ``steps_per_block`` outer steps. Block b >= 2 is initialised afresh
    and the union of blocks 1..b is re-distilled for ``steps_per_block`` steps, the earlier blocks' outer
    learning rate being ``beta * outer_lr`` (beta = 0 freezes them: "strong" boosting; the paper's
    "boosting strength") [verified: reviews; the official repositories have no Boost-DD driver]. The
    images are stored block by block, so ``result.take(b * block_ipc)`` is the prefix of the first b
    blocks, distilled to work on its own. Hard labels only. ``config`` with ``options`` as
    :func:`distill` (its ``steps`` is replaced by ``steps_per_block``; label and learning-rate learning,
    ``max_inner_steps`` and ``track_memory`` are not options of boosting); other arguments as :func:`distill`.
    """
    x, y = as_arrays(train)
    check_int("block_ipc", block_ipc, low=1)
    check_int("n_blocks", n_blocks, low=1)
    check_real("beta", beta, low=0.0, high=1.0)
    check_int("steps_per_block", steps_per_block, low=0)
    if "steps" in options:
        raise ValueError("boost takes `steps_per_block`, not `steps`")
    cfg = DistillConfig.make(config, **options, steps=steps_per_block)
    fixed = {"learn_labels": False, "learn_lr": False, "max_inner_steps": None, "track_memory": False}
    bad = sorted(key for key, value in fixed.items() if getattr(cfg, key) != value)
    if bad:
        raise ValueError(f"boost does not take {bad} (hard labels, a fixed inner rate, no budget)")
    if not callable(model_fn):
        raise ValueError("`model_fn` must be a callable returning an nn.Module")
    device = resolve_device(device)
    g = as_torch_generator(generator)
    k = int(y.max()) + 1
    prob = _Problem(torch.as_tensor(x, device=device), torch.as_tensor(y, device=device), model_fn, device, g,
                    augment)
    blocks: list[torch.Tensor] = []
    total = 0.0
    for b in range(n_blocks):
        x0 = _init_images(cfg.init, x, y, block_ipc, k, g)
        blocks = [blk.detach().requires_grad_() for blk in blocks]
        blocks.append(torch.tensor(x0, dtype=torch.float32, device=device, requires_grad=True))
        lrs = [beta * cfg.outer_lr] * b + [cfg.outer_lr]
        labels = torch.arange(k).repeat(block_ipc * (b + 1)).to(device)
        prob.callback = None if callback is None else (lambda info, xs, b=b: callback({**info, "block": b}, xs))
        stats = _outer_loop(blocks, lrs, labels, cfg, prob)
        total += stats["seconds_per_step"] * steps_per_block
    x_out = torch.cat([blk.detach() for blk in blocks]).cpu().numpy()
    meta = {"method": f"boost_{cfg.method}", "ipc": block_ipc * n_blocks, "block_ipc": block_ipc,
            "n_blocks": n_blocks, "beta": beta, "T": cfg.T, "M": cfg.M, "steps_per_block": steps_per_block,
            "inner_optimizer": cfg.inner_optimizer, "inner_lr": cfg.inner_lr, "outer_lr": cfg.outer_lr,
            "init": cfg.init, "real_batch": cfg.real_batch,
            "seconds_per_step": total / max(n_blocks * steps_per_block, 1)}
    return DistilledSet(x_out, torch.arange(k).repeat(block_ipc * n_blocks).numpy(), meta)
