"""K independent replicates of one small model trained together, as one batched model.

Many experiments train the same small network (an MLP of a few thousand weights, a decoder of width
8-64) once per seed. On a CPU such a model spends most of each step in per-operation overhead, not in
arithmetic; stacking the K replicates' weights along a new leading axis turns K small matrix products
into one batched product (``torch.func.stack_module_state`` + ``torch.func.functional_call`` under
``torch.vmap``) and K optimiser steps into one.

Independence. Replicate k keeps everything its sequential twin has:

* its initialisation: ``make_model(seeds[k])`` builds it exactly as the sequential code does;
* its data order: the caller's ``sampler(k, epoch)`` draws replicate k's index batches from replicate
  k's own generator (:func:`fit_replicates` and :func:`decoder_replicates` take one generator each);
* its gradient: the step minimises L(theta) = sum_k L_k(theta_k), and since L_k depends on theta_k
  only, dL/dtheta_k = dL_k/dtheta_k: back-propagating the sum gives each replicate its own gradient;
* its optimiser state: Adam, AdamW and SGD with momentum are elementwise. With g the gradient, m, v
  the moments, w the weight decay and eta_t the rate, Adam(W) updates every coordinate i by
  m_i <- b1 m_i + (1 - b1) g_i, v_i <- b2 v_i + (1 - b2) g_i^2,
  theta_i <- theta_i (1 - eta_t w) - eta_t mhat_i / (sqrt(vhat_i) + eps) (AdamW; Adam adds w theta_i
  to g_i instead) and SGD by b_i <- mu b_i + g_i, theta_i <- theta_i - eta_t b_i: coordinate i reads
  no other coordinate, so one optimiser over the stacked tensors (K, ...) is K optimisers, and the
  weight decay of each replicate's coordinates acts on that replicate only. The decay groups of
  ``decay_matrices_only`` use each parameter's own (unstacked) number of dimensions;
* its gradient clipping: clipping must use replicate k's norm
  ||g^(k)|| = sqrt(sum_p ||g_p^(k)||^2) and scale g^(k) by min(1, c / (||g^(k)|| + 1e-6))
  (torch's ``clip_grad_norm_`` rule), not the norm of all K replicates together, which would let one
  replicate's large gradient shrink every other replicate's step (:func:`clip_per_replicate`).

The schedule (:func:`collapselab.nn.lr_at`) is the same for all replicates, since they take the same
number of steps. What does not batch: early stopping (replicates would stop at different steps),
skipped steps (a batch with nothing to learn), dropout and batch norm in training mode (their
randomness and running statistics are not per replicate under ``vmap``): :func:`train_replicates`
refuses the first two; models with the last two fail in ``vmap``.

Two ways to run the K replicates. A model that is a chain of Flatten / Linear / ReLU / Tanh / GELU /
Identity layers (:class:`collapselab.nn.MLP` without dropout, a plain ``nn.Sequential``) runs through
:func:`stacked_forward`: each Linear layer is one ``torch.baddbmm`` over the stacked weights (K, out, in),
with no ``vmap`` or ``functional_call`` between the operations, which is what makes K replicates of a
small MLP cost little more than one. Any other model (decoders, convolutional nets) runs its own forward
under ``torch.vmap``.
"""

from __future__ import annotations

import copy
import functools
import itertools
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, stack_module_state
from torch.nn.attention import SDPBackend, sdpa_kernel

from collapselab._validation import check_int
from collapselab.nn.loop import TrainConfig, autocast, lr_at
from collapselab.nn.models import MLP

Collate = Callable[[list[torch.Tensor]], tuple[tuple[torch.Tensor, ...], dict[str, Any]]]


@dataclass(frozen=True)
class Replicates:
    """What :func:`train_replicates` returns: the K trained modules (unstacked, in eval mode) and each
    replicate's losses (as :class:`collapselab.nn.TrainHistory`'s ``losses`` and ``epoch_losses``)."""

    models: list[nn.Module]
    losses: list[list[float]]  # [k][step]: the loss of every step of replicate k
    epoch_losses: list[list[float]] = field(default_factory=list)  # [k][epoch]: mean loss per row


_ACTIVATIONS: dict[type[nn.Module], Callable[[nn.Module, torch.Tensor], torch.Tensor]] = {
    nn.ReLU: lambda m, x: F.relu(x),
    nn.Tanh: lambda m, x: torch.tanh(x),
    nn.GELU: lambda m, x: F.gelu(x, approximate=m.approximate),
    nn.Identity: lambda m, x: x,
}


