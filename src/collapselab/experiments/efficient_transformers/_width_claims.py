"""The claims of efficient-transformers/min-width: each reads the tables of :mod:`.min_width` only
(``widths``, ``width_exponents``, ``time_exponents``, ``flops_exponents``) and, except the positive
control itself, is INCONCLUSIVE unless the standard transformer solved the largest size."""

from __future__ import annotations

import math

import pandas as pd

from collapselab import stats
from collapselab.core import Claim, Results, Verdict
from collapselab.experiments.efficient_transformers._common import (
    EFFICIENT,
    GENERAL,
    LOCAL,
    MARGIN,
    TASK_NEEDS,
    estimate,
    paired,
)


def _control(r: Results) -> tuple[bool | None, str]:
    """Did the standard transformer solve the largest size of every task in every replicate?"""
    w = r.tables["widths"]
    std = w[w.attention == "softmax"]
    if std.empty:
        return None, "the standard transformer was not run"
    out, ok = [], True
    for task, g in std.groupby("task"):
        top = g[g["L"] == g["L"].max()]
        solved = int(top["min_width"].notna().sum())
        out.append(f"{task} L={int(top['L'].iloc[0])}: solved in {solved}/{len(top)} replicates")
        ok &= solved == len(top)
    return ok, "; ".join(out)


def _gate(r: Results) -> Verdict | None:
    ok, text = _control(r)
    if ok:
        return None
    return Verdict.inconclusive(f"positive control not met ({text})", "needs the standard transformer to solve "
                                "the largest size within the width grid and step budget (a wider grid, more "
                                "steps: preset full)")


def _check_control(r: Results) -> Verdict:
    ok, text = _control(r)
    if ok is None:
        return Verdict.inconclusive(text, "needs softmax among the attentions")
    return Verdict.check(ok, text)


def _rows(t: pd.DataFrame, task: str, att: str) -> pd.DataFrame:
    return t[(t.task == task) & (t.attention == att)]


def _check_standard_constant(r: Results) -> Verdict:
    if (gate := _gate(r)) is not None:
        return gate
    w = r.tables["widths"]
    std = w[w.attention == "softmax"]
    fixed, threshold = r.params.fixed_width, r.params.threshold
    parts = []
    for task, g in std.groupby("task"):
        parts.append((task, fixed_width_solves(g, fixed, threshold)))
    return Verdict.all_of(parts, empty_needs=TASK_NEEDS)


def fixed_width_solves(g: pd.DataFrame, fixed: int, threshold: float) -> Verdict:
    """One task's part of standard-constant: PASS iff the standard model of width ``fixed`` reaches
    ``threshold`` test exact match at every size in every replicate; FAIL iff one (size, replicate) does
    not; INCONCLUSIVE with fewer than 3 replicates or 2 sizes (nothing to hold constant over)."""
    g = g.dropna(subset=["fixed_width_accuracy"])
    n_rep, n_size = g["replicate"].nunique(), g["L"].nunique()
    if n_rep < 3 or n_size < 2:
        return Verdict.inconclusive(f"{n_rep} replicate(s), {n_size} size(s) at width {fixed}",
                                    "needs >= 3 seeds and >= 2 sizes")
    per_size = g.groupby("L")["fixed_width_accuracy"].agg(["min", "size"])
    text = f"width {fixed}: " + ", ".join(
        f"L={int(L)} min exact match {row['min']:.3f} over {int(row['size'])} replicates"
        for L, row in per_size.iterrows())
    return Verdict.check(bool((g["fixed_width_accuracy"] >= threshold).all()), text + f" (threshold {threshold:g})")


def _standard_flat(t: pd.DataFrame, task: str) -> Verdict:
    """efficient-sqrt's gate: TOST of the standard transformer's minimal-width exponent on ``task`` against
    +-MARGIN (PASS: flat)."""
    cmp = estimate(_rows(t, task, "softmax"))
    return (Verdict.inconclusive("fewer than 3 replicates", "needs >= 3 seeds") if cmp is None
            else Verdict.of(stats.matches(cmp, margin=MARGIN), "exponent "))


def _general_efficient(t: pd.DataFrame) -> list[tuple[str, str]]:
    """(task, attention) for every general DP task (LIS, ED) and efficient attention in the table."""
    return [(task, att) for task in GENERAL if task in set(t.task) for att in EFFICIENT if att in set(t.attention)]


def _beats_bound(cmp: stats.Comparison | None, censored: bool, prefix: str, missing: Verdict) -> Verdict:
    """``stats.beats`` (resolution MARGIN) on an exponent comparison; ``missing`` when there is none. An
    efficient exponent with unsolved sizes is a lower bound: its PASS stands, anything else is INCONCLUSIVE."""
    if cmp is None:
        return missing
    v = Verdict.of(stats.beats(cmp, resolution=MARGIN), prefix)
    if v.status != "PASS" and censored:
        return Verdict.inconclusive(v.measured + " (unsolved sizes: a lower bound)",
                                    "needs a width grid that solves the largest size")
    return v


