"""transferred-discrepancy/augmentation: augmentation that helps generalisation lowers TD between seeds;
augmentation that hurts does not.

One cell per training condition (none, helpful = random shifts, harmful = random flips). In replicate r,
network i of every condition starts from the same initialisation and sees the same batch order (seeds
shared across cells, see ``shared_seed``), so conditions are compared paired by replicate. Per replicate
and condition: K networks, TD (logistic-probe disagreement, one-vs-rest and partition tasks, last layer)
averaged over the K(K-1)/2 pairs, and the disagreement two classifiers with the same per-task accuracies
but independent errors would show (``chance_disagreement``); their ratio is TD with error rates factored
out (1 - error consistency kappa).
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pandas as pd
from pydantic import Field

from collapselab import stats
from collapselab.core import CellContext, Claim, Experiment, Results, Verdict, register
from collapselab.core.plotting import colors, new_figure
from collapselab.experiments._papers import TRANSFERRED_DISCREPANCY
from collapselab.experiments.transferred_discrepancy._common import (
    SMOKE,
    NetParams,
    augment_fn,
    binary_tasks,
    mnist,
    net_cost,
    net_flops,
    shared_seed,
    train_and_embed,
)
from collapselab.similarity import chance_disagreement, prediction_discrepancy, probe_predictions


class AugmentationParams(NetParams):
    arch: str = Field("convnet", pattern="^(mlp|convnet)$", description="network: 'mlp' or 'convnet'")
    width: int = Field(16, ge=2, description="MLP first hidden width or conv width")
    k_models: int = Field(3, ge=2, description="networks per condition and replicate (seeds shared "
                          "across conditions)")
    conditions: list[str] = Field(["none", "shift2", "flip"], description="augmentations: 'none', "
                                  "'shift<k>' (helpful: random shifts up to k px), 'flip' (harmful)")
    helpful: str = Field("shift2", description="which condition is the helpful augmentation")
    harmful: str = Field("flip", description="which condition is the harmful augmentation")
    task_seed: int = Field(0, ge=0, description="seed of the partition tasks (fixed across cells)")
    resolution: float = Field(0.1, gt=0, description="smallest log-ratio effect (10%) a test must resolve "
                              "before a non-significant result is a FAIL (helpful) or a PASS (harmful)")
    margin: float = Field(0.1, ge=0, description="harmful: largest log reduction of error-normalised TD "
                          "that still counts as 'not lower'")


def cells(p: AugmentationParams) -> list[dict[str, Any]]:
    for c in p.conditions:
        augment_fn(c)  # fail early on an unknown name
    return [{"condition": c, **p.net(), "n_probe": p.n_probe, "n_partitions": p.n_partitions,
             "k_models": p.k_models, "task_seed": p.task_seed} for c in p.conditions]


def run_cell(cell: dict[str, Any], ctx: CellContext) -> dict[str, Any]:
    labels = mnist().y_test
    targets, _, _ = binary_tasks(labels, cell["n_partitions"], np.random.default_rng(cell["task_seed"]))
    tr, te = np.arange(cell["n_probe"]), np.arange(cell["n_probe"], labels.size)
    net = {k: cell[k] for k in ("arch", "width", "epochs", "n_train", "lr", "batch_size")}
    accs, outs = [], []
    for i in range(cell["k_models"]):
        acc, f, _ = train_and_embed(**net, augment=cell["condition"], device=ctx.device,
                                    seed=shared_seed("augmentation", ctx.replicate, i, ctx.stream_key()))
        accs.append(acc)
        last = list(f)[-1]
        outs.append(probe_predictions(f[last], targets, train_idx=tr, test_idx=te, task="classification"))
    pairs = []
    for i, j in itertools.combinations(range(len(outs)), 2):
        res = prediction_discrepancy(outs[i], outs[j], reduce=None)
        chance = chance_disagreement(res.score_a, res.score_b)
        pairs.append({"i": i, "j": j, "td": float(res.per_task.mean()), "prob_td": float(res.prob_distance.mean()),
                      "chance": float(chance.mean()), "probe_accuracy": float((res.score_a + res.score_b).mean() / 2)})
    return {"accuracies": accs, "pairs": pairs}


def cell_cost(cell: dict[str, Any]) -> float:
    """Relative CPU cost of one replicate of one condition (:func:`._common.net_cost`): ``k_models``
    networks (:func:`._common.net_flops`; an augmentation adds no FLOPs) and their probes, one per
    binary task (10 one-vs-rest + ``n_partitions``) per network; no similarity pairs."""
    return net_cost([net_flops(cell)] * cell["k_models"], cell["k_models"] * (10 + cell["n_partitions"]))


def cell_flops(cell: dict[str, Any]) -> float:
    """FLOPs of one replicate: ``k_models`` x :func:`._common.net_flops` (training 3 F per image and
    epoch, embedding 2,000 images); probe fits are not counted."""
    return cell["k_models"] * net_flops(cell)[0]


def summarize(frame: pd.DataFrame, p: AugmentationParams) -> dict[str, pd.DataFrame]:
    rows = []
    for _, r in frame.iterrows():
        pr = pd.DataFrame(r["pairs"])
        rows.append({"condition": r["condition"], "replicate": int(r["replicate"]), "td": pr["td"].mean(),
                     "prob_td": pr["prob_td"].mean(), "chance": pr["chance"].mean(),
                     "td_norm": pr["td"].mean() / pr["chance"].mean(), "accuracy": float(np.mean(r["accuracies"])),
                     "probe_accuracy": pr["probe_accuracy"].mean()})
    reps = pd.DataFrame(rows).sort_values(["condition", "replicate"]).reset_index(drop=True)
    summary = pd.concat([stats.grouped_mean_se(reps, "condition", m).assign(metric=m)
                         for m in ("td", "td_norm", "chance", "accuracy", "prob_td")], ignore_index=True)
    return {"replicates": reps, "summary": summary}


def plot(tables: dict[str, pd.DataFrame], p: AugmentationParams) -> dict[str, Any]:
    s = tables["summary"]
    order = [c for c in p.conditions if c in set(s["condition"])]
    fig, axes = new_figure(ncols=3, width=13)
    for ax, (metric, label) in zip(np.ravel(axes), (("td", "TD across seeds (disagreement)"),
                                                     ("td_norm", "TD / chance disagreement"),
                                                     ("accuracy", "test accuracy"))):
        m = s[s.metric == metric].set_index("condition").reindex(order)
        ax.bar(np.arange(len(m)), m["mean"], yerr=2 * m["se"].replace(np.inf, 0), color=colors(len(m)))
        ax.set_xticks(np.arange(len(m)), order)
        ax.set(ylabel=f"{label}, mean +- 2 SE")
        if metric == "accuracy":
            ax.set_ylim(max(0.0, float(m["mean"].min()) - 0.05), 1.0)
    return {"td_and_accuracy": fig}


def _paired(r: Results, condition: str) -> pd.DataFrame | None:
    t = r.tables["replicates"]
    if condition not in set(t["condition"]) or "none" not in set(t["condition"]):
        return None
    return t[t.condition == "none"].merge(t[t.condition == condition], on="replicate", suffixes=("_none", ""))


def _premise(d: pd.DataFrame, sign: int, what: str) -> tuple[stats.Comparison, str]:
    cmp = stats.paired_difference(sign * d["accuracy"], sign * d["accuracy_none"], alternative="greater")
    return cmp, f"accuracy {d['accuracy'].mean():.4f} vs none {d['accuracy_none'].mean():.4f} ({what} {cmp.text()})"


def _check_helpful(r: Results) -> Verdict:
    d = _paired(r, r.params.helpful)
    if d is None or len(d) < 5:
        return Verdict.inconclusive(f"{0 if d is None else len(d)} paired replicate(s)",
                                    "needs >= 5 replicates of 'none' and the helpful condition")
    acc, acc_text = _premise(d, +1, "gain")
    if not (acc.pvalue < 0.05 and acc.low > 0):
        return Verdict.inconclusive(acc_text, "needs a setting where the helpful augmentation significantly "
                                    "improves accuracy (the claim's premise)")
    cmp = stats.paired_difference(np.log(d["td_none"]), np.log(d["td"]), alternative="greater")
    prefix = (f"{r.params.helpful}: TD {d['td'].mean():.4f} vs none {d['td_none'].mean():.4f}; {acc_text}; "
              "log(TD none / TD helpful) ")
    return Verdict.of(stats.beats(cmp, resolution=r.params.resolution), prefix)


def _check_harmful(r: Results) -> Verdict:
    d = _paired(r, r.params.harmful)
    if d is None or len(d) < 5:
        return Verdict.inconclusive(f"{0 if d is None else len(d)} paired replicate(s)",
                                    "needs >= 5 replicates of 'none' and the harmful condition")
    acc, acc_text = _premise(d, -1, "loss")
    if not (acc.pvalue < 0.05 and acc.low > 0):
        return Verdict.inconclusive(acc_text, "needs a setting where the harmful augmentation significantly "
                                    "lowers accuracy (the claim's premise)")
    cmp = stats.paired_difference(np.log(d["td_norm_none"]), np.log(d["td_norm"]), alternative="two-sided",
                                  level=0.90)
    prefix = (f"{r.params.harmful}: TD/chance {d['td_norm'].mean():.3f} vs none {d['td_norm_none'].mean():.3f} "
              f"(raw TD {d['td'].mean():.4f} vs {d['td_none'].mean():.4f}); {acc_text}; "
              "log(norm none / norm harmful) ")
    return Verdict.of(stats.at_most(cmp, margin=r.params.margin, resolution=r.params.resolution), prefix)


register(Experiment(
    name="transferred-discrepancy/augmentation", paper=TRANSFERRED_DISCREPANCY,
    description=("Augmentation that improves generalisation makes networks from different seeds more similar "
                 "in TD; augmentation that hurts does not (abstract). K networks per condition and replicate "
                 "(quick: MLPs of width 256, where shifts are known to raise accuracy) on the MNIST subset, "
                 "seeds shared across conditions: none, helpful (random shifts of up to "
                 "2 px), harmful (random horizontal/vertical flips); mean pairwise TD (last probed layer) and test "
                 "accuracy; for 'harmful', TD over the chance disagreement of independent errors at the same "
                 "accuracies. Full: ConvNets of width 64, K=5, 10 replicates."),
    params=AugmentationParams,
    presets={"smoke": {**SMOKE, "arch": "mlp", "k_models": 2, "seeds": 2},
             "quick": {"arch": "mlp", "width": 256, "n_train": 3000, "epochs": 10, "k_models": 3, "seeds": 8},
             "full": {"arch": "convnet", "width": 64, "n_train": 3000, "epochs": 20, "k_models": 5,
                      "n_partitions": 20, "seeds": 10}},
    cells=cells, run_cell=run_cell, summarize=summarize, plot=plot, main_figure="td_and_accuracy",
    claims=[Claim("helpful-lowers-td", "Models trained with augmentation that improves generalisation learn "
                  "more similar features: lower TD between independently trained copies than without "
                  "augmentation", _check_helpful, source="Abstract (data augmentation experiments)",
                  kind="paper",
                  test=("premise: one-sided paired test (by replicate) that the helpful condition raises test "
                        "accuracy, alpha 0.05, else INCONCLUSIVE; then one-sided paired test of log(TD none / TD "
                        "helpful) > 0, alpha 0.05 (stats.beats), FAIL when the half-width <= 0.1; needs >= 5 "
                        "replicates")),
            Claim("harmful-not-lower", "Augmentation that hurts generalisation does not make the features more "
                  "similar: TD between copies, with the disagreement explained by error rates alone factored "
                  "out, is not lower than without augmentation", _check_harmful,
                  source="Abstract (data augmentation experiments)", kind="paper",
                  test=("premise: one-sided paired test that the harmful condition lowers accuracy, alpha 0.05, "
                        "else INCONCLUSIVE; then 90% paired-t CI of log(norm none / norm harmful), norm = TD / "
                        "chance disagreement of independent errors (stats.at_most): PASS iff the upper bound "
                        "<= margin 0.1 and half-width <= 0.1, FAIL iff the lower bound > 0.1; >= 5 replicates"))],
    cell_cost=cell_cost, cell_flops=cell_flops, version=2, uses_device=True,
))
