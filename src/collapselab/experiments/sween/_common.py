"""Shared by the SWEEN experiments: parameters, data, the candidate / SWEEN pipeline of one cell,
certification of several heads on shared noise, and per-image certificate tables.

Each cell is a whole pipeline at one sigma (and replicate): train the candidates with Gaussian noise
augmentation, fit the SWEEN weights on held-out noisy images, certify the test images with Cohen et al.'s
CERTIFY. Every classifier compared in a cell is certified on the *same* noise draws
(:class:`collapselab.smoothing.EnsembleHeads`), so comparisons are paired over images.
"""

from __future__ import annotations

import functools
import time
from typing import Literal

import numpy as np
import pandas as pd
import torch
from pydantic import Field

from collapselab.core import CellContext, Params
from collapselab.nn import accuracy
from collapselab.smoothing import (
    CANDIDATES,
    SWEEN,
    EnsembleHeads,
    build_candidate,
    certified_accuracy,
    certify_from_counts,
    crop_flip,
    smoothed_class_counts,
    train_with_noise,
)

ArchName = Literal[tuple(CANDIDATES)]  # type: ignore[valid-type]


class SweenParams(Params):
    dataset: Literal["mnist-subset", "cifar10"] = Field("mnist-subset", description="offline MNIST subset, "
                                                        "or CIFAR-10 from the user's files (full preset)")
    data_dir: str | None = Field(None, description="folder of cifar-10-batches-py (dataset=cifar10)")
    candidates: list[ArchName] = Field(["mlp", "convnet-w8", "convnet-w8", "lenet", "lenet"],
                                       description="candidate architectures; repeats differ by seed")
    sigmas: list[float] = Field([0.25, 0.5], description="noise levels (train and certify)")
    train_epochs: int = Field(10, ge=1, description="candidate training epochs")
    train_lr: float = Field(1e-3, gt=0, description="candidate learning rate")
    train_optimizer: Literal["adam", "sgd"] = Field("adam", description="candidate optimiser")
    train_batch: int = Field(128, ge=1, description="candidate batch size")
    train_milestones: list[int] = Field([], description="epochs at which the candidates' rate drops 10x "
                                        "(the release: 150, 300 of 400; none at quick)")
    n_holdout: int = Field(500, ge=10, description="held-out training images for the SWEEN weights")
    weight_epochs: int = Field(150, ge=1, description="epochs of weight training (the release: 150)")
    weight_lr: float = Field(0.01, gt=0, description="SGD learning rate of w (the release: 0.01)")
    weight_milestones: list[int] = Field([60, 90], description="epochs at which the rate of w drops 10x (the "
                                         "release: 60, 90 of 150)")
    n_test: int = Field(150, ge=1, description="test images certified")
    test_stride: int = Field(1, ge=1, description="certify every test_stride-th test image")
    n0: int = Field(100, ge=1, description="CERTIFY selection samples")
    n: int = Field(1000, ge=1, description="CERTIFY estimation samples")
    alpha: float = Field(0.001, gt=0, lt=1, description="CERTIFY failure probability")
    cert_batch: int = Field(1000, ge=1, description="noisy copies per forward pass")
    radii: list[float] = Field([0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5], description="reporting radii")


SMOKE = {"candidates": ["mlp-128", "lenet"], "sigmas": [0.5], "train_epochs": 1, "n_holdout": 200,
         "weight_epochs": 2, "weight_milestones": [1], "n_test": 8, "n0": 10, "n": 60, "cert_batch": 256}
FULL = {"dataset": "cifar10", "data_dir": None, "candidates": ["resnet20", "resnet26", "resnet32"],
        "sigmas": [0.25, 0.5], "train_epochs": 400, "train_lr": 0.01, "train_optimizer": "sgd", "train_batch": 64,
        "train_milestones": [150, 300], "n_holdout": 2000, "weight_epochs": 150, "weight_lr": 0.01,
        "weight_milestones": [60, 90], "n_test": 500, "test_stride": 20,
        "n0": 100, "n": 100_000, "alpha": 0.001, "cert_batch": 1000,
        "radii": [0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0]}
_PIPELINE = ("dataset", "data_dir", "sigma", "train_epochs", "train_lr", "train_optimizer", "train_batch",
             "train_milestones", "n_holdout", "n_test", "test_stride")


def cells(p: SweenParams) -> list[dict]:
    # a schedule enters the cell only when set: cells without one (and so their seeds) stay as they were
    empty = {k for k in ("train_milestones", "weight_milestones") if not getattr(p, k)}
    base = p.model_dump(exclude={"seeds", "sigmas", *empty})
    return [{**base, "sigma": s} for s in p.sigmas]


