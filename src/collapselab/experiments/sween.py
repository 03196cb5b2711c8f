"""Paper 9, SWEEN: smoothed weighted ensembling with randomized-smoothing certificates.

Three experiments, each a whole pipeline per (sigma, replicate) cell:

1. train K candidates with Gaussian noise augmentation at sigma (different architectures and seeds);
2. fit the SWEEN weights alpha = softmax(w) by noisy cross-entropy on held-out training images;
3. certify test images with Cohen et al.'s CERTIFY.

Every classifier compared in one cell is certified on the *same* noise draws (common random numbers):
the base classifier is a multi-head module that runs each member once per noisy copy and returns the
votes of every candidate and ensemble. Each certificate still holds with probability >= 1 - alpha on
its own; sharing the noise only makes the comparisons paired (less variance), never optimistic.

The ``quick`` presets scale the paper down to minutes on 2 CPU cores: the 5,000-image offline MNIST
subset (3,500 train / 500 held-out for the weights / 1,000 test) instead of CIFAR-10, small MLP /
ConvNet / LeNet candidates instead of ResNets and DenseNets, 10 epochs instead of 400, n = 1,000
noise samples instead of 100,000 (max certifiable radius 2.46 sigma instead of 3.8 sigma) and 150
test images instead of 500-1,000. The ``full`` presets are the paper's scale on CIFAR-10 (user's files; set
``data_dir``), CIFAR ResNets, n = 100,000, meant for a GPU (``--device cuda``).
"""

from __future__ import annotations

import functools
import math
import time
from typing import Literal

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from collapselab.core import Analysis, CellContext, Claim, Experiment, Params, Results, Verdict, register
from collapselab.core.plotting import colors, new_figure
from collapselab.experiments._papers import SWEEN as SWEEN_PAPER
from collapselab.nn import MLP, ConvNet, LeNet, accuracy
from collapselab.smoothing import (
    SWEEN,
    CifarResNet,
    adaptive_combine,
    average_certified_radius,
    certified_accuracy,
    certify_from_counts,
    smoothed_class_counts,
    train_with_noise,
)

MIN_IMAGES = 100  # below this many certified images per sigma a claim is INCONCLUSIVE (SE > 3 points)

# --- architectures ----------------------------------------------------------------------------------------

ARCHITECTURES = {
    "mlp": lambda c, k, s: MLP(c * s * s, [256], k),
    "mlp-128": lambda c, k, s: MLP(c * s * s, [128], k),
    "mlp-512": lambda c, k, s: MLP(c * s * s, [512, 256], k),
    "lenet": lambda c, k, s: LeNet(c, k, image_size=s),
    "convnet-w8": lambda c, k, s: ConvNet(c, k, image_size=s, width=8, depth=2, norm="batch"),
    "convnet-w16": lambda c, k, s: ConvNet(c, k, image_size=s, width=16, depth=2, norm="batch"),
    "convnet-w32": lambda c, k, s: ConvNet(c, k, image_size=s, width=32, depth=2, norm="batch"),
    "convnet-w64": lambda c, k, s: ConvNet(c, k, image_size=s, width=64, depth=3, norm="batch"),
    "resnet20": lambda c, k, s: CifarResNet(20, k, in_channels=c),
    "resnet26": lambda c, k, s: CifarResNet(26, k, in_channels=c),
    "resnet32": lambda c, k, s: CifarResNet(32, k, in_channels=c),
    "resnet110": lambda c, k, s: CifarResNet(110, k, in_channels=c),
}
ArchName = Literal[tuple(ARCHITECTURES)]  # type: ignore[valid-type]


def _init_(model: nn.Module, gen: torch.Generator) -> nn.Module:
    """Re-initialise like torch's defaults (kaiming-uniform a=sqrt(5)), but from ``gen``, not global state."""
    for m in model.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            nn.init.kaiming_uniform_(m.weight, a=math.sqrt(5), generator=gen)
            if m.bias is not None:
                bound = 1 / math.sqrt(m.weight[0].numel())
                nn.init.uniform_(m.bias, -bound, bound, generator=gen)
    return model


