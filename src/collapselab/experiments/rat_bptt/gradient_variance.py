"""rat-bptt/gradient-variance: the spread of full-BPTT and RaT-BPTT meta-gradients, both measured at the
same synthetic sets along one training trajectory (paper Sec. 3, the meta-gradient figure)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import torch
from pydantic import Field

from collapselab import stats
from collapselab.core import CellContext, Claim, Experiment, Results, Verdict, register
from collapselab.core.plotting import colors, new_figure
from collapselab.distill import distill, fresh_model, meta_loss, window
from collapselab.experiments._papers import RAT_BPTT
from collapselab.experiments.rat_bptt._common import (
    DistillParams,
    cost_units,
    data_of,
    distill_flops,
    distill_kwargs,
    gen,
    model_fn,
    setup,
)

PROBED = ("bptt", "rat_bptt")


class GradVarParams(DistillParams):
    ipc: int = Field(10, ge=1, description="images per class")
    checkpoints: int = Field(5, ge=1, description="points of the trajectory where both variances are measured")
    draws: int = Field(8, ge=2, description="meta-gradient draws (init, window, real batch) per method and point")


def cells(p: GradVarParams) -> list[dict]:
    return [{"setup": setup(p), "ipc": p.ipc, "checkpoints": p.checkpoints, "draws": p.draws}]


def meta_grads(x_syn: torch.Tensor, y_syn: torch.Tensor, s: dict, method: str, train: tuple, draws: int,
               g: torch.Generator, device: str) -> np.ndarray:
    """``draws`` independent meta-gradients dL/dX_s of ``method`` at X_s (fresh init, window, real batch)."""
    x_real, y_real = (torch.as_tensor(a, device=device) for a in train)
    out = []
    for _ in range(draws):
        net = fresh_model(model_fn(s, train), g, device)
        n_untracked, n_tracked = window(method, s["T"], s["M"], g)
        idx = torch.randperm(len(x_real), generator=g)[:s["real_batch"]].to(device)
        x = x_syn.detach().clone().requires_grad_()
        loss = meta_loss(net, x, y_syn, x_real[idx], y_real[idx], n_untracked=n_untracked,
                         n_tracked=n_tracked, inner_optimizer=s["inner_optimizer"], inner_lr=s["inner_lr"],
                         generator=g)
        out.append(torch.autograd.grad(loss, x)[0].flatten().double().cpu().numpy())
    return np.stack(out)


def relative_variance(gs: np.ndarray) -> float:
    """E||g - g_bar||^2 / ||g_bar||^2 over the rows of ``gs`` (unbiased numerator, ddof 1)."""
    mean = gs.mean(0)
    return float(((gs - mean) ** 2).sum(1).sum() / (len(gs) - 1) / max(float((mean ** 2).sum()), 1e-300))


def run_cell(cell: dict, ctx: CellContext) -> dict:
    """RaT-BPTT training (sub-stream "distill"); at ``checkpoints`` steps both estimators are drawn
    ``draws`` times at the current X_s, BPTT and RaT-BPTT from the same probe sub-stream "probe"."""
    s = cell["setup"]
    train = data_of(s)[0]
    k = int(train[1].max()) + 1
    y_syn = torch.arange(k).repeat(cell["ipc"]).to(ctx.device)
    at = set(np.linspace(0, max(s["steps"] - 1, 0), cell["checkpoints"]).round().astype(int).tolist())
    norms: list[float] = []
    rows: list[dict] = []

    def record(info: dict, x_syn: torch.Tensor) -> None:
        norms.append(info["grad_norm"])
        if info["step"] in at:
            for m in PROBED:
                g = gen(ctx, "probe", info["step"])  # same draws for both methods
                gs = meta_grads(x_syn, y_syn, s, m, train, cell["draws"], g, ctx.device)
                rows.append({"step": info["step"], "method": m, "rel_var": relative_variance(gs),
                             "mean_norm": float(np.linalg.norm(gs, axis=1).mean())})

    distill(train, ipc=cell["ipc"], method="rat_bptt", steps=s["steps"], generator=gen(ctx, "distill"),
            callback=record, **distill_kwargs(s, train, ctx.device))
    return {"norms": norms, "probe_steps": [r["step"] for r in rows], "probe_method": [r["method"] for r in rows],
            "rel_var": [r["rel_var"] for r in rows], "probe_norm": [r["mean_norm"] for r in rows]}


def _parts(cell: dict) -> list[tuple[float, int]]:
    """(FLOPs, steps) of one replicate: ``steps`` outer steps of RaT-BPTT at ``ipc``, and at each of the
    ``checkpoints`` ``draws`` meta-gradients of BPTT and of RaT-BPTT (one outer step each)."""
    s, ipc, n = cell["setup"], cell["ipc"], cell["checkpoints"] * cell["draws"]
    return [distill_flops(s, ipc, s["steps"]), distill_flops(s, ipc, n, "bptt"), distill_flops(s, ipc, n)]


def cell_cost(cell: dict) -> float:
    """Relative CPU cost of one replicate: :func:`._common.cost_units` of :func:`_parts` (FLOPs plus a fixed
    per-step overhead of 2e6 FLOP-equivalents per inner step)."""
    return cost_units(_parts(cell))


def cell_flops(cell: dict) -> float:
    """FLOPs of one replicate: the sum over :func:`_parts` (forward 1 F, backward 2 F per example and
    step; the backward through a tracked unroll 6 F more)."""
    return sum(f for f, _ in _parts(cell))


def summarize(frame: pd.DataFrame, p: GradVarParams) -> dict[str, pd.DataFrame]:
    """``probes``: one row per (replicate, step, method); ``per_seed``: mean over checkpoints of
    log rel_var per (replicate, method)."""
    rows = []
    for _, r in frame.iterrows():
        for step, m, v, n in zip(r["probe_steps"], r["probe_method"], r["rel_var"], r["probe_norm"]):
            rows.append({"replicate": int(r["replicate"]), "step": int(step), "method": m, "rel_var": float(v),
                         "mean_norm": float(n)})
    probes = pd.DataFrame(rows, columns=["replicate", "step", "method", "rel_var", "mean_norm"])
    probes["log_rel_var"] = np.log(probes["rel_var"])
    per_seed = probes.groupby(["replicate", "method"], as_index=False)["log_rel_var"].mean()
    curve = stats.grouped_mean_se(probes, ["step", "method"], "log_rel_var")
    return {"probes": probes, "per_seed": per_seed, "curve": curve}


def plot(tables: dict[str, pd.DataFrame], p: GradVarParams) -> dict[str, Any]:
    t = tables["curve"]
    fig, ax = new_figure()
    for m, c in zip(PROBED, colors(2)):
        sub = t[t.method == m]
        ax.errorbar(sub["step"], np.exp(sub["mean"]), yerr=None, fmt="o-", color=c,
                    label=f"{m} (geometric mean over seeds)")
    ax.set(yscale="log", xlabel="outer step of the RaT-BPTT trajectory",
           ylabel="E||g - mean g||^2 / ||mean g||^2", title=f"{p.dataset}: T={p.T}, M={p.M}, {p.draws} draws")
    ax.legend()
    return {"gradient_variance": fig}


def _check_gradvar(r: Results) -> Verdict:
    t = r.tables["per_seed"].pivot(index="replicate", columns="method", values="log_rel_var")
    if not set(PROBED) <= set(t.columns):
        return Verdict.inconclusive("need both bptt and rat_bptt probes", "needs the probes of both methods")
    t = t[list(PROBED)].dropna()
    if len(t) < 2:
        return Verdict.inconclusive(f"{len(t)} seed(s)", "needs >= 2 seeds (3 declared)")
    cmp = stats.paired_difference(t["bptt"], t["rat_bptt"])
    ratio = float(np.exp(cmp.estimate))
    return Verdict.of(stats.beats(cmp, resolution=np.log(1.5)),
                      f"BPTT/RaT-BPTT relative variance x{ratio:.2f} (geometric mean); log ratio ")


register(Experiment(
    name="rat-bptt/gradient-variance", paper=RAT_BPTT,
    description=(
        "The paper's stability argument: along one RaT-BPTT training trajectory per seed, at a few "
        "checkpoints, the relative variance E||g - g_bar||^2/||g_bar||^2 of the full-BPTT meta-gradient "
        "(all T steps) and of the RaT-BPTT one (a random window of M) over independent (init, window, real "
        "batch) draws, both at the same synthetic set and from the same draws. Digits + MLP at quick; "
        "full: CIFAR-10 ConvNet-3 (GPU)."),
    params=GradVarParams,
    presets={
        "smoke": {"T": 6, "M": 2, "steps": 3, "ipc": 1, "checkpoints": 2, "draws": 2, "real_batch": 64,
                  "width": 16, "seeds": 2},
        "quick": {"T": 40, "M": 10, "inner_lr": 1e-2, "steps": 100, "ipc": 10, "checkpoints": 3, "draws": 8,
                  "seeds": 10},
        "full": {"dataset": "cifar10", "data_dir": "cifar-10-batches-py", "model": "convnet", "width": 128,
                 "depth": 3, "zca": True, "flip": True, "T": 200, "M": 60, "steps": 5000, "outer_lr": 1e-3,
                 "real_batch": 5000, "ipc": 10, "checkpoints": 10, "draws": 16, "seeds": 3},
    },
    cells=cells, run_cell=run_cell, summarize=summarize, plot=plot, main_figure="gradient_variance",
    claims=[Claim("bptt-less-stable", "Full BPTT's meta-gradient has a larger variance than RaT-BPTT's "
                  "(relative to its mean), measured at the same synthetic sets", _check_gradvar,
                  source="Abstract; Sec. 3, meta-gradient figure (Fig. 3 per the reviews; facts C1)",
                  kind="paper",
                  test="log of the relative variance averaged over checkpoints per seed; one-sided paired test "
                       "over seeds of log BPTT - log RaT-BPTT, alpha 0.05; FAIL if not rejected with 95% CI "
                       "half-width <= log 1.5; else INCONCLUSIVE")],
    cell_cost=cell_cost, cell_flops=cell_flops, version=2, uses_device=True,
))
