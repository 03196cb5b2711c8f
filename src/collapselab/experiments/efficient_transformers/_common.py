"""Helpers shared by the Efficient Transformers experiments: the sparse block rule, the data seed shared
by the attentions of a replicate, the width-vs-length exponents and the decision glue of the claims."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from collapselab import stats
from collapselab.core import CellContext
from collapselab.reasoning import generate

ATTENTIONS = ["softmax", "sparse", "linear"]
EFFICIENT = ("sparse", "linear")
GENERAL = ("lis", "ed")  # general DP tasks (no locality)
LOCAL = "arithmetic"  # the task with locality (each step rewrites the previous one)
MARGIN = 0.25  # in exponent units: half the gap between the theories' 0 (standard) and 1/2 (efficient)


def cot_length(task: str, size: int, task_kwargs: dict | None = None) -> int:
    """L: the longest prompt + CoT + answer + <eos> sequence of ``task`` at ``size`` (64 examples)."""
    return max(len(e.prompt) + len(e.target) for e in generate(task, size, 64, seed=0, **(task_kwargs or {})))


def sparse_block(length: int, scale: float = 1.0) -> int:
    """Block size B = max(2, round(scale * sqrt(L))): the Sparse Transformer's choice (Child et al. 2019,
    B ~ sqrt(L), each query then sees O(sqrt(L)) keys), scaled with L as the paper's sparse model is."""
    return max(2, int(round(scale * math.sqrt(length))))


def shared_seed(task: str, size: int, replicate: int, stream_key: tuple[str, ...] = ()) -> int:
    """The seed of replicate ``replicate``'s data and initialisation at (task, size): shared by the three
    attentions and every width, so their comparison is paired. It is
    ``CellContext(seed, replicate).shared_seed("efficient-transformers", task, size, bits=62)``, i.e.
    :meth:`CellContext.hashed_seed` of the key at 62 bits: the width the stored results were drawn
    with (the core default is 63). ``stream_key``: :meth:`CellContext.stream_key` (empty on ``main``), so
    a confirmation stream draws its own data and initialisations."""
    return CellContext.hashed_seed("efficient-transformers", task, size, replicate, *stream_key, bits=62)


def grid_ratio(widths: list[int]) -> float:
    w = sorted(widths)
    return max(b / a for a, b in zip(w, w[1:])) if len(w) > 1 else 2.0


def exponents(widths: pd.DataFrame, value: str, grid: list[int] | None = None) -> pd.DataFrame:
    """Per (task, attention, replicate): the OLS slope of log(value) on log(L) over the sizes.

    For ``min_width`` an unsolved size is censored: its width is only known to exceed the grid, so it
    enters as the next grid step (largest width x the grid ratio) and the slope is flagged ``censored``
    (a lower bound when only sizes above the smallest are unsolved; unknown when the smallest is).
    ``quant_se``: the grid's resolution as a standard error of the slope, log(r) / sqrt(12 Sxx), for a
    true width uniformly placed within a grid step of ratio r (Sxx = sum of squared centred log L).
    """
    ratio = grid_ratio(grid) if grid else 1.0
    rows = []
    for (task, att, rep), g in widths.groupby(["task", "attention", "replicate"]):
        g = g.sort_values("L")
        if g["L"].nunique() < 2:
            continue
        y = g[value].to_numpy(float)
        censored = bool(np.isnan(y).any())
        smallest_unsolved = bool(np.isnan(y[0]))
        if censored and grid:
            y = np.where(np.isnan(y), max(grid) * ratio, y)
        x = np.log(g["L"].to_numpy(float))
        slope = float(np.polyfit(x, np.log(y), 1)[0]) if np.all(y > 0) else math.nan
        sxx = float(((x - x.mean()) ** 2).sum())
        rows.append({"task": task, "attention": att, "replicate": rep, "exponent": slope, "censored": censored,
                     "lower_bound_only": censored and not smallest_unsolved,
                     "quant_se": math.log(ratio) / math.sqrt(12 * sxx) if grid else 0.0})
    cols = ["task", "attention", "replicate", "exponent", "censored", "lower_bound_only", "quant_se"]
    return pd.DataFrame(rows, columns=cols)


def estimate(rows: pd.DataFrame, *, alternative: str = "two-sided", null: float = 0.0,
             level: float = 0.95) -> stats.Comparison | None:
    """Mean exponent over replicates with a t interval; SE^2 = (seed variance)/n + quant_se^2 (the grid's
    resolution does not average out over seeds). None with fewer than 3 replicates."""
    e = rows["exponent"].to_numpy(float)
    if len(e) < 3 or not np.all(np.isfinite(e)):
        return None
    m = stats.mean_se(e)
    se = math.sqrt(m.se**2 + float(rows["quant_se"].max()) ** 2)
    return stats.from_estimate(m.mean, se, df=len(e) - 1, n=len(e), alternative=alternative, null=null,
                               level=level)


def paired(a: pd.DataFrame, b: pd.DataFrame, *, alternative: str = "greater") -> stats.Comparison | None:
    """Exponent of ``a`` minus exponent of ``b``, paired by replicate (same data and initial seed), with
    both grids' resolution added to the SE. None with fewer than 3 common replicates."""
    m = a.merge(b, on="replicate", suffixes=("_a", "_b"))
    if len(m) < 3 or not np.all(np.isfinite(m[["exponent_a", "exponent_b"]].to_numpy(float))):
        return None
    d = stats.mean_se(m["exponent_a"] - m["exponent_b"])
    se = math.sqrt(d.se**2 + float(m["quant_se_a"].max()) ** 2 + float(m["quant_se_b"].max()) ** 2)
    return stats.from_estimate(d.mean, se, df=len(m) - 1, n=len(m), alternative=alternative)


TASK_NEEDS = "needs the tasks and attentions of the claim"  # an empty conjunction: nothing of the grid judged