# --- data -------------------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=2)
def _data(dataset: str, data_dir: str | None, n_holdout: int, n_test: int, test_stride: int):
    """(x_train, y_train, x_hold, y_hold, x_test, y_test) CPU tensors; the split is fixed (not per seed):
    the last ``n_holdout`` training images are held out for the weights (SWEEN uses the last 2,000 of
    CIFAR-10's training set), the test images are every ``test_stride``-th of the test split."""
    from collapselab.data import load_cifar10, load_mnist_subset

    if dataset == "cifar10":
        if not data_dir:
            raise ValueError("dataset 'cifar10' needs `data_dir` (the folder of cifar-10-batches-py)")
        s = load_cifar10(data_dir)
    else:
        s = load_mnist_subset()
    if n_holdout >= len(s.y_train):
        raise ValueError(f"`n_holdout`={n_holdout} leaves no training images (have {len(s.y_train)})")
    xt, yt = torch.as_tensor(s.x_train), torch.as_tensor(s.y_train)
    xs = torch.as_tensor(s.x_test)[::test_stride][:n_test]
    ys = torch.as_tensor(s.y_test)[::test_stride][:n_test]
    return xt[:-n_holdout], yt[:-n_holdout], xt[-n_holdout:], yt[-n_holdout:], xs, ys


def _crop_flip(xb: torch.Tensor, g: torch.Generator | None) -> torch.Tensor:
    """CIFAR augmentation: random crop (padding 4) and horizontal flip, per image, vectorised."""
    b, _, h, w = xb.shape
    flip = (torch.rand(b, generator=g) < 0.5).to(xb.device)
    xb = torch.where(flip[:, None, None, None], xb.flip(3), xb)
    padded = F.pad(xb, (4, 4, 4, 4))
    oy = torch.randint(0, 9, (b,), generator=g).to(xb.device)
    ox = torch.randint(0, 9, (b,), generator=g).to(xb.device)
    rows = (oy[:, None] + torch.arange(h, device=xb.device))[:, :, None]  # (b, h, 1)
    cols = (ox[:, None] + torch.arange(w, device=xb.device))[:, None, :]  # (b, 1, w)
    out = padded[torch.arange(b, device=xb.device)[:, None, None], :, rows, cols]  # (b, h, w, C)
    return out.permute(0, 3, 1, 2).contiguous()


# --- parameters -------------------------------------------------------------------------------------------

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
    n_holdout: int = Field(500, ge=10, description="held-out training images for the SWEEN weights")
    weight_epochs: int = Field(30, ge=1, description="epochs of weight training")
    weight_lr: float = Field(0.1, gt=0, description="SGD learning rate of w")
    n_test: int = Field(150, ge=1, description="test images certified")
    test_stride: int = Field(1, ge=1, description="certify every test_stride-th test image")
    n0: int = Field(100, ge=1, description="CERTIFY selection samples")
    n: int = Field(1000, ge=1, description="CERTIFY estimation samples")
    alpha: float = Field(0.001, gt=0, lt=1, description="CERTIFY failure probability")
    cert_batch: int = Field(1000, ge=1, description="noisy copies per forward pass")
    radii: list[float] = Field([0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5], description="reporting radii")


def _pipeline_key(cell: dict) -> tuple:
    keys = ("dataset", "data_dir", "candidates", "sigma", "train_epochs", "train_lr", "train_optimizer",
            "train_batch", "n_holdout", "weight_epochs", "weight_lr", "n_test", "test_stride")
    return tuple(tuple(cell[k]) if isinstance(cell[k], list) else cell[k] for k in keys)


def _cells(p: SweenParams, extra: dict | None = None) -> list[dict]:
    base = p.model_dump(exclude={"seeds", "sigmas"})
    return [{**base, "sigma": s, **(extra or {})} for s in p.sigmas]


