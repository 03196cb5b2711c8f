"""attacking-bayes/detection: uncertainty-based adversarial-example detection (entropy, mutual
information) against non-adaptive FGSM / PGD and adaptive attacks that misclassify while looking certain;
AUROC of clean inputs against successful adversarial examples, with DeLong standard errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from pydantic import Field

from collapselab import stats
from collapselab.bayes import Posterior, auroc_se, sample_logits, uncertainty
from collapselab.bayes.attacks import detection_attack, fgsm, pgd
from collapselab.core import CellContext, Claim, Experiment, Results, Verdict, register
from collapselab.core.plotting import colors, new_figure
from collapselab.experiments._papers import ATTACKING_BAYES
from collapselab.experiments.attacking_bayes._common import (
    BNNS,
    LABELS,
    METHODS,
    CommonParams,
    attack_config,
    check_methods,
    clean_claim,
    clean_table,
    cost_from,
    data,
    diagnostics,
    gated,
    net_flops,
    plotted_methods,
    presets,
    train_posterior,
    training_passes,
)

SCORES = ("entropy", "mutual_information")
NON_ADAPTIVE = ("fgsm", "pgd")  # detection attacks that ignore the detector
MAX_AUROC, MIN_MISCLASSIFIED = 0.6, 0.9


class DetectionParams(CommonParams):
    eps: float = Field(0.3, gt=0, le=1, description="L-inf radius of every attack")
    lam: float = Field(1.0, ge=0, description="lambda of the CE - lambda * U adaptive attack")
    methods: list[str] = Field(list(BNNS), description=f"posteriors, from {METHODS}")


def cells(p: DetectionParams) -> list[dict]:
    return [{"method": m, "spec": p.train_spec(), "n_eval": p.n_eval, "eps": p.eps, "lam": p.lam,
             **p.attack_cell()} for m in check_methods(p.methods)]


@torch.no_grad()
def _scores(model: Posterior, x: torch.Tensor, n_samples: int) -> dict[str, torch.Tensor]:
    logits = torch.cat([sample_logits(model, x[i : i + 256], n_samples) for i in range(0, len(x), 256)], dim=1)
    return {"pred": logits.log_softmax(-1).exp().mean(0).argmax(1),
            **{s: uncertainty(logits, s) for s in SCORES}}


def run_cell(cell: dict, ctx: CellContext) -> dict:
    spec, dev = cell["spec"], ctx.device
    xtr, ytr, xte, yte = data(spec, None, dev)
    k = int(max(ytr.max(), yte.max())) + 1
    model = train_posterior(cell["method"], spec, xtr, ytr, k, ctx.seed, dev)
    model.reseed(ctx.seed)
    gen = ctx.torch_generator(device=dev)
    x, y = xte[: cell["n_eval"]], yte[: cell["n_eval"]]
    clean = _scores(model, x, cell["eval_samples"])
    ok = clean["pred"] == y  # detection is judged on inputs the model gets right
    x, y = x[ok], y[ok]
    clean = {key: v[ok] for key, v in clean.items()}
    cfg = attack_config(cell, cell["eps"])
    attacks = {"fgsm": fgsm(model, x, y, cfg), "pgd": pgd(model, x, y, cfg, generator=gen),
               "targeted": detection_attack(model, x, y, cfg, method="targeted", generator=gen)}
    for score in SCORES:
        attacks[f"penalty_{score}"] = detection_attack(model, x, y, cfg, method="penalty", lam=cell["lam"],
                                                       score=score, generator=gen)
    rows = []
    for name, x_adv in attacks.items():
        adv = _scores(model, x_adv, cell["eval_samples"])
        wrong = adv["pred"] != y
        row = {"attack": name, "k_misclassified": int(wrong.sum()), "n": int(len(y))}
        for score in SCORES:
            pos = adv[score][wrong] if int(wrong.sum()) >= 2 else adv[score]
            est = auroc_se(clean[score], pos)
            row[f"auroc_{score}"], row[f"se_{score}"] = est.mean, est.se
        rows.append(row)
    return {"clean_correct": [int(v) for v in ok.cpu()], "per_attack": rows,
            **diagnostics(model, x, y, cell["attack_samples"])}


def cell_flops(cell: dict) -> float:
    """FLOPs of one replicate, with f, n, T, S, V as in attacking-bayes/label's ``cell_flops``: training
    3 f x passes (:func:`training_passes`) plus n f (3 S + 12 T S + 7 V): FGSM, then PGD, the targeted and
    the two penalty attacks with EOT (forward + backward), and seven scorings of V samples."""
    f, n = net_flops(cell), cell["n_eval"]
    t, s_, v = cell["pgd_steps"], cell["attack_samples"], cell["eval_samples"]
    passes, _ = training_passes(cell)
    return 3 * f * passes + n * f * (3 * s_ + 12 * t * s_ + 7 * v)


def cell_cost(cell: dict) -> float:
    """One-thread CPU seconds (estimated): :func:`cost_from` of :func:`cell_flops` and the training steps
    plus 4 T + 10 attack steps (constants as in attacking-bayes/label's ``cell_cost``)."""
    _, steps = training_passes(cell)
    return cost_from(cell_flops(cell), steps + 4 * cell["pgd_steps"] + 10)


def summarize(frame: pd.DataFrame, p: DetectionParams) -> dict[str, pd.DataFrame]:
    long = pd.DataFrame([{"method": r["method"], "replicate": r["replicate"], **e}
                         for _, r in frame.iterrows() for e in r["per_attack"]])
    out = []
    for (m, a), g in long.groupby(["method", "attack"], sort=False):
        row = {"method": m, "attack": a, "k_misclassified": int(g["k_misclassified"].sum()), "n": int(g["n"].sum())}
        row["misclassified"] = row["k_misclassified"] / max(row["n"], 1)
        for s in SCORES:  # mean over seeds; its SE from the per-seed DeLong SEs
            row[f"auroc_{s}"] = float(g[f"auroc_{s}"].mean())
            row[f"se_{s}"] = float(np.sqrt((g[f"se_{s}"] ** 2).sum()) / len(g))
        out.append(row)
    return {"detection": pd.DataFrame(out), "clean_accuracy": clean_table(frame)}


def plot(tables: dict[str, pd.DataFrame], p: DetectionParams) -> dict:
    table = tables["detection"]
    attacks = list(dict.fromkeys(table["attack"]))
    methods = plotted_methods(table)
    fig, axes = new_figure(2)
    axes = axes.ravel()
    width = 0.8 / max(len(attacks), 1)
    for ax, score in zip(axes, SCORES):
        for j, (a, c) in enumerate(zip(attacks, colors(len(attacks)))):
            t = table[table["attack"] == a].set_index("method").reindex(methods)
            ax.bar(np.arange(len(methods)) + j * width, t[f"auroc_{score}"], width, yerr=1.96 * t[f"se_{score}"],
                   color=c, label=a)
        ax.axhline(0.5, color="k", lw=0.8, ls=":")
        ax.axhline(MAX_AUROC, color="r", lw=0.8, ls="--")
        ax.set_xticks(np.arange(len(methods)) + width * (len(attacks) - 1) / 2)
        ax.set_xticklabels([LABELS[m] for m in methods], rotation=20)
        ax.set(ylabel=f"detection AUROC ({score})", ylim=(0, 1))
    axes[0].legend()
    return {"detection_auroc": fig}


def _check_detection(r: Results) -> Verdict:
    t = r.tables["detection"]
    t = t[t["method"].isin(BNNS) & ~t["attack"].isin(NON_ADAPTIVE)]
    if t.empty:
        return Verdict.inconclusive("no BNN with an adaptive attack in the run", "needs a BNN and the adaptive attacks")
    decisions = []
    for m in [m for m in BNNS if m in set(t["method"])]:
        tm = t[t["method"] == m]
        bounds = [stats.proportion_ci(int(k), int(n)) for k, n in zip(tm["k_misclassified"], tm["n"])]
        strong = tm[[lo >= MIN_MISCLASSIFIED for lo, _ in bounds]]
        for score in SCORES:
            name = f"{LABELS[m]}/{score}"
            if strong.empty:
                best = float(tm["misclassified"].max())
                status = "FAIL" if all(hi < MIN_MISCLASSIFIED for _, hi in bounds) else "INCONCLUSIVE"
                decisions.append((name, stats.Decision(status, f"no adaptive attack misclassifies >= 90% for sure "
                                                               f"(best {best:.0%})", "needs more test inputs")))
                continue
            row = strong.loc[strong[f"auroc_{score}"].idxmin()]
            cmp = stats.from_estimate(row[f"auroc_{score}"], row[f"se_{score}"], alternative="two-sided",
                                      null=MAX_AUROC, n=int(row["n"]))
            d = stats.at_most(cmp, margin=MAX_AUROC, resolution=0.1)
            decisions.append((f"{name} ({row['attack']}, {row['misclassified']:.0%} misclassified)", d))
    return Verdict.all_of(decisions, empty_needs="needs the grid the claim names")


register(Experiment(
    name="attacking-bayes/detection", paper=ATTACKING_BAYES,
    description=(
        "Paper A, task 2 (uncertainty-based adversarial-example detection): the detector flags an input whose "
        "predictive entropy or mutual information is high. AUROC (DeLong SE) of clean correctly classified test "
        "inputs against successful adversarial examples, for non-adaptive FGSM and PGD+EOT and for adaptive "
        "attacks that misclassify while keeping uncertainty low (targeted PGD to the most likely wrong class; "
        "CE - lambda * U). L-inf eps=0.3 on MNIST. Presets as in attacking-bayes/label."),
    params=DetectionParams,
    presets=presets(),
    cells=cells, run_cell=run_cell, summarize=summarize, plot=plot, main_figure="detection_auroc",
    cell_cost=cell_cost, cell_flops=cell_flops,
    claims=[
        clean_claim(),
        Claim("adaptive-evades", "An adaptive attack drives detection AUROC (entropy and mutual information) to at "
              "most 0.6 while at least 90% of the attacked inputs are misclassified, for every BNN",
              gated(_check_detection), source="Abstract (task 2: uncertainty-based adversarial-example detection is "
              "not robust); thresholds from issue 7", kind="paper",
              test="per BNN and score: among the adaptive attacks whose Wilson 95% lower bound of the "
                   "misclassified fraction is >= 0.9, the lowest AUROC; PASS iff its two-sided 95% CI (DeLong SE, "
                   "normal) lies below 0.6 with half-width <= 0.1; FAIL iff the CI lies above 0.6 or no attack "
                   "can reach 90% (every upper bound < 0.9); else INCONCLUSIVE; every (BNN, score) must PASS"),
    ],
    version=3,  # 3: best-iterate PGD, AttackConfig, DeLong SEs, init via nn.init_parameters
    uses_device=True,
))
