"""Helpers shared by the Tale of Tails experiments."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pandas as pd
from pydantic import Field

from collapselab import stats
from collapselab.core import Claim, Params, Results, Verdict

Z_MAX = 4.0  # |MC - exact| / stderr allowed at every point (P(|z| > 4) = 6e-5 per point under the null)


def _logspace(lo: float, hi: float, n: int) -> list[float]:
    return [float(t) for t in np.unique(np.round(np.logspace(math.log10(lo), math.log10(hi), n)))]


def _long(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Explode the list metrics (ts, errors, stderr) to one row per (curve, T); average replicates.

    MC replicates combine as the mean of means with stderr sqrt(sum se^2) / R; exact curves repeat.
    """
    rows = []
    for _, r in frame.iterrows():
        se = r["stderr"] if isinstance(r.get("stderr"), list) else [0.0] * len(r["ts"])
        for t, e, s in zip(r["ts"], r["errors"], se):
            rows.append({**{k: r[k] for k in keys}, "T": float(t), "error": float(e), "stderr": float(s)})
    long = pd.DataFrame(rows)
    g = long.groupby(keys + ["T"], sort=True, dropna=False)
    out = g.agg(error=("error", "mean"), se2=("stderr", lambda s: float(np.sum(np.square(s)))),
                reps=("error", "size")).reset_index()
    out["stderr"] = np.sqrt(out.pop("se2")) / out["reps"]
    return out