def _cpu_or_wall(device: str) -> float:
    if str(device).startswith("cuda"):
        torch.cuda.synchronize()
        return time.perf_counter()
    return time.process_time()


@functools.lru_cache(maxsize=2)
def _trained(key: tuple, archs: tuple, seed: int, device: str):
    """Train the candidates of ``archs`` (seed, device) with noise; cached per worker so that several
    experiments in one process share them. Returns (models, train_seconds, clean_accuracy)."""
    cell = dict(zip(("dataset", "data_dir", "candidates", "sigma", "train_epochs", "train_lr",
                     "train_optimizer", "train_batch", "n_holdout", "weight_epochs", "weight_lr", "n_test",
                     "test_stride"), key))
    xt, yt, _, _, xs, ys = _data(cell["dataset"], cell["data_dir"], cell["n_holdout"], cell["n_test"],
                                 cell["test_stride"])
    c, size, k = xt.shape[1], xt.shape[-1], int(yt.max()) + 1
    augment = _crop_flip if cell["dataset"] == "cifar10" else None
    models, seconds, acc = [], [], []
    for i, arch in enumerate(archs):
        gen = torch.Generator().manual_seed(seed * 1000 + i)
        model = _init_(ARCHITECTURES[arch](c, k, size), gen)
        start = _cpu_or_wall(device)
        train_with_noise(model, xt, yt, cell["sigma"], epochs=cell["train_epochs"], lr=cell["train_lr"],
                         optimizer=cell["train_optimizer"], batch_size=cell["train_batch"], augment=augment,
                         device=device, generator=gen)
        seconds.append(_cpu_or_wall(device) - start)
        acc.append(accuracy(model, xs, ys, device=device))
        models.append(model.eval())
    return models, seconds, acc


def _sween(cell: dict, archs: list[str], seed: int,
           device: str) -> tuple[SWEEN, list[float], float, list[float]]:
    """Candidates + fitted SWEEN weights: (ensemble, candidate train seconds, weight seconds, clean acc)."""
    models, seconds, acc = _trained(_pipeline_key(cell), tuple(archs), seed, device)
    _, _, xh, yh, _, _ = _data(cell["dataset"], cell["data_dir"], cell["n_holdout"], cell["n_test"],
                               cell["test_stride"])
    ens = SWEEN(models).to(device)
    start = _cpu_or_wall(device)
    ens.fit_weights(xh, yh, cell["sigma"], epochs=cell["weight_epochs"], lr=cell["weight_lr"], device=device,
                    generator=torch.Generator().manual_seed(seed + 7))
    return ens, list(seconds), _cpu_or_wall(device) - start, list(acc)


class _Heads(nn.Module):
    """Multi-head base classifier: every member once per noisy copy, then the votes of the heads
    ``cand{i}`` (member i), ``uniform`` (mean of member probabilities), ``sween`` (alpha-weighted),
    ``adaptive`` and ``adaptive-bound`` (adaptive prediction, rules "ztest" and "bound"; the member
    evaluations they would make are added to ``evals``). Returns (B, H, C)."""

    def __init__(self, ens: SWEEN, heads: list[str]):
        super().__init__()
        self.ens, self.heads = ens, heads
        self.evals = {h: 0 for h in heads if h.startswith("adaptive")}
        self.inputs = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        probs = self.ens.member_probs(x)  # (B, K, C)
        a = self.ens.weights.to(x.device)
        out = []
        for h in self.heads:
            if h.startswith("cand"):
                out.append(probs[:, int(h[4:])])
            elif h == "uniform":
                out.append(probs.mean(1))
            elif h == "sween":
                out.append(torch.einsum("k,bkc->bc", a, probs))
            else:
                res = adaptive_combine(probs, a, rule="bound" if h == "adaptive-bound" else "ztest")
                self.evals[h] += int(res.n_evals.sum())
                out.append(res.probs)
        self.inputs += x.shape[0]
        return torch.stack(out, dim=1)


