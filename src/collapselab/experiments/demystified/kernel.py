"""demystified/kernel: RBF kernel ridge on the offline MNIST subset, relabelled over generations (paper
Sec. 6, App. D.2, Fig. 4)."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd
from pydantic import Field

from collapselab import stats
from collapselab.core import CellContext, Claim, Experiment, Params, Results, Verdict, register
from collapselab.core.plotting import new_figure
from collapselab.data import load_mnist_subset
from collapselab.experiments._papers import DEMYSTIFIED
from collapselab.regression import KernelRidge, median_heuristic_gamma

MIN_CHAINS = 3


@lru_cache(maxsize=2)
def _mnist(pool: int, test: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Flattened MNIST subset (float64 in [0, 1]): (x_pool, y_pool one-hot, x_test, y_test one-hot)."""
    s = load_mnist_subset()
    x_tr = s.x_train.reshape(len(s.x_train), -1).astype(np.float64)[:pool]
    x_te = s.x_test.reshape(len(s.x_test), -1).astype(np.float64)[:test]
    eye = np.eye(10)
    return x_tr, eye[s.y_train[:pool]], x_te, eye[s.y_test[:test]]


class KernelParams(Params):
    pool: int = Field(4000, ge=10, description="training pool drawn from (MNIST subset train split)")
    test: int = Field(1000, ge=10, description="test images")
    T0: int = Field(1000, ge=2, description="images per fake-data generation")
    T: int = Field(1000, ge=2, description="downstream images")
    lam: float = Field(1e-3, gt=0, description="kernel ridge penalty (per sample)")
    gamma_scale: float = Field(1.0, gt=0, description="gamma = gamma_scale / median squared distance")
    generations: list[int] = Field([0, 1, 2, 4, 8], description="generations n at which the downstream fits")
    sigma: float = Field(0.5, ge=0, description="downstream label noise (per one-hot output)")
    sigma0: float = Field(0.5, ge=0, description="fake-data label noise (per one-hot output)")


def cells(p: KernelParams) -> list[dict]:
    return [{"pool": p.pool, "test": p.test, "T0": p.T0, "T": p.T, "lam": p.lam, "gamma_scale": p.gamma_scale,
             "generations": sorted(set(p.generations)), "sigma": p.sigma, "sigma0": p.sigma0}]


def run_cell(cell: dict, ctx: CellContext) -> dict:
    """One chain: generation k fits RBF kernel ridge on T0 pool images labelled by generation k-1 (the
    one-hot truth for k = 1) plus N(0, sigma0^2) noise; at each requested n a downstream model fits T
    images labelled by generation n plus N(0, sigma^2); test MSE against the true one-hot labels."""
    rng = ctx.rng()
    x_pool, y_pool, x_test, y_test = _mnist(cell["pool"], cell["test"])
    probe = x_pool[rng.choice(len(x_pool), min(500, len(x_pool)), replace=False)]
    gamma = median_heuristic_gamma(probe, cell["gamma_scale"])

    def labels(model, idx, noise):
        clean = y_pool[idx] if model is None else model.predict(x_pool[idx])
        return clean + noise * rng.standard_normal(clean.shape)

    want = set(cell["generations"])
    model = None  # generation 0: the true labeller
    mse, acc = [], []
    for n in range(max(want) + 1):
        if n > 0:
            idx = rng.choice(len(x_pool), cell["T0"], replace=False)
            model = KernelRidge(gamma, cell["lam"]).fit(x_pool[idx], labels(model, idx, cell["sigma0"]))
        if n in want:
            idx = rng.choice(len(x_pool), cell["T"], replace=False)
            down = KernelRidge(gamma, cell["lam"]).fit(x_pool[idx], labels(model, idx, cell["sigma"]))
            pred = down.predict(x_test)
            mse.append(float(np.mean(np.sum((pred - y_test) ** 2, axis=1))))
            acc.append(float(np.mean(pred.argmax(1) == y_test.argmax(1))))
    return {"n_list": sorted(want), "test_mse": mse, "test_acc": acc}



def summarize(frame: pd.DataFrame, p: KernelParams) -> dict[str, pd.DataFrame]:
    """``chains``: test MSE and accuracy per (replicate chain, n); ``points``: their means and SEs per n."""
    long = frame[["replicate", "n_list", "test_mse", "test_acc"]].explode(["n_list", "test_mse", "test_acc"])
    long = long.rename(columns={"n_list": "n"}).astype({"n": int, "test_mse": float, "test_acc": float})
    g = long.groupby("n")
    agg = g.agg(test_mse=("test_mse", "mean"), mse_sd=("test_mse", "std"), test_acc=("test_acc", "mean"),
                k=("test_mse", "size")).reset_index()
    agg["mse_stderr"] = agg["mse_sd"].fillna(0.0) / np.sqrt(agg["k"])
    return {"points": agg, "chains": long.reset_index(drop=True)}


