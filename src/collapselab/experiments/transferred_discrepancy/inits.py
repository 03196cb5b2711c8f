"""transferred-discrepancy/inits: networks trained from different seeds differ in TD beyond the probes'
estimation noise, and TD differs across downstream tasks of equal label balance.

Per replicate, K MLPs (or ConvNets) from different seeds. The probe-training images are split into two
disjoint halves H1, H2; every network gets a logistic probe per task on each half. Both sides of the
comparison then carry the same perturbation (probes fitted on different data):

* noise floor of network i:  TD(probe_i^H1, probe_i^H2)          (same features);
* across seeds, pair (i, j): (TD(probe_i^H1, probe_j^H2) + TD(probe_i^H2, probe_j^H1)) / 2.

The replicate is the independent unit of every test (its networks are shared by its pairs). Tasks: one-vs-
rest (10% positives) and a fixed set of random balanced 5-vs-5 partitions (the same in every replicate).
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
    binary_tasks,
    explode,
    mnist,
    net_cost,
    net_flops,
    similarities,
    train_and_embed,
)
from collapselab.similarity import prediction_discrepancy, probe_predictions


class InitsParams(NetParams):
    k_models: int = Field(4, ge=2, description="networks trained from different seeds, per replicate")
    task_seed: int = Field(0, ge=0, description="seed of the partition tasks (fixed across replicates)")
    resolution: float = Field(0.1, gt=0, description="above-noise: smallest log(TD seeds / floor) the test "
                              "must resolve before a non-significant result is a FAIL")
    rho_resolution: float = Field(0.4, gt=0, description="task-dependent: smallest split-half Spearman "
                                  "reliability the test must resolve before a FAIL")


def cells(p: InitsParams) -> list[dict[str, Any]]:
    return [{**p.net(), "n_probe": p.n_probe, "n_partitions": p.n_partitions, "k_models": p.k_models,
             "task_seed": p.task_seed}]


def run_cell(cell: dict[str, Any], ctx: CellContext) -> dict[str, Any]:
    labels = mnist().y_test
    targets, names, families = binary_tasks(labels, cell["n_partitions"], np.random.default_rng(cell["task_seed"]))
    half = cell["n_probe"] // 2
    halves = (np.arange(half), np.arange(half, cell["n_probe"]))
    test = np.arange(cell["n_probe"], labels.size)
    net = {k: cell[k] for k in ("arch", "width", "epochs", "n_train", "lr", "batch_size")}
    accs, outs, feats = [], {}, []
    for i in range(cell["k_models"]):
        acc, f, _ = train_and_embed(**net, augment="none", seed=ctx.substream_seed("init", i) % 2**31,
                                    device=ctx.device)
        accs.append(acc)
        feats.append(f)
        for layer, x in f.items():
            for h, idx in enumerate(halves):
                outs[i, layer, h] = probe_predictions(x, targets, train_idx=idx, test_idx=test,
                                                      task="classification")

    def td(a, b) -> np.ndarray:
        return prediction_discrepancy(a, b, reduce=None).per_task

    records, sims = [], []
    for layer in feats[0]:
        for i in range(cell["k_models"]):
            records.append({"kind": "floor", "i": i, "j": i, "layer": layer,
                            "td": td(outs[i, layer, 0], outs[i, layer, 1]).tolist()})
        for i, j in itertools.combinations(range(cell["k_models"]), 2):
            v = 0.5 * (td(outs[i, layer, 0], outs[j, layer, 1]) + td(outs[i, layer, 1], outs[j, layer, 0]))
            records.append({"kind": "seeds", "i": i, "j": j, "layer": layer, "td": v.tolist()})
            sims.append({"i": i, "j": j, "layer": layer, "td_mean": float(v.mean()),
                         **similarities(feats[i][layer], feats[j][layer])})
    return {"accuracies": accs, "tasks": names, "families": families, "records": records, "similarities": sims}


def _long(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per (replicate, kind, pair, layer, task)."""
    rows = []
    for _, r in frame.iterrows():
        for rec in r["records"]:
            for t, fam, v in zip(r["tasks"], r["families"], rec["td"]):
                rows.append({"replicate": r["replicate"], "kind": rec["kind"], "i": rec["i"], "j": rec["j"],
                             "layer": rec["layer"], "task": t, "family": fam, "td": v})
    return pd.DataFrame(rows)


