"""Differentiable inner optimisers and one unrolled inner loop, written on ``torch.func.functional_call``.

The inner problem trains theta on the synthetic set S = (X_s, Y_s). Each step is a pure function
``(params, grads, state) -> (params, state)``; run under ``torch.no_grad`` for the untracked steps and with
``create_graph=True`` gradients for the differentiable ones, so both phases follow exactly the same
dynamics (the official code mixes ``torch.optim`` and ``higher``'s copies of it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import contextmanager
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from collapselab._rng import spawn_seed, torch_seed_scope
from collapselab._validation import check_choice, check_real
from collapselab.distill._memory import GraphMemory

Params = tuple[torch.Tensor, ...]

# Inside the Adam square root: v = 0 exactly (a coordinate whose gradient is 0) makes d sqrt(v)/dv
# infinite and the meta-gradient NaN (inf * 0). sqrt(v + 1e-16) keeps it finite and changes the step of a
# coordinate only where sqrt(v) is of the order of eps = 1e-8 itself (optax's ``eps_root``).
_EPS_ROOT = 1e-16


def soft_cross_entropy(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Cross-entropy with int64 labels (N,) or soft targets (N, K): mean_i -sum_k y_ik log softmax_ik."""
    if y.ndim == 1:
        return F.cross_entropy(logits, y)
    return -(y * F.log_softmax(logits, dim=1)).sum(1).mean()


class InnerOptimizer:
    """A pure, differentiable optimiser: ``state = init(params)``, ``params, state = step(params, grads,
    state)``.

    * ``"adam"``: m <- b1 m + (1-b1) g; v <- b2 v + (1-b2) g^2; theta <- theta - lr mhat / (sqrt(vhat +
      1e-16) + eps), mhat = m / (1-b1^t), vhat = v / (1-b2^t); b1, b2, eps = 0.9, 0.999, 1e-8
      (torch.optim.Adam's defaults; the paper's inner optimiser, lr 1e-3) [code].
    * ``"sgd"``: b <- mu b + (g + wd theta); theta <- theta - lr b, mu = 0.9, wd = 5e-4 (the official
      argparse default) [code].

    ``lr`` is a float or a positive 0-dim tensor; a tensor that requires grad makes the unroll
    differentiable in the learning rate too (learned inner learning rate, as in Wang et al. 2018's
    original dataset distillation; the official RaT-BPTT code keeps it fixed).
    """

    def __init__(self, kind: str, lr: float | torch.Tensor, *, momentum: float = 0.9,
                 weight_decay: float = 5e-4, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8):
        self.kind = check_choice("inner_optimizer", kind, ("adam", "sgd"))
        if isinstance(lr, torch.Tensor):
            if lr.ndim != 0 or not bool(torch.isfinite(lr.detach())) or not float(lr.detach()) > 0:
                raise ValueError(f"`inner_lr` must be a positive finite scalar tensor, got {lr!r}")
            self.lr = lr
        else:
            self.lr = check_real("inner_lr", lr, low=0.0, low_open=True)
        self.momentum, self.weight_decay, self.betas, self.eps = momentum, weight_decay, betas, eps

    def init(self, params: Params) -> tuple:
        zeros = tuple(torch.zeros_like(p) for p in params)
        if self.kind == "adam":
            return (0, zeros, tuple(torch.zeros_like(p) for p in params))
        return (zeros,)

    def step(self, params: Params, grads: Params, state: tuple) -> tuple[Params, tuple]:
        if self.kind == "sgd":
            (buf,) = state
            buf = tuple(self.momentum * b + g + self.weight_decay * p for b, g, p in zip(buf, grads, params))
            return tuple(p - self.lr * b for p, b in zip(params, buf)), (buf,)
        t, m, v = state
        b1, b2 = self.betas
        t += 1
        m = tuple(b1 * mi + (1 - b1) * g for mi, g in zip(m, grads))
        v = tuple(b2 * vi + (1 - b2) * g * g for vi, g in zip(v, grads))
        c1, c2 = 1 - b1 ** t, 1 - b2 ** t
        new = tuple(p - self.lr * (mi / c1) / (torch.sqrt(vi / c2 + _EPS_ROOT) + self.eps)
                    for p, mi, vi in zip(params, m, v))
        return new, (t, m, v)


def _detach_state(state: tuple) -> tuple:
    return tuple(tuple(t.detach() for t in s) if isinstance(s, tuple) else s for s in state)