def _certify_heads(cell: dict, ens: SWEEN, heads: list[str], seed: int, device: str) -> tuple[dict, _Heads]:
    """CERTIFY every head on shared noise; returns {"labels", "predict__h", "radius__h"} and the module."""
    _, yt, _, _, xs, ys = _data(cell["dataset"], cell["data_dir"], cell["n_holdout"], cell["n_test"],
                                cell["test_stride"])
    module = _Heads(ens, heads).eval()
    gen = torch.Generator(device=device).manual_seed(seed + 11)
    num_classes = int(yt.max()) + 1
    kw = dict(num_classes=num_classes, batch_size=cell["cert_batch"], generator=gen, device=device)
    c0 = smoothed_class_counts(module, xs, cell["n0"], cell["sigma"], **kw).numpy()  # (N, H, C)
    c = smoothed_class_counts(module, xs, cell["n"], cell["sigma"], **kw).numpy()
    out: dict = {"labels": ys.tolist()}
    for j, h in enumerate(heads):
        certs = [certify_from_counts(c0[i, j], c[i, j], cell["alpha"], cell["sigma"]) for i in range(len(ys))]
        out[f"predict__{h}"] = [ct.label for ct in certs]
        out[f"radius__{h}"] = [ct.radius for ct in certs]
    return out, module


def _records(frame: pd.DataFrame, sigma: float, head: str) -> dict:
    rows = frame[frame["sigma"] == sigma]
    return {"label": np.concatenate([np.asarray(v) for v in rows["labels"]]),
            "predict": np.concatenate([np.asarray(v) for v in rows[f"predict__{head}"]]),
            "radius": np.concatenate([np.asarray(v, dtype=float) for v in rows[f"radius__{head}"]])}


def _curve_table(frame: pd.DataFrame, heads: list[str], radii: list[float]) -> pd.DataFrame:
    rows = []
    for sigma in sorted(frame["sigma"].unique()):
        for h in heads:
            rec = _records(frame, sigma, h)
            ca = certified_accuracy(rec, radii)
            rows.append({"sigma": sigma, "model": h, "images": len(rec["label"]),
                         "acr": average_certified_radius(rec), **{f"r={r:g}": v for r, v in zip(radii, ca)}})
    return pd.DataFrame(rows)


# --- sween/certify ----------------------------------------------------------------------------------------

def _cand_heads(cell: dict) -> list[str]:
    return [f"cand{i}" for i in range(len(cell["candidates"]))]


def run_certify(cell: dict, ctx: CellContext) -> dict:
    ens, seconds, w_seconds, acc = _sween(cell, cell["candidates"], ctx.seed, ctx.device)
    heads = _cand_heads(cell) + ["uniform", "sween"]
    out, _ = _certify_heads(cell, ens, heads, ctx.seed, ctx.device)
    return {**out, "weights": ens.weights.cpu().tolist(), "clean_acc": acc, "train_seconds": seconds,
            "weight_seconds": w_seconds}


