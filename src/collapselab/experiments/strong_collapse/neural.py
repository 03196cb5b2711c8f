"""strong-collapse/neural: MNIST students trained on partly synthetic labels (paper Sec. 4.1, Fig. 7)."""

from __future__ import annotations

import functools
from typing import Literal

import numpy as np
import pandas as pd
import torch
from pydantic import Field

from collapselab import stats
from collapselab.core import CellContext, Claim, Experiment, Params, Results, Verdict, register
from collapselab.core.plotting import colors, new_figure
from collapselab.data import load
from collapselab.experiments._papers import STRONG_COLLAPSE
from collapselab.nn import MLP, fit, init_parameters, predict_logits
from collapselab.regression import random_features_ridge

FLOOR_FRACTION = 0.25  # judge a p2 only where its floor p2^2 c^2 is >= 25% of the clean error at n_max
FLOOR_MARGIN = 0.3  # E_p2 - E_clean - floor within +-30% of the floor (leading order of Cor. 1 Eq. 12)
MIN_SEEDS = 5
GAP_RESOLUTION = 0.02  # squared-error units: a rise of the gap E(p2) - E_clean this small counts as none


@functools.lru_cache(maxsize=2)
def _mnist14(data_dir: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """MNIST 2x2-average-pooled to 14x14 and flattened (N, 196): the offline 5k subset (4000 train / 1000
    test) when ``data_dir`` is empty, else the full IDX files a user has in ``data_dir`` (60k / 10k)."""
    s = load("mnist-idx", data_dir) if data_dir else load("mnist-subset")

    def pool(x: np.ndarray) -> np.ndarray:
        return x.reshape(len(x), 14, 2, 14, 2).mean(axis=(2, 4)).reshape(len(x), 196)  # (N, 196)

    return pool(s.x_train), s.y_train, pool(s.x_test), s.y_test


def _sq_loss(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return ((out - target) ** 2).sum(dim=1).mean()


def _train_mlp(x: np.ndarray, y: np.ndarray, hidden: int, epochs: int, init: torch.Generator,
               batches: torch.Generator, device: str, *, square_loss: bool = False) -> MLP:
    """Two-layer ReLU net by Adam (batch 64, lr 1e-3) for ``epochs`` passes; weights drawn from ``init``,
    batch order from ``batches``; cross-entropy on the labels or the squared loss on one-hot targets."""
    model = init_parameters(MLP(x.shape[1], [hidden], 10), init)
    target = torch.from_numpy(np.eye(10, dtype=np.float32)[y]) if square_loss else torch.from_numpy(y)
    fit(model, torch.from_numpy(x), target, epochs=epochs, batch_size=64, lr=1e-3, device=device,
        generator=batches, loss_fn=_sq_loss if square_loss else None)
    return model


def _epochs(n: int, steps: int, epochs: int) -> int:
    return max(epochs, int(np.ceil(steps * 64 / n)), 1)


@functools.lru_cache(maxsize=4)
def _generator(data_dir: str, gen_samples: int, gen_hidden: int, gen_steps: int,
               gen_seed: int) -> tuple[np.ndarray, float]:
    """Synthetic labeller: a small MLP trained on the first ``gen_samples`` training images (held out
    from the student's pool). Returns its labels for the student's pool and its real test error."""
    xtr, ytr, xte, yte = _mnist14(data_dir)
    g = torch.Generator().manual_seed(gen_seed)
    model = _train_mlp(xtr[:gen_samples], ytr[:gen_samples], gen_hidden, _epochs(gen_samples, gen_steps, 0),
                       g, g, "cpu")
    labels = predict_logits(model, torch.from_numpy(xtr[gen_samples:])).argmax(1).numpy()
    test_err = float((predict_logits(model, torch.from_numpy(xte)).argmax(1).numpy() != yte).mean())
    return labels, test_err


def run_cell(cell: dict, ctx: CellContext) -> dict:
    """One student on n images, a fraction p2 labelled by the generator; squared loss on one-hot targets.

    Metric: the test squared error ||f(x) - onehot(y)||^2 against the *real* labels (the regression
    analogue of the theory's E; its floor is p2^2 c^2 with c^2 = E||onehot(gen) - onehot(y)||^2 =
    2 x the generator's error rate), and the test classification error.
    """
    xtr, ytr, xte, yte = _mnist14(cell["data_dir"])
    gen_labels, gen_err = _generator(cell["data_dir"], cell["gen_samples"], cell["gen_hidden"], cell["gen_steps"],
                                     cell["gen_seed"])
    x_pool, y_pool = xtr[cell["gen_samples"]:], ytr[cell["gen_samples"]:]
    n, p2 = cell["n"], cell["p2"]
    if n > len(x_pool):
        raise ValueError(f"n = {n} exceeds the student pool of {len(x_pool)} images")
    idx = ctx.generator("data").choice(len(x_pool), n, replace=False)
    n2 = int(round(p2 * n))
    y = y_pool[idx].copy()
    y[:n2] = gen_labels[idx[:n2]]  # idx is a random order: the first n2 are a random subset
    x = x_pool[idx]
    if cell["model"] == "mlp":
        model = _train_mlp(x, y, cell["hidden"], _epochs(n, cell["steps"], cell["epochs"]),
                           ctx.torch_generator("init", device="cpu"), ctx.torch_generator("batches", device="cpu"),
                           ctx.device, square_loss=True)
        out = predict_logits(model, torch.from_numpy(xte), device=ctx.device).cpu().numpy().astype(np.float64)
    else:  # random ReLU features of width m, ridge on one-hot targets (closed form)
        out = random_features_ridge(x, np.eye(10)[y], xte, cell["rf_width"], cell["rf_lam"],
                                    rng=ctx.generator("features"))
    sq = np.sum((out - np.eye(10)[yte]) ** 2, axis=1)  # (N_test,)
    return {"test_mse": float(sq.mean()), "test_mse_se": float(sq.std(ddof=1) / np.sqrt(sq.size)),
            "test_error": float((out.argmax(1) != yte).mean()),
            "synthetic_label_error": float((y[:n2] != y_pool[idx[:n2]]).mean()) if n2 else 0.0,
            "generator_pool_error": float((gen_labels != y_pool).mean()), "generator_test_error": gen_err}


class NeuralParams(Params):
    ns: list[int] = Field([232, 464, 925, 1850, 3700], description="student training-set sizes n")
    p2s: list[float] = Field([0.0, 0.1, 0.3, 0.5], description="synthetic fractions p2")
    models: list[Literal["mlp", "rf"]] = Field(["mlp", "rf"], description="students: two-layer net and/or rf")
    hidden: int = Field(256, ge=1, description="hidden width of the two-layer student")
    steps: int = Field(500, ge=1, description="minimum Adam steps (batch 64) of the two-layer student")
    epochs: int = Field(40, ge=0, description="minimum passes over the data of the two-layer student")
    rf_width: int = Field(1000, ge=1, description="random-features width m")
    rf_lam: float = Field(1e-3, gt=0, description="ridge lam of the random-features student")
    gen_samples: int = Field(300, ge=10, description="real images the generator is trained on (held out)")
    gen_hidden: int = Field(16, ge=1, description="hidden width of the generator (limited quality)")
    gen_steps: int = Field(300, ge=1, description="Adam steps of the generator")
    gen_seed: int = Field(0, ge=0, description="seed of the generator's training")
    data_dir: str = Field("", description="folder with the MNIST IDX files (empty: the offline 5k subset)")


def cells(p: NeuralParams) -> list[dict]:
    gen = {"gen_samples": p.gen_samples, "gen_hidden": p.gen_hidden, "gen_steps": p.gen_steps,
           "gen_seed": p.gen_seed, "data_dir": p.data_dir}
    out = []
    for mdl in p.models:
        extra = ({"hidden": p.hidden, "steps": p.steps, "epochs": p.epochs} if mdl == "mlp"
                 else {"rf_width": p.rf_width, "rf_lam": p.rf_lam})
        out += [{"model": mdl, "n": int(n), "p2": float(p2), **extra, **gen} for p2 in p.p2s for n in p.ns]
    return out


def summarize(frame: pd.DataFrame, p: NeuralParams) -> dict[str, pd.DataFrame]:
    """``summary``: per (model, p2, n) the replicate mean of the test squared error, its SE (replicate
    spread, floored by the test-set sampling error), the classification error and c^2 = 2 x the
    generator's error on the test set (where E is measured); ``replicate_slopes``: per (model, p2,
    replicate) the log-log slope over the last doubling of n; ``replicate_gaps``: per (model, p2 > 0,
    replicate) the gap E(p2) - E(0) at the smallest and the largest n (replicate r of each cell; the cells
    are independent)."""
    g = frame.groupby(["model", "p2", "n"])
    s = g.agg(mean=("test_mse", "mean"), sd=("test_mse", "std"), k=("test_mse", "size"),
              test_se2=("test_mse_se", lambda v: float(np.mean(np.asarray(v) ** 2))),
              test_error=("test_error", "mean"), c2=("generator_test_error", "first"),
              generator_test_error=("generator_test_error", "first")).reset_index()
    s["c2"] = 2.0 * s["c2"]  # ||onehot(gen) - onehot(y)||^2 = 2 where the generator is wrong (on the test set)
    s["stderr"] = np.maximum(s["sd"].fillna(0), np.sqrt(s["test_se2"])) / np.sqrt(s["k"])
    s = s.drop(columns=["sd", "test_se2"])
    rows = []
    ns = sorted(frame["n"].unique())
    if len(ns) >= 2:
        a, b = ns[-2], ns[-1]
        for (mdl, p2, rep), r in frame[frame["n"].isin([a, b])].groupby(["model", "p2", "replicate"]):
            e = r.set_index("n")["test_mse"]
            if {a, b} <= set(e.index):
                rows.append({"model": mdl, "p2": p2, "replicate": rep, "n_from": a, "n_to": b,
                             "slope": float(np.log(e[b] / e[a]) / np.log(b / a))})
    return {"summary": s, "replicate_slopes": pd.DataFrame(rows, columns=["model", "p2", "replicate", "n_from",
                                                                          "n_to", "slope"]),
            "replicate_gaps": _replicate_gaps(frame)}


def _replicate_gaps(frame: pd.DataFrame) -> pd.DataFrame:
    cols = ["model", "p2", "replicate", "n_first", "n_last", "gap_first", "gap_last"]
    ns = sorted(frame["n"].unique())
    if len(ns) < 2:
        return pd.DataFrame(columns=cols)
    e = frame[frame["n"].isin([ns[0], ns[-1]])].set_index(["model", "p2", "replicate", "n"])["test_mse"]
    rows = []
    for (mdl, p2, rep), _ in e.groupby(level=["model", "p2", "replicate"]):
        keys = [(mdl, q, rep, n) for q in (p2, 0.0) for n in (ns[0], ns[-1])]
        if p2 > 0 and all(k in e.index for k in keys):
            rows.append({"model": mdl, "p2": p2, "replicate": rep, "n_first": ns[0], "n_last": ns[-1],
                         "gap_first": e[keys[0]] - e[keys[2]], "gap_last": e[keys[1]] - e[keys[3]]})
    return pd.DataFrame(rows, columns=cols)


def plot(tables: dict[str, pd.DataFrame], p: NeuralParams) -> dict:
    s = tables["summary"]
    models = sorted(s["model"].unique())
    fig, axes = new_figure(len(models))
    axes = np.atleast_1d(np.asarray(axes)).ravel()
    names = {"mlp": f"two-layer net (width {p.hidden})", "rf": f"random features (m = {p.rf_width})"}
    c2 = float(s["c2"].iloc[0])
    for ax, mdl in zip(axes, models):
        sm = s[s["model"] == mdl]
        p2s = sorted(sm["p2"].unique())
        for p2, col in zip(p2s, colors(len(p2s))):
            g = sm[sm["p2"] == p2]
            ax.errorbar(g["n"], g["mean"], yerr=g["stderr"], fmt="o-", ms=4, color=col, capsize=2,
                        label=f"$p_2$={p2:g}")
            if p2 > 0:
                ax.axhline(p2**2 * c2, color=col, ls="--", lw=0.8)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("n (training images)")
        ax.set_ylabel("test squared error vs real one-hot labels")
        ax.set_title(f"MNIST 14x14, {names[mdl]}\ndashed: $p_2^2 c^2$, $c^2$ = {c2:.2f} (2 x generator error)",
                     fontsize=9)
        ax.legend()
    return {"neural_error_vs_n": fig}


def _last_two(s: pd.DataFrame) -> tuple[pd.Series, pd.Series] | None:
    g = s.sort_values("n")
    if len(g) < 2 or g["n"].iloc[-1] / g["n"].iloc[-2] > 2.2:
        return None
    return g.iloc[-2], g.iloc[-1]


def _check_clean(r: Results) -> Verdict:
    s, parts = r.tables["summary"], []
    for mdl in sorted(s["model"].unique()):
        last = _last_two(s[(s["model"] == mdl) & (s["p2"] == 0.0)])
        if last is None:
            return Verdict.inconclusive("no p2 = 0 curve with two n a doubling apart",
                                        "needs p2 = 0 and the last two n at most 2.2x apart")
        a, b = last
        cmp = stats.pooled_comparison(a["mean"] - b["mean"], float(np.hypot(a["stderr"], b["stderr"])),
                                      r.params.seeds)
        parts.append((f"{mdl} n={int(a['n'])}->{int(b['n'])}", stats.beats(cmp, resolution=0.05 * a["mean"])))
    return Verdict.all_of(parts, "drop of the clean test squared error over the last doubling: ")


def _judged(r: Results) -> tuple[list[tuple[str, float, pd.Series, pd.Series]], list[str]]:
    """The (student, p2) pairs whose floor p2^2 c^2 is >= FLOOR_FRACTION of E_clean(n_max): (model, p2,
    row at n_max, clean row at n_max); and the skipped ones, described."""
    s, judged, skipped = r.tables["summary"], [], []
    for mdl in sorted(s["model"].unique()):
        sm = s[s["model"] == mdl]
        top = sm[sm["n"] == sm["n"].max()].set_index("p2")
        if 0.0 not in top.index:
            continue
        clean = top.loc[0.0]
        for p2, x in top[top.index > 0].iterrows():
            floor = p2**2 * x["c2"]
            if floor < FLOOR_FRACTION * clean["mean"]:
                skipped.append(f"{mdl} p2={p2:g} (floor {floor:.3g} < {FLOOR_FRACTION} x {clean['mean']:.3g})")
            else:
                judged.append((mdl, float(p2), x, clean))
    return judged, skipped


def _none_judged(note: str) -> Verdict:
    return Verdict.inconclusive("no p2 whose floor p2^2 c^2 is >= 25% of the clean error at the largest n" + note,
                                "needs full MNIST (--set data_dir=<IDX folder>, n up to 30000) so that the clean "
                                "error falls well below the floors")


def _check_flattens(r: Results) -> Verdict:
    sl, gaps, parts = r.tables["replicate_slopes"], r.tables["replicate_gaps"], []
    judged, skipped = _judged(r)
    for mdl, p2, _, _ in judged:
        a = sl.loc[(sl["model"] == mdl) & (sl["p2"] == p2), "slope"].to_numpy()
        b = sl.loc[(sl["model"] == mdl) & (sl["p2"] == 0.0), "slope"].to_numpy()
        g = gaps[(gaps["model"] == mdl) & (gaps["p2"] == p2)]
        label = f"{mdl} p2={p2:g}"
        if min(a.size, b.size, len(g)) < MIN_SEEDS:
            parts.append((label, stats.Decision("INCONCLUSIVE", f"{min(a.size, b.size, len(g))} seeds",
                                                f"needs >= {MIN_SEEDS} seeds")))
            continue
        parts.append((f"{label} slope - clean slope", stats.beats(stats.difference(a, b), resolution=0.1)))
        n0, n1 = int(g["n_first"].iloc[0]), int(g["n_last"].iloc[0])
        parts.append((f"{label} gap E - E_clean at n={n1} minus at n={n0}",
                      stats.beats(stats.paired_difference(g["gap_last"], g["gap_first"]),
                                  resolution=GAP_RESOLUTION)))
    note = f" (not judged, floor too small: {', '.join(skipped)})" if skipped else ""
    if not parts:
        return _none_judged(note)
    v = Verdict.all_of(parts)
    return Verdict(v.status, v.measured + note, v.needs)


def _check_floor_level(r: Results) -> Verdict:
    judged, skipped = _judged(r)
    parts = []
    for mdl, p2, x, clean in judged:
        floor = p2**2 * x["c2"]
        excess = stats.pooled_comparison(x["mean"] - clean["mean"] - floor,
                                         float(np.hypot(x["stderr"], clean["stderr"])), r.params.seeds,
                                         alternative="two-sided")
        parts.append((f"{mdl} p2={p2:g} E - E_clean - p2^2c^2 (floor {floor:.3g})",
                      stats.matches(excess, margin=FLOOR_MARGIN * floor)))
    note = f" (not judged, floor too small: {', '.join(skipped)})" if skipped else ""
    if not parts:
        return _none_judged(note)
    v = Verdict.all_of(parts)
    return Verdict(v.status, v.measured + note, v.needs)


N_TEST = 1_000  # test images of the offline subset (10,000 with the IDX files)


def cell_flops(cell: dict) -> float:
    """Floating-point operations of one replicate (14x14 inputs, 196 features, 10 outputs, N_TEST test images).
    mlp: training 3 x 2 (196 h + 10 h) per example-pass x n x epochs, epochs = max(epochs, ceil(steps 64 / n)),
    plus the test forward 2 (196 h + 10 h) N_TEST. rf: features 2 x 196 m (n + N_TEST), the ridge on one-hot
    targets n m^2 + m^3 / 3 (Gram and Cholesky) and 2 m 10 (n + N_TEST) for the outputs."""
    n = int(cell["n"])
    if cell["model"] == "mlp":
        h = int(cell["hidden"])
        per = 2.0 * (196 * h + 10 * h)
        return 3 * per * n * _epochs(n, int(cell["steps"]), int(cell["epochs"])) + per * N_TEST
    m = int(cell["rf_width"])
    return 2.0 * 196 * m * (n + N_TEST) + n * m * m + m**3 / 3 + 2.0 * m * 10 * (n + N_TEST)


def cell_cost(cell: dict) -> float:
    """Relative single-thread CPU cost of one replicate: cell_flops / 1e3 plus per-step overhead (mlp: 2e4 per
    Adam step of batch 64, i.e. ceil(n / 64) x epochs steps) plus 1e5 per cell (data, prediction). The
    small-model MLP is dominated by per-step overhead on a CPU, the random features by the m x m solve.
    Constants: single-thread timings of run_cell at quick (mlp h = 128, n = 3700: 2.1 s, 4e-8 s per unit; rf
    m = 1000, n = 232 and 3700: 2e-8 and 5e-8 s per unit; the first cell of a process also trains the shared
    generator, not counted)."""
    overhead = 1e5
    if cell["model"] == "mlp":
        n = int(cell["n"])
        overhead += 2e4 * int(np.ceil(n / 64)) * _epochs(n, int(cell["steps"]), int(cell["epochs"]))
    return cell_flops(cell) / 1e3 + overhead

register(Experiment(
    cell_cost=cell_cost, cell_flops=cell_flops,
    name="strong-collapse/neural",
    paper=STRONG_COLLAPSE,
    description=(
        "Neural networks (paper Sec. 4.1, Fig. 7): students trained with the squared loss on one-hot "
        "targets from n MNIST images (offline 5k subset, 2x2-pooled to 14x14), a fraction p2 of them "
        "labelled by a separately trained generator network of limited quality (a width-16 MLP trained on "
        "300 held-out images, ~20% test error). Metric: test squared error against the real one-hot "
        "labels, the regression analogue of the theory's E, whose floor is p2^2 c^2 with c^2 = 2 x the "
        "generator's error rate (dashed); the classification error is stored too. Students: a two-layer "
        "ReLU network (Adam, >= 30 passes) and a random-features variant (ridge on random ReLU features). "
        "The offline pool caps n at 3700: quick shows the slow-down, not the asymptotic plateau. full: "
        "more p2 values, wider students, 10 seeds; with --set data_dir=<folder of the MNIST IDX files> and "
        "larger ns it runs on the paper's 60k images."),
    params=NeuralParams,
    presets={
        "smoke": {"ns": [100, 200], "p2s": [0.0, 0.5], "hidden": 32, "steps": 30, "epochs": 10,
                  "rf_width": 50, "gen_samples": 100, "gen_steps": 30},
        "quick": {"hidden": 128, "epochs": 30, "seeds": 5},
        "full": {"ns": [232, 464, 925, 1850, 3700], "p2s": [0.0, 0.01, 0.05, 0.1, 0.2, 0.3, 0.5],
                 "hidden": 1024, "steps": 4000, "rf_width": 3000, "seeds": 10},
    },
    cells=cells, run_cell=run_cell, summarize=summarize, plot=plot, main_figure="neural_error_vs_n",
    uses_device=True,
    version=3,  # v3: weights from collapselab.nn.init_parameters, named sub-streams (data, init, batches, features)
    claims=[
        Claim("clean-keeps-falling", "Sanity: at p2 = 0 the test squared error keeps falling with n over the "
              "last doubling, for each student", _check_clean, source="Sec. 4.1, Fig. 7 (p2 = 0 curve)",
              kind="consistency",
              test="per student, one-sided z test of E(n_prev) - E(n_max) > 0 with the replicate SEs, alpha 0.05; "
                   "FAIL when not significant with half-width <= 5% of E(n_prev)"),
        Claim("synthetic-flattens", "With synthetic labels the scaling in n slows: where the floor p2^2 c^2 is "
              "sizeable, the slope over the last doubling of n is flatter than the clean one and the gap to the "
              "clean curve, E(n) - E_clean(n), rises with n", _check_flattens,
              source="Sec. 4.1, Fig. 7", kind="paper",
              test="judged for each (student, p2) whose floor p2^2 c^2 (c^2 = 2 x the generator's test error) is "
                   ">= 25% of E_clean(n_max); (a) Welch one-sided test of per-seed slope(p2) - slope(clean) > 0 "
                   "over the last doubling (>= 5 seeds), alpha 0.05, FAIL when not significant with half-width <= "
                   "0.1; (b) one-sided paired test over replicates of gap(n_max) - gap(n_min), gap = E(p2) - "
                   "E_clean, alpha 0.05, resolution 0.02; PASS iff all parts pass; INCONCLUSIVE when no p2 "
                   "qualifies"),
        Claim("floor-level", "Where the floor is sizeable, E(n_max) = E_clean(n_max) + p2^2 c^2 (the linear "
              "theory's asymptote; reached only at the paper's scale, preset full with the 60k images)",
              _check_floor_level, source="derived: Sec. 3.1, Cor. 1 Eq. 12 applied to Fig. 7", kind="consistency",
              test="for the same (student, p2) as synthetic-flattens: TOST of E(n_max) - E_clean(n_max) - p2^2 c^2 "
                   "against +-30% of the floor, alpha 0.05, seeds - 1 degrees of freedom; PASS iff all pass"),
    ],
))