def unroll(net: nn.Module, params: Params, x_syn: torch.Tensor, y_syn: torch.Tensor, *,
           optimizer: InnerOptimizer, n_untracked: int, n_tracked: int, inner_batch: int | None = None,
           augment: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None = None,
           generator: torch.Generator | None = None, names: Sequence[str] | None = None,
           memory: GraphMemory | None = None) -> Params:
    """theta_{N+M} after N = ``n_untracked`` steps without a graph and M = ``n_tracked`` differentiable
    steps on S = (x_syn, y_syn), from theta_0 = ``params`` (a tuple in ``net.named_parameters()`` order).

    The returned parameters depend on (x_syn, y_syn) through the last M steps only: theta_N and the
    optimiser state after step N are constants (truncation). ``inner_batch`` images are drawn per step
    (uniformly, from ``generator``; None = the whole set, the paper's small-IPC setting). ``memory``
    (a :class:`GraphMemory`) counts the bytes the graph of the M tracked steps saves.
    """
    names = list(names) if names is not None else [n for n, _ in net.named_parameters()]

    def loss_at(theta: Params) -> torch.Tensor:
        xb, yb = x_syn, y_syn
        if inner_batch is not None and inner_batch < len(x_syn):
            idx = torch.randperm(len(x_syn), generator=generator)[:inner_batch].to(x_syn.device)
            xb, yb = x_syn[idx], y_syn[idx]
        if augment is not None:
            xb = augment(xb, generator)
        return soft_cross_entropy(functional_call(net, dict(zip(names, theta)), (xb,)), yb)

    theta = tuple(p.detach() for p in params)
    state = optimizer.init(theta)
    x_const, y_const = x_syn, y_syn
    x_syn, y_syn = x_syn.detach(), y_syn.detach()
    for _ in range(n_untracked):  # theta_0 -> theta_N, no graph
        theta = tuple(p.requires_grad_() for p in theta)
        with torch.enable_grad():
            grads = torch.autograd.grad(loss_at(theta), theta)
        with torch.no_grad():
            theta, state = optimizer.step(theta, grads, state)
    theta, state = tuple(p.detach() for p in theta), _detach_state(state)
    x_syn, y_syn = x_const, y_const
    if n_tracked > 0:
        theta = tuple(p.requires_grad_() for p in theta)
    with _counting(memory), torch.enable_grad():  # inner gradients are needed even under no_grad
        for _ in range(n_tracked):  # theta_N -> theta_{N+M}, graph kept (create_graph)
            grads = torch.autograd.grad(loss_at(theta), theta, create_graph=True)
            theta, state = optimizer.step(theta, grads, state)
    return theta


@contextmanager
def _counting(memory: GraphMemory | None):
    if memory is None:
        yield
        return
    try:
        with torch.autograd.graph.saved_tensors_hooks(memory._pack, lambda t: t):
            yield
    finally:
        memory.freeze()


def meta_loss(net: nn.Module, x_syn: torch.Tensor, y_syn: torch.Tensor, x_real: torch.Tensor,
              y_real: torch.Tensor, *, n_untracked: int, n_tracked: int, inner_optimizer: str = "adam",
              inner_lr: float | torch.Tensor = 1e-3, inner_batch: int | None = None,
              augment: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None = None,
              generator: torch.Generator | None = None, memory: GraphMemory | None = None) -> torch.Tensor:
    """L(S) = CE(f(x_real; theta_{N+M}(S)), y_real), the outer loss of one (truncated) unroll.

    theta_0 is ``net``'s current parameters (left unchanged). Its gradient with respect to ``x_syn`` (and
    ``y_syn`` when it requires grad) is the truncated meta-gradient of RaT-BPTT / T-BPTT; with
    ``n_untracked=0`` it is the full BPTT meta-gradient through ``n_tracked`` steps (paper Sec. 3) [code].
    ``inner_lr`` may be a scalar tensor requiring grad (then the loss is differentiable in it).
    ``memory`` counts the bytes saved by the tracked steps and the outer forward (see :func:`unroll`).
    """
    opt = InnerOptimizer(inner_optimizer, inner_lr)
    params = tuple(p for _, p in net.named_parameters())
    theta = unroll(net, params, x_syn, y_syn, optimizer=opt, n_untracked=n_untracked, n_tracked=n_tracked,
                   inner_batch=inner_batch, augment=augment, generator=generator, memory=memory)
    names = [n for n, _ in net.named_parameters()]
    xr = augment(x_real, generator) if augment is not None else x_real
    with _counting(memory):
        return soft_cross_entropy(functional_call(net, dict(zip(names, theta)), (xr,)), y_real)


def fresh_model(model_fn: Callable[[], nn.Module], generator: torch.Generator, device: Any) -> nn.Module:
    """``model_fn()`` with PyTorch's default init drawn from ``generator``, moved to ``device``.

    The module is built on the CPU inside ``torch.random.fork_rng`` seeded from ``generator``: the
    initialisation is reproducible and the caller's global RNG state is left as it was.
    """
    with torch_seed_scope(spawn_seed(generator)):
        net = model_fn()
    if not isinstance(net, nn.Module):
        raise ValueError(f"`model_fn` must return an nn.Module, got {type(net).__name__}")
    return net.to(device)