def _check_efficient_sqrt(r: Results) -> Verdict:
    if (gate := _gate(r)) is not None:
        return gate
    t = r.tables["width_exponents"]
    missing = Verdict.inconclusive("fewer than 3 replicates or unsolved at the smallest size",
                                   "needs >= 3 seeds and a grid that solves the smallest size")
    parts = []
    for task, att in _general_efficient(t):
        flat = _standard_flat(t, task)
        if flat.status != "PASS":  # the same test may pass for the standard model: it would not discriminate
            parts.append((f"{att}/{task}", Verdict.inconclusive(
                f"not judged: the standard transformer's width is not shown flat ({flat.status} {flat.measured})",
                "needs the standard transformer's minimal width flat in L on the task (its exponent's TOST "
                "against +-0.25 passing: a budget and L span where it holds, preset full; at quick the width "
                "grid's resolution alone exceeds the margin)")))
            continue
        rows = _rows(t, task, att)
        cmp = estimate(rows.assign(exponent=rows["exponent"] - MARGIN), alternative="greater")
        parts.append((f"{att}/{task}", _beats_bound(cmp, rows["censored"].any(), f"exponent - {MARGIN:g} ", missing)))
    if not parts:
        return Verdict.inconclusive("no general DP task (lis, ed) with sparse or linear attention",
                                    "needs tasks lis or ed and attentions sparse, linear (preset full)")
    return Verdict.all_of(parts, empty_needs=TASK_NEEDS)


def _check_efficient_vs_standard(r: Results) -> Verdict:
    if (gate := _gate(r)) is not None:
        return gate
    t = r.tables["width_exponents"]
    missing = Verdict.inconclusive("fewer than 3 paired replicates", "needs >= 3 seeds")
    parts = []
    for task, att in _general_efficient(t):
        eff, std = _rows(t, task, att), _rows(t, task, "softmax")
        cmp = paired(eff, std, alternative="greater")
        parts.append((f"{att}-softmax/{task}", _beats_bound(cmp, eff["censored"].any(), "exponent difference ",
                                                            missing)))
    return Verdict.all_of(parts, empty_needs=TASK_NEEDS)


def _check_arithmetic_local(r: Results) -> Verdict:
    t = r.tables["width_exponents"]
    general = [x for x in GENERAL if x in set(t.task)]
    if LOCAL not in set(t.task) or not general:
        return Verdict.inconclusive(f"tasks run: {sorted(set(t.task))}", "needs arithmetic and lis or ed "
                                    "(preset full)")
    if (gate := _gate(r)) is not None:
        return gate
    parts = []
    for att in [a for a in EFFICIENT if a in set(t.attention)]:
        a, g = estimate(_rows(t, LOCAL, att)), estimate(_rows(t, general[0], att))
        if a is None or g is None:
            parts.append((att, Verdict.inconclusive("fewer than 3 replicates", "needs >= 3 seeds")))
            continue
        cmp = stats.from_estimate(g.estimate - a.estimate, math.hypot(g.se, a.se), df=min(a.n, g.n) - 1,
                                  n=a.n + g.n)
        parts.append((att, Verdict.of(stats.beats(cmp, resolution=MARGIN), f"{general[0]} - arithmetic exponent ")))
    return Verdict.all_of(parts, empty_needs=TASK_NEEDS)


def _cost_parts(r: Results, tasks: list[str], decide) -> list[tuple[str, Verdict]]:
    t, f = r.tables["time_exponents"], r.tables["flops_exponents"]
    parts = []
    for task in tasks:
        for att in [a for a in EFFICIENT if a in set(t.attention)]:
            cmp = paired(_rows(t, task, "softmax"), _rows(t, task, att), alternative="two-sided")
            pred = paired(_rows(f, task, "softmax"), _rows(f, task, att), alternative="two-sided")
            if cmp is None:
                v = Verdict.inconclusive("fewer than 3 replicates with every size solved",
                                         "needs >= 3 seeds solving every size")
            else:
                v = decide(cmp)
                v = Verdict(v.status, v.measured + (f"; formula predicts {pred.estimate:.3g}" if pred else ""),
                            v.needs)
            parts.append((f"softmax-{att}/{task}", v))
    return parts


def _check_no_saving(r: Results) -> Verdict:
    if (gate := _gate(r)) is not None:
        return gate
    tasks = [x for x in GENERAL if x in set(r.tables["time_exponents"].task)]
    return Verdict.all_of(_cost_parts(r, tasks, lambda c: Verdict.of(
        stats.at_most(c, margin=MARGIN, resolution=MARGIN), "time-per-token exponent difference ")),
        empty_needs=TASK_NEEDS)


def _check_saving_local(r: Results) -> Verdict:
    if LOCAL not in set(r.tables["time_exponents"].task):
        return Verdict.inconclusive("arithmetic not run", "needs task arithmetic (preset full)")
    if (gate := _gate(r)) is not None:
        return gate
    return Verdict.all_of(_cost_parts(r, [LOCAL], lambda c: Verdict.of(
        stats.beats(stats.from_estimate(c.estimate, c.se, df=c.n - 1, n=c.n), resolution=MARGIN),
        "time-per-token exponent difference ")), empty_needs=TASK_NEEDS)