def analyze_certify(frame: pd.DataFrame, p: SweenParams) -> Analysis:
    heads = [f"cand{i}" for i in range(len(p.candidates))] + ["uniform", "sween"]
    table = _curve_table(frame, heads, p.radii)
    cols = [f"r={r:g}" for r in p.radii]
    env = []
    for sigma, t in table.groupby("sigma"):
        cand = t[t["model"].str.startswith("cand")]
        env.append({"sigma": sigma, "model": "envelope", "images": int(cand["images"].iloc[0]),
                    "acr": float(cand["acr"].max()), **cand[cols].max().to_dict()})
    table = pd.concat([table, pd.DataFrame(env)], ignore_index=True)
    names = {f"cand{i}": f"{a} #{i}" for i, a in enumerate(p.candidates)}
    table.insert(2, "name", table["model"].map(lambda m: names.get(m, m)))
    sigmas = sorted(frame["sigma"].unique())
    fig, axes = new_figure(ncols=len(sigmas))
    axes = np.atleast_1d(axes).ravel()
    grid = np.linspace(0, max(p.radii), 200)
    for ax, sigma in zip(axes, sigmas):
        cand_curves = []
        for i, col in zip(range(len(p.candidates)), colors(len(p.candidates))):
            ca = certified_accuracy(_records(frame, sigma, f"cand{i}"), grid)
            cand_curves.append(ca)
            ax.plot(grid, ca, color=col, lw=0.8, alpha=0.7, label=names[f"cand{i}"])
        ax.plot(grid, np.max(cand_curves, axis=0), "k--", lw=1.2, label="candidates' envelope")
        ax.plot(grid, certified_accuracy(_records(frame, sigma, "uniform"), grid), color="tab:orange",
                lw=1.5, label="uniform ensemble")
        ax.plot(grid, certified_accuracy(_records(frame, sigma, "sween"), grid), color="tab:red", lw=2,
                label="SWEEN")
        ax.set(title=f"sigma = {sigma:g}", xlabel="L2 radius r", ylabel="certified accuracy")
    axes[0].legend()
    wt = pd.DataFrame([{"sigma": s, "replicate": r, **{names[f"cand{i}"]: w for i, w in enumerate(ws)}}
                       for s, r, ws in zip(frame["sigma"], frame["replicate"], frame["weights"])])
    return Analysis(figures={"certified_accuracy": fig}, tables={"certified_accuracy": table, "weights": wt})


def _by_sigma(r: Results):
    t = r.tables["certified_accuracy"]
    for sigma, g in t.groupby("sigma"):
        yield sigma, g.set_index("model"), int(g["images"].iloc[0])


def _check_acr(r: Results) -> Verdict:
    parts, ok, small = [], True, False
    for sigma, g, images in _by_sigma(r):
        cand = g[g.index.str.startswith("cand")]
        best = cand["acr"].idxmax()
        ok &= g.loc["sween", "acr"] > cand["acr"].max()
        small |= images < MIN_IMAGES
        parts.append(f"sigma={sigma:g}: SWEEN ACR {g.loc['sween', 'acr']:.3f} vs best candidate "
                     f"{g.loc[best, 'name']} {cand['acr'].max():.3f} ({images} images)")
    msg = "; ".join(parts)
    return Verdict.inconclusive(msg) if small else Verdict.check(ok, msg)


def _check_envelope(r: Results) -> Verdict:
    parts, ok, small = [], True, False
    for sigma, g, images in _by_sigma(r):
        small |= images < MIN_IMAGES
        for rad in (0.25, 0.5):
            col = f"r={rad:g}"
            if col not in g.columns:
                return Verdict.inconclusive(f"radius {rad} not in the reporting radii")
            s, e = g.loc["sween", col], g.loc["envelope", col]
            ok &= s >= e
            parts.append(f"sigma={sigma:g} r={rad:g}: SWEEN {100 * s:.1f}% vs envelope {100 * e:.1f}%")
    msg = "; ".join(parts)
    return Verdict.inconclusive(msg) if small else Verdict.check(ok, msg)


SMOKE = {"candidates": ["mlp-128", "lenet"], "sigmas": [0.5], "train_epochs": 1, "n_holdout": 200,
         "weight_epochs": 2, "n_test": 8, "n0": 10, "n": 60, "cert_batch": 256}
FULL = {"dataset": "cifar10", "data_dir": None, "candidates": ["resnet20", "resnet26", "resnet32"],
        "sigmas": [0.25, 0.5], "train_epochs": 400, "train_lr": 0.01, "train_optimizer": "sgd",
        "train_batch": 64,
        "n_holdout": 2000, "weight_epochs": 150, "weight_lr": 0.01, "n_test": 500, "test_stride": 20,
        "n0": 100, "n": 100_000, "alpha": 0.001, "cert_batch": 1000,
        "radii": [0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0]}