def _chain(module: nn.Module, prefix: str) -> list[tuple[str, nn.Module]] | None:
    """The layers of ``module`` in the order its forward applies them, with their parameter prefixes, or
    None when its forward is not known to be that chain."""
    if type(module) is MLP:
        return _chain(module.net, prefix + "net.")
    if type(module) is nn.Sequential:
        layers: list[tuple[str, nn.Module]] = []
        for name, child in module.named_children():
            sub = _chain(child, f"{prefix}{name}.")
            if sub is None:
                return None
            layers += sub
        return layers
    if type(module) in (nn.Linear, nn.Flatten, *_ACTIVATIONS):
        return [(prefix, module)]
    if type(module) is nn.Dropout and module.p == 0:
        return [(prefix, nn.Identity())]
    return None


def stacked_forward(model: nn.Module) -> Callable[[dict[str, torch.Tensor], torch.Tensor], torch.Tensor] | None:
    """``forward(params, x)``: K stacked replicates of ``model`` run on stacked inputs x (K, B, ...) with
    their stacked parameters (``{name: (K, ...)}``, as ``torch.func.stack_module_state`` names them).

    For a chain of Flatten / Linear / ReLU / Tanh / GELU / Identity layers (and dropout with p = 0):
    Linear with weight W (out, in) and bias b maps replicate k's rows by y_k = x_k W_k^T + b_k, one
    ``torch.baddbmm`` for the K replicates; Flatten(start_dim=1) flattens each replicate's rows
    (B, ...) -> (B, -1); the activations act elementwise. Returns None for any other model (one with
    buffers, dropout with p > 0, or layers outside this list), which then runs under ``torch.vmap``.
    """
    layers = _chain(model, "")
    if layers is None or any(True for _ in model.buffers()):
        return None
    if any(isinstance(m, nn.Flatten) and (m.start_dim, m.end_dim) != (1, -1) for _, m in layers):
        return None

    def forward(params: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        for prefix, m in layers:
            if isinstance(m, nn.Linear):
                K, w = x.shape[0], params[prefix + "weight"]
                rows = x.reshape(K, -1, x.shape[-1])
                b = params.get(prefix + "bias")
                y = torch.bmm(rows, w.transpose(1, 2)) if b is None else torch.baddbmm(
                    b.unsqueeze(1), rows, w.transpose(1, 2))
                x = y.reshape(*x.shape[:-1], w.shape[1])
            elif isinstance(m, nn.Flatten):
                x = x.reshape(x.shape[0], x.shape[1], -1)
            else:
                x = _ACTIVATIONS[type(m)](m, x)
        return x

    return forward


def clip_per_replicate(grads: Sequence[torch.Tensor], max_norm: float) -> torch.Tensor:
    """Clip each replicate's gradient to global norm ``max_norm``, in place; returns the K norms.

    ``grads`` are stacked gradients (K, ...). Replicate k's norm is the norm of the per-parameter
    norms ||g_p^(k)|| (as ``torch.nn.utils.clip_grad_norm_`` computes it for one model), and its
    gradients are multiplied by min(1, max_norm / (norm_k + 1e-6)).
    """
    if not grads:
        raise ValueError("`grads` must hold at least one stacked gradient")
    K = grads[0].shape[0]
    per_param = torch.stack([torch.linalg.vector_norm(g.reshape(K, -1), dim=1) for g in grads], 1)  # (K, P)
    norms = torch.linalg.vector_norm(per_param, dim=1)  # (K,)
    coef = (max_norm / (norms + 1e-6)).clamp(max=1.0)
    for g in grads:
        g.mul_(coef.view(K, *([1] * (g.ndim - 1))).to(g.dtype))
    return norms


def _optimizer(params: dict[str, torch.Tensor], config: TrainConfig) -> torch.optim.Optimizer:
    """:func:`collapselab.nn.make_optimizer` over stacked parameters: decay groups by the unstacked ndim."""
    ps = list(params.values())
    if config.decay_matrices_only:
        groups = [{"params": [p for p in ps if p.ndim - 1 >= 2], "weight_decay": config.weight_decay},
                  {"params": [p for p in ps if p.ndim - 1 < 2], "weight_decay": 0.0}]
    else:
        groups = [{"params": ps, "weight_decay": config.weight_decay}]
    if config.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=config.lr, momentum=config.momentum, fused=config.fused)
    cls = torch.optim.Adam if config.optimizer == "adam" else torch.optim.AdamW
    return cls(groups, lr=config.lr, betas=config.betas, fused=config.fused)