def cell_cost(cell: dict[str, Any]) -> float:
    """Relative CPU cost of one replicate (:func:`._common.net_cost`): ``k_models`` networks
    (:func:`._common.net_flops`), probes per network x 2 layers x 2 probe halves x (10 + ``n_partitions``)
    tasks, and similarity measures on 2 layers x C(k_models, 2) pairs of width-d features."""
    k = cell["k_models"]
    return net_cost([net_flops(cell)] * k, k * 2 * 2 * (10 + cell["n_partitions"]), 2 * k * (k - 1) // 2,
                    dim=cell["width"])


def cell_flops(cell: dict[str, Any]) -> float:
    """FLOPs of one replicate: ``k_models`` x :func:`._common.net_flops` (training 3 F per image and
    epoch, embedding 2,000 images); probe fits and similarity measures are not counted."""
    return cell["k_models"] * net_flops(cell)[0]


def summarize(frame: pd.DataFrame, p: InitsParams) -> dict[str, pd.DataFrame]:
    td = _long(frame)
    per_rep = td.groupby(["replicate", "layer", "kind"])["td"].mean().unstack("kind").reset_index()
    both = td.groupby(["replicate", "kind"])["td"].mean().unstack("kind").reset_index().assign(layer="all")
    replicates = pd.concat([per_rep, both], ignore_index=True).rename(
        columns={"seeds": "td_seeds", "floor": "td_floor"})
    replicates["log_ratio"] = np.log(replicates["td_seeds"] / replicates["td_floor"])
    # per task: mean over pairs within a replicate, then mean +- se over replicates
    rep_task = td.groupby(["replicate", "layer", "family", "task", "kind"])["td"].mean().reset_index()
    by_task = stats.grouped_mean_se(rep_task, ["layer", "family", "task", "kind"], "td")
    # split halves for the reliability of the per-task profile: even vs odd replicates, last layer
    last = frame.iloc[0]["records"][-1]["layer"]
    seeds = rep_task[(rep_task.kind == "seeds") & (rep_task.layer == last)].copy()
    seeds["half"] = np.where(seeds["replicate"] % 2 == 0, "even", "odd")
    halves = seeds.groupby(["family", "task", "half"])["td"].mean().unstack("half").reset_index()
    halves["layer"] = last
    reps = seeds["replicate"].unique()
    halves["replicates_per_half"] = int(min(np.sum(reps % 2 == 0), np.sum(reps % 2 == 1)))
    accuracy = explode(frame.assign(acc=frame["accuracies"].map(lambda a: [{"accuracy": v} for v in a])), "acc")
    sims = explode(frame, "similarities")
    sim_table = sims.drop(columns=["i", "j", "replicate"], errors="ignore").groupby("layer").mean().reset_index()
    sim_table["accuracy"] = float(accuracy["accuracy"].mean())
    return {"replicates": replicates, "td_by_task": by_task, "task_halves": halves,
            "pair_similarity": sims, "similarity_summary": sim_table}


def plot(tables: dict[str, pd.DataFrame], p: InitsParams) -> dict[str, Any]:
    by_task = tables["td_by_task"]
    layer_names = list(dict.fromkeys(by_task["layer"]))
    fig, axes = new_figure(ncols=len(layer_names), width=6 * len(layer_names))
    for ax, layer in zip(np.ravel(axes), layer_names):
        g = by_task[by_task.layer == layer]
        for off, kind, label in ((-0.2, "seeds", "across seeds"), (0.2, "floor", "noise floor (same net)")):
            k = g[g.kind == kind]
            x = np.arange(len(k))
            ax.bar(x + off, k["mean"], 0.4, yerr=2 * k["se"].replace(np.inf, 0), label=label)
        ax.set_xticks(np.arange(len(k)), k["task"], rotation=90, fontsize=7)
        ax.set(title=layer, ylabel="TD (probe disagreement), mean +- 2 SE over replicates")
        ax.legend(loc="upper left")
    halves = tables["task_halves"]
    fig2, ax2 = new_figure()
    for c, fam in zip(colors(2), ("partition", "ovr")):
        h = halves[halves.family == fam]
        if "even" in h and "odd" in h:
            ax2.scatter(h["even"], h["odd"], color=c, label=fam)
    ax2.set(xlabel="per-task TD, even replicates", ylabel="per-task TD, odd replicates",
            title="split-half reliability of the task profile")
    if ax2.get_legend_handles_labels()[0]:
        ax2.legend()
    return {"td_per_task": fig, "task_split_half": fig2}


