"""Shared by the attacking-bayes experiments: parameters, data, posterior training, presets, the
clean-accuracy consistency check and small helpers that turn per-example records into tables."""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np
import pandas as pd
import torch
from pydantic import Field

from collapselab import stats
from collapselab.bayes import (
    HMC,
    MAP,
    AttackConfig,
    DeepEnsemble,
    MCDropout,
    MeanFieldVI,
    Posterior,
    forward_randomness,
    outputs_look_like_probabilities,
    zero_gradient_fraction,
)
from collapselab.core import Claim, Params, Results, Verdict

METHODS = ("map", "mcdropout", "vi", "ensemble", "hmc")
BNNS = ("mcdropout", "vi", "ensemble", "hmc")
LABELS = {"map": "MAP", "mcdropout": "MC dropout", "vi": "mean-field VI", "ensemble": "deep ensemble", "hmc": "HMC"}
SANE_CLEAN = 0.80  # a BNN's clean accuracy must be at least this before its robustness is judged (MNIST-like)

_TRAIN_KEYS = ("dataset", "data_dir", "n_train", "arch", "hidden", "width", "pool", "epochs", "lr", "weight_decay",
               "dropout", "vi_epochs", "vi_lr", "prior_std", "n_members", "hmc_samples", "hmc_burn_in", "hmc_thin",
               "hmc_leapfrog", "hmc_init_epochs")


class CommonParams(Params):
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
    hmc_chains: int = Field(1, ge=1, description="independent HMC chains, each from its own initialisation and MAP "
                            "pre-training (R-hat over chains; with 1, over the chain's two halves)")
    pgd_steps: int = Field(40, ge=1, description="PGD steps")
    attack_samples: int = Field(10, ge=1, description="posterior samples per attack step (EOT)")
    eval_samples: int = Field(100, ge=1, description="posterior samples used to score")

    def train_spec(self) -> dict[str, Any]:
        """The training hyper-parameters of a cell; ``hmc_chains`` only when it is not 1, so that the cells
        (and seeds) of single-chain runs keep the keys they were stored under."""
        spec = {k: getattr(self, k) for k in _TRAIN_KEYS}
        return spec if self.hmc_chains == 1 else {**spec, "hmc_chains": self.hmc_chains}

    def attack_cell(self) -> dict[str, Any]:
        """The attack budget as JSON-plain cell entries (see :func:`attack_config`)."""
        return {"pgd_steps": self.pgd_steps, "attack_samples": self.attack_samples, "eval_samples": self.eval_samples}


def attack_config(cell: dict, eps: float) -> AttackConfig:
    """The correct attack of a cell: L-inf PGD with EOT, best iterate, default step 2.5 eps / steps."""
    return AttackConfig(eps=float(eps), steps=cell["pgd_steps"], n_samples=cell["attack_samples"])


# Presets shared by the three experiments: the posteriors' training and the attacks' budgets.
SMOKE: dict[str, Any] = {
    "dataset": "digits", "pool": 1, "n_train": 300, "n_eval": 20, "hidden": [16], "epochs": 2, "vi_epochs": 2,
    "n_members": 2, "hmc_samples": 3, "hmc_burn_in": 4, "hmc_thin": 1, "hmc_leapfrog": 3, "hmc_init_epochs": 1,
    "pgd_steps": 3, "attack_samples": 2, "eval_samples": 4,
}
FULL: dict[str, Any] = {
    "dataset": "mnist_idx", "data_dir": "data/mnist", "n_train": 60000, "n_eval": 1000, "pool": 1,
    "hidden": [512, 512], "epochs": 30, "vi_epochs": 100, "hmc_samples": 100, "hmc_burn_in": 500, "hmc_thin": 10,
    "hmc_leapfrog": 50, "hmc_init_epochs": 30, "hmc_chains": 4, "pgd_steps": 100, "attack_samples": 20, "seeds": 3,
}


@functools.lru_cache(maxsize=4)
def splits(dataset: str, data_dir: str | None, classes: tuple[int, ...] | None):
    from collapselab.data import load

    d = load(dataset, data_dir)
    if classes is None:
        return d
    keep_tr, keep_te = np.isin(d.y_train, classes), np.isin(d.y_test, classes)
    return type(d)(d.x_train[keep_tr], d.y_train[keep_tr], d.x_test[keep_te], d.y_test[keep_te])