def _fused_by_default(config: TrainConfig, device: str | torch.device) -> TrainConfig:
    """``config`` with ``fused=None`` resolved to torch's fused optimiser kernel on CPU and CUDA: one kernel
    over the stacked tensors (the same update up to float rounding)."""
    if config.fused is not None:
        return config
    return config.replace(fused=torch.device(device).type in ("cpu", "cuda"))


def _check_config(config: TrainConfig) -> None:
    if not isinstance(config, TrainConfig):
        raise ValueError(f"`config` must be a TrainConfig, got {type(config).__name__}")
    if config.evaluate is not None or config.patience is not None or config.target is not None:
        raise ValueError("`config` asks for early stopping, which replicates trained together cannot do "
                         "(each would stop at its own step): train them one at a time")
    if config.callback is not None:
        raise ValueError("`config.callback` is not supported by train_replicates")


def train_replicates(make_model: Callable[[int], nn.Module], seeds: Sequence[int],
                     sampler: Callable[[int, int], Iterable[torch.Tensor]], collate: Collate,
                     loss_fn: Callable[..., torch.Tensor], config: TrainConfig, *, steps: int, epochs: int = 1,
                     device: str | torch.device = "cpu",
                     stacked_loss: Callable[..., torch.Tensor] | None = None) -> Replicates:
    """Train K = len(seeds) replicates of ``make_model(seed)`` together (see the module docstring).

    Epoch e of replicate k is one pass over ``sampler(k, e)`` (index tensors drawn from replicate k's
    own generator). Each loop step takes ``config.grad_accum`` micro-batches: the next index tensor of
    every replicate, passed together to ``collate(indices) -> (tensors, kwargs)``, which returns the
    replicates' inputs stacked along a leading axis of length K and keyword arguments shared by all.
    ``loss_fn(call, *tensors_k, **kwargs)`` is one replicate's loss (a scalar), where ``call(*args,
    **kw)`` runs that replicate's model; it is vmapped over the K replicates. ``steps`` is the length
    of the schedule (the number of optimiser steps a sequential twin takes). When the model has a
    :func:`stacked_forward` and ``stacked_loss`` is given, the step's K losses are instead
    ``stacked_loss(forward, *tensors, **kwargs)`` (shape (K,)), where ``forward(x)`` runs the K replicates
    on stacked inputs x (K, B, ...) at once; it must equal ``loss_fn`` replicate by replicate. Returns
    :class:`Replicates` with K modules (the models ``make_model`` built, trained in place).
    """
    _check_config(config)
    check_int("steps", steps, low=0)
    check_int("epochs", epochs, low=0)
    if len(seeds) == 0:
        raise ValueError("`seeds` must name at least one replicate")
    device = torch.device(device)
    models = [make_model(int(s)).to(device).train() for s in seeds]
    params, buffers = stack_module_state(models)  # {name: (K, ...)}, params are fresh leaf tensors
    base = copy.deepcopy(models[0]).to("meta")
    opt = _optimizer(params, config)

    forward = stacked_forward(base) if stacked_loss is not None else None

    def losses_of(tensors: tuple[torch.Tensor, ...], kwargs: dict[str, Any]) -> torch.Tensor:
        """The K replicates' losses (K,) on their stacked batches."""
        if forward is not None:
            return stacked_loss(functools.partial(forward, params), *tensors, **kwargs)

        def one(p: dict, b: dict, *ts: torch.Tensor) -> torch.Tensor:
            def call(*args: Any, **kw: Any) -> Any:
                return functional_call(base, (p, b), args, kw)
            return loss_fn(call, *ts, **kwargs)

        with sdpa_kernel([SDPBackend.MATH]):  # the fused attention kernels have no vmap rule (a loop over K)
            return torch.vmap(one, in_dims=(0, 0, *([0] * len(tensors))))(params, buffers, *tensors)

    K, taken = len(models), 0
    losses: list[list[float]] = [[] for _ in range(K)]
    epoch_losses: list[list[float]] = [[] for _ in range(K)]
    for epoch in range(epochs):
        its = [iter(sampler(k, epoch)) for k in range(K)]
        total, count = torch.zeros(K, dtype=torch.float64), 0
        while True:
            step_loss, rows = _step(its, collate, losses_of, params, opt, config)
            if step_loss is None:
                break
            for group in opt.param_groups:
                group["lr"] = lr_at(taken, steps, config, epoch)
            opt.step()
            taken += 1
            for k in range(K):
                losses[k].append(float(step_loss[k]))
            total, count = total + step_loss.double() * rows, count + rows
        for k in range(K):
            epoch_losses[k].append(float(total[k]) / max(count, 1))
    with torch.no_grad():
        for k, model in enumerate(models):
            for name, t in itertools.chain(model.named_parameters(), model.named_buffers()):
                t.copy_((params if name in params else buffers)[name][k])
            model.eval()
    return Replicates(models, losses, epoch_losses)


