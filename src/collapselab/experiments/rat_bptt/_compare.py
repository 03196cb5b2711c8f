"""RaT-BPTT against a random real subset of the same size (and full data), same and cross architecture:
the cells, summary tables, figure and checks shared by rat-bptt/digits and rat-bptt/mnist."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd
from pydantic import Field

from collapselab import stats
from collapselab.core import CellContext, Results, Verdict
from collapselab.core.plotting import colors, new_figure
from collapselab.distill import DistilledSet, distill, random_subset
from collapselab.experiments.rat_bptt._common import (
    SHAPES,
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
    paired,
    setup,
)

RESOLUTION = 0.02  # a paired 95% CI half-width of 2 points is enough to call a FAIL


class CompareParams(DistillParams):
    ipcs: list[int] = Field([1, 10], description="images per class")
    full_data: bool = Field(True, description="also train on the whole training split (a reference)")


def cells(p: CompareParams) -> list[dict]:
    s = setup(p)
    out = [{"setup": s, "kind": "distill", "ipc": int(i)} for i in p.ipcs]
    if p.full_data:
        out.append({"setup": s, "kind": "full", "ipc": 0})
    return out


def run_cell(cell: dict, ctx: CellContext) -> dict:
    """kind "distill": the random real subset drawn from sub-stream "subset" and the RaT-BPTT set
    (with ``init="real"`` it starts from that same subset: the same draws), both evaluated with the same
    network initialisations (sub-stream "eval"), on the inner architecture and on the cross one.
    kind "full": networks trained on the whole training split."""
    s, ipc = cell["setup"], cell["ipc"]
    data = data_of(s)
    train = data[0]
    if cell["kind"] == "full":
        full = DistilledSet(*train, {"method": "full"})
        return {"acc_full": evaluate_set(full, s, data, gen(ctx, "eval"), ctx.device,
                                         batch_size=s["full_batch"])["acc"]}
    base = random_subset(train, ipc=ipc, generator=gen(ctx, "subset"))
    cpu0, wall0 = time.process_time(), time.perf_counter()
    ds = distill(train, ipc=ipc, method="rat_bptt", steps=s["steps"], learn_labels=s["learn_labels"],
                 generator=gen(ctx, "subset"), **distill_kwargs(s, train, ctx.device))
    out: dict[str, Any] = {"distill_cpu_s": time.process_time() - cpu0,
                           "distill_wall_s": time.perf_counter() - wall0,
                           "final_meta_loss": ds.metadata["final_meta_loss"],
                           "learned_lr": ds.metadata["inner_lr"]}
    archs = ["same"] + (["cross"] if s["cross_model"] != "none" else [])
    for arch in archs:
        for name, d in (("random", base), ("rat_bptt", ds)):
            ev = evaluate_set(d, s, data, gen(ctx, "eval", arch), ctx.device, cross=arch == "cross")
            out[f"acc_{name}_{arch}"] = ev["acc"]
            out[f"steps_{name}_{arch}"] = ev["best_steps"]
    out["artifacts"] = {**artifact(ds, f"rat_bptt_ipc{ipc}", ctx, data[3]),
                        **artifact(base, f"random_ipc{ipc}", ctx, data[3])}
    return out


def _parts(cell: dict) -> list[tuple[float, int]]:
    """(FLOPs, steps) of one replicate. kind "distill": ``steps`` outer steps of RaT-BPTT at ``ipc`` and
    two evaluations (random subset, distilled set) per architecture (the inner one, and the cross one when
    set); kind "full": one evaluation on the whole training split in ``full_batch`` minibatches."""
    s, ipc = cell["setup"], cell["ipc"]
    if cell["kind"] == "full":
        return [eval_flops(s, 0, n_images=min(s["full_batch"], SHAPES[s["dataset"]][1]))]
    archs = [False] + ([True] if s["cross_model"] != "none" else [])
    return [distill_flops(s, ipc, s["steps"])] + [eval_flops(s, ipc, cross=c) for c in archs for _ in range(2)]


cell_cost, cell_flops = cost_functions(_parts)  # relative CPU cost and FLOPs of one replicate


def summarize(frame: pd.DataFrame, p: CompareParams) -> dict[str, pd.DataFrame]:
    """``accuracy``: one row per (ipc, arch, method, replicate); ``summary``: mean +- SE over seeds and the
    validation-chosen training length; ``paired``: RaT-BPTT - random per (ipc, arch), paired over seeds."""
    rows = []
    for _, r in frame.iterrows():
        if r["kind"] == "full":
            rows.append({"ipc": 0, "arch": "same", "method": "full", "replicate": int(r["replicate"]),
                         "acc": float(r["acc_full"]), "steps": np.nan})
            continue
        for arch in ("same", "cross"):
            for m in ("random", "rat_bptt"):
                if f"acc_{m}_{arch}" in r and pd.notna(r[f"acc_{m}_{arch}"]):
                    rows.append({"ipc": int(r["ipc"]), "arch": arch, "method": m,
                                 "replicate": int(r["replicate"]), "acc": float(r[f"acc_{m}_{arch}"]),
                                 "steps": float(r[f"steps_{m}_{arch}"])})
    acc = pd.DataFrame(rows, columns=["ipc", "arch", "method", "replicate", "acc", "steps"])
    summary = stats.grouped_mean_se(acc, ["ipc", "arch", "method"], "acc")
    summary["steps"] = acc.groupby(["ipc", "arch", "method"], sort=True)["steps"].mean().values
    prs = []
    for (ipc, arch), cmp in paired(acc[acc.method != "full"], "rat_bptt", "random", ["ipc", "arch"]):
        if cmp is not None:
            prs.append({"ipc": ipc, "arch": arch, "gap": cmp.estimate, "low": cmp.low, "pvalue": cmp.pvalue,
                        "n": cmp.n})
    return {"accuracy": acc, "summary": summary,
            "paired": pd.DataFrame(prs, columns=["ipc", "arch", "gap", "low", "pvalue", "n"])}


def plot(tables: dict[str, pd.DataFrame], p: CompareParams) -> dict[str, Any]:
    t = tables["summary"]
    archs = [a for a in ("same", "cross") if a in set(t.arch)]
    fig, axes = new_figure(len(archs))
    axes = np.atleast_1d(axes).ravel()
    full = t[t.method == "full"]
    for ax, arch in zip(axes, archs):
        for m, c in zip(("rat_bptt", "random"), colors(2)):
            sub = t[(t.method == m) & (t.arch == arch)]
            ax.errorbar(sub["ipc"], 100 * sub["mean"], yerr=200 * sub["se"], fmt="o-", color=c, capsize=3,
                        label="RaT-BPTT" if m == "rat_bptt" else "random real subset")
        if not full.empty and arch == "same":
            ax.axhline(100 * float(full["mean"].iloc[0]), ls="--", color="k", label="full data")
        model = p.model if arch == "same" else p.cross_model
        ax.set(xscale="log", xlabel="images per class", ylabel="test accuracy (%)",
               title=f"{p.dataset}: trained by {model} ({'distilled with' if arch == 'same' else 'not'} "
                     f"{'it' if arch == 'same' else p.model}); mean +- 2 SE")
        ax.legend()
    return {"accuracy": fig}


def check_beats_random(r: Results, arch: str = "same") -> Verdict:
    t = r.tables["accuracy"]
    t = t[(t.arch == arch) & t.method.isin(["rat_bptt", "random"])]
    label = f"RaT-BPTT - random subset, accuracy points ({arch} architecture), per IPC"
    return all_beat(t, "rat_bptt", "random", ["ipc"], label, RESOLUTION)


def check_beats_random_cross(r: Results) -> Verdict:
    if r.params.cross_model == "none":
        return Verdict.inconclusive("no cross architecture was trained", "needs cross_model=mlp|convnet")
    return check_beats_random(r, "cross")


BEATS_TEST = ("per IPC, one-sided paired test over seeds of RaT-BPTT - random subset accuracy (same evaluation "
              "networks), alpha 0.05; PASS iff every IPC rejects 'gap <= 0'; FAIL if any IPC does not "
              "while its 95% CI half-width is <= 2 points; else INCONCLUSIVE")