def _arch(spec: dict[str, Any], shape: tuple[int, ...], num_classes: int) -> dict[str, Any]:
    c, h, w = shape
    pool = spec["pool"]
    if spec["arch"] == "mlp":
        return {"kind": "mlp", "pool": pool, "in_features": c * (h // pool) * (w // pool),
                "hidden": list(spec["hidden"]), "out_features": num_classes}
    if spec["arch"] == "convnet":
        return {"kind": "convnet", "pool": pool, "in_channels": c, "num_classes": num_classes,
                "image_size": h // pool, "width": spec["width"], "depth": 2, "norm": "instance"}
    return {"kind": "lenet", "pool": pool, "in_channels": c, "num_classes": num_classes, "image_size": h // pool}


def train_posterior(method: str, spec: dict[str, Any], x: torch.Tensor, y: torch.Tensor, num_classes: int,
                    seed: int, device: str = "cpu") -> Posterior:
    """Fit one posterior of kind ``method`` on (x, y) with the hyper-parameters in ``spec``."""
    arch = _arch(spec, tuple(x.shape[1:]), num_classes)
    net_kw = dict(epochs=spec["epochs"], lr=spec["lr"], weight_decay=spec["weight_decay"], device=device)
    if method == "map":
        return MAP(arch, seed=seed).fit(x, y, **net_kw)
    if method == "mcdropout":
        return MCDropout(arch, p=spec["dropout"], seed=seed).fit(x, y, **net_kw)
    if method == "vi":
        return MeanFieldVI(arch, prior_std=spec["prior_std"], seed=seed).fit(
            x, y, epochs=spec["vi_epochs"], lr=spec["vi_lr"], device=device)
    if method == "ensemble":
        return DeepEnsemble(arch, n_members=spec["n_members"], seed=seed).fit(x, y, **net_kw)
    if method == "hmc":
        return HMC(arch, prior_std=spec["prior_std"], seed=seed).fit(
            x, y, n_samples=spec["hmc_samples"], burn_in=spec["hmc_burn_in"], thin=spec["hmc_thin"],
            n_leapfrog=spec["hmc_leapfrog"], init_epochs=spec["hmc_init_epochs"], init_lr=spec["lr"],
            n_chains=spec.get("hmc_chains", 1), device=device)
    raise ValueError(f"`method` must be one of {METHODS}, got {method!r}")


def data(spec: dict[str, Any], classes: tuple[int, ...] | None, device: str):
    d = splits(spec["dataset"], spec["data_dir"], classes)
    xtr, ytr, xte, yte = (torch.as_tensor(a) for a in d)
    n = min(spec["n_train"], len(ytr))
    return xtr[:n].to(device), ytr[:n].to(device), xte.to(device), yte.to(device)


def check_methods(methods: list[str]) -> list[str]:
    bad = [m for m in methods if m not in METHODS]
    if bad:
        raise ValueError(f"`methods` must be drawn from {METHODS}, got {bad}")
    return methods


def diagnostics(model: Posterior, x: torch.Tensor, y: torch.Tensor, n_samples: int) -> dict[str, Any]:
    """What every cell records beside its results: the hygiene checks of the attacked model (zero
    gradients, probability outputs, forward randomness), the posterior's fit ``info_`` (``info_*``; for HMC
    the chains and the split-R-hat of the log posterior) and, for HMC, ``hmc_rhat_predictive``: the largest
    split-R-hat over the inputs ``x`` of p(y | x, theta) across the stored samples (draws nothing at random)."""
    out = {
        "zero_grad_fraction": zero_gradient_fraction(model, x, y, n_samples),
        "probability_outputs": outputs_look_like_probabilities(model, x[:64], 1),
        "forward_randomness": forward_randomness(model, x[:64], 1),
        **{f"info_{key}": v for key, v in model.info_.items()},
    }
    if isinstance(model, HMC):  # non-finite R-hats (too few samples, frozen sequences) are stored as None
        out["hmc_rhat_predictive"] = model.rhat_predictive(x, y)
        for key in ("hmc_rhat_predictive", "info_rhat_log_posterior"):
            if key in out and not math.isfinite(out[key]):
                out[key] = None
    return out


def presets(smoke: dict[str, Any] | None = None, full: dict[str, Any] | None = None,
            quick: dict[str, Any] | None = None) -> dict[str, dict]:
    """The three presets of an attacking-bayes experiment: the shared :data:`SMOKE` and :data:`FULL` with
    the experiment's own values on top; quick is the parameter defaults with ``quick`` on top."""
    return {"smoke": {**SMOKE, **(smoke or {})}, "quick": dict(quick or {}), "full": {**FULL, **(full or {})}}


def plotted_methods(table: pd.DataFrame) -> list[str]:
    """The methods present in ``table``, in the fixed order of :data:`METHODS` (one colour each)."""
    return [m for m in METHODS if m in set(table["method"])]


def at_eps(table: pd.DataFrame, eps: float) -> pd.DataFrame:
    return table[np.isclose(table["eps"].astype(float), eps)]


def clean_table(frame: pd.DataFrame, correct_col: str = "clean_correct") -> pd.DataFrame:
    """Per method: correctly classified clean test inputs k out of n (pooled over replicates)."""
    rows = []
    for m, g in frame.groupby("method", sort=False):
        ok = np.concatenate([np.asarray(v, dtype=bool) for v in g[correct_col]])
        rows.append({"method": m, "k": int(ok.sum()), "n": int(ok.size), "accuracy": float(ok.mean())})
    return pd.DataFrame(rows, columns=["method", "k", "n", "accuracy"])


CLEAN_TEST = (f"per method, Wilson 95% interval of clean accuracy (k correct of n test inputs, pooled over "
              f"seeds): PASS iff every lower bound >= {SANE_CLEAN:.0%}; FAIL iff some upper bound < "
              f"{SANE_CLEAN:.0%}; else INCONCLUSIVE (needs more test inputs)")
CLEAN_STATEMENT = (f"Every network whose robustness is judged learned the task: clean accuracy of the posterior "
                   f"predictive at least {SANE_CLEAN:.0%} (chance is 10%), so a robust-accuracy collapse is "
                   f"evidence about the attack, not about an untrained model")


def check_clean(r: Results) -> Verdict:
    """The consistency claim behind every robustness claim (see :data:`CLEAN_TEST`)."""
    t = r.tables["clean_accuracy"]
    if t.empty:
        return Verdict.inconclusive("no method in the run", "needs at least one method")
    parts, fail, unsure = [], False, False
    for _, row in t.iterrows():
        lo, hi = stats.proportion_ci(int(row["k"]), int(row["n"]))
        fail |= hi < SANE_CLEAN
        unsure |= lo < SANE_CLEAN
        parts.append(f"{LABELS.get(row['method'], row['method'])} {row['k'] / row['n']:.1%} [{lo:.1%}, {hi:.1%}]")
    msg = "clean accuracy (Wilson 95%): " + ", ".join(parts)
    if fail:
        return Verdict.check(False, msg)
    if unsure:
        return Verdict.inconclusive(msg, f"needs more test inputs to bound every accuracy above {SANE_CLEAN:.0%}")
    return Verdict.check(True, msg)


def clean_claim(test_note: str = "") -> Claim:
    """The consistency claim "clean-sane" that every attacking-bayes experiment declares first (its
    robustness claims are :func:`gated` on it); ``test_note`` says which test inputs it counts."""
    return Claim("clean-sane", CLEAN_STATEMENT, check_clean, source="derived: docs/attacking-bayes.md#clean-accuracy",
                 kind="consistency", test=CLEAN_TEST + test_note)


def comparison_row(cmp: stats.Comparison) -> dict[str, float]:
    return {"estimate": cmp.estimate, "se": cmp.se, "low": cmp.low, "high": cmp.high, "pvalue": cmp.pvalue,
            "n": cmp.n, "df": cmp.df, "test": cmp.method}


def comparison_from_row(row, alternative: str = "two-sided") -> stats.Comparison:
    """The :class:`collapselab.stats.Comparison` stored by :func:`comparison_row` in a table row."""
    return stats.Comparison(float(row["estimate"]), float(row["se"]), float(row["low"]), float(row["high"]),
                            float(row["pvalue"]), int(row["n"]), alternative, method=str(row["test"]),
                            df=float(row["df"]))


def gated(check):
    """A robustness check judged only when :func:`check_clean` passes: otherwise INCONCLUSIVE (a collapse
    of a model that never learned the task is no evidence), with the robustness figure still reported."""

    def judged(r: Results) -> Verdict:
        v = check(r)
        clean = check_clean(r)
        if clean.status == "PASS" or v.status == "ERROR":
            return v
        return Verdict.inconclusive(f"{v.status} if judged: {v.measured}; but {clean.measured}",
                                    f"needs every clean accuracy >= {SANE_CLEAN:.0%} (claim clean-sane)")

    judged.__name__ = getattr(check, "__name__", "check")
    return judged


# --- cost model (for --dry-run and the cuda forecast) ------------------------------------------------------
_IMAGE_SHAPE = {"mnist_subset": (1, 28, 28), "digits": (1, 8, 8), "mnist_idx": (1, 28, 28),
                "fashion_idx": (1, 28, 28), "cifar10": (3, 32, 32)}
_TRAIN_SIZE = {"mnist_subset": 4000, "digits": 1437, "mnist_idx": 60000, "fashion_idx": 60000, "cifar10": 50000}
# One thread, 196-32-10 MLP, Adam step on cross-entropy (2-core Xeon, 2026-12-07): 0.93 ms per step at batch
# 128, 5.4 ms at 4,000 (full batch): about 0.8 ms of fixed cost per step and 3e10 FLOP/s on large batches.
STEP_SECONDS = 8e-4  # fixed (Python + autograd) cost of one optimiser / attack step
FLOP_RATE = 3e10  # one thread's FLOP/s on batched MLP matmuls
CELL_OVERHEAD_S = 2.0  # data loading, diagnostics, store write


@functools.lru_cache(maxsize=32)
def _forward_flops(dataset: str, arch: str, hidden: tuple[int, ...], width: int, pool: int, classes: int) -> float:
    """FLOPs of one forward pass of one input through the cell's net, counted by torch's FlopCounterMode on
    the net built from its shapes (multiply-adds x 2; pooling and activations are not counted)."""
    from torch.utils.flop_counter import FlopCounterMode

    from collapselab.bayes._nets import build_net

    shape = _IMAGE_SHAPE[dataset]
    spec = {"arch": arch, "hidden": list(hidden), "width": width, "pool": pool}
    net = build_net(_arch(spec, shape, classes))
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        net(torch.zeros(1, *shape))
    return float(counter.get_total_flops())


def net_flops(cell: dict) -> float:
    """FLOPs of one forward of one input through the cell's net (see :func:`_forward_flops`)."""
    s = cell["spec"]
    classes = len(cell["in_classes"]) if "in_classes" in cell else 10
    return _forward_flops(s["dataset"], s["arch"], tuple(s["hidden"]), s["width"], s["pool"], classes)


def training_passes(cell: dict, with_map_source: bool = False) -> tuple[float, float]:
    """(example forward+backward passes, optimiser steps) of fitting the cell's posterior: MAP / MC dropout
    ``epochs * n``, VI ``vi_epochs * n``, ensemble ``n_members * epochs * n``, HMC ``chains * (init_epochs
    * n + (burn_in + samples * thin) * leapfrog * n)`` (full-batch gradients); plus a MAP transfer source
    when ``with_map_source`` (label, non-MAP methods). n = min(n_train, training-set size) (in-distribution
    classes: half of it for semantic-shift)."""
    s, m = cell["spec"], cell["method"]
    n = min(s["n_train"], _TRAIN_SIZE[s["dataset"]] // (2 if "in_classes" in cell else 1))
    batches = math.ceil(n / 128)
    chains = s.get("hmc_chains", 1)
    passes, steps = {
        "map": (s["epochs"] * n, s["epochs"] * batches),
        "mcdropout": (s["epochs"] * n, s["epochs"] * batches),
        "vi": (s["vi_epochs"] * n, s["vi_epochs"] * batches),
        "ensemble": (s["n_members"] * s["epochs"] * n, s["n_members"] * s["epochs"] * batches),
        "hmc": (chains * (s["hmc_init_epochs"] * n + (s["hmc_burn_in"] + s["hmc_samples"] * s["hmc_thin"])
                          * s["hmc_leapfrog"] * n),
                chains * (s["hmc_init_epochs"] * batches + (s["hmc_burn_in"] + s["hmc_samples"] * s["hmc_thin"])
                          * s["hmc_leapfrog"])),
    }[m]
    if with_map_source and m != "map":
        passes, steps = passes + s["epochs"] * n, steps + s["epochs"] * batches
    return float(passes), float(steps)


def cost_from(flops: float, steps: float) -> float:
    """Estimated one-thread CPU seconds: ``flops / FLOP_RATE + steps * STEP_SECONDS + CELL_OVERHEAD_S``."""
    return flops / FLOP_RATE + steps * STEP_SECONDS + CELL_OVERHEAD_S