def _step(its: list[Iterator[torch.Tensor]], collate: Collate, losses_of: Callable, params: dict,
          opt: torch.optim.Optimizer, config: TrainConfig) -> tuple[torch.Tensor | None, int]:
    """Gradients of one loop step (micro-batches accumulated, clipped per replicate); (losses (K,), rows)
    or (None, 0) when the replicates' batches are exhausted."""
    opt.zero_grad(set_to_none=True)
    total, rows = None, 0
    for _ in range(config.grad_accum):
        idx = [next(it, None) for it in its]
        if all(i is None for i in idx):
            break
        if any(i is None for i in idx) or len({len(i) for i in idx}) != 1:
            raise ValueError("the replicates' samplers must yield batches of equal sizes in equal numbers")
        loss = losses_of(*collate(idx))
        if config.grad_accum > 1:
            loss = loss / config.grad_accum
        loss.sum().backward()
        rows += len(idx[0])
        total = loss.detach() if total is None else total + loss.detach()
    if total is None:
        return None, 0
    if config.grad_clip is not None:
        clip_per_replicate([p.grad for p in params.values() if p.grad is not None], config.grad_clip)
    return total, rows


def _generators(generators: Sequence[torch.Generator], K: int) -> list[torch.Generator]:
    if len(generators) != K or not all(isinstance(g, torch.Generator) for g in generators):
        raise ValueError(f"`generators` must hold one torch.Generator per seed ({K}), got {len(generators)}")
    return list(generators)


