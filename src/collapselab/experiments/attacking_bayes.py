"""Paper 3, "Attacking Bayes" (Feng, Rudner, Tsilivis, Kempe; TMLR 2024, arXiv 2404.19640).

Three experiments, one per attacked task of the paper (notes_robustness.md part 1):

* ``attacking-bayes/label``: robust accuracy of the posterior predictive under L-inf PGD with EOT for
  MAP, MC dropout, mean-field VI, a deep ensemble and full-batch HMC, against eps; every evaluation
  carries the hygiene checks (FGSM, Square, transfer from MAP, zero gradients, probability outputs,
  randomness) and the audit of the flawed evaluation (double softmax + 1-sample attack scored with 100
  samples + step size >> eps).
* ``attacking-bayes/detection``: AUROC of entropy- and mutual-information-based adversarial-example
  detection against plain PGD and against adaptive attacks (targeted PGD; CE - lambda * U).
* ``attacking-bayes/semantic-shift``: train on digits 0-4, detect digits 5-9 as out-of-distribution by
  uncertainty; AUROC clean and after pushing the OOD inputs to low uncertainty.

Each cell trains one posterior for one seed and runs every attack on it.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import pandas as pd
import torch
from pydantic import Field

from collapselab.bayes import (
    HMC,
    MAP,
    DeepEnsemble,
    MCDropout,
    MeanFieldVI,
    Posterior,
    audit,
    auroc,
    evaluate_robustness,
    forward_randomness,
    outputs_look_like_probabilities,
    predict,
    sample_logits,
    softmax_robustness_floor,
    uncertainty,
    zero_gradient_fraction,
)
from collapselab.bayes.attacks import detection_attack, fgsm, pgd, semantic_shift_attack
from collapselab.core import Analysis, CellContext, Claim, Experiment, Params, Results, Verdict, register
from collapselab.core.plotting import colors, new_figure
from collapselab.experiments._papers import ATTACKING_BAYES

METHODS = ("map", "mcdropout", "vi", "ensemble", "hmc")
BNNS = ("mcdropout", "vi", "ensemble", "hmc")
NON_ADAPTIVE = ("fgsm", "pgd")  # detection attacks that ignore the detector
LABELS = {
    "map": "MAP",
    "mcdropout": "MC dropout",
    "vi": "mean-field VI",
    "ensemble": "deep ensemble",
    "hmc": "HMC",
}


# ------------------------------------------------------------------------------------------------------
# shared parameters, data and training
class _Common(Params):
    dataset: str = Field(
        "mnist_subset",
        pattern="^(mnist_subset|digits|mnist_idx|fashion_idx|cifar10)$",
        description="mnist_subset/digits (offline) or mnist_idx/fashion_idx/cifar10 (files under data_dir)",
    )
    data_dir: str | None = Field(None, description="folder with IDX files or CIFAR-10 python batches")
    n_train: int = Field(4000, ge=10, description="training examples (first n of the train split)")
    n_eval: int = Field(200, ge=2, description="test examples attacked")
    arch: str = Field("mlp", pattern="^(mlp|convnet|lenet)$", description="network family")
    hidden: list[int] = Field([32], description="MLP hidden widths")
    width: int = Field(32, ge=1, description="ConvNet width")
    pool: int = Field(2, ge=1, description="fixed input average-pool factor (2: 28x28 -> 14x14)")
    methods: list[str] = Field(list(METHODS), description=f"posteriors, from {METHODS}")
    epochs: int = Field(20, ge=0, description="epochs for MAP, MC dropout and each ensemble member")
    lr: float = Field(1e-3, gt=0, description="Adam learning rate")
    weight_decay: float = Field(1e-4, ge=0, description="MAP / ensemble weight decay")
    dropout: float = Field(0.2, gt=0, lt=1, description="MC dropout rate")
    vi_epochs: int = Field(40, ge=0, description="mean-field VI epochs")
    vi_lr: float = Field(3e-3, gt=0, description="mean-field VI learning rate")
    prior_std: float = Field(1.0, gt=0, description="Gaussian prior std (VI, HMC)")
    n_members: int = Field(5, ge=1, description="deep-ensemble members")
    hmc_samples: int = Field(20, ge=1, description="HMC samples kept")
    hmc_burn_in: int = Field(100, ge=0, description="HMC burn-in transitions (step size adapted)")
    hmc_thin: int = Field(5, ge=1, description="HMC thinning")
    hmc_leapfrog: int = Field(20, ge=1, description="leapfrog steps per HMC transition")
    hmc_init_epochs: int = Field(20, ge=0, description="MAP epochs before HMC starts")
    pgd_steps: int = Field(40, ge=1, description="PGD steps")
    attack_samples: int = Field(10, ge=1, description="posterior samples per attack step (EOT)")
    eval_samples: int = Field(100, ge=1, description="posterior samples used to score")

    def train_spec(self) -> dict[str, Any]:
        keys = (
            "dataset",
            "data_dir",
            "n_train",
            "arch",
            "hidden",
            "width",
            "pool",
            "epochs",
            "lr",
            "weight_decay",
            "dropout",
            "vi_epochs",
            "vi_lr",
            "prior_std",
            "n_members",
            "hmc_samples",
            "hmc_burn_in",
            "hmc_thin",
            "hmc_leapfrog",
            "hmc_init_epochs",
        )
        return {k: getattr(self, k) for k in keys}


@functools.lru_cache(maxsize=4)
def _splits(dataset: str, data_dir: str | None, classes: tuple[int, ...] | None):
    from collapselab.data import load_cifar10, load_digits, load_idx_dataset, load_mnist_subset

    if dataset in ("mnist_idx", "fashion_idx", "cifar10") and not data_dir:
        raise ValueError(f"dataset {dataset!r} needs `data_dir` (collapselab never downloads data)")
    loaders = {
        "mnist_subset": load_mnist_subset,
        "digits": load_digits,
        "mnist_idx": lambda: load_idx_dataset(data_dir),
        "fashion_idx": lambda: load_idx_dataset(data_dir),
        "cifar10": lambda: load_cifar10(data_dir),
    }
    d = loaders[dataset]()
    if classes is None:
        return d
    keep_tr, keep_te = np.isin(d.y_train, classes), np.isin(d.y_test, classes)
    return type(d)(d.x_train[keep_tr], d.y_train[keep_tr], d.x_test[keep_te], d.y_test[keep_te])


def _arch(spec: dict[str, Any], shape: tuple[int, ...], num_classes: int) -> dict[str, Any]:
    c, h, w = shape
    pool = spec["pool"]
    if spec["arch"] == "mlp":
        return {
            "kind": "mlp",
            "pool": pool,
            "in_features": c * (h // pool) * (w // pool),
            "hidden": list(spec["hidden"]),
            "out_features": num_classes,
        }
    if spec["arch"] == "convnet":
        return {
            "kind": "convnet",
            "pool": pool,
            "in_channels": c,
            "num_classes": num_classes,
            "image_size": h // pool,
            "width": spec["width"],
            "depth": 2,
            "norm": "instance",
        }
    return {
        "kind": "lenet",
        "pool": pool,
        "in_channels": c,
        "num_classes": num_classes,
        "image_size": h // pool,
    }


def train_posterior(
    method: str,
    spec: dict[str, Any],
    x: torch.Tensor,
    y: torch.Tensor,
    num_classes: int,
    seed: int,
    device: str = "cpu",
) -> Posterior:
    """Fit one posterior of kind ``method`` on (x, y) with the hyper-parameters in ``spec``."""
    arch = _arch(spec, tuple(x.shape[1:]), num_classes)
    if method == "map":
        return MAP(arch, seed=seed).fit(
            x, y, epochs=spec["epochs"], lr=spec["lr"], weight_decay=spec["weight_decay"], device=device
        )
    if method == "mcdropout":
        return MCDropout(arch, p=spec["dropout"], seed=seed).fit(
            x, y, epochs=spec["epochs"], lr=spec["lr"], weight_decay=spec["weight_decay"], device=device
        )
    if method == "vi":
        return MeanFieldVI(arch, prior_std=spec["prior_std"], seed=seed).fit(
            x, y, epochs=spec["vi_epochs"], lr=spec["vi_lr"], device=device
        )
    if method == "ensemble":
        return DeepEnsemble(arch, n_members=spec["n_members"], seed=seed).fit(
            x, y, epochs=spec["epochs"], lr=spec["lr"], weight_decay=spec["weight_decay"], device=device
        )
    if method == "hmc":
        return HMC(arch, prior_std=spec["prior_std"], seed=seed).fit(
            x,
            y,
            n_samples=spec["hmc_samples"],
            burn_in=spec["hmc_burn_in"],
            thin=spec["hmc_thin"],
            n_leapfrog=spec["hmc_leapfrog"],
            init_epochs=spec["hmc_init_epochs"],
            init_lr=spec["lr"],
            device=device,
        )
    raise ValueError(f"`method` must be one of {METHODS}, got {method!r}")


def _data(spec: dict[str, Any], n_eval: int, classes: tuple[int, ...] | None, device: str):
    d = _splits(spec["dataset"], spec["data_dir"], classes)
    xtr, ytr, xte, yte = (torch.as_tensor(a) for a in d)
    n = min(spec["n_train"], len(ytr))
    return xtr[:n].to(device), ytr[:n].to(device), xte.to(device), yte.to(device)


def _check_methods(methods: list[str]) -> list[dict[str, Any]]:
    bad = [m for m in methods if m not in METHODS]
    if bad:
        raise ValueError(f"`methods` must be drawn from {METHODS}, got {bad}")
    return methods


def _hygiene(model: Posterior, x: torch.Tensor, y: torch.Tensor, n_samples: int) -> dict[str, Any]:
    return {
        "zero_grad_fraction": zero_gradient_fraction(model, x, y, n_samples),
        "probability_outputs": outputs_look_like_probabilities(model, x[:64], 1),
        "forward_randomness": forward_randomness(model, x[:64], 1),
    }


# ------------------------------------------------------------------------------------------------------
# attacking-bayes/label
# Presets shared by the three experiments: the posteriors' training and the attacks' budgets.
_SMOKE: dict[str, Any] = {
    "dataset": "digits",
    "pool": 1,
    "n_train": 300,
    "n_eval": 20,
    "hidden": [16],
    "epochs": 2,
    "vi_epochs": 2,
    "n_members": 2,
    "hmc_samples": 3,
    "hmc_burn_in": 4,
    "hmc_thin": 1,
    "hmc_leapfrog": 3,
    "hmc_init_epochs": 1,
    "pgd_steps": 3,
    "attack_samples": 2,
    "eval_samples": 4,
}
_FULL: dict[str, Any] = {
    "dataset": "mnist_idx",
    "data_dir": "data/mnist",
    "n_train": 60000,
    "n_eval": 1000,
    "pool": 1,
    "hidden": [512, 512],
    "epochs": 30,
    "vi_epochs": 100,
    "hmc_samples": 100,
    "hmc_burn_in": 500,
    "hmc_thin": 10,
    "hmc_leapfrog": 50,
    "hmc_init_epochs": 30,
    "pgd_steps": 100,
    "attack_samples": 20,
    "seeds": 3,
}


class LabelParams(_Common):
    epsilons: list[float] = Field([0.0, 0.05, 0.1, 0.2, 0.3], description="L-inf radii (pixels in [0,1])")
    square_queries: int = Field(300, ge=1, description="queries of the gradient-free Square attack")
    audit: bool = Field(True, description="also run the flawed evaluation (audit mode)")


def label_cells(p: LabelParams) -> list[dict]:
    return [
        {
            "method": m,
            "spec": p.train_spec(),
            "n_eval": p.n_eval,
            "epsilons": list(p.epsilons),
            "pgd_steps": p.pgd_steps,
            "attack_samples": p.attack_samples,
            "eval_samples": p.eval_samples,
            "square_queries": p.square_queries,
            "audit": p.audit,
        }
        for m in _check_methods(p.methods)
    ]


def label_run(cell: dict, ctx: CellContext) -> dict:
    spec, dev = cell["spec"], ctx.device
    xtr, ytr, xte, yte = _data(spec, cell["n_eval"], None, dev)
    k = int(max(ytr.max(), yte.max())) + 1
    model = train_posterior(cell["method"], spec, xtr, ytr, k, ctx.seed, dev)
    source = model if cell["method"] == "map" else train_posterior("map", spec, xtr, ytr, k, ctx.seed + 1, dev)
    x, y = xte[: cell["n_eval"]], yte[: cell["n_eval"]]
    gen = ctx.torch_generator(dev)
    rows = []
    for eps in cell["epsilons"]:
        model.reseed(ctx.seed)
        if eps == 0:
            acc = float((predict(model, x, cell["eval_samples"]) == y).float().mean())
            row = {"eps": 0.0, "pgd": acc, "fgsm": acc, "square": acc, "transfer": acc, "worst_case": acc}
            if cell["audit"]:
                row.update(
                    {f"audit_{n}": acc for n in ("correct", "double_softmax", "one_sample", "big_step", "all_flaws")}
                )
            rows.append(row)
            continue
        rep = evaluate_robustness(
            model,
            x,
            y,
            eps=eps,
            steps=cell["pgd_steps"],
            n_samples=cell["attack_samples"],
            eval_samples=cell["eval_samples"],
            map_model=source,
            square_queries=cell["square_queries"],
            generator=gen,
        )
        row = {
            "eps": float(eps),
            "pgd": rep.pgd_accuracy,
            "fgsm": rep.fgsm_accuracy,
            "square": rep.square_accuracy,
            "transfer": rep.transfer_accuracy,
            "worst_case": rep.worst_case_accuracy,
            "warnings": rep.warnings,
        }
        if cell["audit"]:
            single = model.sample_view(0) if hasattr(model, "sample_view") else None
            a = audit(
                model,
                x,
                y,
                eps=eps,
                steps=cell["pgd_steps"],
                n_samples=cell["attack_samples"],
                eval_samples=cell["eval_samples"],
                attack_samples=1,
                big_step=2.0,
                one_sample_model=single,
                generator=gen,
            )
            row.update({f"audit_{n}": v for n, v in a.items()})
        rows.append(row)
    return {
        "num_classes": k,
        "clean_accuracy": rows[0]["pgd"] if rows and rows[0]["eps"] == 0 else None,
        "per_eps": rows,
        **_hygiene(model, x, y, cell["attack_samples"]),
        **{f"info_{k}": v for k, v in model.info_.items()},
    }


def _explode(frame: pd.DataFrame, column: str = "per_eps") -> pd.DataFrame:
    rows = []
    for _, r in frame.iterrows():
        for entry in r[column]:
            rows.append({"method": r["method"], "replicate": r["replicate"], **entry})
    return pd.DataFrame(rows)


def label_analyze(frame: pd.DataFrame, p: LabelParams) -> Analysis:
    long = _explode(frame).drop(columns=["warnings"], errors="ignore")
    cols = [c for c in long.columns if c not in ("method", "replicate", "eps")]
    table = long.groupby(["method", "eps"], as_index=False)[cols].mean(numeric_only=True)
    fig, axes = new_figure(2)
    ax, ax2 = axes.ravel()
    methods = [m for m in METHODS if m in set(table["method"])]
    for m, c in zip(methods, colors(len(methods))):
        t = table[table["method"] == m].sort_values("eps")
        ax.plot(t["eps"], t["pgd"], "o-", color=c, label=f"{LABELS[m]} (PGD+EOT)")
        if "audit_all_flaws" in t:
            ax.plot(t["eps"], t["audit_all_flaws"], "x--", color=c, alpha=0.7, label=f"{LABELS[m]} (flawed eval)")
            t = t[t["eps"] > 0]
            ax2.plot(t["eps"], t["audit_softmax_robustness_flawed_metric"], "x--", color=c, label=LABELS[m])
            ax2.plot(t["eps"], t["audit_softmax_robustness_honest_metric"], "o-", color=c)
    ax.set_xlabel("L-inf eps")
    ax.set_ylabel("robust accuracy")
    ax.set_ylim(-0.02, 1.02)
    ax.legend(ncol=2, loc="upper center", bbox_to_anchor=(0.5, -0.15))
    ax.set_title("Posterior-predictive accuracy under attack")
    ax2.axhline(
        softmax_robustness_floor(int(frame.get("num_classes", pd.Series([10])).iloc[0])),
        color="r",
        ls=":",
        lw=1,
        label="double-softmax floor",
    )
    ax2.set_xlabel("L-inf eps")
    ax2.set_ylabel("Carbone et al.'s 'softmax robustness'")
    ax2.set_ylim(-0.02, 1.02)
    ax2.set_title("same PGD+EOT examples: double softmax (x) vs honest (o)")
    ax2.legend(loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=2)
    hygiene_cols = [c for c in ("zero_grad_fraction", "probability_outputs", "forward_randomness") if c in frame]
    hyg = (
        frame.groupby("method", as_index=False)[hygiene_cols].mean(numeric_only=True)
        if hygiene_cols
        else pd.DataFrame()
    )
    warn = [
        {"method": r["method"], "replicate": r["replicate"], "eps": e["eps"], "warning": w}
        for _, r in frame.iterrows()
        for e in r["per_eps"]
        for w in e.get("warnings", [])
    ]
    warn = pd.DataFrame(warn, columns=["method", "replicate", "eps", "warning"])
    return Analysis(
        figures={"robust_accuracy_vs_eps": fig},
        tables={"robust_accuracy": table, "hygiene": hyg, "warnings": warn},
    )


def _at_eps(table: pd.DataFrame, eps: float) -> pd.DataFrame:
    return table[np.isclose(table["eps"], eps)]


def _check_label_falls(r: Results) -> Verdict:
    t = _at_eps(r.tables["robust_accuracy"], 0.3)
    if t.empty or not set(BNNS) <= set(t["method"]):
        return Verdict.inconclusive("needs eps=0.3 and all of MC dropout, VI, ensemble, HMC in the run")
    parts = ", ".join(f"{LABELS[m]} {v:.1%}" for m, v in zip(t["method"], t["pgd"]))
    if r.params.n_eval < 100:
        return Verdict.inconclusive(f"n_eval={r.params.n_eval} < 100 too few to judge 5%: {parts}")
    return Verdict.check(bool((t["pgd"] <= 0.05).all()), f"PGD+EOT robust accuracy at eps=0.3: {parts}")


def _check_label_flawed(r: Results) -> Verdict:
    t = _at_eps(r.tables["robust_accuracy"], 0.3)
    if t.empty or "audit_all_flaws" not in t or not set(BNNS) & set(t["method"]):
        return Verdict.inconclusive("needs eps=0.3, audit=true and at least one BNN")
    t = t[t["method"].isin(BNNS)]
    gap = t["audit_all_flaws"] - t["pgd"]
    parts = ", ".join(
        f"{LABELS[m]} {f:.1%} vs {c:.1%} (+{g * 100:.0f} pts)"
        for m, f, c, g in zip(t["method"], t["audit_all_flaws"], t["pgd"], gap)
    )
    if r.params.n_eval < 100:
        return Verdict.inconclusive(f"n_eval={r.params.n_eval} too small: {parts}")
    return Verdict.check(bool((gap >= 0.30).all()), f"flawed vs correct at eps=0.3: {parts}")


register(
    Experiment(
        name="attacking-bayes/label",
        paper=ATTACKING_BAYES,
        description=(
            "Paper A, task 1 (label prediction under the posterior predictive): robust accuracy under "
            "L-inf PGD with EOT (log of the averaged predictive, fresh samples every step, scored with "
            "100 samples) against eps for MAP, MC dropout, mean-field VI, a deep ensemble and full-batch "
            "HMC, with hygiene checks (FGSM, Square, transfer from MAP, zero gradients, probability "
            "outputs, randomness) and the audit of Carbone et al.'s flawed evaluation (double softmax, "
            "1-sample attack, step 2 >> eps). quick: 4k MNIST-subset images pooled to 14x14, MLP "
            "196-32-10 (6.6k weights, so HMC runs full-batch on CPU). full: MNIST/FMNIST IDX files "
            "(28x28, MLP 784-512-512-10) or CIFAR-10 (ConvNet), GPU."
        ),
        params=LabelParams,
        presets={
            "smoke": {**_SMOKE, "square_queries": 5, "epsilons": [0.0, 0.3]},
            "quick": {},
            "full": {**_FULL, "square_queries": 5000},
        },
        cells=label_cells,
        run_cell=label_run,
        analyze=label_analyze,
        claims=[
            Claim(
                "all-fall",
                "Every method, HMC included, falls to at most 5% robust accuracy at eps = 0.3 "
                "(L-inf, pixels in [0, 1]; MC dropout, VI, ensemble, HMC)",
                _check_label_falls,
            ),
            Claim(
                "flawed-eval-fakes",
                "The flawed evaluation (double softmax, 1-sample attack scored with 100 "
                "samples, step size >> eps) reports at least 30 points more robust "
                "accuracy than the correct one for every BNN at eps = 0.3",
                _check_label_flawed,
            ),
        ],
        version=2,  # 2: the 1-sample audit attacks use a fixed stored sample (ensemble, HMC)
        uses_device=True,
    )
)


# ------------------------------------------------------------------------------------------------------
# attacking-bayes/detection
class DetectionParams(_Common):
    eps: float = Field(0.3, gt=0, le=1, description="L-inf radius of every attack")
    lam: float = Field(1.0, ge=0, description="lambda of the CE - lambda * U adaptive attack")
    methods: list[str] = Field(list(BNNS), description=f"posteriors, from {METHODS}")


def detection_cells(p: DetectionParams) -> list[dict]:
    return [
        {
            "method": m,
            "spec": p.train_spec(),
            "n_eval": p.n_eval,
            "eps": p.eps,
            "lam": p.lam,
            "pgd_steps": p.pgd_steps,
            "attack_samples": p.attack_samples,
            "eval_samples": p.eval_samples,
        }
        for m in _check_methods(p.methods)
    ]


@torch.no_grad()
def _scores(model: Posterior, x: torch.Tensor, n_samples: int) -> dict[str, torch.Tensor]:
    logits = torch.cat([sample_logits(model, x[i : i + 256], n_samples) for i in range(0, len(x), 256)], dim=1)
    return {
        "pred": logits.log_softmax(-1).exp().mean(0).argmax(1),
        "entropy": uncertainty(logits, "entropy"),
        "mutual_information": uncertainty(logits, "mutual_information"),
    }


def detection_run(cell: dict, ctx: CellContext) -> dict:
    spec, dev, eps = cell["spec"], ctx.device, cell["eps"]
    xtr, ytr, xte, yte = _data(spec, cell["n_eval"], None, dev)
    k = int(max(ytr.max(), yte.max())) + 1
    model = train_posterior(cell["method"], spec, xtr, ytr, k, ctx.seed, dev)
    model.reseed(ctx.seed)
    gen = ctx.torch_generator(dev)
    x, y = xte[: cell["n_eval"]], yte[: cell["n_eval"]]
    s_eval, s_att = cell["eval_samples"], cell["attack_samples"]
    clean = _scores(model, x, s_eval)
    ok = clean["pred"] == y  # detection is judged on inputs the model gets right
    x, y = x[ok], y[ok]
    clean = {k2: v[ok] for k2, v in clean.items()}
    kw = dict(eps=eps, steps=cell["pgd_steps"], n_samples=s_att, generator=gen)
    attacks = {
        "fgsm": fgsm(model, x, y, eps=eps, n_samples=s_att),  # non-adaptive, one step
        "pgd": pgd(model, x, y, **kw),  # non-adaptive
        "targeted": detection_attack(model, x, y, method="targeted", **kw),
    }
    for score in ("entropy", "mutual_information"):
        attacks[f"penalty_{score}"] = detection_attack(
            model, x, y, method="penalty", lam=cell["lam"], score=score, **kw
        )
    rows = []
    for name, x_adv in attacks.items():
        adv = _scores(model, x_adv, s_eval)
        wrong = adv["pred"] != y
        row = {"attack": name, "misclassified": float(wrong.float().mean())}
        for score in ("entropy", "mutual_information"):
            pos = adv[score][wrong] if bool(wrong.any()) else adv[score]
            row[f"auroc_{score}"] = auroc(clean[score], pos)
        rows.append(row)
    return {
        "clean_accuracy": float(ok.float().mean()),
        "n_correct": int(ok.sum()),
        "per_attack": rows,
        **_hygiene(model, x, y, s_att),
        **{f"info_{k2}": v for k2, v in model.info_.items()},
    }


def detection_analyze(frame: pd.DataFrame, p: DetectionParams) -> Analysis:
    rows = [
        {"method": r["method"], "replicate": r["replicate"], **e} for _, r in frame.iterrows() for e in r["per_attack"]
    ]
    long = pd.DataFrame(rows)
    table = long.groupby(["method", "attack"], as_index=False)[
        ["misclassified", "auroc_entropy", "auroc_mutual_information"]
    ].mean()
    attacks = list(dict.fromkeys(long["attack"]))
    methods = [m for m in METHODS if m in set(table["method"])]
    fig, axes = new_figure(2)
    axes = axes.ravel()
    width = 0.8 / max(len(attacks), 1)
    for ax, score in zip(axes, ("entropy", "mutual_information")):
        for j, (a, c) in enumerate(zip(attacks, colors(len(attacks)))):
            vals = [
                float(table[(table["method"] == m) & (table["attack"] == a)][f"auroc_{score}"].mean()) for m in methods
            ]
            ax.bar(np.arange(len(methods)) + j * width, vals, width, color=c, label=a)
        ax.axhline(0.5, color="k", lw=0.8, ls=":")
        ax.axhline(0.6, color="r", lw=0.8, ls="--")
        ax.set_xticks(np.arange(len(methods)) + width * (len(attacks) - 1) / 2)
        ax.set_xticklabels([LABELS[m] for m in methods], rotation=20)
        ax.set_ylabel(f"detection AUROC ({score})")
        ax.set_ylim(0, 1)
    axes[0].legend()
    return Analysis(figures={"detection_auroc": fig}, tables={"detection": table})


def _check_detection(r: Results) -> Verdict:
    t = r.tables["detection"]
    t = t[t["method"].isin(BNNS) & ~t["attack"].isin(NON_ADAPTIVE)]
    if t.empty:
        return Verdict.inconclusive("no BNN with an adaptive attack in the run")
    ok, parts = True, []
    for m in [m for m in BNNS if m in set(t["method"])]:
        tm = t[(t["method"] == m) & (t["misclassified"] >= 0.9)]
        for score in ("entropy", "mutual_information"):
            if tm.empty:
                ok = False
                best_mis = float(t[t["method"] == m]["misclassified"].max())
                parts.append(f"{LABELS[m]}/{score}: no adaptive attack misclassifies 90% (best {best_mis:.0%})")
                continue
            i = tm[f"auroc_{score}"].idxmin()
            v = float(tm.loc[i, f"auroc_{score}"])
            ok &= v <= 0.6
            parts.append(
                f"{LABELS[m]}/{score}: AUROC {v:.2f} ({tm.loc[i, 'attack']}, "
                f"{tm.loc[i, 'misclassified']:.0%} misclassified)"
            )
    if r.params.n_eval < 100:
        return Verdict.inconclusive(f"n_eval={r.params.n_eval} too small: " + "; ".join(parts))
    return Verdict.check(ok, "; ".join(parts))


register(
    Experiment(
        name="attacking-bayes/detection",
        paper=ATTACKING_BAYES,
        description=(
            "Paper A, task 2 (uncertainty-based adversarial-example detection): the detector flags an "
            "input whose predictive entropy or mutual information is high. AUROC of clean (correctly "
            "classified) test inputs against successful adversarial examples, for non-adaptive FGSM and PGD+EOT and "
            "for adaptive attacks that misclassify while keeping uncertainty low (targeted PGD to the "
            "most likely wrong class; CE - lambda * U). L-inf eps=0.3 on MNIST. Presets as in "
            "attacking-bayes/label."
        ),
        params=DetectionParams,
        presets={
            "smoke": _SMOKE,
            "quick": {},
            "full": _FULL,
        },
        cells=detection_cells,
        run_cell=detection_run,
        analyze=detection_analyze,
        claims=[
            Claim(
                "adaptive-evades",
                "The adaptive attack drives detection AUROC (entropy and mutual "
                "information) to at most 0.6 while at least 90% of the attacked inputs "
                "are misclassified, for every BNN",
                _check_detection,
            )
        ],
        version=2,  # 2: adds the FGSM row
        uses_device=True,
    )
)


# ------------------------------------------------------------------------------------------------------
# attacking-bayes/semantic-shift
class ShiftParams(_Common):
    epsilons: list[float] = Field([0.0, 0.05, 0.1, 0.2], description="L-inf radii of the OOD perturbation")
    claim_eps: float = Field(0.1, gt=0, description="eps at which the AUROC claim is judged")
    in_classes: list[int] = Field([0, 1, 2, 3, 4], description="in-distribution classes (the rest is OOD)")
    methods: list[str] = Field(list(BNNS), description=f"posteriors, from {METHODS}")


def shift_cells(p: ShiftParams) -> list[dict]:
    return [
        {
            "method": m,
            "spec": p.train_spec(),
            "n_eval": p.n_eval,
            "epsilons": list(p.epsilons),
            "in_classes": list(p.in_classes),
            "pgd_steps": p.pgd_steps,
            "attack_samples": p.attack_samples,
            "eval_samples": p.eval_samples,
        }
        for m in _check_methods(p.methods)
    ]


def shift_run(cell: dict, ctx: CellContext) -> dict:
    spec, dev = cell["spec"], ctx.device
    d = _splits(spec["dataset"], spec["data_dir"], None)
    inside = tuple(sorted(cell["in_classes"]))
    xtr, ytr, xte, yte = _data(spec, cell["n_eval"], inside, dev)
    remap = torch.full((int(d.num_classes),), -1, dtype=torch.int64, device=dev)
    remap[list(inside)] = torch.arange(len(inside), device=dev)
    ytr, yte = remap[ytr], remap[yte]
    all_y = torch.as_tensor(d.y_test, device=dev)
    x_ood = torch.as_tensor(d.x_test, device=dev)[~torch.isin(all_y, torch.tensor(inside, device=dev))]
    model = train_posterior(cell["method"], spec, xtr, ytr, len(inside), ctx.seed, dev)
    model.reseed(ctx.seed)
    gen = ctx.torch_generator(dev)
    n = cell["n_eval"]
    x_in, y_in, x_ood = xte[:n], yte[:n], x_ood[:n]
    s_eval = cell["eval_samples"]
    ind = _scores(model, x_in, s_eval)
    rows = []
    for eps in cell["epsilons"]:
        row = {"eps": float(eps)}
        for score in ("entropy", "mutual_information"):
            x_adv = (
                x_ood
                if eps == 0
                else semantic_shift_attack(
                    model,
                    x_ood,
                    eps=eps,
                    steps=cell["pgd_steps"],
                    n_samples=cell["attack_samples"],
                    score=score,
                    generator=gen,
                )
            )
            ood = _scores(model, x_adv, s_eval)
            row[f"auroc_{score}"] = auroc(ind[score], ood[score])
            row[f"ood_mean_{score}"] = float(ood[score].mean())
        rows.append(row)
    return {
        "in_accuracy": float((ind["pred"] == y_in).float().mean()),
        "in_mean_entropy": float(ind["entropy"].mean()),
        "in_mean_mutual_information": float(ind["mutual_information"].mean()),
        "per_eps": rows,
        **_hygiene(model, x_in, y_in, cell["attack_samples"]),
        **{f"info_{k2}": v for k2, v in model.info_.items()},
    }


def shift_analyze(frame: pd.DataFrame, p: ShiftParams) -> Analysis:
    long = _explode(frame)
    table = long.groupby(["method", "eps"], as_index=False)[
        [c for c in long.columns if c.startswith(("auroc_", "ood_mean_"))]
    ].mean()
    fig, axes = new_figure(2)
    axes = axes.ravel()
    methods = [m for m in METHODS if m in set(table["method"])]
    for ax, score in zip(axes, ("entropy", "mutual_information")):
        for m, c in zip(methods, colors(len(methods))):
            t = table[table["method"] == m].sort_values("eps")
            ax.plot(t["eps"], t[f"auroc_{score}"], "o-", color=c, label=LABELS[m])
        ax.axhline(0.5, color="k", lw=0.8, ls=":")
        ax.set_xlabel("L-inf eps on OOD inputs")
        ax.set_ylabel(f"OOD AUROC ({score})")
        ax.set_ylim(0, 1)
    axes[0].legend()
    return Analysis(figures={"ood_auroc_vs_eps": fig}, tables={"semantic_shift": table})


def _check_shift(r: Results) -> Verdict:
    t = r.tables["semantic_shift"]
    eps = r.params.claim_eps
    t0, t1 = _at_eps(t, 0.0), _at_eps(t, eps)
    t1 = t1[t1["method"].isin(BNNS)]
    if t1.empty:
        return Verdict.inconclusive(f"no BNN evaluated at claim_eps={eps}")
    ok, parts = True, []
    for _, row in t1.iterrows():
        for score in ("entropy", "mutual_information"):
            before = t0[t0["method"] == row["method"]][f"auroc_{score}"]
            ok &= row[f"auroc_{score}"] <= 0.5
            clean = float(before.mean()) if len(before) else float("nan")
            parts.append(f"{LABELS[row['method']]}/{score}: {clean:.2f} -> {row[f'auroc_{score}']:.2f}")
    if r.params.n_eval < 100:
        return Verdict.inconclusive(f"n_eval={r.params.n_eval} too small: " + "; ".join(parts))
    return Verdict.check(ok, f"OOD AUROC clean -> attacked (eps={eps}): " + "; ".join(parts))


register(
    Experiment(
        name="attacking-bayes/semantic-shift",
        paper=ATTACKING_BAYES,
        description=(
            "Paper A, task 3 (semantic-shift detection): train on digits 0-4, flag digits 5-9 as "
            "out-of-distribution when predictive entropy / mutual information is high. AUROC clean and "
            "after an L-inf attack that pushes the OOD inputs to low uncertainty (the attacked score "
            "itself is minimised, EOT). Presets as in attacking-bayes/label."
        ),
        params=ShiftParams,
        presets={
            "smoke": {**_SMOKE, "epsilons": [0.0, 0.1]},
            "quick": {},
            "full": {**_FULL, "n_train": 30000},
        },
        cells=shift_cells,
        run_cell=shift_run,
        analyze=shift_analyze,
        claims=[
            Claim(
                "ood-auroc-falls",
                "Attacking the out-of-distribution inputs drives the OOD-detection AUROC "
                "(entropy and mutual information) to at most 0.5 for every BNN, "
                "at eps = claim_eps (0.1)",
                _check_shift,
            )
        ],
        uses_device=True,
    )
)