@functools.lru_cache(maxsize=2)
def split(dataset: str, data_dir: str | None, n_holdout: int, n_test: int, test_stride: int, test_block: int = 0):
    """(x_train, y_train, x_hold, y_hold, x_test, y_test) CPU tensors; the training split is fixed (not per
    seed): the last ``n_holdout`` training images are held out for the weights (SWEEN uses the last 2,000
    of CIFAR-10's training set); the test images are block ``test_block`` (images test_block * n_test ..
    (test_block + 1) * n_test - 1) of every ``test_stride``-th image of the test split."""
    from collapselab.data import load

    s = load(dataset, data_dir)
    if n_holdout >= len(s.y_train):
        raise ValueError(f"`n_holdout`={n_holdout} leaves no training images (have {len(s.y_train)})")
    xt, yt = torch.as_tensor(s.x_train), torch.as_tensor(s.y_train)
    lo = test_block * n_test
    xs = torch.as_tensor(s.x_test)[::test_stride][lo:lo + n_test]
    ys = torch.as_tensor(s.y_test)[::test_stride][lo:lo + n_test]
    if test_block and len(ys) < n_test:
        raise ValueError(f"`test_block`={test_block}: the test split has no {n_test} images left at stride "
                         f"{test_stride} (have {len(ys)})")
    return xt[:-n_holdout], yt[:-n_holdout], xt[-n_holdout:], yt[-n_holdout:], xs, ys


def cell_split(cell: dict, replicate: int = 0):
    """The split of a cell; with ``distinct_test_images`` in the cell each replicate (seed) certifies its
    own block of test images (no image shared by two seeds), else every seed certifies the same images."""
    block = replicate if cell.get("distinct_test_images") else 0
    return split(cell["dataset"], cell["data_dir"], cell["n_holdout"], cell["n_test"], cell["test_stride"], block)


