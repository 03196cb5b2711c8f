"""sween/small-vs-large: a SWEEN of a few small models against one large model of the *same family*
(several small ConvNets vs one wide ConvNet; ResNet-20s vs ResNet-110 at full): certified accuracy paired
over images on shared noise, and training time measured as CPU seconds in the same run, over seeds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from pydantic import Field

from collapselab import stats
from collapselab.core import CellContext, Claim, Experiment, Results, Verdict, register
from collapselab.core.plotting import new_figure
from collapselab.experiments._papers import SWEEN as SWEEN_PAPER
from collapselab.experiments.sween._common import (
    GRID_NEEDS,
    ArchName,
    SweenParams,
    cells,
    certified_tables,
    certify_heads,
    cost_from,
    curve,
    fit_sween,
    per_image,
    pipeline_flops,
    presets,
    trained,
)
from collapselab.smoothing import SWEEN

HEADS = ["sween", "large"]
CLAIM_RADII = (0.0, 0.25, 0.5)
MARGIN = 0.02  # "comparable": at most 2 points below the large model
TIME_RESOLUTION = float(np.log(1.25))  # a 25% difference in training time is what the data must resolve


class SmallLargeParams(SweenParams):
    candidates: list[ArchName] = Field(["convnet-w8"] * 3, description="the small models (one family)")
    large: ArchName = Field("convnet-w32", description="the one larger model of the same family")
    sigmas: list[float] = Field([0.5], description="noise levels (train and certify)")
    n_test: int = Field(150, ge=1, description="test images certified per seed")
    distinct_test_images: bool = Field(True, description="each seed certifies its own block of n_test test images "
                                       "(no image shared by two seeds: the (seed, image) pairs are not repeats)")
    radii: list[float] = Field([0.0, 0.25, 0.5, 0.75, 1.0], description="reporting radii")


def run_cell(cell: dict, ctx: CellContext) -> dict:
    ens, seconds, w_seconds, acc = fit_sween(cell, ctx)
    models, l_seconds, l_acc = trained(cell, [cell["large"]], ctx, tag="large")
    both = SWEEN([*ens.members, models[0]]).to(ctx.device)
    with torch.no_grad():  # SWEEN's weights on the small models, one-hot on the large one (head "cand{K}")
        both.w.copy_(torch.cat([ens.w.detach(), torch.tensor([-torch.inf], device=ens.w.device)]))
    k = len(cell["candidates"])
    out, _ = certify_heads(cell, both, ["sween", f"cand{k}"], ctx)
    out["predict__large"], out["radius__large"] = out.pop(f"predict__cand{k}"), out.pop(f"radius__cand{k}")
    return {**out, "weights": ens.weights.cpu().tolist(), "small_train_seconds": float(sum(seconds)) + w_seconds,
            "large_train_seconds": float(l_seconds[0]), "small_clean_acc": acc, "large_clean_acc": l_acc[0],
            "small_params": sum(p.numel() for p in ens.members.parameters()),
            "large_params": sum(p.numel() for p in models[0].parameters())}


def cell_flops(cell: dict) -> float:
    """FLOPs of one replicate: :func:`pipeline_flops` with the small models and the large one trained, the
    weights fitted on the small ones, and all of them certified on every noisy copy."""
    archs = [*cell["candidates"], cell["large"]]
    return pipeline_flops(cell, archs, weight_archs=cell["candidates"], certified=archs)[0]


def cell_cost(cell: dict) -> float:
    """One-thread CPU seconds (estimated): :func:`cost_from` of :func:`cell_flops` and the noisy copies;
    constants from forward timings of the MNIST candidates (``_common``)."""
    archs = [*cell["candidates"], cell["large"]]
    flops, copies = pipeline_flops(cell, archs, weight_archs=cell["candidates"], certified=archs)
    return cost_from(flops, copies)


def summarize(frame: pd.DataFrame, p: SmallLargeParams) -> dict[str, pd.DataFrame]:
    times = frame[["sigma", "replicate", "small_train_seconds", "large_train_seconds", "small_params",
                   "large_params"]].sort_values(["sigma", "replicate"]).reset_index(drop=True)
    return {**certified_tables(frame, HEADS, p.radii), "training_time": times}


def plot(tables: dict[str, pd.DataFrame], p: SmallLargeParams) -> dict:
    certs, t = tables["certificates"], tables["training_time"]
    fig, axes = new_figure(ncols=2)
    axes = axes.ravel()
    grid = np.linspace(0, max(p.radii), 200)
    for sigma, ls in zip(sorted(certs["sigma"].unique()), ["-", "--", ":"]):
        axes[0].plot(grid, curve(certs, sigma, "sween", grid), ls, color="tab:red",
                     label=f"SWEEN of {len(p.candidates)} x {p.candidates[0]} (sigma={sigma:g})")
        axes[0].plot(grid, curve(certs, sigma, "large", grid), ls, color="tab:gray",
                     label=f"{p.large} (sigma={sigma:g})")
    axes[0].set(xlabel="L2 radius r", ylabel="certified accuracy")
    axes[0].legend()
    x = np.arange(len(t))
    axes[1].bar(x - 0.2, t["small_train_seconds"], 0.4, color="tab:red", label="small models + weights")
    axes[1].bar(x + 0.2, t["large_train_seconds"], 0.4, color="tab:gray", label=p.large)
    axes[1].set_xticks(x, [f"sigma={s:g} seed {r}" for s, r in zip(t["sigma"], t["replicate"])], rotation=20)
    axes[1].set(ylabel="training time (CPU s; GPU: wall s)")
    axes[1].legend()
    return {"small_vs_large": fig}


def _check_accuracy(r: Results) -> Verdict:
    certs = r.tables["certificates"]
    decisions = []
    for sigma in sorted(certs["sigma"].unique()):
        for rad in CLAIM_RADII:
            cmp = stats.paired_difference(per_image(certs, sigma, "large", rad), per_image(certs, sigma, "sween", rad),
                                          alternative="two-sided")
            decisions.append((f"sigma={sigma:g} r={rad:g} large - SWEEN", stats.at_most(cmp, margin=MARGIN,
                                                                                        resolution=MARGIN)))
    return Verdict.all_of(decisions, empty_needs=GRID_NEEDS)


def _check_time(r: Results) -> Verdict:
    t = r.tables["training_time"]
    decisions = []
    for sigma, g in t.groupby("sigma"):
        name = f"sigma={sigma:g} log(large / small training CPU time)"
        if len(g) < 2:
            ratio = float(g["large_train_seconds"].iloc[0] / g["small_train_seconds"].iloc[0])
            decisions.append((name, stats.Decision("INCONCLUSIVE", f"one seed: ratio {ratio:.2f}",
                                                   "needs >= 3 seeds (--seeds 3)")))
            continue
        cmp = stats.paired_difference(np.log(g["large_train_seconds"]), np.log(g["small_train_seconds"]))
        decisions.append((name, stats.beats(cmp, resolution=TIME_RESOLUTION)))
    return Verdict.all_of(decisions, empty_needs=GRID_NEEDS)


_SOURCE = ("Abstract (a SWEEN of small models matches a large model at notably less training time); released "
           "logs: SWEEN-3 (ResNet-20/26/32) ACR 0.631 vs ResNet-110 0.566, sigma 0.5")
register(Experiment(
    name="sween/small-vs-large", paper=SWEEN_PAPER,
    description=("A SWEEN of a few small noise-trained models against one larger model of the same family: "
                 "certified accuracy on shared noise draws and training time (candidates + weights vs the large "
                 "model; CPU seconds of the same process, or wall seconds on a GPU), over 3 seeds. quick: MNIST "
                 "subset, 3 x ConvNet-w8 vs ConvNet-w32 (4x the width, ~4x the multiply-adds of the three "
                 "together), sigma 0.5, 150 test images per seed (a distinct block of the test split for each "
                 "seed). full: CIFAR-10, ResNet-20 x3 vs ResNet-110."),
    params=SmallLargeParams,
    presets=presets(smoke={"candidates": ["convnet-w8", "convnet-w8"], "large": "convnet-w16"}, quick={"seeds": 3},
                    full={"candidates": ["resnet20", "resnet20", "resnet20"], "large": "resnet110",
                          "radii": [0.0, 0.25, 0.5, 0.75, 1.0], "seeds": 3}),
    cells=cells, run_cell=run_cell, summarize=summarize, plot=plot, main_figure="small_vs_large",
    cell_cost=cell_cost, cell_flops=cell_flops,
    claims=[
        Claim("comparable-accuracy", "A SWEEN of a few small models has certified accuracy comparable to one large "
              "model of the same family (at most 2 points below at r = 0, 0.25, 0.5), at every sigma",
              _check_accuracy, source=_SOURCE, kind="paper",
              test="per sigma and r in (0, 0.25, 0.5): paired test of large minus SWEEN 1{certified correct at r} over "
                   "(seed, test image) pairs on shared noise, distinct test images per seed, two-sided 95% CI; "
                   "PASS iff its upper bound <= 0.02 with half-width <= 0.02 (non-inferiority, stats.at_most); "
                   "FAIL iff its lower bound > 0.02"),
        Claim("cheaper-training", "Training the small models and the SWEEN weights takes less time than training "
              "the large model, at every sigma", _check_time, source=_SOURCE, kind="paper",
              test="per sigma: one-sided paired test over seeds of log(large CPU seconds) - log(small + weights CPU "
                   "seconds), both measured in the same cell, alpha 0.05 (stats.beats); FAIL when the CI "
                   "half-width <= log 1.25 and the test does not reject; the exact sign-flip test needs >= 5 seeds to "
                   "PASS (at 3 seeds its smallest one-sided p is 1/8: INCONCLUSIVE or FAIL only)"),
    ],
    version=4,  # 2: one family (ConvNets), 3 seeds, sigma 0.5, paired claims, named seed streams; 3: distinct
    # test images per seed (audit B9: the same 50 images served every seed); 4: 150 images per seed, the
    # release's weight schedule and channels-last candidates (sween/_common)
    uses_device=True,
))