def plot(tables: dict[str, pd.DataFrame], p: KernelParams) -> dict:
    agg = tables["points"]
    fig, axes = new_figure(2)
    axes = np.ravel(axes)
    axes[0].errorbar(agg["n"], agg["test_mse"], yerr=2 * agg["mse_stderr"], fmt="o-")
    axes[0].set(xlabel="generation n", ylabel="test MSE vs true one-hot", title="RBF kernel ridge, MNIST subset")
    axes[1].plot(agg["n"], agg["test_acc"], "o-")
    axes[1].set(xlabel="generation n", ylabel="test accuracy")
    return {"kernel_error_vs_generations": fig}


def _check_kernel(r: Results) -> Verdict:
    ch = r.tables["chains"]
    ns = sorted(ch["n"].unique())
    if len(ns) < 2:
        return Verdict.inconclusive(f"{len(ns)} generation counts", "needs at least 2 generation counts")
    wide = ch.pivot_table(index="replicate", columns="n", values="test_mse").dropna()
    if len(wide) < MIN_CHAINS:
        return Verdict.inconclusive(f"{len(wide)} chains", f"needs >= {MIN_CHAINS} chains (seeds)")
    first, last = wide[ns[0]].to_numpy(), wide[ns[-1]].to_numpy()
    cmp = stats.paired_difference(last, first)
    return Verdict.of(stats.beats(cmp, resolution=0.05 * float(first.mean())),
                      f"MSE(n={ns[-1]}) - MSE(n={ns[0]}) paired over {len(wide)} chains "
                      f"({first.mean():.4f} -> {last.mean():.4f}): ")


def cell_cost(cell: dict) -> float:
    """Relative single-thread CPU cost of one replicate (one chain), in FLOP-like units: per generation
    1..max(n) a kernel ridge on T0 MNIST images of 784 pixels (T0^2 x 784 for the kernel, T0^3 / 3 for the solve,
    T0^2 x 784 to label with the previous generation); per requested n a downstream fit on T images plus its test
    predictions (T x test x 784); + 1.5e10 per cell (loading the MNIST subset, ~3.5 s; the median heuristic
    on 500 images). Constants: single-thread timings of run_cell at smoke (3.8 s: 2.5e-10 s per unit) and
    quick (T0 = T = 1,000: 5.7 s, 1.3e-10 s per unit)."""
    T0, T, test, pixels = int(cell["T0"]), int(cell["T"]), int(cell["test"]), 784
    gens = max(cell["generations"])
    fit = lambda m: m * m * pixels + m**3 / 3  # noqa: E731
    return float(gens * (fit(T0) + T0 * T0 * pixels) + len(cell["generations"]) * (fit(T) + T * T0 * pixels
                 + T * test * pixels) + 1.5e10)

register(Experiment(
    cell_cost=cell_cost,
    name="demystified/kernel", paper=DEMYSTIFIED,
    description=("Kernel ridge regression (RBF) on the offline 5,000-image MNIST subset, one-hot targets, as "
                 "in App. D.2 (the paper: full MNIST, labels mod 2): each generation refits on fresh images "
                 "labelled by the previous generation plus Gaussian noise, and a downstream model fits "
                 "images labelled by generation n. Test error against the true labels rises with n. Full "
                 "preset: 10 chains, 16 generations."),
    params=KernelParams,
    presets={"smoke": {"pool": 300, "test": 100, "T0": 100, "T": 100, "generations": [0, 1, 2]},
             "quick": {"seeds": 5},
             "full": {"seeds": 10, "T0": 2000, "T": 2000, "generations": [0, 1, 2, 4, 8, 16]}},
    cells=cells, run_cell=run_cell, summarize=summarize, plot=plot, main_figure="kernel_error_vs_generations",
    claims=[Claim("error-rises", "With kernel ridge the test error grows with the number of generations of "
                  "fake labels (collapse carries over from linear to kernel regression)", _check_kernel,
                  source="Sec. 6, App. D.2, Fig. 4; Eq. 1", kind="paper",
                  test="paired one-sided t test over chains (seeds) of MSE(largest n) - MSE(n = 0) > 0, alpha "
                       "0.05; FAIL when not significant with half-width <= 5% of MSE(0); >= 3 chains")],
))