register(Experiment(
    name="sween/certify", paper=SWEEN_PAPER,
    description=("Certified accuracy against L2 radius (Cohen's CERTIFY) of K noise-trained candidates "
                 "of different architectures and seeds, their per-radius upper envelope, the uniform "
                 "ensemble and SWEEN (weights trained on noisy held-out data), at sigma in {0.25, 0.5}, "
                 "with the average certified radius (SWEEN Sec. 5). All classifiers share the noise "
                 "draws. quick: MNIST subset, 5 small candidates (MLP, 2 ConvNets, 2 LeNets), 10 epochs, "
                 "n=1,000, 150 test images. full: CIFAR-10 from the user's files (--set data_dir=...), "
                 "ResNet-20/26/32, 400 epochs, n=100,000, 500 test images (every 20th), GPU."),
    params=SweenParams,
    presets={"smoke": SMOKE, "quick": {}, "full": FULL},
    cells=lambda p: _cells(p), run_cell=run_certify, analyze=analyze_certify,
    claims=[Claim("acr-above-best", "SWEEN's average certified radius exceeds the best candidate's, at "
                  "every sigma (Sec. 5)", _check_acr),
            Claim("above-envelope", "SWEEN's certified accuracy is at or above the candidates' per-radius "
                  "upper envelope at radii 0.25 and 0.5, at every sigma (Sec. 5)", _check_envelope)],
    uses_device=True,
))


# --- sween/adaptive ---------------------------------------------------------------------------------------

def run_adaptive(cell: dict, ctx: CellContext) -> dict:
    ens, _, _, _ = _sween(cell, cell["candidates"], ctx.seed, ctx.device)
    heads = ["sween", "adaptive", "adaptive-bound"]
    out, module = _certify_heads(cell, ens, heads, ctx.seed, ctx.device)
    full = len(cell["candidates"]) * module.inputs
    return {**out, "weights": ens.weights.cpu().tolist(), "full_evals": full,
            "evals_adaptive": module.evals["adaptive"],
            "evals_adaptive-bound": module.evals["adaptive-bound"]}


def analyze_adaptive(frame: pd.DataFrame, p: SweenParams) -> Analysis:
    heads = ["sween", "adaptive", "adaptive-bound"]
    table = _curve_table(frame, heads, p.radii)
    saving = []
    for sigma, g in frame.groupby("sigma"):
        full = g["full_evals"].sum()
        for h in heads[1:]:
            saving.append({"sigma": sigma, "model": h, "member_evals": int(g[f"evals_{h}"].sum()),
                           "full_evals": int(full), "saving": 1 - g[f"evals_{h}"].sum() / full})
    saving = pd.DataFrame(saving)
    fig, axes = new_figure(ncols=2)
    axes = axes.ravel()
    grid = np.linspace(0, max(p.radii), 200)
    for sigma, ls in zip(sorted(frame["sigma"].unique()), ["-", "--", ":", "-."]):
        for h, col in zip(heads, ["tab:red", "tab:blue", "tab:green"]):
            axes[0].plot(grid, certified_accuracy(_records(frame, sigma, h), grid), ls, color=col,
                         label=f"{h} (sigma={sigma:g})")
    axes[0].set(xlabel="L2 radius r", ylabel="certified accuracy", title="full vs adaptive SWEEN")
    axes[0].legend()
    for j, h in enumerate(heads[1:]):
        s = saving[saving["model"] == h]
        axes[1].bar(np.arange(len(s)) + 0.4 * j, s["saving"], width=0.4, label=h)
        axes[1].set_xticks(np.arange(len(s)) + 0.2, [f"sigma={v:g}" for v in s["sigma"]])
    axes[1].axhline(0.3, color="k", ls="--", lw=1, label="claim: 30%")
    axes[1].set(ylabel="member evaluations saved", title="adaptive prediction")
    axes[1].legend()
    return Analysis(figures={"adaptive": fig}, tables={"certified_accuracy": table, "saving": saving})


