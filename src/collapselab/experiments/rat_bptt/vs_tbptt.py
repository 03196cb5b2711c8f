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
    cost_functions,
    data_of,
    distill_flops,
    distill_kwargs,
    eval_flops,
    evaluate_set,
    gen,
    model_fn,
    setup,
)


class VsTbpttParams(DistillParams):
    ipcs: list[int] = Field([1, 10], description="images per class")
    inner_step_budget: int = Field(20000, ge=1, description="inner-step gradient evaluations per method "
                                   "(N + M' summed over outer steps): equal compute counted as inner steps; "
                                   "T-BPTT then takes inner_step_budget // T outer updates, and RaT-BPTT is also "
                                   "run for that many outer updates (equal compute counted as outer updates)")
    bptt_run: bool = Field(True, description="also distil with full BPTT at the inner-step budget (its accuracy "
                           "is shown, no claim reads it; its graph memory is measured either way)")


def cells(p: VsTbpttParams) -> list[dict]:
    s = setup(p)
    return [{"setup": s, "ipc": int(i), "budget": p.inner_step_budget, "bptt_run": p.bptt_run} for i in p.ipcs]


EQUAL_UPDATES = "rat_bptt_eq_updates"  # RaT-BPTT stopped at T-BPTT's number of outer updates


def _runs(cell: dict) -> list[tuple[str, str, int, int | None]]:
    """(name, method, outer steps, inner-step budget) of every distillation of a cell: RaT-BPTT and
    T-BPTT (and BPTT) at the inner-step budget, and RaT-BPTT at T-BPTT's outer-update count
    budget // T (the same draws: a prefix of its inner-budget trajectory)."""
    b, T = cell["budget"], cell["setup"]["T"]
    methods = [m for m in DISTILL_METHODS if m != "bptt" or cell.get("bptt_run", True)]
    return [(m, m, b, b) for m in methods] + [(EQUAL_UPDATES, "rat_bptt", max(b // T, 1), None)]


def _parts(cell: dict) -> list[tuple[float, int]]:
    """(FLOPs, steps) of one replicate: every run of :func:`_runs` (outer steps at the inner budget:
    budget / (E[N] + M'), its own evaluation) and the graph-memory probes (one meta-gradient each)."""
    s, ipc = cell["setup"], cell["ipc"]
    per_outer = {"rat_bptt": (s["T"] + s["M"]) / 2, "tbptt": s["T"], "bptt": s["T"]}
    out = []
    for _, m, steps, budget in _runs(cell):
        outer = int(budget // per_outer[m]) if budget is not None else steps
        out += [distill_flops(s, ipc, outer, m), eval_flops(s, ipc)]
    return out + [distill_flops(s, ipc, 1, m) for m in DISTILL_METHODS]


cell_cost, cell_flops = cost_functions(_parts)  # relative CPU cost and FLOPs of one replicate


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
    """The runs of :func:`_runs` from the same initial set and draws (sub-stream "distill"); evaluated
    with the same networks (sub-stream "eval"); the graph memory of every method's meta-gradient."""
    import time

    s, ipc = cell["setup"], cell["ipc"]
    data = data_of(s)
    train = data[0]
    out: dict[str, Any] = {"artifacts": {}}
    first = None
    for name, m, steps, budget in _runs(cell):
        cpu0 = time.process_time()
        ds = distill(train, ipc=ipc, method=m, steps=steps, max_inner_steps=budget,
                     learn_labels=s["learn_labels"], generator=gen(ctx, "distill"),
                     **distill_kwargs(s, train, ctx.device))
        out[f"cpu_s_{name}"] = time.process_time() - cpu0
        out[f"outer_steps_{name}"] = ds.metadata["outer_steps"]
        out[f"inner_steps_{name}"] = ds.metadata["inner_steps"]
        out[f"acc_{name}"] = evaluate_set(ds, s, data, gen(ctx, "eval"), ctx.device)["acc"]
        if name in DISTILL_METHODS:
            out["artifacts"].update(artifact(ds, f"{m}_ipc{ipc}", ctx, data[3]))
        if name == "rat_bptt":
            first = ds
    for m in DISTILL_METHODS:  # the graph's bytes depend on the set's shape, not its values
        out[f"graph_mb_{m}"] = _graph_mb(first, s, train, m, ctx)
    return out


def summarize(frame: pd.DataFrame, p: VsTbpttParams) -> dict[str, pd.DataFrame]:
    """``accuracy``: one row per (ipc, run, replicate) with its outer and inner steps, CPU seconds and the
    graph memory of its method; ``summary``: mean +- SE over seeds."""
    rows = []
    for _, r in frame.iterrows():
        for m in (*DISTILL_METHODS, EQUAL_UPDATES):
            if f"acc_{m}" not in r or pd.isna(r[f"acc_{m}"]):
                continue
            rows.append({"ipc": int(r["ipc"]), "method": m, "replicate": int(r["replicate"]),
                         "acc": float(r[f"acc_{m}"]), "outer_steps": int(r[f"outer_steps_{m}"]),
                         "inner_steps": int(r[f"inner_steps_{m}"]), "cpu_s": float(r[f"cpu_s_{m}"]),
                         "graph_mb": float(r[f"graph_mb_{m if m in DISTILL_METHODS else 'rat_bptt'}"])})
    acc = pd.DataFrame(rows)
    summary = stats.grouped_mean_se(acc, ["ipc", "method"], "acc")
    for col in ("outer_steps", "inner_steps", "cpu_s", "graph_mb"):
        summary[col] = acc.groupby(["ipc", "method"], sort=True)[col].mean().values
    # every method's graph memory, measured whether or not the method was distilled (full BPTT is not at quick)
    memory = pd.DataFrame([{"ipc": int(r["ipc"]), "method": m, "replicate": int(r["replicate"]),
                            "graph_mb": float(r[f"graph_mb_{m}"])}
                           for _, r in frame.iterrows() for m in DISTILL_METHODS
                           if f"graph_mb_{m}" in r and not pd.isna(r[f"graph_mb_{m}"])])
    memory = memory.groupby(["ipc", "method"], as_index=False)["graph_mb"].mean() if len(memory) else memory
    return {"accuracy": acc, "summary": summary, "memory": memory}


def plot(tables: dict[str, pd.DataFrame], p: VsTbpttParams) -> dict[str, Any]:
    t = tables["summary"]
    fig, axes = new_figure(2)
    ax = np.atleast_1d(axes).ravel()
    for m, c in zip((*DISTILL_METHODS, EQUAL_UPDATES), colors(4)):
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
    inner = all_beat(t, "rat_bptt", "tbptt", ["ipc"], "RaT-BPTT - T-BPTT, accuracy points, per IPC", 0.02)
    updates = all_beat(t, EQUAL_UPDATES, "tbptt", ["ipc"], "RaT-BPTT - T-BPTT, accuracy points, per IPC", 0.02)
    return Verdict.all_of([("equal inner steps", inner), ("equal outer updates", updates)])


def _check_memory(r: Results) -> Verdict:
    t = r.tables["memory"].set_index(["ipc", "method"])["graph_mb"]
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
        "RaT-BPTT (window of M at a random start N ~ U{0..T-M}) against T-BPTT (the last M of T steps) at "
        "equal compute counted two ways: each method runs outer steps until it has spent the same number of "
        "inner-step gradient evaluations (N + M' per outer step), and RaT-BPTT is also stopped at T-BPTT's "
        "number of outer updates (budget // T, the same tracked steps); from the same initial set and draws; "
        "the sets are evaluated with the same networks, step count chosen on validation. Full BPTT (all T) "
        "at the inner budget where bptt_run (full; not quick, where no claim reads it). Also the bytes the "
        "autograd graph of one meta-gradient of each method saves. Digits at quick; full: CIFAR-10 ConvNet-3 "
        "(GPU)."),
    params=VsTbpttParams,
    presets={
        "smoke": {"T": 6, "M": 2, "inner_step_budget": 18, "ipcs": [1], "real_batch": 64, "eval_models": 2,
                  "eval_steps": [5, 10], "width": 16, "seeds": 2},
        "quick": {"T": 40, "M": 10, "inner_lr": 1e-2, "inner_step_budget": 3000, "ipcs": [1, 10],
                  "seeds": 6, "init": "noise", "learn_labels": True, "eval_steps": [20, 40, 100, 200],
                  "eval_models": 3, "bptt_run": False},
        "full": {"dataset": "cifar10", "data_dir": "cifar-10-batches-py", "model": "convnet", "width": 128,
                 "depth": 3, "zca": True, "flip": True, "T": 200, "M": 60, "inner_step_budget": 4_000_000,
                 "outer_lr": 1e-3, "real_batch": 5000, "eval_models": 8, "eval_steps": [300, 600, 1000, 3000],
                 "ipcs": [1, 10], "seeds": 3},
    },
    cells=cells, run_cell=run_cell, summarize=summarize, plot=plot, main_figure="vs_tbptt",
    claims=[
        Claim("vs-tbptt", "RaT-BPTT reaches higher test accuracy than truncated BPTT (the last M of T steps) "
              "at equal compute, counted both as inner steps and as outer updates, at every IPC", _check_vs_tbptt,
              source="Abstract; Sec. 3 (facts C3); 'equal compute' and its two counts are this project's "
                     "framing", kind="paper",
              test="per budget (equal inner-step budget N + M' summed over outer steps; equal outer updates: "
                   "RaT-BPTT stopped at T-BPTT's budget // T updates, the same tracked steps) and per IPC, "
                   "one-sided paired test over seeds of RaT-BPTT - T-BPTT accuracy, alpha 0.05; PASS iff every "
                   "(budget, IPC) rejects 'gap <= 0'; FAIL if any does not with 95% CI half-width <= 2 points; "
                   "else INCONCLUSIVE"),
        Claim("memory-T-over-M", "The graph memory of a meta-gradient is proportional to the differentiated "
              "steps: BPTT (T steps) over RaT-BPTT (M steps) is about T/M", _check_memory,
              source="derived: docs/rat-bptt.md#memory (paper abstract: memory of M < T steps)",
              kind="consistency",
              test="deterministic byte count of saved tensors; PASS iff BPTT/RaT-BPTT is within 30% of T/M "
                   "at every IPC"),
    ],
    cell_cost=cell_cost, cell_flops=cell_flops, version=3, uses_device=True,
))