def _check_above_noise(r: Results) -> Verdict:
    t = r.tables["replicates"]
    t = t[t.layer == "all"]
    if len(t) < 3:
        return Verdict.inconclusive(f"{len(t)} replicate(s)", "needs >= 3 replicates (--seeds 3)")
    cmp = stats.paired_difference(np.log(t["td_seeds"]), np.log(t["td_floor"]), alternative="greater")
    prefix = (f"mean TD across seeds {t['td_seeds'].mean():.4f} vs floor {t['td_floor'].mean():.4f} "
              f"(x{np.exp(cmp.estimate):.2f}); log ratio ")
    return Verdict.of(stats.beats(cmp, resolution=r.params.resolution), prefix)


def _check_task_dependent(r: Results) -> Verdict:
    h = r.tables["task_halves"]
    h = h[h.family == "partition"]
    per_half = int(h["replicates_per_half"].iloc[0]) if len(h) else 0
    if per_half < 2 or len(h) < 6 or "even" not in h or "odd" not in h:
        return Verdict.inconclusive(f"{len(h)} partition tasks, {per_half} replicate(s) per half",
                                    "needs >= 6 partition tasks and >= 4 replicates (2 per half)")
    cmp = stats.spearman(h["even"], h["odd"], alternative="greater", rng=0)
    spread = f"per-task TD {h[['even', 'odd']].mean(axis=1).min():.4f}..{h[['even', 'odd']].mean(axis=1).max():.4f}"
    return Verdict.of(stats.beats(cmp, resolution=r.params.rho_resolution),
                      f"{len(h)} balanced partition tasks, {spread}; split-half Spearman ")


register(Experiment(
    name="transferred-discrepancy/inits", paper=TRANSFERRED_DISCREPANCY,
    description=("Networks trained from different random initialisations learn features that differ in "
                 "their downstream predictions, and TD is task-dependent (abstract). Per replicate K MLPs on "
                 "the offline MNIST subset; logistic probes on two disjoint halves of the probe data for "
                 "each network, layer and task (one-vs-rest; random balanced 5-vs-5 partitions); TD "
                 "across seeds against the floor of the same network's two probes; CKA, CCA family and "
                 "Procrustes per pair. Full: ConvNet width 64, K=8, 30 partitions, 10 replicates."),
    params=InitsParams,
    presets={"smoke": {**SMOKE, "k_models": 2, "n_partitions": 6},
             "quick": {"k_models": 4, "width": 128, "epochs": 10, "n_partitions": 20, "seeds": 6},
             "full": {"arch": "convnet", "width": 64, "epochs": 20, "k_models": 8, "n_partitions": 30,
                      "seeds": 10}},
    cells=cells, run_cell=run_cell, summarize=summarize, plot=plot, main_figure="td_per_task",
    claims=[Claim("above-noise", "Networks trained identically from different random initialisations learn "
                  "features that are not the same for downstream predictions: TD between seeds exceeds the "
                  "TD of two probes on the same features fitted on equally different probe data",
                  _check_above_noise, source="Abstract (experiments on random initialisations)",
                  kind="paper",
                  test=("one-sided paired test over replicates of log(TD seeds / TD floor), all layers and tasks, "
                        "alpha 0.05 (stats.beats); FAIL when not significant and the CI half-width <= "
                        "resolution (0.1 = 10%); needs >= 3 replicates")),
            Claim("task-dependent", "TD carries task-specific information: the TD between the same networks "
                  "differs across downstream tasks, beyond label balance (tasks of equal 50/50 balance)",
                  _check_task_dependent, source="Abstract (fine-grained, task-specific information)",
                  kind="paper",
                  test=("split-half reliability: Spearman rho between the per-task TD across seeds (last "
                        "layer, balanced partition tasks) of even and of odd replicates; one-sided bootstrap "
                        "CI over tasks, alpha 0.05 (stats.beats), FAIL when the half-width <= "
                        "rho_resolution (0.4); needs >= 6 tasks and >= 4 replicates"))],
    cell_cost=cell_cost, cell_flops=cell_flops, version=2, uses_device=True,
))