def _check_adaptive(r: Results) -> Verdict:
    t, s = r.tables["certified_accuracy"], r.tables["saving"]
    s = s[s["model"] == "adaptive"].set_index("sigma")
    cols = [f"r={x:g}" for x in r.params.radii]
    parts, ok, small = [], True, False
    for sigma, g in t.groupby("sigma"):
        g = g.set_index("model")
        diff = float((g.loc["adaptive", cols] - g.loc["sween", cols]).abs().max())
        saving = float(s.loc[sigma, "saving"])
        ok &= saving >= 0.30 and diff <= 0.01
        small |= int(g["images"].iloc[0]) < MIN_IMAGES
        parts.append(f"sigma={sigma:g}: {100 * saving:.1f}% member evaluations saved, max |certified "
                     f"accuracy difference| {100 * diff:.1f} points over r in {list(r.params.radii)}")
    msg = "; ".join(parts)
    return Verdict.inconclusive(msg) if small else Verdict.check(ok, msg)


register(Experiment(
    name="sween/adaptive", paper=SWEEN_PAPER,
    description=("Adaptive prediction (SWEEN Sec. 4.3): members in descending weight order, an input "
                 "stops once its top class is settled (the release's rule: first member above 0.999, then a "
                 "95% normal test that the weighted top-class probability exceeds 1/2). Counts member "
                 "evaluations against the full ensemble and compares certified accuracy on the same noise "
                 "draws; also reports the exact 'bound' rule (stop when the weight left cannot change the "
                 "argmax). Presets as sween/certify."),
    params=SweenParams,
    presets={"smoke": SMOKE, "quick": {}, "full": FULL},
    cells=lambda p: _cells(p), run_cell=run_adaptive, analyze=analyze_adaptive,
    claims=[Claim("fewer-evals", "Adaptive prediction cuts member evaluations by at least 30% with certified "
                  "accuracy within 1 point of the full SWEEN at every reporting radius (Sec. 4.3)",
                  _check_adaptive)],
    uses_device=True,
))


# --- sween/small-vs-large ---------------------------------------------------------------------------------

class SmallLargeParams(SweenParams):
    candidates: list[ArchName] = Field(["mlp-128", "lenet", "convnet-w8"], description="the small models")
    large: ArchName = Field("convnet-w32", description="the one larger model")
    radii: list[float] = Field([0.0, 0.25, 0.5, 0.75, 1.0], description="reporting radii")


def run_small_large(cell: dict, ctx: CellContext) -> dict:
    ens, seconds, w_seconds, acc = _sween(cell, cell["candidates"], ctx.seed, ctx.device)
    models, l_seconds, l_acc = _trained(_pipeline_key(cell), (cell["large"],), ctx.seed + 1, ctx.device)
    both = SWEEN([*ens.members, models[0]]).to(ctx.device)
    with torch.no_grad():  # weights: SWEEN's on the small models, one-hot on the large one (head "cand{K}")
        both.w.copy_(torch.cat([ens.w.detach(), torch.tensor([-torch.inf], device=ens.w.device)]))
    k = len(cell["candidates"])
    out, _ = _certify_heads(cell, both, ["sween", f"cand{k}"], ctx.seed, ctx.device)
    out["predict__large"], out["radius__large"] = out.pop(f"predict__cand{k}"), out.pop(f"radius__cand{k}")
    return {**out, "weights": ens.weights.cpu().tolist(),
            "small_train_seconds": float(sum(seconds)) + w_seconds,
            "large_train_seconds": float(l_seconds[0]), "small_clean_acc": acc, "large_clean_acc": l_acc[0],
            "small_params": sum(p.numel() for p in ens.members.parameters()),
            "large_params": sum(p.numel() for p in models[0].parameters())}


