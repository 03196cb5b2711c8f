"""tale-of-tails/gcd: a GCD transformer trained on its predecessor's outputs un-learns GCD values
(Sec. 6 / abstract: "the 'un-learning' of skills"), judged against the noise of retraining on clean data."""

from __future__ import annotations

import numpy as np
import pandas as pd
from pydantic import Field

from collapselab import stats
from collapselab.core import CellContext, Claim, Experiment, Results, Verdict, register
from collapselab.core.plotting import new_figure
from collapselab.experiments._papers import TALE_OF_TAILS
from collapselab.experiments.tale_of_tails._common import (
    GCDModelParams,
    gcd_cost_functions,
    gcd_model_kwargs,
    gcd_score,
)

RESOLUTION = 1.0  # values: a CI half-width this small could have shown one more value lost per seed


class GCDParams(GCDModelParams):
    T0: int = Field(51200, ge=1, description="fresh training pairs per generation, one pass (online)")
    generations: int = Field(2, ge=1, description="own-data generations after generation 0 (clean)")


def cells(p: GCDParams) -> list[dict]:
    return [p.model_dump(exclude={"seeds"})]


def _work(cell: dict) -> tuple[float, float, float]:
    """(training rows, greedy decodes, optimiser steps) of one replicate: generations + 2 models (the chain
    and the control) each train on T0 rows (T0 / batch_size steps); generations models label T0 pairs each;
    every model is scored on max_value x per_value test pairs and 4,000 uniform pairs."""
    models = cell["generations"] + 2
    rows = models * cell["T0"]
    decodes = cell["generations"] * cell["T0"] + models * (cell["max_value"] * cell["per_value"] + 4000)
    return rows, decodes, rows / cell["batch_size"]


cell_cost, cell_flops = gcd_cost_functions(_work)  # one-thread CPU seconds and FLOPs of one replicate


def run_cell(cell: dict, ctx: CellContext) -> dict:
    """Generation 0 on clean pairs; generation g on fresh pairs labelled by generation g - 1 (greedy);
    the control: one more model on fresh clean pairs with fresh seeds (what retraining alone loses)."""
    from collapselab.zipf import GCDLearner, GCDTask, gcd_test_set, sample_pairs, synthesize_pairs

    task = GCDTask(cell["base"], cell["max_int"])
    values = list(range(1, cell["max_value"] + 1))
    ta, tb, tg = gcd_test_set(task, values, cell["per_value"], ctx.generator("test"))
    ua, ub = sample_pairs(task, 4000, ctx.generator("uniform-test"))
    kw = gcd_model_kwargs(cell)
    rows = []

    def learner(name: str, g: int) -> GCDLearner:
        return GCDLearner(task, **kw, generator=ctx.torch_generator("init", name, g, device="cpu"),
                          device=ctx.device)

    teacher = None
    for g in range(cell["generations"] + 1):
        rng = ctx.generator("data", "chain", g)
        if teacher is None:
            a, b = sample_pairs(task, cell["T0"], rng)
            labels = np.gcd(a, b)
        else:
            a, b, labels, _ = synthesize_pairs(teacher, task, cell["T0"], rng, device=ctx.device)
        m = learner("chain", g)
        m.train(a, b, labels)
        rows.append({"arm": "chain", "generation": g, "label_accuracy": float(np.mean(labels == np.gcd(a, b))),
                     **gcd_score(m, task, values, (ta, tb, tg), (ua, ub))})
        teacher = m.model
    a, b = sample_pairs(task, cell["T0"], ctx.generator("data", "control"))
    m = learner("control", 0)
    m.train(a, b, np.gcd(a, b))
    rows.append({"arm": "control", "generation": cell["generations"], "label_accuracy": 1.0,
                 **gcd_score(m, task, values, (ta, tb, tg), (ua, ub))})
    return {"values": values, "models": rows}


def summarize(frame: pd.DataFrame, p: GCDParams) -> dict[str, pd.DataFrame]:
    """``models``: one row per (replicate, model) with its known values; ``lost``: per replicate, the values
    generation 0 knew and the last generation / the clean control do not."""
    models, lost = [], []
    for _, r in frame.iterrows():
        known = {}
        for m in r["models"]:
            k = [v for v, a in zip(r["values"], m["accuracy"]) if a > p.threshold]
            known[(m["arm"], m["generation"])] = set(k)
            models.append({"replicate": r["replicate"], "arm": m["arm"], "generation": m["generation"],
                           "n_known": len(k), "known": " ".join(map(str, k)),
                           "uniform_accuracy": m["uniform_accuracy"], "label_accuracy": m["label_accuracy"],
                           "accuracy": m["accuracy"]})
        first, last = known[("chain", 0)], known[("chain", p.generations)]
        ctrl = known[("control", p.generations)]
        lost.append({"replicate": r["replicate"], "n_known_gen0": len(first), "lost_chain": len(first - last),
                     "lost_control": len(first - ctrl), "lost_values_chain": " ".join(map(str, sorted(first - last))),
                     "lost_values_control": " ".join(map(str, sorted(first - ctrl))),
                     "gained_chain": len(last - first), "gained_control": len(ctrl - first)})
    return {"models": pd.DataFrame(models), "lost": pd.DataFrame(lost)}