def _z_table(long: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Join MC rows with exact rows at equal keys and T; z = (MC - exact) / stderr."""
    mc = long[long["kind"] == "mc"].drop(columns="kind")
    ex = long[long["kind"] == "mc-exact"].drop(columns=["kind", "stderr", "reps"])
    z = mc.merge(ex, on=keys + ["T"], suffixes=("_mc", "_exact"))
    z["diff"] = z["error_mc"] - z["error_exact"]
    # a point where every trial gave the same error (e.g. all head items seen) has no sampling error
    # to scale by; it is reported, not z-scored
    varied = z["stderr"] > 1e-9 * z["error_mc"].abs()  # rounding leaves ~1e-17 where all trials agree
    z["z"] = np.where(varied, z["diff"] / z["stderr"].where(varied, 1.0), np.nan)
    return z


def _check_z(tables_key: str):
    def check(r: Results) -> Verdict:
        z = r.tables.get(tables_key)
        if z is None or z.empty:
            return Verdict.inconclusive("no Monte Carlo points", "needs cells with Monte Carlo trials")
        scored = z[z["z"].notna()]
        if scored.empty:
            return Verdict.inconclusive("every Monte Carlo point had zero variance",
                                        "needs more Monte Carlo trials per point (--set mc_trials=...)")
        worst = float(np.abs(scored["z"]).max())
        flat = z[z["z"].isna()]
        extra = (f"; {len(flat)} zero-variance points not scored (max |diff| {np.abs(flat['diff']).max():.2g})"
                 if len(flat) else "")
        return Verdict.check(worst <= Z_MAX, f"max |MC - exact| / stderr = {worst:.2f} over {len(scored)} points "
                             f"(allowed {Z_MAX}){extra}")
    return check


def mc_matches_claim(statement: str, source: str) -> Claim:
    """The ``mc-matches`` consistency claim judged by ``_check_z("mc_z")``; ``{z}`` in ``statement`` is Z_MAX."""
    return Claim("mc-matches", statement.format(z=Z_MAX), _check_z("mc_z"), source=source, kind="consistency",
                 test=f"per point z = (MC - exact) / SE; PASS iff max |z| <= {Z_MAX}")


def _mc_cells(p, builder) -> list[dict]:
    return [dict(c, kind=kind) for c in builder(p) for kind in ("mc", "mc-exact")]




class GCDModelParams(Params):
    """The GCD task, transformer and scoring of the GCD experiments (each adds its own training fields)."""
    base: int = Field(60, ge=2, description="base of the digit tokens (60: divisibility by 2, 3, 4, 5 shows in "
                                            "the last digit)")
    max_int: int = Field(3599, ge=2, description="operands a, b uniform on [1, max_int] (3599: two base-60 digits)")
    batch_size: int = Field(256, ge=1, description="batch size")
    lr: float = Field(1e-3, gt=0, description="AdamW learning rate")
    d_model: int = Field(64, ge=4, description="transformer width")
    n_layers: int = Field(2, ge=1, description="transformer layers")
    n_heads: int = Field(4, ge=1, description="attention heads")
    max_value: int = Field(30, ge=1, description="GCD values 1..max_value are scored")
    per_value: int = Field(100, ge=1, description="test pairs per GCD value")
    threshold: float = Field(0.5, ge=0, lt=1, description="a value is known when accuracy on its pairs > threshold")


def gcd_model_kwargs(cell: dict) -> dict:
    """The GCDLearner arguments a GCD cell carries."""
    return {k: cell[k] for k in ("d_model", "n_layers", "n_heads", "lr", "batch_size")}


def memoriser_cell_cost(cell: dict) -> float:
    """CPU seconds of one replicate of a memoriser cell (one thread), a model of the numpy work:

    * closed forms (every kind but ``mc``): ~1e-8 s per (support item x T point x generation), the
      vectorised exp(T log1p(-q)) over the support (clean-and-cut at quick: 12 cells of 1e7 x 45 took
      most of its ~90 CPU-s);
    * ``mc``: per trial max(ts) inputs drawn at ~5e-8 s each (alias sampler; a chain adds T0 per
      generation), a memoriser fit per prefix (~1e-8 s per input) and an error evaluation over the
      support per point (~5e-9 s per item);

    plus 0.05 s per cell. ``generations`` (a list) multiplies the points; a cell without it has one."""
    ts = [float(t) for t in cell["ts"]]
    gens = cell.get("generations") or [0]
    n, points = float(cell["support"]), len(ts) * len(gens)
    if cell.get("kind") != "mc":
        return 0.05 + 1e-8 * n * points
    draws = max(ts) + cell.get("T0", 0) * max(gens)
    return 0.05 + cell["n_trials"] * (5e-8 * draws + 1e-8 * sum(ts) * len(gens) + 5e-9 * n * points)


# one CPU thread runs the GCD transformer's dense arithmetic at about 3e10 FLOP/s (a batch-256 training step
# of the quick model, 1.1 GFLOP, took 36-40 ms; a cached greedy decode of 8,192 pairs, 0.47 s), plus about
# 1 ms of Python per optimiser step or decode batch and ~1 s per cell (model build, test sets, scoring)
GCD_FLOPS_PER_UNIT = 3e10
GCD_STEP_OVERHEAD = 1e-3
GCD_CELL_OVERHEAD = 1.0


def gcd_sequence_flops(cell: dict) -> float:
    """Forward FLOPs of one GCD sequence: P positions x (n_layers (24 d^2 + 4 P d) + 2 d V), with P = 3L + 1
    the positions a training row (3L + 2 tokens less the last) or a cached greedy decode (2L + 2 prompt
    tokens, then L - 1 fed-back digits) computes, d = d_model, V = base + 2 (24 d^2: the four attention
    projections and the 4x MLP, 2 FLOPs per multiply-add; 4 P d: scores and mixing at most)."""
    from collapselab.zipf import GCDTask

    task = GCDTask(cell["base"], cell["max_int"])
    P, d = task.seq_len - 1, cell["d_model"]
    return P * (cell["n_layers"] * (24 * d * d + 4 * P * d) + 2 * d * task.vocab_size)


def gcd_work_flops(cell: dict, train_rows: float, decodes: float) -> float:
    """FLOPs of ``train_rows`` training rows (forward + backward = 3 forwards) and ``decodes`` greedy decodes."""
    return gcd_sequence_flops(cell) * (3.0 * train_rows + decodes)


def gcd_work_cost(cell: dict, train_rows: float, decodes: float, steps: float) -> float:
    """CPU seconds (one thread) of that work: FLOPs / GCD_FLOPS_PER_UNIT + GCD_STEP_OVERHEAD per optimiser
    step + GCD_CELL_OVERHEAD."""
    return (gcd_work_flops(cell, train_rows, decodes) / GCD_FLOPS_PER_UNIT + GCD_STEP_OVERHEAD * steps
            + GCD_CELL_OVERHEAD)


def gcd_cost_functions(work: Callable[[dict], tuple[float, float, float]]) -> tuple[Callable[[dict], float],
                                                                                    Callable[[dict], float]]:
    """A GCD experiment's ``(cell_cost, cell_flops)`` from its ``work(cell)``, the (training rows, greedy
    decodes, optimiser steps) of one replicate: :func:`gcd_work_cost` (one-thread CPU seconds: FLOPs /
    3e10 + 1 ms per step + 1 s) and :func:`gcd_work_flops` (training rows x 3 forwards + decodes x 1
    forward, each of :func:`gcd_sequence_flops`)."""

    def cell_cost(cell: dict) -> float:
        rows, decodes, steps = work(cell)
        return gcd_work_cost(cell, rows, decodes, steps)

    def cell_flops(cell: dict) -> float:
        rows, decodes, _ = work(cell)
        return gcd_work_flops(cell, rows, decodes)

    return cell_cost, cell_flops


def gcd_score(learner, task, values: list[int], test: tuple, uniform: tuple) -> dict:
    """Accuracy per GCD value on the test pairs (NaN for a value without pairs) and on uniform pairs."""
    from collapselab.zipf import accuracy_by_value

    ta, tb, tg = test
    acc = accuracy_by_value(learner.predict(ta, tb), tg)
    ua, ub = uniform
    return {"accuracy": [acc.get(v, float("nan")) for v in values],
            "uniform_accuracy": float(np.mean(learner.predict(ua, ub) == np.gcd(ua, ub)))}


def mc_groups(simulate, *args, n_trials: int, n_groups: int, rng, **kwargs) -> dict:
    """Run a Monte Carlo twin as ``n_groups`` independent groups of ``n_trials // n_groups`` trials.

    Returns the pooled mean and standard error per point (``errors``, ``stderr``) and the group means
    (``group_errors``, one list per group): a statistic fitted per group (a slope) gets an honest standard
    error across groups, which the per-point SEs cannot give (the points of one trial share its draws)."""
    per = max(2, n_trials // n_groups)
    ests = [simulate(*args, n_trials=per, rng=rng, **kwargs) for _ in range(n_groups)]
    means = np.array([np.asarray(e.mean, dtype=float) for e in ests])
    ses = np.array([np.asarray(e.se, dtype=float) for e in ests])
    return {"errors": means.mean(0).tolist(), "stderr": (np.sqrt((ses**2).sum(0)) / n_groups).tolist(),
            "group_errors": means.tolist()}


def group_slopes(ts, group_errors, window: tuple[float, float]) -> stats.MCEstimate | None:
    """Log-log slope of error on T inside ``window``, fitted per Monte Carlo group; mean +- SE across groups
    (None with fewer than 2 points in the window or 2 groups)."""
    ts = np.asarray(ts, dtype=float)
    sel = (ts >= window[0]) & (ts <= window[1])
    g = np.asarray(group_errors, dtype=float)[..., sel]
    if sel.sum() < 2 or g.shape[0] < 2 or np.any(g <= 0):
        return None
    return stats.mean_se([np.polyfit(np.log(ts[sel]), np.log(row), 1)[0] for row in g])


def rel_match(estimate: float, se: float, target: float, margin: float, n: int | None = None) -> stats.Decision:
    """TOST of estimate / target - 1 against +-margin (relative), the SE scaled alike; Student's t with n - 1
    degrees of freedom when the SE comes from n independent groups, else normal."""
    df = n - 1 if n is not None and n > 1 else None
    return stats.matches(stats.from_estimate(estimate / target - 1, se / abs(target), df, n=n or 0), margin=margin)


def check_slopes(table: str, label, target: str, margin: float, head: str, why: str, needs: str):
    """A claim check: TOST of the simulated ``slope`` / ``x[target]`` - 1 against +-``margin`` on every row of
    ``tables[table]`` (SE across ``groups``), labelled by ``label(row)``; inconclusive (why, needs) without rows."""
    def check(r: Results) -> Verdict:
        t = r.tables[table]
        if t.empty:
            return Verdict.inconclusive(why, needs)
        parts = [(label(x), rel_match(x["slope"], x["slope_se"], x[target], margin, int(x["groups"])))
                 for _, x in t.iterrows()]
        return Verdict.all_of(parts, head)
    return check


def check_plateaus(table: str, label, margin: float, head: str, why: str, needs: str):
    """A claim check: TOST of the simulated ``E_mc`` / ``tail_mass`` - 1 against +-``margin`` on the rows of
    ``tables[table]`` that reached their plateau, labelled by ``label(row)``; inconclusive (why, needs) without."""
    def check(r: Results) -> Verdict:
        t = r.tables[table]
        reached = t[t["reached"].astype(bool)] if len(t) else t
        if reached.empty:
            return Verdict.inconclusive(why, needs)
        parts = [(label(x), rel_match(x["E_mc"], x["se"], x["tail_mass"], margin)) for _, x in reached.iterrows()]
        return Verdict.all_of(parts, head)
    return check