def analyze_small_large(frame: pd.DataFrame, p: SmallLargeParams) -> Analysis:
    table = _curve_table(frame, ["sween", "large"], p.radii)
    t = frame.groupby("sigma")[["small_train_seconds", "large_train_seconds"]].mean().reset_index()
    t["small_params"] = int(frame["small_params"].iloc[0])
    t["large_params"] = int(frame["large_params"].iloc[0])
    fig, axes = new_figure(ncols=2)
    axes = axes.ravel()
    grid = np.linspace(0, max(p.radii), 200)
    for sigma, ls in zip(sorted(frame["sigma"].unique()), ["-", "--", ":"]):
        axes[0].plot(grid, certified_accuracy(_records(frame, sigma, "sween"), grid), ls, color="tab:red",
                     label=f"SWEEN of {len(p.candidates)} small (sigma={sigma:g})")
        axes[0].plot(grid, certified_accuracy(_records(frame, sigma, "large"), grid), ls, color="tab:gray",
                     label=f"{p.large} (sigma={sigma:g})")
    axes[0].set(xlabel="L2 radius r", ylabel="certified accuracy")
    axes[0].legend()
    x = np.arange(len(t))
    axes[1].bar(x - 0.2, t["small_train_seconds"], 0.4, color="tab:red", label="small models + weights")
    axes[1].bar(x + 0.2, t["large_train_seconds"], 0.4, color="tab:gray", label=p.large)
    axes[1].set_xticks(x, [f"sigma={s:g}" for s in t["sigma"]])
    axes[1].set(ylabel="training time (CPU s; GPU: wall s)")
    axes[1].legend()
    return Analysis(figures={"small_vs_large": fig}, tables={"certified_accuracy": table, "training_time": t})


def _check_small_large(r: Results) -> Verdict:
    t = r.tables["certified_accuracy"]
    times = r.tables["training_time"].set_index("sigma")
    cols = [f"r={x:g}" for x in (0.0, 0.25, 0.5)]
    parts, ok, small = [], True, False
    for sigma, g in t.groupby("sigma"):
        g = g.set_index("model")
        if not all(c in g.columns for c in cols):
            return Verdict.inconclusive("radii 0, 0.25, 0.5 are not all in the reporting radii")
        gap = float((g.loc["sween", cols] - g.loc["large", cols]).min())
        ts, tl = times.loc[sigma, "small_train_seconds"], times.loc[sigma, "large_train_seconds"]
        ok &= gap >= -0.02 and ts < tl
        small |= int(g["images"].iloc[0]) < MIN_IMAGES
        parts.append(f"sigma={sigma:g}: SWEEN - large certified accuracy at r=0/0.25/0.5: "
                     + "/".join(f"{100 * (g.loc['sween', c] - g.loc['large', c]):+.1f}" for c in cols)
                     + f" points; training {ts:.0f}s vs {tl:.0f}s")
    msg = "; ".join(parts)
    return Verdict.inconclusive(msg) if small else Verdict.check(ok, msg)


register(Experiment(
    name="sween/small-vs-large", paper=SWEEN_PAPER,
    description=("A SWEEN of a few small noise-trained models against one larger model (SWEEN Sec. 5, "
                 "small vs large): certified accuracy and training time (candidates + weights vs the large "
                 "model; CPU seconds, or wall seconds on a GPU) side by side, on shared noise draws. quick: "
                 "MNIST subset, {MLP-128, LeNet, ConvNet-w8} vs ConvNet-w32. full: CIFAR-10, ResNet-20 x3 "
                 "vs ResNet-110."),
    params=SmallLargeParams,
    presets={"smoke": {**SMOKE, "large": "convnet-w8"}, "quick": {},
             "full": {**FULL, "candidates": ["resnet20", "resnet20", "resnet20"], "large": "resnet110",
                      "radii": [0.0, 0.25, 0.5, 0.75, 1.0]}},
    cells=lambda p: _cells(p), run_cell=run_small_large, analyze=analyze_small_large,
    claims=[Claim("comparable-cheaper", "A SWEEN of a few small models has certified accuracy comparable "
                  "to one large model (at most 2 points below at r = 0, 0.25, 0.5) at lower total training "
                  "time, at every sigma (Sec. 5)", _check_small_large)],
    uses_device=True,
))
