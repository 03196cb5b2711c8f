"""Helpers shared by the beyond-collapse experiments: the Gaussian-mixture parameters and mean, and the one
comparison of two selection strategies across seeds that the eigenvalue and summarisation claims use."""

from __future__ import annotations

import numpy as np
import pandas as pd
from pydantic import Field

from collapselab import stats
from collapselab.core import Params, Verdict


class MixtureParams(Params):
    """The Gaussian mixture x = y mu + z (Sigma = I, mu = ||mu|| e_1) of the synthetic-selection experiments."""

    d: int = Field(20, ge=1, description="dimension of the Gaussian mixture")
    mu_norm: float = Field(1.0, gt=0, description="||mu|| (Sigma = I): Bayes accuracy Phi(||mu||)")


def _mu(d: int, norm: float) -> np.ndarray:
    mu = np.zeros(d)
    mu[0] = norm
    return mu


def _common_size(runs: pd.DataFrame, strategies: list[str]) -> int | None:
    """The largest size that every listed strategy reached in every replicate (None if there is none)."""
    reps = set(runs["replicate"])
    common = None
    for s in strategies:
        sub = runs[runs["strategy"] == s]
        if set(sub["replicate"]) != reps or sub.empty:
            return None
        for _, g in sub.groupby("replicate"):
            common = set(g["size"]) if common is None else common & set(g["size"])
    return max(common) if common else None


def compare_over_seeds(runs: pd.DataFrame, a: str, b: str, *, rule: str, resolution: float,
                       value: str, baseline_column: str | None = None, unit: str = "",
                       min_seeds: int = 2, equal_pool: bool = False) -> Verdict:
    """Strategy ``a`` against strategy ``b`` on ``value`` at the largest size both reached in every
    replicate; or, for ``b == "generator"``, against each replicate's ``baseline_column`` at ``a``'s largest
    size in that replicate (a capped selection, e.g. oracle pruning, may keep a different number per seed).
    Fewer than ``min_seeds`` replicates: INCONCLUSIVE. ``equal_pool=True``: in each replicate, ``a``'s model at
    its largest size against ``b``'s at its largest, both selected from the same generated pool (a capped
    selection, e.g. oracle pruning, is trained on everything it kept: possibly fewer examples than ``b``).

    The paired differences a - b across replicates (seeds) feed a t interval:

    * ``rule="beats"``: one-sided test of ``a - b <= 0`` (:func:`collapselab.stats.beats`);
    * ``rule="at_most"``: "a does not beat b", two-sided 95% interval (:func:`collapselab.stats.at_most`,
      margin 0): PASS only when the upper bound is <= 0 and the half-width <= ``resolution``.
    """
    if rule not in ("beats", "at_most"):
        raise ValueError(f"`rule` must be 'beats' or 'at_most', got {rule!r}")
    def largest(strategy: str) -> pd.DataFrame:
        sub = runs[runs["strategy"] == strategy]
        return sub.sort_values("size").groupby("replicate").tail(1).set_index("replicate").sort_index()

    if b == "generator":  # each seed's largest size of ``a`` (a capped selection may differ by seed)
        last = largest(a)
        if last.empty:
            return Verdict.inconclusive(f"strategy {a!r} not run", f"needs strategy {a!r}")
        va, vb = last[value], last[baseline_column]
        where = f"sizes {'/'.join(str(int(m)) for m in last['size'])}"
    elif equal_pool:
        la, lb = largest(a), largest(b)
        if la.empty or lb.empty or list(la.index) != list(lb.index):
            return Verdict.inconclusive(f"strategies {a!r} and {b!r} not run in the same seeds",
                                        f"needs strategies {a!r} and {b!r} in every seed")
        va, vb = la[value], lb[value]
        where = (f"sizes {'/'.join(str(int(m)) for m in la['size'])} vs "
                 f"{'/'.join(str(int(m)) for m in lb['size'])} (same pool)")
    else:
        size = _common_size(runs, [a, b])
        if size is None:
            return Verdict.inconclusive(f"no size reached by {a} and {b} in every seed",
                                        f"needs strategies {a!r} and {b!r} run with a common size")
        at = runs[runs["size"] == size]
        va = at[at["strategy"] == a].set_index("replicate")[value].sort_index()
        vb = at[at["strategy"] == b].set_index("replicate")[value].sort_index()
        where = f"size {int(size)}"
    if len(va) < max(2, min_seeds):
        return Verdict.inconclusive(f"{len(va)} seed(s)", f"needs >= {max(2, min_seeds)} seeds")
    alternative = "greater" if rule == "beats" else "two-sided"
    cmp = stats.paired_difference(va.to_numpy(), vb.to_numpy(), alternative=alternative)
    means = f"{a} {va.mean():.3f} vs {b} {vb.mean():.3f}{unit} at {where}, {len(va)} seeds; {a} - {b} = "
    if rule == "beats":
        return Verdict.of(stats.beats(cmp, resolution=resolution), prefix=means)
    return Verdict.of(stats.at_most(cmp, resolution=resolution), prefix=means)


def decoder_forward_flops(d_model: int, n_layers: int, vocab: int, seq: int) -> float:
    """Forward FLOPs of one sequence of ``seq`` tokens through a :class:`collapselab.nn.DecoderLM`:
    2 seq (12 L D^2 + D V) for the projections, MLP (4x) and head, plus 4 L seq^2 D for the attention scores
    and values (D = d_model, L = n_layers, V = vocab)."""
    D, L = float(d_model), float(n_layers)
    return 2.0 * seq * (12 * L * D * D + D * vocab) + 4.0 * L * seq * seq * D


STEP_OVERHEAD = 80.0  # cost units (1 unit = 1e6 FLOPs at ~20 GFLOP/s single-thread) per optimiser step
DECODE_OVERHEAD = 20.0  # per decoding position of one batch of <= 512 sequences