@functools.lru_cache(maxsize=2)
def heldout_images(dataset: str, data_dir: str | None, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``n`` images of the test split (x, y), CPU tensors: data that neither the candidates nor
    the SWEEN weights were fitted on (the held-out NLL of sween/certify)."""
    from collapselab.data import load

    s = load(dataset, data_dir)
    if n > len(s.y_test):
        raise ValueError(f"`nll_images`={n} exceeds the test split ({len(s.y_test)} images)")
    return torch.as_tensor(s.x_test[:n]), torch.as_tensor(s.y_test[:n])


def _clock(device: str) -> float:
    """CPU seconds of this process on a CPU device; wall seconds (after a sync) on a GPU."""
    if str(device).startswith("cuda"):
        torch.cuda.synchronize()
        return time.perf_counter()
    return time.process_time()


@functools.lru_cache(maxsize=2)
def _trained(key: tuple, archs: tuple, tag: str, ctx: CellContext):
    """Train the candidates ``archs`` (stream ``tag``) with noise; cached per worker so that the
    experiments of one process share them. Returns (models, train_seconds, clean_accuracy).

    Training layout: :func:`collapselab.smoothing.train_with_noise`'s default, channels-last model and
    noisy batches on a CPU for the conv nets with batch norm or none (ConvNets, LeNet, ResNets),
    contiguous for MLPs and on a GPU; the small and the large models of sween/small-vs-large alike."""
    cell = dict(zip(_PIPELINE, key))
    xt, yt, _, _, xs, ys = cell_split(cell)
    c, size, k = xt.shape[1], xt.shape[-1], int(yt.max()) + 1
    augment = crop_flip if cell["dataset"] == "cifar10" else None
    models, seconds, acc = [], [], []
    for i, arch in enumerate(archs):
        model = build_candidate(arch, c, k, size, generator=ctx.torch_generator(f"{tag}-init", i, device="cpu"))
        start = _clock(ctx.device)
        train_with_noise(model, xt, yt, cell["sigma"], epochs=cell["train_epochs"], lr=cell["train_lr"],
                         optimizer=cell["train_optimizer"], batch_size=cell["train_batch"], augment=augment,
                         milestones=cell.get("train_milestones", ()), device=ctx.device,
                         generator=ctx.torch_generator(f"{tag}-train", i, device="cpu"))
        seconds.append(_clock(ctx.device) - start)
        # channels-last convolutions: 1.3-1.6x faster CPU inference for the MNIST candidates (the weights'
        # values are unchanged; only their layout, so the float rounding of the convolutions may differ)
        model = model.eval().to(memory_format=torch.channels_last)
        acc.append(accuracy(model, xs, ys, device=ctx.device))
        models.append(model)
    return models, seconds, acc


def trained(cell: dict, archs: list[str], ctx: CellContext, tag: str = "cand"):
    key = tuple(tuple(v) if isinstance(v := cell.get(k, ()), list) else v for k in _PIPELINE)  # hashable
    return _trained(key, tuple(archs), tag, ctx)


def fit_sween(cell: dict, ctx: CellContext) -> tuple[SWEEN, list[float], float, list[float]]:
    """Candidates + fitted SWEEN weights: (ensemble, candidate train seconds, weight seconds, clean acc)."""
    models, seconds, acc = trained(cell, cell["candidates"], ctx)
    _, _, xh, yh, _, _ = cell_split(cell)
    ens = SWEEN(models).to(ctx.device)
    start = _clock(ctx.device)
    ens.fit_weights(xh, yh, cell["sigma"], epochs=cell["weight_epochs"], lr=cell["weight_lr"],
                    milestones=cell.get("weight_milestones", ()), device=ctx.device,
                    generator=ctx.torch_generator("weights", device="cpu"))
    return ens, list(seconds), _clock(ctx.device) - start, list(acc)


def certify_heads(cell: dict, ens: SWEEN, heads: list[str], ctx: CellContext) -> tuple[dict, EnsembleHeads]:
    """CERTIFY every head on shared noise; returns {"labels", "predict__h", "radius__h"} and the module.

    The members run as :meth:`SWEEN.for_inference` copies (batch norm folded into the convolutions,
    channels-last): the same classifiers up to float rounding, about 2x faster for the batch-norm
    ConvNets on a CPU."""
    _, yt, _, _, xs, ys = cell_split(cell, ctx.replicate)
    module = EnsembleHeads(ens.for_inference(), heads).eval()
    kw = dict(num_classes=int(yt.max()) + 1, batch_size=cell["cert_batch"],
              generator=ctx.torch_generator("certify"), device=ctx.device)
    c0 = smoothed_class_counts(module, xs, cell["n0"], cell["sigma"], **kw).numpy()  # (N, H, C) selection
    c = smoothed_class_counts(module, xs, cell["n"], cell["sigma"], **kw).numpy()  # independent estimation
    out: dict = {"labels": ys.tolist()}
    for j, h in enumerate(heads):
        certs = [certify_from_counts(c0[i, j], c[i, j], cell["alpha"], cell["sigma"]) for i in range(len(ys))]
        out[f"predict__{h}"] = [ct.label for ct in certs]
        out[f"radius__{h}"] = [round(ct.radius, 6) for ct in certs]
    return out, module


def certificates(frame: pd.DataFrame, heads: list[str]) -> pd.DataFrame:
    """Long table: one row per (sigma, replicate, image, model) with label, predict and radius."""
    rows = []
    for _, r in frame.iterrows():
        for h in heads:
            for i, (y, pr, rad) in enumerate(zip(r["labels"], r[f"predict__{h}"], r[f"radius__{h}"])):
                rows.append({"sigma": r["sigma"], "replicate": r["replicate"], "image": i, "model": h,
                             "label": int(y), "predict": int(pr), "radius": float(rad)})
    return pd.DataFrame(rows, columns=["sigma", "replicate", "image", "model", "label", "predict", "radius"])


def per_image(certs: pd.DataFrame, sigma: float, model: str, radius: float | None = None) -> np.ndarray:
    """Per (replicate, image) of one sigma, in a fixed order: 1{certified correct at ``radius``}, or the
    certified radius counted when correct (radius None; its mean is the ACR)."""
    t = certs[np.isclose(certs["sigma"], sigma) & (certs["model"] == model)].sort_values(["replicate", "image"])
    ok = (t["predict"] == t["label"]).to_numpy()
    if radius is None:
        return np.where(ok, t["radius"].to_numpy(), 0.0)
    return (ok & (t["radius"].to_numpy() >= radius)).astype(float)


def curve_table(certs: pd.DataFrame, heads: list[str], radii: list[float]) -> pd.DataFrame:
    rows = []
    for sigma in sorted(certs["sigma"].unique()):
        for h in heads:
            t = certs[np.isclose(certs["sigma"], sigma) & (certs["model"] == h)]
            if t.empty:
                continue
            ca = certified_accuracy(t, radii)
            rows.append({"sigma": sigma, "model": h, "images": len(t), "acr": float(per_image(certs, sigma, h).mean()),
                         **{f"r={r:g}": v for r, v in zip(radii, ca)}})
    return pd.DataFrame(rows)


def certified_tables(frame: pd.DataFrame, heads: list[str], radii: list[float]) -> dict[str, pd.DataFrame]:
    """The tables every sween experiment starts from: ``certified_accuracy`` (per sigma and head: images,
    ACR and certified accuracy at each radius, :func:`curve_table`) and the long ``certificates``."""
    certs = certificates(frame, heads)
    return {"certified_accuracy": curve_table(certs, heads, radii), "certificates": certs}


def presets(smoke: dict | None = None, quick: dict | None = None, full: dict | None = None) -> dict[str, dict]:
    """The three presets of a sween experiment: the shared :data:`SMOKE` and :data:`FULL` with the
    experiment's own values on top; quick is the parameter defaults unless ``quick`` says otherwise."""
    return {"smoke": {**SMOKE, **(smoke or {})}, "quick": dict(quick or {}), "full": {**FULL, **(full or {})}}


def curve(certs: pd.DataFrame, sigma: float, model: str, grid: np.ndarray) -> np.ndarray:
    return certified_accuracy(certs[np.isclose(certs["sigma"], sigma) & (certs["model"] == model)], grid)


GRID_NEEDS = "needs the sigmas and radii the claim names"  # an empty conjunction: nothing of the grid judged


# --- cost model (for --dry-run and the cuda forecast) ------------------------------------------------------
_SHAPE = {"mnist-subset": (1, 28, 28), "cifar10": (3, 32, 32)}
_TRAIN = {"mnist-subset": 4000, "cifar10": 50000}
# One thread, 2-core Xeon (2026-12-07), eval forward of 1,000 MNIST images: ConvNet-w8 0.07 s (0.35 MFLOP per
# image, 5 GFLOP/s), LeNet 0.06 s, ConvNet-w32 0.50 s (4.1 MFLOP, 8 GFLOP/s), MLP-256 0.0065 s (the MLP runs
# ~10x faster than this rate says; it is a small share of every pool).
FLOP_RATE = 6e9  # one thread's FLOP/s on the candidates' convolutions
COPY_SECONDS = 2e-6  # noise draw, bookkeeping and vote counting per noisy copy
CELL_OVERHEAD_S = 3.0  # data, certificates' statistics, store write


@functools.lru_cache(maxsize=32)
def candidate_flops(arch: str, dataset: str) -> float:
    """FLOPs of one forward of one image through candidate ``arch`` (multiply-adds x 2), counted by torch's
    FlopCounterMode on the net built from its shapes."""
    from torch.utils.flop_counter import FlopCounterMode

    from collapselab.smoothing import build_candidate

    c, h, _ = _SHAPE[dataset]
    model = build_candidate(arch, c, 10, h).eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.zeros(2, c, h, h))
    return float(counter.get_total_flops()) / 2