def plot(tables: dict[str, pd.DataFrame], p: GCDParams) -> dict:
    models = tables["models"]
    fig, axes = new_figure(ncols=2)
    ax, ax2 = np.ravel(axes)
    for rep, g in models.groupby("replicate"):
        c = g[g["arm"] == "chain"].sort_values("generation")
        line = ax.plot(c["generation"], c["n_known"], "o-", alpha=0.7, label=f"seed {rep}")[0]
        ctrl = g[g["arm"] == "control"]
        ax.plot(ctrl["generation"], ctrl["n_known"], "s", mfc="none", color=line.get_color())
    ax.set(xlabel="generation (squares: clean retrain control)", ylabel=f"GCD values in 1..{p.max_value} known",
           title="own-data generations vs clean retraining")
    ax.legend(fontsize=7)
    stages = [("chain", g) for g in range(p.generations + 1)] + [("control", p.generations)]
    acc = np.array([np.mean([a for a in models[(models["arm"] == arm) & (models["generation"] == g)]["accuracy"]],
                            axis=0) for arm, g in stages])
    im = ax2.imshow(acc, aspect="auto", cmap="viridis", vmin=0, vmax=1)
    ax2.set_yticks(range(len(stages)), [f"gen{g}" if arm == "chain" else "control" for arm, g in stages])
    ax2.set(xlabel="GCD value - 1", title="accuracy per GCD value (mean over seeds)")
    fig.colorbar(im, ax=ax2)
    return {"gcd_generations": fig}


def _check_unlearn(r: Results) -> Verdict:
    t = r.tables["lost"]
    if len(t) < 5:
        return Verdict.inconclusive(f"{len(t)} seeds", "needs >= 5 seeds (the exact sign-flip test over seeds)")
    # counts of lost values, not 0/1 outcomes: the exact sign-flip test (small n, integer data), never McNemar
    cmp = stats.paired_difference(t["lost_chain"], t["lost_control"], alternative="greater", binary=False)
    return Verdict.of(stats.beats(cmp, resolution=RESOLUTION),
                      f"values known by gen0 and lost by gen{r.params.generations} per seed: "
                      f"{t['lost_chain'].tolist()}; lost by a clean retrain: {t['lost_control'].tolist()}; excess ")


register(Experiment(
    name="tale-of-tails/gcd", paper=TALE_OF_TAILS,
    description=("A small decoder-only transformer learns the GCD of integer pairs written in base 60 (Sec. 6; "
                 "GCD labels follow a Zipf law with beta = 2). Generation 0 trains on T0 fresh clean pairs (one "
                 "pass), each later generation on T0 fresh pairs labelled by its predecessor (greedy decoding). "
                 "The noise control: a model retrained on T0 fresh clean pairs with fresh seeds, whose losses "
                 "against generation 0 are what retraining alone loses by chance. Metric: GCD values in 1..30 "
                 "answered right on more than half of their 100 test pairs. Quick: 8 seeds, 51,200 pairs per "
                 "generation (200 steps), where generation 0 is still learning the rarer base-60 divisors. Full "
                 "preset (GPU): operands up to 10^6 in base 1000, 3M pairs per generation, a 4-layer width-256 model."),
    params=GCDParams,
    presets={"smoke": {"T0": 512, "generations": 1, "d_model": 16, "n_layers": 1, "n_heads": 2, "max_value": 6,
                       "per_value": 4, "seeds": 2},
             "quick": {"seeds": 8},
             "full": {"seeds": 10, "base": 1000, "max_int": 999999, "T0": 3_000_000, "generations": 5,
                      "d_model": 256, "n_layers": 4, "n_heads": 8, "max_value": 100, "per_value": 100}},
    cells=cells, run_cell=run_cell, summarize=summarize, plot=plot, main_figure="gcd_generations",
    claims=[Claim("unlearn", "Models trained on their predecessor's outputs un-learn GCD values that generation 0 "
                             "knew: more of them are lost by the last generation than by retraining on clean data",
                  _check_unlearn, source="Abstract; Sec. 6 (GCD transformer)", kind="paper",
                  test="per seed, lost = |known(gen0) - known(gen n)| against the control |known(gen0) - "
                       "known(clean retrain)|; one-sided paired test over seeds, alpha 0.05 (beats); FAIL when the CI "
                       "half-width <= 1 value and no excess; exact sign-flip test over the seeds; judged with >= 5 "
                       "seeds")],
    version=3, uses_device=True, cell_cost=cell_cost, cell_flops=cell_flops,
))