def fit_replicates(make_model: Callable[[int], nn.Module], seeds: Sequence[int], x: torch.Tensor, y: torch.Tensor,
                   config: TrainConfig | None = None, *, generators: Sequence[torch.Generator], epochs: int = 10,
                   batch_size: int = 128, loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
                   device: str | torch.device = "cpu", **options: Any) -> Replicates:
    """:func:`collapselab.nn.fit` for K replicates on shared data (x, y), trained together.

    Replicate k is what ``fit(make_model(seeds[k]), x, y, config, epochs=..., batch_size=...,
    generator=generators[k], **options)`` trains: each epoch a permutation of range(n) drawn from its
    own generator, cut into ``batch_size`` chunks; ``config`` (default :data:`collapselab.nn.FIT`; with
    ``fused=None`` the optimiser step is torch's fused kernel, the same update up to float rounding).
    A chain of Linear layers and activations (:func:`stacked_forward`) runs as batched matrix products,
    and the default cross-entropy is computed for the K replicates at once.
    No augmentation, validation or early stopping (train those one at a time with ``fit``).
    """
    from collapselab.nn.train import FIT, iterate_minibatches

    cfg = _fused_by_default(TrainConfig.make(config or FIT, **options), device)
    check_int("epochs", epochs, low=0)
    check_int("batch_size", batch_size, low=1)
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"`x` and `y` must have the same length, got {x.shape[0]} and {y.shape[0]}")
    gens = _generators(generators, len(seeds))
    amp = cfg.autocast and torch.device(device).type == "cuda"
    loss_fn = loss_fn or F.cross_entropy
    xd, yd = x.to(device), y.to(device)

    def collate(idx: list[torch.Tensor]) -> tuple[tuple[torch.Tensor, ...], dict]:
        i = torch.stack(idx).to(device)  # (K, B)
        rows = i.reshape(-1)
        return (xd.index_select(0, rows).view(*i.shape, *xd.shape[1:]), yd.index_select(0, rows).view(i.shape)), {}

    def outputs(run: Callable, xb: torch.Tensor) -> torch.Tensor:
        with autocast(device, amp):
            out = run(xb)
        return out.float() if amp else out

    def loss(call: Callable, xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        return loss_fn(outputs(call, xb), yb)

    def stacked(forward: Callable, xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        out = outputs(forward, xb)
        if loss_fn is F.cross_entropy and not yb.is_floating_point():  # labels: each replicate's mean over B
            rows = F.cross_entropy(out.reshape(-1, out.shape[-1]), yb.reshape(-1), reduction="none")
            return rows.view(yb.shape).mean(1)
        return torch.vmap(loss_fn)(out, yb)

    per_epoch = (x.shape[0] + batch_size - 1) // batch_size
    steps = epochs * ((per_epoch + cfg.grad_accum - 1) // cfg.grad_accum)
    return train_replicates(make_model, seeds, lambda k, _: iterate_minibatches(x.shape[0], batch_size, gens[k]),
                            collate, loss, cfg, steps=steps, epochs=epochs, device=device, stacked_loss=stacked)


def decoder_replicates(make_model: Callable[[int], nn.Module], seeds: Sequence[int],
                       tokens: torch.Tensor | Sequence[torch.Tensor], loss_mask: torch.Tensor | Sequence[torch.Tensor],
                       config: TrainConfig | None = None, *, generators: Sequence[torch.Generator], steps: int,
                       batch_size: int = 64, device: str | torch.device = "cpu", **options: Any) -> Replicates:
    """:func:`collapselab.nn.train_decoder` for K replicates, trained together.

    Replicate k is what ``train_decoder(make_model(seeds[k]), tokens_k, loss_mask_k, config, steps=...,
    batch_size=..., generator=generators[k], **options)`` trains: ``steps`` steps on rows drawn with
    replacement by its own generator. ``tokens`` / ``loss_mask`` are one data set shared by all, or one
    per replicate (equal row lengths T; the numbers of rows may differ). A step's batches are cut to the
    last masked target of any replicate and the head starts at the first of any: the extra positions are
    masked out and, the model being causal, change no learned position, so the loss of each replicate is
    its twin's up to the order of summation. Every row must have a learned target (no skipped steps).
    """
    from collapselab.nn.lm_train import DECODER
    from collapselab.nn.transformer import sequence_loss

    cfg = TrainConfig.make(config or DECODER, **options)
    check_int("steps", steps, low=0)
    batch_size = check_int("batch_size", batch_size, low=1)
    K = len(seeds)
    gens = _generators(generators, K)
    toks = [tokens] * K if isinstance(tokens, torch.Tensor) else list(tokens)
    masks = [loss_mask] * K if isinstance(loss_mask, torch.Tensor) else list(loss_mask)
    if len(toks) != K or len(masks) != K:
        raise ValueError(f"`tokens` and `loss_mask` must be one tensor or one per seed ({K})")
    if len({t.shape[1] for t in toks}) != 1:
        raise ValueError("`tokens` of the replicates must have equal row lengths")
    device = torch.device(device)
    X, M = [t.to(device) for t in toks], [m.to(device=device, dtype=torch.bool) for m in masks]
    for t, m in zip(X, M):
        if t.ndim != 2 or tuple(m.shape) != (t.shape[0], t.shape[1] - 1):
            raise ValueError(f"`loss_mask` must have shape (n, T - 1) of its `tokens`, got {tuple(m.shape)}")
        if not bool(m.any(1).all()):
            raise ValueError("every row of `loss_mask` must have a learned target")
    last = [m.shape[1] - m.flip(1).long().argmax(1) for m in M]  # one past the last masked target
    first = [m.long().argmax(1) for m in M]
    cfg = _fused_by_default(cfg, device)

    def collate(idx: list[torch.Tensor]) -> tuple[tuple[torch.Tensor, ...], dict]:
        idx = [i.to(device) for i in idx]
        T = max(int(last[k][i].max()) for k, i in enumerate(idx))
        start = min(min(int(first[k][i].min()) for k, i in enumerate(idx)), T - 1)
        x = torch.stack([X[k][i, :T] for k, i in enumerate(idx)])
        y = torch.stack([X[k][i, start + 1:T + 1] for k, i in enumerate(idx)])
        m = torch.stack([M[k][i, start:T] for k, i in enumerate(idx)])
        return (x, y, m), {"start": start}

    def loss(call: Callable, x: torch.Tensor, y: torch.Tensor, m: torch.Tensor, start: int) -> torch.Tensor:
        with autocast(device, cfg.autocast):
            logits = call(x, start=start)
        return sequence_loss(logits.float(), y, m)

    def sampler(k: int, _: int) -> Iterator[torch.Tensor]:
        n = X[k].shape[0]
        return (torch.randint(0, n, (batch_size,), generator=gens[k]) for _ in range(steps * cfg.grad_accum))

    return train_replicates(make_model, seeds, sampler, collate, loss, cfg, steps=steps, device=device)