def pipeline_flops(cell: dict, archs: list[str], weight_archs: list[str] | None = None,
                   certified: list[str] | None = None) -> tuple[float, float]:
    """(FLOPs, noisy copies) of one sween pipeline cell, with f_a = :func:`candidate_flops`:
    training 3 f_a x train_epochs x (N_train - n_holdout) per trained arch; the weights
    weight_epochs x n_holdout x sum f over ``weight_archs`` (forward only, members frozen); certification
    n_test x (n0 + n) x sum f over ``certified`` (every member on every noisy copy). Defaults: both the
    trained ``archs``."""
    ds = cell["dataset"]
    f = {a: candidate_flops(a, ds) for a in {*archs, *(weight_archs or []), *(certified or [])}}
    n_train = _TRAIN[ds] - cell["n_holdout"]
    train = sum(3 * f[a] * cell["train_epochs"] * n_train for a in archs)
    wsum = sum(f[a] for a in (archs if weight_archs is None else weight_archs))
    csum = sum(f[a] for a in (archs if certified is None else certified))
    weights = cell["weight_epochs"] * cell["n_holdout"] * wsum
    copies = cell["n_test"] * (cell["n0"] + cell["n"])
    return train + weights + copies * csum, float(copies + cell["weight_epochs"] * cell["n_holdout"])


def cost_from(flops: float, copies: float) -> float:
    """Estimated one-thread CPU seconds: flops / FLOP_RATE + copies * COPY_SECONDS + CELL_OVERHEAD_S."""
    return flops / FLOP_RATE + copies * COPY_SECONDS + CELL_OVERHEAD_S
