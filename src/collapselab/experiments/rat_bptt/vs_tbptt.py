"""rat-bptt/vs-tbptt: RaT-BPTT against T-BPTT and full BPTT at equal compute, and the graph memory of
each meta-gradient (paper Sec. 3-4)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from pydantic import Field

from collapselab import stats
from collapselab.core import CellContext, Claim, Experiment, Results, Verdict, register
from collapselab.core.plotting import colors, new_figure
from collapselab.distill import distill, fresh_model, graph_memory, meta_loss, window
from collapselab.experiments._papers import RAT_BPTT
from collapselab.experiments.rat_bptt._common import (
    DISTILL_METHODS,
    DistillParams,
    all_beat,
    artifact,
    data_of,
    distill_kwargs,
    evaluate_set,
    gen,
    model_fn,
    setup,
)


class VsTbpttParams(DistillParams):
    ipcs: list[int] = Field([1, 10], description="images per class")
    inner_step_budget: int = Field(20000, ge=1, description="inner-step gradient evaluations per method "
                                   "(N + M' summed over outer steps): equal compute")


def cells(p: VsTbpttParams) -> list[dict]:
    s = setup(p)
    return [{"setup": s, "ipc": int(i), "budget": p.inner_step_budget} for i in p.ipcs]


def _graph_mb(ds, s: dict, train: tuple, method: str, ctx: CellContext) -> float:
    """MiB saved for backward by one meta-gradient of ``method`` (BPTT tracks T steps, the others M)."""
    import torch

    g = gen(ctx, "memory")
    net = fresh_model(model_fn(s, train), g, ctx.device)
    n_untracked, n_tracked = window(method, s["T"], s["M"], g)
    x, y = ds.torch(ctx.device)
    xr, yr = (torch.as_tensor(a[:s["real_batch"]], device=ctx.device) for a in train)
    with graph_memory() as mem:
        meta_loss(net, x.requires_grad_(), y, xr, yr, n_untracked=n_untracked, n_tracked=n_tracked,
                  inner_optimizer=s["inner_optimizer"], inner_lr=s["inner_lr"], generator=g)
    return mem.bytes / 2**20


def run_cell(cell: dict, ctx: CellContext) -> dict:
    """The three methods from the same initial set and draws (sub-stream "distill"), each stopped at the
    same inner-step budget; evaluated with the same networks (sub-stream "eval")."""
    import time

    s, ipc = cell["setup"], cell["ipc"]
    data = data_of(s)
    train = data[0]
    out: dict[str, Any] = {"artifacts": {}}
    for m in DISTILL_METHODS:
        cpu0 = time.process_time()
        ds = distill(train, ipc=ipc, method=m, steps=cell["budget"], max_inner_steps=cell["budget"],
                     learn_labels=s["learn_labels"], generator=gen(ctx, "distill"),
                     **distill_kwargs(s, train, ctx.device))
        out[f"cpu_s_{m}"] = time.process_time() - cpu0
        out[f"outer_steps_{m}"] = ds.metadata["outer_steps"]
        out[f"inner_steps_{m}"] = ds.metadata["inner_steps"]
        out[f"acc_{m}"] = evaluate_set(ds, s, data, gen(ctx, "eval"), ctx.device)["acc"]
        out[f"graph_mb_{m}"] = _graph_mb(ds, s, train, m, ctx)
        out["artifacts"].update(artifact(ds, f"{m}_ipc{ipc}", ctx, data[3]))
    return out


def summarize(frame: pd.DataFrame, p: VsTbpttParams) -> dict[str, pd.DataFrame]:
    rows = []
    for _, r in frame.iterrows():
        for m in DISTILL_METHODS:
            rows.append({"ipc": int(r["ipc"]), "method": m, "replicate": int(r["replicate"]),
                         "acc": float(r[f"acc_{m}"]), "outer_steps": int(r[f"outer_steps_{m}"]),
                         "inner_steps": int(r[f"inner_steps_{m}"]), "cpu_s": float(r[f"cpu_s_{m}"]),
                         "graph_mb": float(r[f"graph_mb_{m}"])})
    acc = pd.DataFrame(rows)
    summary = stats.grouped_mean_se(acc, ["ipc", "method"], "acc")
    for col in ("outer_steps", "inner_steps", "cpu_s", "graph_mb"):
        summary[col] = acc.groupby(["ipc", "method"], sort=True)[col].mean().values
    return {"accuracy": acc, "summary": summary}


def plot(tables: dict[str, pd.DataFrame], p: VsTbpttParams) -> dict[str, Any]:
    t = tables["summary"]
    fig, axes = new_figure(2)
    ax = np.atleast_1d(axes).ravel()
    for m, c in zip(DISTILL_METHODS, colors(3)):
        sub = t[t.method == m]
        ax[0].errorbar(sub["ipc"], 100 * sub["mean"], yerr=200 * sub["se"], fmt="o-", color=c, capsize=3,
                       label=m)
        ax[1].plot(sub["ipc"], sub["graph_mb"], "o-", color=c, label=m)
    ax[0].set(xscale="log", xlabel="images per class", ylabel="test accuracy (%)",
              title=f"{p.dataset}: {p.inner_step_budget} inner steps each (T={p.T}, M={p.M})")
    ax[1].set(xscale="log", xlabel="images per class", ylabel="graph memory of one meta-gradient (MiB)")
    ax[0].legend()
    ax[1].legend()
    return {"vs_tbptt": fig}


def _check_vs_tbptt(r: Results) -> Verdict:
    t = r.tables["accuracy"]
    return all_beat(t, "rat_bptt", "tbptt", ["ipc"], "RaT-BPTT - T-BPTT at equal inner steps, accuracy points, "
                    "per IPC", 0.02)


def _check_memory(r: Results) -> Verdict:
    t = r.tables["summary"].set_index(["ipc", "method"])["graph_mb"]
    target = r.params.T / r.params.M
    parts, ok = [], True
    for ipc in sorted({i for i, _ in t.index}):
        if (ipc, "bptt") not in t or (ipc, "rat_bptt") not in t:
            continue
        ratio = float(t[(ipc, "bptt")] / t[(ipc, "rat_bptt")])
        ok &= abs(ratio / target - 1) <= 0.3
        parts.append(f"IPC {ipc}: {ratio:.2f} (T/M = {target:.2f})")
    if not parts:
        return Verdict.inconclusive("no bptt/rat_bptt pair", "needs both methods' cells")
    return Verdict.check(ok, "BPTT/RaT-BPTT graph memory " + "; ".join(parts))


register(Experiment(
    name="rat-bptt/vs-tbptt", paper=RAT_BPTT,
    description=(
        "RaT-BPTT (window of M at a random start N ~ U{0..T-M}) against T-BPTT (the last M of T steps) and "
        "full BPTT (all T) at equal compute: each method runs outer steps until it has spent the same number "
        "of inner-step gradient evaluations (N + M' per outer step), from the same initial set and draws; "
        "the sets are evaluated with the same networks, step count chosen on validation. Also the bytes the "
        "autograd graph of one meta-gradient saves. Digits at quick; full: CIFAR-10 ConvNet-3 (GPU)."),
    params=VsTbpttParams,
    presets={
        "smoke": {"T": 6, "M": 2, "inner_step_budget": 18, "ipcs": [1], "real_batch": 64, "eval_models": 2,
                  "eval_steps": [5, 10], "width": 16, "seeds": 2},
        "quick": {"T": 40, "M": 10, "inner_lr": 1e-2, "inner_step_budget": 3000, "ipcs": [1, 10],
                  "seeds": 3, "init": "noise", "learn_labels": True, "eval_steps": [20, 40, 100, 200],
                  "eval_models": 3},
        "full": {"dataset": "cifar10", "data_dir": "cifar-10-batches-py", "model": "convnet", "width": 128,
                 "depth": 3, "zca": True, "flip": True, "T": 200, "M": 60, "inner_step_budget": 4_000_000,
                 "outer_lr": 1e-3, "real_batch": 5000, "eval_models": 8, "eval_steps": [300, 600, 1000, 3000],
                 "ipcs": [1, 10], "seeds": 3},
    },
    cells=cells, run_cell=run_cell, summarize=summarize, plot=plot, main_figure="vs_tbptt",
    claims=[
        Claim("vs-tbptt", "RaT-BPTT reaches higher test accuracy than truncated BPTT (the last M of T steps) "
              "at equal compute, at every IPC", _check_vs_tbptt, source="Abstract; Sec. 3 (facts C3)",
              kind="paper",
              test="per IPC, one-sided paired test over seeds of RaT-BPTT - T-BPTT accuracy at equal inner-step "
                   "budget, alpha 0.05; PASS iff every IPC rejects 'gap <= 0'; FAIL if any IPC does not with "
                   "95% CI half-width <= 2 points; else INCONCLUSIVE"),
        Claim("memory-T-over-M", "The graph memory of a meta-gradient is proportional to the differentiated "
              "steps: BPTT (T steps) over RaT-BPTT (M steps) is about T/M", _check_memory,
              source="derived: docs/rat-bptt.md#memory (paper abstract: memory of M < T steps)",
              kind="consistency",
              test="deterministic byte count of saved tensors; PASS iff BPTT/RaT-BPTT is within 30% of T/M "
                   "at every IPC"),
    ],
    version=2, uses_device=True,
))
