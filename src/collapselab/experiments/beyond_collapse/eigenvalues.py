"""beyond-collapse/eigenvalues: a transformer generator labels matrices by beam search; retraining on
its unselected, pruned or best-of-k outputs (Feng et al. Sec. 5, after Charton's LAWT)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from pydantic import Field

from collapselab import stats
from collapselab.core import CellContext, Claim, Experiment, Params, Results, Verdict, register
from collapselab.core.plotting import new_figure
from collapselab.experiments._papers import BEYOND_COLLAPSE
from collapselab.experiments.beyond_collapse._common import (
    DECODE_OVERHEAD,
    STEP_OVERHEAD,
    compare_over_seeds,
    decoder_forward_flops,
)
from collapselab.verification import (
    EigenTask,
    FloatCodec,
    RandomPruner,
    breakdown_point,
    eigen_predict,
    new_model,
    random_symmetric_matrices,
    relative_l1_error,
    sorted_eigenvalues,
    synthesize_select_retrain,
    train_prompt_answer,
)

STRATEGIES = ("none", "oracle", "best-of-k", "noisy", "real")  # real: the control, true labels, same budget


class EigenParams(Params):
    dim: int = Field(2, ge=2, le=8, description="matrix size (LAWT: 5; 2 at quick)")
    mantissa: str = Field("digits", pattern="^(base1000|digits)$",
                          description="mantissa as three digit tokens or one base-1000 token (LAWT P1000)")
    tolerance: float = Field(0.05, gt=0, description="correct when the relative L1 error is below this")
    d_model: int = Field(48, ge=8, description="transformer width")
    n_layers: int = Field(2, ge=1, description="transformer depth")
    n_heads: int = Field(4, ge=1, description="attention heads")
    n_real: int = Field(3_000, ge=10, description="real examples the generator is trained on")
    gen_steps: int = Field(1_200, ge=1, description="generator training steps")
    n_pool: int = Field(24_000, ge=10, description="new matrices the generator labels by beam search")
    beam_size: int = Field(4, ge=1, description="beams (candidates) per matrix")
    sizes: list[int] = Field([9_000], description="selected examples each fresh model is retrained on "
                             "(capped at the number kept)")
    retrain_steps: int = Field(1_200, ge=1, description="training steps of each retrained model (the "
                               "generator's own budget, so strategies are compared at equal compute)")
    batch_size: int = Field(32, ge=1)
    lr: float = Field(3e-3, gt=0)
    noisy_phi: float = Field(0.9, ge=0, le=1, description="noisy verifier: keeps a correct label w.p. phi")
    noisy_psi: float = Field(0.3, ge=0, le=1, description="noisy verifier: keeps a wrong label w.p. psi")
    strategies: list[str] = Field(["none", "oracle", "best-of-k", "real"], description="selections: none, "
                                  "oracle, best-of-k, noisy (the imperfect verifier: smoke and full only); real: "
                                  "the control, pool matrices with their true eigenvalues, same steps and sizes")
    n_test: int = Field(1_000, ge=10, description="test matrices (accuracy CIs need >= 1000)")
    band: tuple[float, float] = Field((0.2, 0.7), description="declared accuracy band of the generator: "
                                      "enough correct labels to select from, enough errors to collapse on")
    resolution: float = Field(0.05, gt=0, description="accuracy difference the claims must be able to "
                              "resolve (95% CI half-width) to return FAIL rather than INCONCLUSIVE")
    min_seeds: int = Field(3, ge=2, description="claims need at least this many seeds")


def cells(p: EigenParams) -> list[dict]:
    bad = sorted(set(p.strategies) - set(STRATEGIES))
    if bad:
        raise ValueError(f"unknown strategies {bad}; valid: {STRATEGIES}")
    # one cell per replicate: the generator is trained once and shared by every strategy
    return [p.model_dump(exclude={"seeds", "band", "resolution", "min_seeds"})]


def _train(task: EigenTask, cell: dict, prompts, answers, steps: int, ctx: CellContext, name: str):
    model = new_model(task.vocab_size, task.prompt_len + task.answer_len, d_model=cell["d_model"],
                      n_layers=cell["n_layers"], n_heads=cell["n_heads"],
                      seed=ctx.torch_generator("init", name, device="cpu"), device=ctx.device)
    train_prompt_answer(model, prompts, answers, steps=steps, batch_size=cell["batch_size"], lr=cell["lr"],
                        device=ctx.device, generator=ctx.torch_generator("batches", name, device="cpu"))
    return model


def run_cell(cell: dict, ctx: CellContext) -> dict:
    task = EigenTask(cell["dim"], FloatCodec(cell["mantissa"]), cell["tolerance"])
    rng = ctx.generator("matrices")
    m_real, m_test, m_pool = (random_symmetric_matrices(n, cell["dim"], rng=rng)
                              for n in (cell["n_real"], cell["n_test"], cell["n_pool"]))
    e_test, e_pool = sorted_eigenvalues(m_test), sorted_eigenvalues(m_pool)

    def test_accuracy(model) -> float:
        pred, _ = eigen_predict(task, model, m_test, beam_size=1)
        return float(task.correct(pred[:, 0], e_test).mean())

    gen = _train(task, cell, task.prompts(m_real), task.answers(sorted_eigenvalues(m_real)), cell["gen_steps"],
                 ctx, "generator")
    gen_acc = test_accuracy(gen)
    pred_pool, tok_pool = eigen_predict(task, gen, m_pool, beam_size=cell["beam_size"])  # (n, k, dim)
    err = np.stack([relative_l1_error(pred_pool[:, j], e_pool) for j in range(pred_pool.shape[1])], 1)
    correct = err < cell["tolerance"]  # (n_pool, k)
    pruner = RandomPruner(cell["noisy_phi"], cell["noisy_psi"])
    rows = []
    for size in (cell["sizes"] if "real" in cell["strategies"] else []):  # control: could the budget beat it?
        size = min(int(size), len(m_pool))
        model = _train(task, cell, task.prompts(m_pool[:size]), task.answers(e_pool[:size]), cell["retrain_steps"],
                       ctx, f"real:{size}")
        rows.append({"strategy": "real", "size": size, "accuracy": test_accuracy(model), "n_kept": size,
                     "selected_label_accuracy": 1.0})
    for strategy in (s for s in cell["strategies"] if s != "real"):
        def retrain(mats, toks, strategy=strategy):
            model = _train(task, cell, task.prompts(mats), toks, cell["retrain_steps"], ctx,
                           f"{strategy}:{len(mats)}")
            return test_accuracy(model)

        res = synthesize_select_retrain(
            m_pool, synthesize=None, candidates=tok_pool, retrain=retrain,
            strategy={"noisy": "prune"}.get(strategy, strategy), sizes=cell["sizes"], cap_sizes=True,
            score=lambda m, c: -err,  # best-of-k: the beam closest to the true eigenvalues
            accept=lambda m, c: pruner.accept(None, np.where(correct[:, 0], 1, -1),
                                              y_true=np.ones(len(correct), dtype=np.int64),
                                              rng=ctx.generator("verifier")),
            correct=lambda m, c: correct)
        sel = res.selection
        label_acc = float(correct[sel.index, sel.choice].mean()) if len(sel.index) else float("nan")
        for size, acc in zip(res.sizes, res.models):
            rows.append({"strategy": strategy, "size": int(size), "accuracy": acc, "n_kept": int(len(sel.index)),
                         "selected_label_accuracy": label_acc})
    return {"generator_accuracy": gen_acc, "n_test": int(cell["n_test"]),
            "pool_top1_accuracy": float(correct[:, 0].mean()), "pool_bestofk_accuracy": float(correct.any(1).mean()),
            "p_star_noisy": breakdown_point(cell["noisy_phi"], cell["noisy_psi"]), "runs": rows}


def summarize(frame: pd.DataFrame, p: EigenParams) -> dict[str, pd.DataFrame]:
    """``runs``: one row per (replicate, strategy, size) with the generator's accuracy beside;
    ``curves``: mean +- SE over replicates; ``generator``: per replicate, with its Wilson interval."""
    rows = [{"replicate": int(r["replicate"]), **pt, "generator_accuracy": r["generator_accuracy"],
             "n_test": r["n_test"]} for _, r in frame.iterrows() for pt in r["runs"]]
    runs = pd.DataFrame(rows, columns=["replicate", "strategy", "size", "accuracy", "n_kept",
                                       "selected_label_accuracy", "generator_accuracy", "n_test"])
    curves = stats.grouped_mean_se(runs, ["strategy", "size"], "accuracy") if len(runs) else runs
    gen = frame[["replicate", "generator_accuracy", "n_test", "pool_top1_accuracy", "pool_bestofk_accuracy"]]
    gen = gen.sort_values("replicate").reset_index(drop=True)
    cis = [stats.proportion_ci(round(a * n), int(n)) for a, n in zip(gen["generator_accuracy"], gen["n_test"])]
    gen = gen.assign(ci_low=[c[0] for c in cis], ci_high=[c[1] for c in cis])
    return {"runs": runs, "curves": curves, "generator": gen}


def _requested(size: int, sizes: list[int]) -> int:
    """The declared size a retrained model stands for: its own, or for a selection capped at the number
    kept (``size`` below every declared size it replaced), the smallest declared size >= ``size``."""
    above = [m for m in sorted(sizes) if m >= size]
    return above[0] if above else int(size)


def plot(tables: dict[str, pd.DataFrame], p: EigenParams) -> dict:
    """Test accuracy of the retrained models against the declared (requested) selection size: each seed a
    marker (never joined: seeds are not a curve), per strategy and size the mean over seeds with its 95%
    t interval (seeds - 1 degrees of freedom), means of one strategy joined across sizes; the generator's
    mean accuracy over seeds with its t interval as a band. Strategies are set side by side (a small
    multiplicative offset on the log axis) so their seeds do not overlap."""
    from matplotlib import colormaps
    from matplotlib.ticker import NullLocator

    runs, gen = tables["runs"], tables["generator"]
    fig, ax = new_figure()
    strategies = list(dict.fromkeys(runs["strategy"]))
    x = runs["size"].map(lambda m: _requested(int(m), p.sizes)) if len(runs) else runs["size"]
    palette = colormaps["tab10"].colors  # strategies are categories, not an ordered parameter
    for i, s in enumerate(strategies):
        c = palette[i % len(palette)]
        shift = 1.07 ** (i - (len(strategies) - 1) / 2)
        sub = runs[runs["strategy"] == s].assign(x=x)
        reps = sorted(sub["replicate"].unique())
        spread = {r: 1.012 ** (j - (len(reps) - 1) / 2) for j, r in enumerate(reps)}
        ax.scatter(sub["x"] * shift * sub["replicate"].map(spread), sub["accuracy"], s=16, color=c, alpha=0.6,
                   linewidths=0, zorder=2)
        means = []
        for size, at in sub.groupby("x", sort=True):
            if at["accuracy"].notna().sum() == 0:
                continue
            est = stats.mean_se(at["accuracy"].dropna())
            lo, hi = est.ci()
            err = [[est.mean - lo], [hi - est.mean]] if np.isfinite(lo) else None
            ax.errorbar([size * shift], [est.mean], yerr=err, color=c, marker="D", ms=5, capsize=3, lw=1.2,
                        zorder=3, label=f"{s} (mean, 95% CI)" if not means else None)
            means.append((size * shift, est.mean))
        if len(means) > 1:
            ax.plot(*zip(*means), color=c, lw=1, alpha=0.7, zorder=3)
    if len(gen):
        g = stats.mean_se(gen["generator_accuracy"].dropna())
        ax.axhline(g.mean, color="k", ls="--", lw=1, label="generator (mean over seeds)")
        lo, hi = g.ci()
        if np.isfinite(lo):
            ax.axhspan(lo, hi, color="k", alpha=0.08, lw=0, label="generator 95% CI")
    ticks = sorted(set(int(m) for m in p.sizes))
    ax.set(xscale="log", xlabel="selected synthetic examples (declared size; a capped selection at the size "
           "it replaced)", ylabel=f"accuracy (rel. L1 < {p.tolerance:g})",
           title=f"{p.dim}x{p.dim} eigenvalues: retrained on selected beams (dots: seeds)")
    ax.set_xticks(ticks, [f"{m:,}" for m in ticks])
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xlim(min(ticks) / 1.6, max(ticks) * 1.6)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return {"accuracy_vs_size": fig}


def _gate(r: Results) -> Verdict | None:
    """None when every seed's generator is in the band; else the INCONCLUSIVE verdict the paper
    claims return (they mean nothing without usable generators)."""
    g = r.tables["generator"]
    lo, hi = r.params.band
    if len(g) < r.params.min_seeds:
        return Verdict.inconclusive(f"{len(g)} seed(s)", f"needs >= {r.params.min_seeds} seeds")
    inside = (g["ci_low"] >= lo) & (g["ci_high"] <= hi)
    if not inside.all():
        accs = ", ".join(f"{a:.3f}" for a in g["generator_accuracy"])
        return Verdict.inconclusive(f"generator accuracies {accs} not all inside the band [{lo:g}, {hi:g}]",
                                    "needs a generator in the declared band (claim generator-band)")
    return None


def _check_band(r: Results) -> Verdict:
    g = r.tables["generator"]
    lo, hi = r.params.band
    parts = ", ".join(f"{a:.3f} [{l_:.3f}, {h:.3f}]" for a, l_, h in
                      zip(g["generator_accuracy"], g["ci_low"], g["ci_high"]))
    msg = f"generator accuracy per seed (Wilson 95% CI over {int(g['n_test'].min())} matrices): {parts}"
    if ((g["ci_high"] < lo) | (g["ci_low"] > hi)).any():
        return Verdict.check(False, msg)
    if ((g["ci_low"] >= lo) & (g["ci_high"] <= hi)).all():
        return Verdict.check(True, msg)
    return Verdict.inconclusive(msg, "needs more test matrices (an interval straddles the band's edge)")


def _pair(a: str, b: str, rule: str, equal_pool: bool = False):
    """Check: strategy ``a`` against ``b`` ("generator" for the generator itself) at the largest size
    both reached in every seed (``equal_pool``: each at its largest size from the same pool); ``rule``
    "beats" (one-sided paired test over seeds) or "at_most"."""

    def check(r: Results) -> Verdict:
        gate = _gate(r)
        if gate is not None:
            return gate
        return compare_over_seeds(r.tables["runs"], a, b, rule=rule, resolution=r.params.resolution,
                                  value="accuracy", baseline_column="generator_accuracy", equal_pool=equal_pool)

    return check


def _gated_by_control(r: Results) -> Verdict:
    control = _pair("real", "generator", "beats")(r)
    if control.status != "PASS":
        return Verdict.inconclusive(f"real-data control does not beat the generator ({control.status}: "
                                    f"{control.measured})", "needs a retraining budget under which true labels "
                                    "beat the generator (more retrain_steps or sizes)")
    return _pair("oracle", "generator", "beats")(r)


_TEST_BEATS = ("paired difference of test accuracy (each over n_test >= 1000 matrices) across >= 3 seeds "
               "at the largest size both reach, one-sided t, alpha 0.05: PASS iff the CI low bound > 0; FAIL "
               "iff not and the half-width <= `resolution` (5 points); else INCONCLUSIVE. INCONCLUSIVE "
               "unless every seed's generator is in the band")
CLAIMS = [
    Claim("generator-band", "The generator's accuracy lies in the declared band (20-70%): it gets a good "
          "fraction right and its errors are learnable, the regime the paper's phenomenon needs",
          _check_band, source="derived: docs/beyond-collapse.md#eigenvalues", kind="consistency",
          test="Wilson 95% CI of each seed's accuracy over n_test matrices: PASS iff all inside `band`, "
          "FAIL iff one lies wholly outside, else INCONCLUSIVE"),
    Claim("collapse", "Retrained on the generator's unselected top beams, the model does not beat its "
          "generator (model collapse)", _pair("none", "generator", "at_most"),
          source="Abstract; Sec. 5 (eigenvalues)", kind="paper",
          test="paired difference none - generator across >= 3 seeds, two-sided 95% t interval: PASS iff "
          "its upper bound <= 0 with half-width <= `resolution` (5 points); FAIL iff its lower bound > 0; "
          "else INCONCLUSIVE (never a PASS by default). INCONCLUSIVE unless every seed's generator is in "
          "the band"),
    Claim("oracle", "Oracle pruning (wrong labels removed) prevents collapse: the model retrained on the pruned "
          "data beats the one retrained on the unselected data", _pair("oracle", "none", "beats", equal_pool=True),
          source="Abstract (selection by a verifier prevents model collapse); Sec. 5 (eigenvalues)", kind="paper",
          test=_TEST_BEATS.replace("at the largest size both reach", "from the same pool of n_pool labelled "
                                   "matrices, each at its largest size (the pruned set is all the oracle keeps, "
                                   "possibly fewer than the unselected set's `sizes`: conservative for 'beats')")),
    Claim("oracle-beats-generator", "With oracle pruning the retrained model can surpass its generator",
          _gated_by_control, source="Sec. 5 (eigenvalues; 'can surpass the original generator' as summarised, "
          "under some conditions)", kind="paper",
          test=_TEST_BEATS + "; judged only where the real-data control (the same budget on true labels) "
          "beats the generator (claim real-control PASS), else INCONCLUSIVE"),
    Claim("real-control", "Control: the same retraining budget on the same number of true labels beats the "
          "generator (the budget could surpass it at all)", _pair("real", "generator", "beats"),
          source="derived: docs/beyond-collapse.md#eigenvalues (audit A 2026-12-07)", kind="consistency",
          test=_TEST_BEATS),
    Claim("best-of-k", "Retraining on the best of k beams (selected by the verifier) beats retraining on "
          "the top beam (no selection)", _pair("best-of-k", "none", "beats"),
          source="Abstract (v1: 'picking the best of several guesses'); Sec. 5", kind="paper",
          test=_TEST_BEATS),
]

def _eigen_shape(cell: dict) -> tuple[int, int, int]:
    """(vocab, sequence length, answer length) of the cell's task: 5 tokens per real with digit mantissas (vocab
    22), 3 with base-1000 (vocab 1012); prompt dim (dim + 1) / 2 reals + separator, answer dim reals."""
    tpn, vocab = (5, 22) if cell["mantissa"] == "digits" else (3, 1012)
    answer = cell["dim"] * tpn
    return vocab, cell["dim"] * (cell["dim"] + 1) // 2 * tpn + 1 + answer, answer


def _eigen_work(cell: dict) -> tuple[float, int, float]:
    """(FLOPs, optimiser steps, decoding positions x batches) of one replicate: the generator and one model per
    (strategy, size) trained 3 x forward per example-step; greedy test decoding by each model; beam search over
    the pool by the generator (a cached forward per sequence and beam)."""
    vocab, seq, answer = _eigen_shape(cell)
    fwd = decoder_forward_flops(cell["d_model"], cell["n_layers"], vocab, seq)
    models = len(cell["strategies"]) * len(cell["sizes"])
    steps = cell["gen_steps"] + models * cell["retrain_steps"]
    flops = (3 * fwd * cell["batch_size"] * steps + fwd * cell["n_test"] * (1 + models)
             + fwd * cell["n_pool"] * cell["beam_size"])
    batches = (1 + models) * -(-cell["n_test"] // 512) + -(-cell["n_pool"] * cell["beam_size"] // 512)
    return flops, steps, float(answer * batches)


def cell_flops(cell: dict) -> float:
    """FLOPs of one replicate (:func:`_eigen_work`; forward from :func:`decoder_forward_flops`)."""
    return _eigen_work(cell)[0]


def cell_cost(cell: dict) -> float:
    """Relative single-thread CPU cost of one replicate: FLOPs / 1e6 + STEP_OVERHEAD per optimiser step +
    DECODE_OVERHEAD per decoding position and batch + 1e3 per cell (data, eigenvalues, selection). Constants:
    a single-thread profile of 200 training steps (width 48, batch 32: ~12-28 ms a step) and beam-4 decoding
    of 2,000 matrices; the quick replicate is ~2.2e12 FLOPs against ~75 CPU-s (audit 2026-12-07: 447 CPU-s for
    6 seeds)."""
    flops, steps, positions = _eigen_work(cell)
    return flops / 1e6 + STEP_OVERHEAD * steps + DECODE_OVERHEAD * positions + 1e3

register(Experiment(
    cell_cost=cell_cost, cell_flops=cell_flops,
    name="beyond-collapse/eigenvalues", paper=BEYOND_COLLAPSE,
    description=("Feng et al. Sec. 5 after Charton's LAWT: a decoder-only transformer (collapselab.nn) "
                 "predicts the sorted eigenvalues of random symmetric matrices (entries uniform in "
                 "[-10, 10]); reals are tokens sign / 3-digit mantissa / exponent; correct when the "
                 "relative L1 error is under 5%. A generator trained on limited real data labels new "
                 "matrices by beam search; selection: none (top beam), oracle pruning (top beam kept iff "
                 "correct), best-of-k (the beam closest to the truth), noisy verifier (x-independent "
                 "pruner phi/psi on correctness), and a control retrained on pool matrices with true labels; "
                 "fresh models retrained with the generator's own step "
                 "budget on more selected data than the generator's real data. quick: 2x2, digit "
                 "mantissa, width 48, 3,000 real examples, 1,200 steps of batch 32 (lr 5e-3) for the generator and "
                 "for each retrained model, 24,000 labelled by beam 4, 9,000 selected (3x the real data), generator "
                 "gated by a declared 20-70% band, 6 seeds. full (GPU): 5x5, width 256, 4 layers, "
                 "200k real examples, 1M labelled, beam 8."),
    params=EigenParams,
    presets={"smoke": {"d_model": 16, "n_layers": 1, "n_heads": 2, "n_real": 64, "gen_steps": 4,
                       "n_pool": 48, "beam_size": 2, "sizes": [8, 16], "retrain_steps": 3, "batch_size": 16,
                       "n_test": 16, "seeds": 1, "strategies": list(STRATEGIES)},
             "quick": {"seeds": 6, "lr": 5e-3},
             "full": {"dim": 5, "mantissa": "base1000", "d_model": 256, "n_layers": 4, "n_heads": 8,
                      "n_real": 200_000, "gen_steps": 100_000, "n_pool": 1_000_000, "beam_size": 8,
                      "sizes": [50_000, 200_000, 500_000], "retrain_steps": 100_000, "batch_size": 256,
                      "lr": 3e-4, "n_test": 10_000, "seeds": 3, "resolution": 0.02,
                      "strategies": list(STRATEGIES)}},
    cells=cells, run_cell=run_cell, summarize=summarize, plot=plot, main_figure="accuracy_vs_size",
    claims=CLAIMS, version=7, uses_device=True,  # v6: the real-data control arm (new cell: strategies list)
    # v7: no change but fresh seeds (oracle's v7 had been judged on v6's seeds)
))