EXP_TEST = ("per replicate (seed; data and initialisation shared by the attentions), the OLS slope of "
            "log(minimal width) on log(L) over the sizes; mean over >= 3 replicates, SE^2 = seed variance / n + "
            "the width grid's resolution log(r)/sqrt(12 Sxx) squared; t interval (df n-1). ")
GATE = ("INCONCLUSIVE unless the positive control holds (the standard transformer solves the largest size "
        "in every replicate).")


CLAIMS = [
    Claim("positive-control", "The standard transformer solves the largest problem size of every task within "
          "the width grid and step budget (without it no minimal-width claim can be judged)", _check_control,
          source="derived: docs/efficient-transformers.md#positive-control", kind="consistency",
          test="PASS iff every replicate's standard model reaches the threshold test exact match at the largest "
               "size at some width of the grid; else FAIL"),
    Claim("standard-constant", "A standard transformer of one constant width solves the tasks at every size: "
          "a single width, fixed before the run, reaches the threshold test exact match at every CoT length L "
          "in every replicate", _check_standard_constant,
          source="Abstract; Sec. 1 (Table 1); Sec. 5 experiments", kind="paper",
          test="per task, the standard transformer trained at the declared fixed width (quick 32, full 256) at "
               "every size; PASS iff every (size, replicate) reaches the threshold test exact match (0.9); FAIL "
               "iff one does not; INCONCLUSIVE with fewer than 3 replicates or 2 sizes; all tasks must PASS. "
               "(The minimal-width exponent stays a descriptive table and efficient-sqrt's gate.) " + GATE,
          scale="full"),  # quick's L span (1.67x) cannot tell a constant width from sqrt(L) growth at width 32
    Claim("efficient-sqrt", "Sparse and linear transformers need a width growing at least like sqrt(L) on "
          "general DP tasks (LIS, ED) where a standard transformer's width stays constant: exponent >= 1/2, "
          "judged against the midpoint 0.25 between the theories, on the tasks where the standard model's "
          "minimal width is shown flat under the same budget", _check_efficient_sqrt,
          source="Abstract; Sec. 4 (width lower bound Omega(sqrt(L))); Sec. 5", kind="paper",
          test=EXP_TEST + "per general task, judged only where the standard transformer's exponent passes its "
               "TOST against +-0.25 (the minimal-width exponent of the standard model; else INCONCLUSIVE: at a budget "
               "where every attention's width grows, the same test passes for the standard model and does not "
               "discriminate); then one-sided t of exponent > 0.25, alpha 0.05 (beats, resolution 0.25), per "
               "attention; unsolved sizes make the exponent a lower bound (a PASS stands, anything else is "
               "INCONCLUSIVE). " + GATE, scale="full"),
    Claim("efficient-vs-standard", "The efficient transformers' minimal width grows faster with L than the "
          "standard transformer's", _check_efficient_vs_standard, source="Abstract; Sec. 5", kind="paper",
          test="per replicate, exponent(efficient) - exponent(standard), paired by seed; one-sided t > 0, "
               "alpha 0.05 (beats, resolution 0.25), both grids' resolution in the SE. " + GATE, scale="full"),
    Claim("arithmetic-local", "Under locality (arithmetic) the efficient transformers' width grows more "
          "slowly with L than on general DP", _check_arithmetic_local,
          source="Sec. 1 (Table 1, Arithmetic and locality columns); Sec. 5", kind="paper",
          test="exponent(LIS or ED) - exponent(arithmetic) per efficient attention, Welch-type t from the two "
               "estimates, one-sided > 0, alpha 0.05 (beats, resolution 0.25). " + GATE, scale="full"),
    Claim("no-saving-general", "On general DP, at the widths they need, sparse and linear transformers do "
          "not save computation: their time per generated token grows with L at least as fast as the "
          "standard transformer's (no asymptotic saving)", _check_no_saving,
          source="Abstract; Sec. 1 (Table 1, General reasoning column)", kind="paper",
          test="measured wall time per generated token of the trained models (batched cached decoding of "
               "test prompts); per replicate exponent(standard) - exponent(efficient) against L, paired test, "
               "95% CI; PASS iff its upper bound <= 0.25 with half-width <= 0.25 (at_most), FAIL iff its "
               "lower bound > 0.25; the FLOP formula at the measured widths is the prediction. " + GATE, scale="full"),
    Claim("saving-local", "Under locality (arithmetic) the efficient transformers do save computation: their "
          "time per generated token grows more slowly with L than the standard transformer's",
          _check_saving_local, source="Abstract; Sec. 1 (Table 1, locality column)", kind="paper",
          test="as no-saving-general on arithmetic; one-sided t of exponent(standard) - exponent(efficient) "
               "> 0, alpha 0.05 (beats, resolution 0.25). " + GATE, scale="full"),
]
