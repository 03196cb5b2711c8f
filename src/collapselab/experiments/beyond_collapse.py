"""Paper 2: "Beyond Model Collapse: Scaling Up with Synthesized Data Requires Verification"
(Feng, Dohmatob, Yang, Charton, Kempe; arXiv 2406.07515). Notes: papers/notes_verification_and_dp.md A.

Four experiments, all through the generic synthesize -> select -> retrain pipeline of
:mod:`collapselab.verification`:

* ``phase-transition``: Gaussian mixture, label flips, x-independent pruner (phi, psi): accuracy
  against p, against the sharp transition at p* = phi / (phi + psi) (Sec. 4).
* ``linear-verifier``: x-dependent linear verifiers of graded quality; does the p* measured on
  labelled data predict the outcome (v2's proxy)?
* ``eigenvalues``: a transformer labels random symmetric matrices with beam search; selection none /
  oracle pruning / best-of-k among beams / noisy verifier; fresh models retrained (Sec. 5).
* ``summarization``: sampled candidate summaries, ROUGE-L oracle or a scoring model as verifier,
  retrain, ROUGE (Sec. 6); a tiny model on a built-in corpus, or ``model=PATH`` (Hugging Face).
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
from pydantic import Field
from scipy.stats import spearmanr

from collapselab.core import Analysis, CellContext, Claim, Experiment, Params, Results, Verdict, register
from collapselab.core.plotting import colors, new_figure
from collapselab.experiments._papers import BEYOND_COLLAPSE
from collapselab.verification import (
    LabelFlipGenerator,
    LinearGenerator,
    LinearVerifier,
    RandomPruner,
    bayes_accuracy,
    breakdown_point,
    estimate_breakdown_point,
    kept_label_noise,
    limit_accuracy,
    linear_verifier_limit_accuracy,
    sample_mixture,
    simulate_selection,
)


def _mu(d: int, norm: float) -> np.ndarray:
    mu = np.zeros(d)
    mu[0] = norm
    return mu


# ---------------------------------------------------------------------------------------------------
# phase-transition
# ---------------------------------------------------------------------------------------------------

class PhaseParams(Params):
    d: int = Field(20, ge=1, description="dimension of the Gaussian mixture")
    mu_norm: float = Field(1.0, gt=0, description="||mu|| (Sigma = I): Bayes accuracy Phi(||mu||)")
    phis: list[float] = Field([1.0, 0.9, 0.8, 1.0], description="pruner keep rates of correct labels")
    psis: list[float] = Field([0.0, 0.3, 0.2, 1.0], description="pruner keep rates of wrong labels "
                              "(paired with phis)")
    ps: list[float] = Field([round(0.025 * i, 3) for i in range(1, 40)],
                            description="generator flip probabilities p")
    ns: list[int] = Field([1_000, 10_000, 100_000], description="synthetic sample sizes N")
    method: str = Field("ridge", pattern="^(ridge|logistic)$", description="retrained classifier")
    reg: float = Field(1e-3, ge=0, description="ridge penalty (1/(reg n) is logistic's C)")
    margin: float = Field(0.1, gt=0, lt=0.5, description="claims 'below'/'above' judge grid points at "
                          "least this far from p* (the limit is asymptotic; near p* N must grow)")


def phase_cells(p: PhaseParams) -> list[dict]:
    if len(p.phis) != len(p.psis):
        raise ValueError("`phis` and `psis` must have the same length (they are paired)")
    return [{"d": p.d, "mu_norm": p.mu_norm, "phi": phi, "psi": psi, "p": gen_p, "n": n,
             "method": p.method, "reg": p.reg}
            for phi, psi in zip(p.phis, p.psis) for gen_p in p.ps for n in p.ns]


def phase_run(cell: dict, ctx: CellContext) -> dict:
    mu = _mu(cell["d"], cell["mu_norm"])
    out = simulate_selection(mu, None, generator=LabelFlipGenerator(cell["p"]),
                             verifier=RandomPruner(cell["phi"], cell["psi"]), strategy="prune", n=cell["n"],
                             method=cell["method"], reg=cell["reg"], rng=ctx.rng())
    kept = cell["p"] * cell["psi"] + (1 - cell["p"]) * cell["phi"]
    return {"accuracy": out.accuracy, "n_kept": out.n_kept, "kept_noise": out.kept_noise,
            "kept_noise_theory": kept_label_noise(cell["p"], cell["phi"], cell["psi"]) if kept > 0 else None,
            "theory": limit_accuracy(mu, None, cell["p"], cell["phi"], cell["psi"]),
            "p_star": breakdown_point(cell["phi"], cell["psi"]), "bayes": bayes_accuracy(mu)}


def _verifier_label(phi: float, psi: float) -> str:
    return f"phi={phi:g}, psi={psi:g}"


def phase_analyze(frame: pd.DataFrame, p: PhaseParams) -> Analysis:
    g = (frame.groupby(["phi", "psi", "p", "n"])
         .agg(accuracy=("accuracy", "mean"), stderr=("accuracy", "sem"), theory=("theory", "first"),
              p_star=("p_star", "first"), bayes=("bayes", "first"), kept_noise=("kept_noise", "mean"),
              kept_noise_theory=("kept_noise_theory", "first"), reps=("accuracy", "size"))
         .reset_index())
    pairs = list(dict.fromkeys(zip(g["phi"], g["psi"])))
    fig, axes = new_figure(ncols=len(pairs), width=4.0 * len(pairs), height=3.6)
    axes = np.atleast_1d(axes).ravel()
    ns = sorted(g["n"].unique())
    rows = []
    for ax, (phi, psi) in zip(axes, pairs):
        sub = g[(g["phi"] == phi) & (g["psi"] == psi)]
        for c, n in zip(colors(len(ns)), ns):
            s = sub[sub["n"] == n].sort_values("p")
            ax.errorbar(s["p"], s["accuracy"], yerr=s["stderr"].fillna(0), color=c, marker=".", ms=3,
                        lw=1, label=f"N={n:g}")
        s = sub[sub["n"] == ns[0]].sort_values("p")
        ax.step(s["p"], s["theory"], where="mid", color="k", ls="--", lw=1, label="theory (N=inf)")
        p_star = float(sub["p_star"].iloc[0])
        ax.axvline(p_star, color="r", lw=0.8, ls=":", label="p*")
        ax.set(title=_verifier_label(phi, psi), xlabel="generator error p", ylabel="test accuracy")
        rows.append({"phi": phi, "psi": psi, "p_star": p_star,
                     "crossing": _crossing(sub[sub["n"] == ns[-1]].sort_values("p"))})
    axes[0].legend()
    return Analysis(figures={"accuracy_vs_p": fig},
                    tables={"summary": g, "transition": pd.DataFrame(rows)})


def _crossing(s: pd.DataFrame) -> float:
    """First p where the mean accuracy crosses 1/2 (linear interpolation); NaN if it never does."""
    p, a = s["p"].to_numpy(), s["accuracy"].to_numpy() - 0.5
    for i in range(len(p) - 1):
        if a[i] > 0 >= a[i + 1]:
            return float(p[i] + (p[i + 1] - p[i]) * a[i] / (a[i] - a[i + 1]))
    return float("nan")


def _largest_n(r: Results) -> pd.DataFrame:
    s = r.tables["summary"]
    return s[s["n"] == s["n"].max()]


def _check_side(r: Results, below: bool, tol: float) -> Verdict:
    s = _largest_n(r)
    margin = r.params.margin
    if below:
        sel = s[s["p"] <= s["p_star"] - margin]
        gap = (sel["accuracy"] - sel["bayes"]).abs()
    else:
        sel = s[s["p"] >= s["p_star"] + margin]
        gap = (sel["accuracy"] - (1 - sel["bayes"])).abs()
    if sel.empty:
        return Verdict.inconclusive(f"no grid point {'below' if below else 'above'} p* by {margin}")
    worst = sel.loc[gap.idxmax()]
    return Verdict.check(gap.max() <= tol,
                         f"N={int(s['n'].max())}: max |acc - {'Bayes' if below else '(1 - Bayes)'}| = "
                         f"{gap.max():.4f} over {len(sel)} points (worst at phi={worst['phi']:g}, "
                         f"psi={worst['psi']:g}, p={worst['p']:g}); mean gap {gap.mean():.4f}")


def _check_transition(r: Results) -> Verdict:
    t = r.tables["transition"]
    grid_max = float(r.tables["summary"]["p"].max())
    t = t[t["p_star"] < grid_max]
    if t.empty:
        return Verdict.inconclusive("no verifier with p* inside the p grid")
    if t["crossing"].isna().any():
        return Verdict.check(False, "accuracy never crosses 1/2 for "
                             + ", ".join(_verifier_label(a, b) for a, b in
                                         t.loc[t['crossing'].isna(), ["phi", "psi"]].to_numpy()))
    dev = (t["crossing"] - t["p_star"]).abs()
    parts = ", ".join(f"p*={a:.3f}: {c:.3f}" for a, c in zip(t["p_star"], t["crossing"]))
    return Verdict.check(dev.max() <= 0.03, f"max |crossing - p*| = {dev.max():.4f} ({parts})")


register(Experiment(
    name="beyond-collapse/phase-transition", paper=BEYOND_COLLAPSE,
    description=("Gaussian mixture x = y mu + z (Sigma = I), generator flips labels with probability p, "
                 "an x-independent pruner keeps correct labels w.p. phi and wrong ones w.p. psi, least "
                 "squares retrained on the kept synthetic data (Feng et al. Sec. 4). Accuracy (exact, "
                 "on the mixture) against p for several (phi, psi) and N, with the N -> infinity step "
                 "from Bayes to anti-Bayes at p* = phi/(phi+psi). full: d=100, N up to 1e6, 10 seeds."),
    params=PhaseParams,
    presets={"smoke": {"ps": [0.2, 0.5, 0.8], "ns": [200, 1000], "phis": [0.9], "psis": [0.3]},
             "quick": {"seeds": 3},
             "full": {"seeds": 10, "d": 100, "ns": [1_000, 10_000, 100_000, 1_000_000],
                      "ps": [round(0.01 * i, 3) for i in range(1, 100)]}},
    cells=phase_cells, run_cell=phase_run, analyze=phase_analyze,
    claims=[
        Claim("below", "Below p* (grid points at least `margin` below) the accuracy at the largest N is "
              "within 0.01 of the Bayes accuracy Phi(||mu||)", lambda r: _check_side(r, True, 0.01)),
        Claim("above", "Above p* (grid points at least `margin` above) the accuracy at the largest N is "
              "within 0.02 of 1 - Bayes accuracy", lambda r: _check_side(r, False, 0.02)),
        Claim("transition", "The empirical transition (mean accuracy at the largest N crossing 1/2) lies "
              "within 0.03 of p* = phi/(phi+psi)", _check_transition),
    ],
))


# ---------------------------------------------------------------------------------------------------
# linear-verifier
# ---------------------------------------------------------------------------------------------------

class LinearVerifierParams(Params):
    d: int = Field(20, ge=2, description="dimension of the Gaussian mixture")
    mu_norm: float = Field(1.0, gt=0, description="||mu|| (Sigma = I)")
    flip_ps: list[float] = Field([0.2, 0.4, 0.6, 0.8], description="label-flip generators' p")
    linear_n_reals: list[int] = Field([4, 8], description="realistic generators: a least-squares "
                                      "classifier fitted on this many real samples")
    angles_deg: list[float] = Field([0, 30, 60, 80, 100, 120, 150],
                                    description="angle between the verifier direction w_v and mu "
                                    "(0: Bayes direction; > 90: worse than chance)")
    taus: list[float] = Field([-0.5, 0.0, 0.5], description="verifier thresholds: keep iff y' w_v.x > tau")
    n: int = Field(20_000, ge=10, description="synthetic inputs labelled by the generator")
    n_label: int = Field(4_000, ge=10, description="labelled samples used to measure p and p*")
    reg: float = Field(1e-3, ge=0, description="ridge penalty of the retrained classifier")


def linver_cells(p: LinearVerifierParams) -> list[dict]:
    gens = [f"flip:{q:g}" for q in p.flip_ps] + [f"linear:{m}" for m in p.linear_n_reals]
    return [{"d": p.d, "mu_norm": p.mu_norm, "generator": g, "angle": a, "tau": t, "n": p.n,
             "n_label": p.n_label, "reg": p.reg} for g in gens for a in p.angles_deg for t in p.taus]


def _make_generator(spec: str, mu: np.ndarray, rng):
    kind, _, value = spec.partition(":")
    if kind == "flip":
        return LabelFlipGenerator(float(value))
    if kind == "linear":
        return LinearGenerator.from_real_samples(int(value), mu, rng=rng)
    raise ValueError(f"unknown generator spec {spec!r}")


def linver_run(cell: dict, ctx: CellContext) -> dict:
    rng = ctx.rng()
    mu = _mu(cell["d"], cell["mu_norm"])
    theta = np.deg2rad(cell["angle"])
    w_v = np.zeros(cell["d"])
    w_v[0], w_v[1] = np.cos(theta), np.sin(theta)  # unit vector at angle theta from mu
    verifier = LinearVerifier(w_v, cell["tau"])
    generator = _make_generator(cell["generator"], mu, rng)
    # measured on labelled data: the generator's error p and the verifier's keep rates -> p*
    x_l, y_l = sample_mixture(cell["n_label"], mu, rng=rng)
    y_syn = generator.label(x_l, y_true=y_l, rng=rng)
    est = estimate_breakdown_point(verifier, x_l, y_l, y_syn, rng=rng)
    p_hat = float(np.mean(y_syn != y_l))
    out = simulate_selection(mu, None, generator=generator, verifier=verifier, strategy="prune",
                             n=cell["n"], reg=cell["reg"], rng=rng)
    none = simulate_selection(mu, None, generator=generator, strategy="none", n=cell["n"], reg=cell["reg"],
                              rng=rng)
    theory = (linear_verifier_limit_accuracy(mu, None, generator.p, w_v, cell["tau"])
              if isinstance(generator, LabelFlipGenerator) else None)
    return {"p_hat": p_hat, "p_true": generator.error(mu), "p_star_hat": est.p_star, "phi_hat": est.phi,
            "psi_hat": est.psi, "accuracy": out.accuracy, "accuracy_unselected": none.accuracy,
            "n_kept": out.n_kept, "kept_noise": out.kept_noise, "limit_accuracy": theory,
            "bayes": bayes_accuracy(mu)}


def linver_analyze(frame: pd.DataFrame, p: LinearVerifierParams) -> Analysis:
    f = frame.copy()
    f["predicted_good"] = f["p_hat"] < f["p_star_hat"]
    f["landed_good"] = f["accuracy"] > 0.5
    f["agree"] = f["predicted_good"] == f["landed_good"]
    f["margin"] = f["p_star_hat"] - f["p_hat"]
    rows = []
    for gen, sub in f.groupby("generator"):
        rho = spearmanr(sub["p_star_hat"], sub["accuracy"]).statistic if len(sub) > 2 else np.nan
        rows.append({"generator": gen, "p_hat": sub["p_hat"].mean(), "spearman_pstar_acc": rho,
                     "side_agreement": sub["agree"].mean(), "settings": len(sub)})
    per_gen = pd.DataFrame(rows)
    fig, axes = new_figure(ncols=2, width=11, height=4)
    axes = axes.ravel()
    gens = list(dict.fromkeys(f["generator"]))
    for c, gen in zip(colors(len(gens)), gens):
        sub = f[f["generator"] == gen]
        axes[0].scatter(sub["p_star_hat"], sub["accuracy"], s=10, color=c, label=gen)
        axes[1].scatter(sub["margin"], sub["accuracy"], s=10, color=c, label=gen)
    axes[0].set(xlabel="measured breakdown point p*", ylabel="retrained accuracy")
    axes[1].axvline(0, color="r", ls=":", lw=0.8)
    axes[1].axhline(0.5, color="k", ls=":", lw=0.8)
    axes[1].set(xlabel="p* - p (measured)", ylabel="retrained accuracy", title="p < p* predicts acc > 1/2")
    axes[0].legend(fontsize=7)
    return Analysis(figures={"accuracy_vs_pstar": fig}, tables={"settings": f, "per_generator": per_gen})


def _check_linver_side(r: Results) -> Verdict:
    f = r.tables["settings"]
    frac = float(f["agree"].mean())
    wrong = f[~f["agree"]]
    detail = ", ".join(f"{g} angle={a:g} tau={t:g}" for g, a, t in
                       wrong[["generator", "angle", "tau"]].drop_duplicates().to_numpy()[:4])
    return Verdict.check(frac >= 0.9, f"p* predicts the side in {frac:.1%} of {len(f)} settings"
                         + (f"; misses e.g. {detail}" if detail else ""))


def _check_linver_rank(r: Results) -> Verdict:
    g = r.tables["per_generator"].dropna(subset=["spearman_pstar_acc"])
    if g.empty:
        return Verdict.inconclusive("too few verifiers per generator for a rank correlation")
    mean = float(g["spearman_pstar_acc"].mean())
    parts = ", ".join(f"{a}: {b:.2f}" for a, b in zip(g["generator"], g["spearman_pstar_acc"]))
    return Verdict.check(mean >= 0.8, f"mean Spearman(p*, accuracy) across verifiers = {mean:.3f} ({parts})")


register(Experiment(
    name="beyond-collapse/linear-verifier", paper=BEYOND_COLLAPSE,
    description=("x-dependent linear verifiers (keep (x, y') iff y' w_v.x > tau) of graded quality (angle "
                 "of w_v to mu, threshold tau) on label-flip generators and on realistic generators (a "
                 "least-squares classifier fitted on a few real samples). The breakdown point p* is "
                 "measured from keep rates on labelled data (v2's proxy); does p < p* predict that the "
                 "classifier retrained on the kept data lands on the good side (accuracy > 1/2), and does "
                 "p* rank the verifiers like the final accuracy? For flips the exact N -> infinity limit "
                 "(truncated-Gaussian moments) is reported too. full: d=100, n=1e5, 10 seeds."),
    params=LinearVerifierParams,
    presets={"smoke": {"flip_ps": [0.3, 0.7], "linear_n_reals": [5], "angles_deg": [0, 60, 120],
                       "taus": [0.0], "n": 500, "n_label": 300},
             "quick": {"seeds": 2},
             "full": {"seeds": 10, "d": 100, "n": 100_000, "n_label": 10_000}},
    cells=linver_cells, run_cell=linver_run, analyze=linver_analyze,
    claims=[
        Claim("side", "The breakdown point measured on labelled data predicts the side of the transition "
              "(p < p* iff retrained accuracy > 1/2) in at least 90% of settings", _check_linver_side),
        Claim("rank", "Across verifiers, the rank correlation of the measured p* with the final accuracy "
              "is at least 0.8 (Spearman, mean over generators)", _check_linver_rank),
    ],
))


# ---------------------------------------------------------------------------------------------------
# eigenvalues
# ---------------------------------------------------------------------------------------------------

EIGEN_STRATEGIES = ("none", "oracle", "best-of-k", "noisy")


class EigenParams(Params):
    dim: int = Field(3, ge=2, le=8, description="matrix size (LAWT: 5; 3 at quick)")
    mantissa: str = Field("base1000", pattern="^(base1000|digits)$",
                          description="mantissa as one base-1000 token (LAWT P1000) or three digits")
    tolerance: float = Field(0.05, gt=0, description="correct when relative L1 error < tolerance")
    d_model: int = Field(64, ge=8, description="transformer width")
    n_layers: int = Field(2, ge=1, description="transformer depth")
    n_heads: int = Field(4, ge=1, description="attention heads")
    n_real: int = Field(10_000, ge=10, description="real examples the generator is trained on")
    gen_steps: int = Field(1_500, ge=1, description="generator training steps")
    n_pool: int = Field(6_000, ge=10, description="new matrices labelled by the generator")
    beam_size: int = Field(4, ge=1, description="beam size (candidates per matrix)")
    sizes: list[int] = Field([2_000, 4_000], description="amounts of selected data to retrain on")
    retrain_steps: int = Field(1_500, ge=1, description="training steps of each retrained model")
    batch_size: int = Field(128, ge=1)
    lr: float = Field(1e-3, gt=0)
    noisy_phi: float = Field(0.9, ge=0, le=1, description="noisy verifier: keeps a correct label w.p. phi")
    noisy_psi: float = Field(0.3, ge=0, le=1, description="noisy verifier: keeps a wrong label w.p. psi")
    strategies: list[str] = Field(list(EIGEN_STRATEGIES), description="selections: none, oracle, "
                                  "best-of-k, noisy")
    n_test: int = Field(1_000, ge=10, description="test matrices")
    min_generator_accuracy: float = Field(0.05, ge=0, le=1, description="claims are INCONCLUSIVE when the "
                                          "generator's accuracy is below this (too few correct labels)")


def eigen_cells(p: EigenParams) -> list[dict]:
    bad = sorted(set(p.strategies) - set(EIGEN_STRATEGIES))
    if bad:
        raise ValueError(f"unknown strategies {bad}; valid: {EIGEN_STRATEGIES}")
    base = p.model_dump(exclude={"seeds", "strategies", "min_generator_accuracy"})
    return [{**base, "strategy": s} for s in p.strategies]


@functools.lru_cache(maxsize=2)
def _eigen_generator(key: str, replicate: int, device: str):
    """Generator, test set and labelled pool of one replicate; shared by its strategy cells (cached
    per process, deterministic from the generator's parameters and the replicate)."""
    import json

    from collapselab.verification import EigenTask, FloatCodec, random_symmetric_matrices, sorted_eigenvalues
    from collapselab.verification._eigen import eigen_predict, new_model
    from collapselab.verification._seqmodel import train_prompt_answer

    c = json.loads(key)
    ss = np.random.SeedSequence([int(c["root_seed"]), replicate])
    rng = np.random.default_rng(ss)
    task = EigenTask(c["dim"], FloatCodec(c["mantissa"]), c["tolerance"])
    max_len = task.prompt_len + task.answer_len
    m_real = random_symmetric_matrices(c["n_real"], c["dim"], rng=rng)
    m_test = random_symmetric_matrices(c["n_test"], c["dim"], rng=rng)
    m_pool = random_symmetric_matrices(c["n_pool"], c["dim"], rng=rng)
    e_test, e_pool = sorted_eigenvalues(m_test), sorted_eigenvalues(m_pool)
    model = new_model(task.vocab_size, max_len, d_model=c["d_model"], n_layers=c["n_layers"],
                      n_heads=c["n_heads"], seed=int(rng.integers(2**31)), device=device)
    train_prompt_answer(model, task.prompts(m_real), task.answers(sorted_eigenvalues(m_real)),
                        steps=c["gen_steps"], batch_size=c["batch_size"], lr=c["lr"], device=device,
                        generator=int(rng.integers(2**31)))
    pred_test, _ = eigen_predict(task, model, m_test, beam_size=1)
    gen_acc = float(task.correct(pred_test[:, 0], e_test).mean())
    pred_pool, tok_pool = eigen_predict(task, model, m_pool, beam_size=c["beam_size"])  # (n, k, dim)
    from collapselab.verification import relative_l1_error

    err = np.stack([relative_l1_error(pred_pool[:, j], e_pool) for j in range(pred_pool.shape[1])], 1)
    return {"task": task, "m_pool": m_pool, "tok_pool": tok_pool, "err_pool": err, "m_test": m_test,
            "e_test": e_test, "gen_acc": gen_acc, "max_len": max_len,
            "train_seed": int(rng.integers(2**31)), "verifier_seed": int(rng.integers(2**31))}


def eigen_run(cell: dict, ctx: CellContext) -> dict:
    import json

    from collapselab.verification import RandomPruner, synthesize_select_retrain
    from collapselab.verification._eigen import eigen_predict, new_model
    from collapselab.verification._seqmodel import train_prompt_answer

    gen_keys = ["dim", "mantissa", "tolerance", "d_model", "n_layers", "n_heads", "n_real", "gen_steps",
                "n_pool", "beam_size", "batch_size", "lr", "n_test"]
    key = json.dumps({**{k: cell[k] for k in gen_keys}, "root_seed": 0}, sort_keys=True)
    g = _eigen_generator(key, ctx.replicate, ctx.device)
    task, err, tol = g["task"], g["err_pool"], cell["tolerance"]
    correct = err < tol  # (n_pool, k)
    strategy = cell["strategy"]
    pruner = RandomPruner(cell["noisy_phi"], cell["noisy_psi"])
    vrng = np.random.default_rng(g["verifier_seed"])
    y_true = np.ones(len(correct), dtype=np.int64)
    trained = []

    def retrain(mats, toks):
        seed = g["train_seed"] + len(trained)
        model = new_model(task.vocab_size, g["max_len"], d_model=cell["d_model"], n_layers=cell["n_layers"],
                          n_heads=cell["n_heads"], seed=seed, device=ctx.device)
        train_prompt_answer(model, task.prompts(mats), toks, steps=cell["retrain_steps"],
                            batch_size=cell["batch_size"], lr=cell["lr"], device=ctx.device, generator=seed)
        pred, _ = eigen_predict(task, model, g["m_test"], beam_size=1)
        trained.append(float(task.correct(pred[:, 0], g["e_test"]).mean()))
        return trained[-1]

    res = synthesize_select_retrain(
        g["m_pool"], synthesize=None, candidates=g["tok_pool"], retrain=retrain,
        strategy={"noisy": "prune"}.get(strategy, strategy), sizes=cell["sizes"], cap_sizes=True,
        score=lambda m, c: -err,  # best-of-k: the beam closest to the true eigenvalues
        accept=lambda m, c: pruner.accept(None, np.where(correct[:, 0], 1, -1), y_true=y_true, rng=vrng),
        correct=lambda m, c: correct)
    sel = res.selection
    label_acc = float(correct[sel.index, sel.choice].mean()) if len(sel.index) else float("nan")
    return {"generator_accuracy": g["gen_acc"], "pool_top1_accuracy": float(correct[:, 0].mean()),
            "pool_bestofk_accuracy": float(correct.any(1).mean()), "n_selected": int(len(sel.index)),
            "selected_label_accuracy": label_acc,
            "p_star": breakdown_point(cell["noisy_phi"], cell["noisy_psi"]) if strategy == "noisy" else None,
            "curve": [{"size": int(m), "accuracy": a} for m, a in zip(res.sizes, res.models)]}


def _eigen_curves(frame: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for _, r in frame.iterrows():
        for pt in r["curve"]:
            rows.append({"strategy": r["strategy"], "replicate": r["replicate"], "size": pt["size"],
                         "accuracy": pt["accuracy"], "generator_accuracy": r["generator_accuracy"]})
    return pd.DataFrame(rows, columns=["strategy", "replicate", "size", "accuracy", "generator_accuracy"])


def eigen_analyze(frame: pd.DataFrame, p: EigenParams) -> Analysis:
    curves = _eigen_curves(frame)
    summary = (curves.groupby(["strategy", "size"])
               .agg(accuracy=("accuracy", "mean"), stderr=("accuracy", "sem"),
                    generator_accuracy=("generator_accuracy", "mean"), reps=("accuracy", "size"))
               .reset_index())
    sel = (frame.groupby("strategy")
           .agg(n_selected=("n_selected", "mean"),
                selected_label_accuracy=("selected_label_accuracy", "mean"),
                pool_top1_accuracy=("pool_top1_accuracy", "mean"),
                pool_bestofk_accuracy=("pool_bestofk_accuracy", "mean"),
                generator_accuracy=("generator_accuracy", "mean"))
           .reset_index())
    fig, ax = new_figure()
    strategies = list(dict.fromkeys(summary["strategy"]))
    for c, s in zip(colors(len(strategies)), strategies):
        sub = summary[summary["strategy"] == s].sort_values("size")
        ax.errorbar(sub["size"], sub["accuracy"], yerr=sub["stderr"].fillna(0), color=c, marker="o",
                    label=s)
    if not sel.empty:
        ax.axhline(float(sel["generator_accuracy"].mean()), color="k", ls="--", lw=1, label="generator")
    ax.set(xscale="log", xlabel="selected synthetic examples", ylabel=f"accuracy (rel. L1 < {p.tolerance:g})",
           title=f"{p.dim}x{p.dim} eigenvalues: retrained on selected beams")
    ax.legend()
    return Analysis(figures={"accuracy_vs_size": fig}, tables={"curves": summary, "selection": sel})


def _eigen_at_largest(r: Results, strategy: str):
    s = r.tables["curves"]
    s = s[s["strategy"] == strategy]
    if s.empty:
        return None
    return s.sort_values("size").iloc[-1]


def _eigen_verdict(r: Results, ok: bool, msg: str) -> Verdict:
    """PASS/FAIL on ``ok``, unless the generator is too weak for the check to mean anything."""
    gen = float(r.frame["generator_accuracy"].mean())
    if gen < r.params.min_generator_accuracy:
        return Verdict.inconclusive(f"{msg}; generator accuracy {gen:.3f} < {r.params.min_generator_accuracy} "
                                    f"(too few correct labels to judge at this scale)")
    return Verdict.check(ok, msg)


def _eigen_vs_generator(strategy: str, label: str, missing: str, beats: bool):
    """Claim check: at its largest size, the model retrained on ``strategy``'s data beats its generator
    (``beats``) or does not."""

    def check(r: Results) -> Verdict:
        row = _eigen_at_largest(r, strategy)
        if row is None:
            return Verdict.inconclusive(missing)
        acc, gen = row["accuracy"], row["generator_accuracy"]
        return _eigen_verdict(r, acc > gen if beats else acc <= gen,
                              f"{label}, {int(row['size'])} examples: {acc:.3f} vs generator {gen:.3f}")

    return check


_check_eigen_collapse = _eigen_vs_generator("none", "no selection", "strategy 'none' not run", beats=False)
_check_eigen_oracle = _eigen_vs_generator(
    "oracle", "oracle pruning", "strategy 'oracle' not run, or too few correct labels for any size", beats=True)


def _check_eigen_bestofk(r: Results) -> Verdict:
    a, b = _eigen_at_largest(r, "best-of-k"), _eigen_at_largest(r, "none")
    if a is None or b is None:
        return Verdict.inconclusive("needs strategies 'best-of-k' and 'none'")
    s = r.tables["curves"]
    common = sorted(set(s.loc[s["strategy"] == "best-of-k", "size"])
                    & set(s.loc[s["strategy"] == "none", "size"]))
    if not common:
        return Verdict.inconclusive("no common size")
    m = common[-1]
    acc_b = float(s[(s["strategy"] == "best-of-k") & (s["size"] == m)]["accuracy"].iloc[0])
    acc_n = float(s[(s["strategy"] == "none") & (s["size"] == m)]["accuracy"].iloc[0])
    return _eigen_verdict(r, acc_b > acc_n, f"{m} examples: best-of-k {acc_b:.3f} vs top-1 {acc_n:.3f}")


register(Experiment(
    name="beyond-collapse/eigenvalues", paper=BEYOND_COLLAPSE,
    description=("Feng et al. Sec. 5 after Charton's LAWT: a decoder-only transformer (collapselab.nn) "
                 "predicts the sorted eigenvalues of random symmetric matrices (entries uniform in "
                 "[-10, 10]); reals are tokens sign / 3-digit mantissa / exponent; correct when the "
                 "relative L1 error is under 5%. A generator trained on limited real data labels new "
                 "matrices by beam search; selection: none (top beam), oracle pruning (top beam kept iff "
                 "correct), best-of-k (the beam closest to the truth), noisy verifier (x-independent "
                 "pruner phi/psi on correctness); fresh models retrained on growing amounts of selected "
                 "data. quick: 3x3, width 64, minutes of CPU. full (GPU): 5x5, width 256, 4 layers, "
                 "200k real examples, 1M labelled, beam 8."),
    params=EigenParams,
    presets={"smoke": {"d_model": 16, "n_layers": 1, "n_heads": 2, "n_real": 64, "gen_steps": 4,
                       "n_pool": 48, "beam_size": 2, "sizes": [8, 16], "retrain_steps": 3, "batch_size": 16,
                       "n_test": 16},
             "quick": {},
             "full": {"dim": 5, "d_model": 256, "n_layers": 4, "n_heads": 8, "n_real": 200_000,
                      "gen_steps": 100_000, "n_pool": 1_000_000, "beam_size": 8,
                      "sizes": [50_000, 200_000, 500_000], "retrain_steps": 100_000, "batch_size": 256,
                      "lr": 3e-4, "n_test": 10_000, "seeds": 3}},
    cells=eigen_cells, run_cell=eigen_run, analyze=eigen_analyze, uses_device=True,
    claims=[
        Claim("collapse", "With no selection the model retrained on the generator's top beams does not "
              "beat its generator (largest size)", _check_eigen_collapse),
        Claim("oracle", "With oracle pruning the retrained model beats its generator (largest size)",
              _check_eigen_oracle),
        Claim("best-of-k", "Retraining on the best of k beams beats retraining on the top-1 beam (largest "
              "common size)", _check_eigen_bestofk),
    ],
))


# ---------------------------------------------------------------------------------------------------
# summarization
# ---------------------------------------------------------------------------------------------------

SUMMARY_STRATEGIES = ("none", "best-of-k/rouge", "best-of-k/model", "real")


class SummaryParams(Params):
    model: str | None = Field(None, description="local Hugging Face causal-LM folder; default: a tiny "
                              "DecoderLM trained from scratch on the built-in corpus")
    dtype: str | None = Field(None, description="Hugging Face path: float32 / bfloat16 / float16")
    n_sentences: int = Field(5, ge=1, description="sentences per synthetic document")
    max_important: int = Field(3, ge=1, description="at most this many newsworthy sentences")
    d_model: int = Field(64, ge=8, description="tiny model width")
    n_layers: int = Field(2, ge=1, description="tiny model depth")
    n_heads: int = Field(4, ge=1)
    n_real: int = Field(300, ge=4, description="real pairs the generator is trained on")
    gen_steps: int = Field(300, ge=1, description="generator training (fine-tuning) steps")
    n_verifier_real: int = Field(3000, ge=4, description="real pairs the scoring-model verifier sees")
    verifier_steps: int = Field(600, ge=1, description="scoring-model training steps")
    n_pool: int = Field(3000, ge=4, description="new documents the generator summarises")
    k: int = Field(4, ge=1, description="sampled candidate summaries per document")
    temperature: float = Field(1.0, gt=0, description="sampling temperature")
    sizes: list[int] = Field([1000, 3000], description="amounts of selected data to retrain on")
    retrain_steps: int = Field(600, ge=1, description="training steps of each retrained model")
    batch_size: int = Field(64, ge=1)
    lr: float = Field(2e-3, gt=0, description="learning rate (tiny model; use ~2e-5 for an HF model)")
    max_new_tokens: int = Field(64, ge=1, description="Hugging Face path: longest sampled summary")
    strategies: list[str] = Field(list(SUMMARY_STRATEGIES), description="none (first sample), "
                                  "best-of-k/rouge (oracle ROUGE-L), best-of-k/model (scoring model), "
                                  "real (reference summaries: the ceiling)")
    n_test: int = Field(500, ge=4, description="test documents")


def summary_cells(p: SummaryParams) -> list[dict]:
    bad = sorted(set(p.strategies) - set(SUMMARY_STRATEGIES))
    if bad:
        raise ValueError(f"unknown strategies {bad}; valid: {SUMMARY_STRATEGIES}")
    base = p.model_dump(exclude={"seeds", "strategies"})
    return [{**base, "strategy": s} for s in p.strategies]


class _TinySummarizer:
    """The default backend: a DecoderLM on word tokens of the built-in corpus."""

    def __init__(self, c: dict, device: str):
        from collapselab.verification import WordVocab, summary_length

        self.c, self.device = c, device
        self.vocab = WordVocab()
        self.ans_len = summary_length(c["max_important"])
        self.max_len = 5 * c["n_sentences"] + 1 + self.ans_len

    def train(self, docs, sums, steps: int, seed: int):
        from collapselab.verification import new_model, train_prompt_answer

        model = new_model(len(self.vocab), self.max_len, d_model=self.c["d_model"],
                          n_layers=self.c["n_layers"], n_heads=self.c["n_heads"], seed=seed,
                          device=self.device)
        ans, mask = self.vocab.answers(sums, self.ans_len)
        train_prompt_answer(model, self.vocab.prompts(docs), ans, mask, steps=steps,
                            batch_size=self.c["batch_size"], lr=self.c["lr"], device=self.device,
                            generator=seed)
        return model

    def sample(self, model, docs, k: int, seed: int) -> list[list[str]]:
        from collapselab.verification import sample_answers
        from collapselab.verification._summarize import EOS

        out = sample_answers(model, self.vocab.prompts(docs), num_samples=k, max_new_tokens=self.ans_len,
                             temperature=self.c["temperature"], stop_token=EOS, generator=seed)
        return [[self.vocab.decode(t) for t in row] for row in out.tokens]

    def greedy(self, model, docs) -> list[str]:
        from collapselab.verification import beam_search
        from collapselab.verification._summarize import EOS

        out = beam_search(model, self.vocab.prompts(docs), beam_size=1, max_new_tokens=self.ans_len,
                          stop_token=EOS)
        return [self.vocab.decode(row[0]) for row in out.tokens]

    def score(self, model, docs, sums) -> np.ndarray:
        """Mean per-token log-probability (summary tokens and EOS)."""
        from collapselab.verification import answer_logprob

        ans, mask = self.vocab.answers(sums, self.ans_len)
        lp = answer_logprob(model, self.vocab.prompts(docs), ans, mask).numpy()
        return lp / mask.sum(1).clamp_min(1).numpy()


class _HFSummarizer:
    """``model=PATH``: a local Hugging Face causal LM, fine-tuned; every copy reloads from PATH."""

    def __init__(self, c: dict, device: str):
        from collapselab.verification._hf import load_causal_lm

        self.c, self.device = c, device
        load_causal_lm(c["model"], device="cpu", dtype=c["dtype"])  # fail early: folder and package

    def train(self, docs, sums, steps: int, seed: int):
        from collapselab.verification._hf import finetune_causal_lm, load_causal_lm

        model, tok = load_causal_lm(self.c["model"], device=self.device, dtype=self.c["dtype"])
        finetune_causal_lm(model, tok, docs, sums, steps=steps, batch_size=self.c["batch_size"],
                           lr=self.c["lr"], device=self.device, generator=seed)
        return model, tok

    def sample(self, mt, docs, k: int, seed: int) -> list[list[str]]:
        from collapselab.verification._hf import sample_summaries

        return sample_summaries(*mt, docs, num_samples=k, max_new_tokens=self.c["max_new_tokens"],
                                temperature=self.c["temperature"], device=self.device, seed=seed)

    def greedy(self, mt, docs) -> list[str]:
        from collapselab.verification._hf import sample_summaries

        return [s[0] for s in sample_summaries(*mt, docs, num_samples=1, temperature=0.0,
                                               max_new_tokens=self.c["max_new_tokens"], device=self.device)]

    def score(self, mt, docs, sums) -> np.ndarray:
        from collapselab.verification._hf import summary_logprob

        return summary_logprob(*mt, docs, sums, device=self.device)


@functools.lru_cache(maxsize=2)
def _summary_generator(key: str, replicate: int, device: str):
    """Corpus splits, generator, candidates and verifier scores of one replicate (cached per process)."""
    import json

    from collapselab.verification import make_summary_corpus, rouge_scores

    c = json.loads(key)
    rng = np.random.default_rng(np.random.SeedSequence([0, replicate]))
    backend = _HFSummarizer(c, device) if c["model"] else _TinySummarizer(c, device)
    n = c["n_real"] + c["n_verifier_real"] + c["n_pool"] + c["n_test"]
    corpus = make_summary_corpus(n, n_sentences=c["n_sentences"], max_important=c["max_important"], rng=rng)
    cuts = np.cumsum([c["n_real"], c["n_verifier_real"], c["n_pool"]])
    docs, refs = corpus.documents, corpus.summaries
    real = (docs[:cuts[0]], refs[:cuts[0]])
    ver = (docs[cuts[0]:cuts[1]], refs[cuts[0]:cuts[1]])
    pool = (docs[cuts[1]:cuts[2]], refs[cuts[1]:cuts[2]])
    test = (docs[cuts[2]:], refs[cuts[2]:])
    seeds = [int(s) for s in rng.integers(2**31, size=4)]
    gen = backend.train(*real, c["gen_steps"], seeds[0])
    gen_rouge = float(rouge_scores(backend.greedy(gen, test[0]), test[1])["rougeL"].mean())
    cands = backend.sample(gen, pool[0], c["k"], seeds[1])  # (n_pool lists of k summaries)
    flat_docs = [d for d in pool[0] for _ in range(c["k"])]
    flat_c = [s for row in cands for s in row]
    oracle = rouge_scores(flat_c, [r for r in pool[1] for _ in range(c["k"])])["rougeL"].reshape(-1, c["k"])
    verifier = backend.train(*ver, c["verifier_steps"], seeds[2])
    model_score = np.asarray(backend.score(verifier, flat_docs, flat_c)).reshape(-1, c["k"])
    del gen, verifier
    return {"backend": backend, "pool": pool, "test": test, "cands": cands, "oracle": oracle,
            "model_score": model_score, "gen_rouge": gen_rouge, "train_seed": seeds[3]}


def summary_run(cell: dict, ctx: CellContext) -> dict:
    import json

    from collapselab.verification import rouge_scores, synthesize_select_retrain

    keys = [k for k in SummaryParams.model_fields if k not in ("seeds", "strategies")]
    g = _summary_generator(json.dumps({k: cell[k] for k in keys}, sort_keys=True), ctx.replicate, ctx.device)
    backend, (docs, refs) = g["backend"], g["pool"]
    strategy = cell["strategy"]
    cands = [[r] for r in refs] if strategy == "real" else g["cands"]
    results = []

    def retrain(d, s):
        model = backend.train(list(d), list(s), cell["retrain_steps"], g["train_seed"] + len(results))
        sc = rouge_scores(backend.greedy(model, g["test"][0]), g["test"][1])
        results.append({k: float(v.mean()) for k, v in sc.items()})
        return results[-1]

    res = synthesize_select_retrain(
        docs, synthesize=None, candidates=cands, retrain=retrain, sizes=cell["sizes"],
        strategy="best-of-k" if strategy.startswith("best-of-k") else "none",
        score=lambda d, c: g["oracle"] if strategy == "best-of-k/rouge" else g["model_score"])
    sel = res.selection
    chosen = g["oracle"][sel.index, sel.choice] if strategy != "real" else np.ones(len(sel.index))
    return {"generator_rougeL": g["gen_rouge"], "selected_label_rougeL": float(chosen.mean()),
            "pool_first_rougeL": float(g["oracle"][:, 0].mean()),
            "pool_best_rougeL": float(g["oracle"].max(1).mean()),
            "curve": [{"size": int(m), **r} for m, r in zip(res.sizes, res.models)]}


def summary_analyze(frame: pd.DataFrame, p: SummaryParams) -> Analysis:
    rows = []
    for _, r in frame.iterrows():
        for pt in r["curve"]:
            rows.append({"strategy": r["strategy"], "replicate": r["replicate"], **pt,
                         "generator_rougeL": r["generator_rougeL"],
                         "selected_label_rougeL": r["selected_label_rougeL"]})
    cur = pd.DataFrame(rows)
    summary = (cur.groupby(["strategy", "size"])
               .agg(rouge1=("rouge1", "mean"), rouge2=("rouge2", "mean"), rougeL=("rougeL", "mean"),
                    rougeL_sem=("rougeL", "sem"), generator_rougeL=("generator_rougeL", "mean"),
                    selected_label_rougeL=("selected_label_rougeL", "mean"), reps=("rougeL", "size"))
               .reset_index())
    fig, ax = new_figure()
    strategies = list(dict.fromkeys(summary["strategy"]))
    for c, s in zip(colors(len(strategies)), strategies):
        sub = summary[summary["strategy"] == s].sort_values("size")
        ax.errorbar(sub["size"], sub["rougeL"], yerr=sub["rougeL_sem"].fillna(0), color=c, marker="o",
                    label=s)
    ax.axhline(float(frame["generator_rougeL"].mean()), color="k", ls="--", lw=1, label="generator")
    ax.set(xscale="log", xlabel="selected synthetic pairs", ylabel="test ROUGE-L F1",
           title="summarisation: retrained on selected samples")
    ax.legend()
    return Analysis(figures={"rouge_vs_size": fig}, tables={"curves": summary})


def _check_summary(r: Results) -> Verdict:
    s = r.tables["curves"]
    a, b = s[s["strategy"] == "best-of-k/rouge"], s[s["strategy"] == "none"]
    common = sorted(set(a["size"]) & set(b["size"]))
    if not common:
        return Verdict.inconclusive("needs strategies 'best-of-k/rouge' and 'none' at a common size")
    m = common[-1]
    ra = float(a[a["size"] == m]["rougeL"].iloc[0])
    rb = float(b[b["size"] == m]["rougeL"].iloc[0])
    extra = ""
    c = s[(s["strategy"] == "best-of-k/model") & (s["size"] == m)]
    if not c.empty:
        extra = f"; scoring-model selection {float(c['rougeL'].iloc[0]):.3f}"
    return Verdict.check(ra > rb, f"{m} pairs: ROUGE-L selected (oracle best-of-k) {ra:.3f} vs unselected "
                         f"{rb:.3f}{extra}")


register(Experiment(
    name="beyond-collapse/summarization", paper=BEYOND_COLLAPSE,
    description=("Feng et al. Sec. 6 (Llama-2 on XLSUM) scaled down: by default a tiny DecoderLM trained "
                 "from scratch on a built-in synthetic corpus (documents of 'ENTITY VERB OBJECT MODIFIER' "
                 "sentences; the reference summary lists the newsworthy ones). A generator trained on few "
                 "real pairs samples k candidate summaries per new document; the verifier is ROUGE-L "
                 "against the reference (oracle) or a scoring model (a second model's log-likelihood); "
                 "fresh models are retrained on the selected pairs and scored by ROUGE (rouge-score). "
                 "`--set model=PATH` runs the same pipeline on a local Hugging Face causal LM (needs the "
                 "optional `transformers`; use --device cuda). full: an HF model on GPU."),
    params=SummaryParams,
    presets={"smoke": {"d_model": 16, "n_layers": 1, "n_heads": 2, "n_real": 16, "gen_steps": 3,
                       "n_verifier_real": 16, "verifier_steps": 2, "n_pool": 24, "k": 2, "sizes": [8, 16],
                       "retrain_steps": 3, "batch_size": 8, "n_test": 8},
             "quick": {},
             "full": {"d_model": 128, "n_layers": 4, "n_real": 2000, "gen_steps": 2000,
                      "n_verifier_real": 20000, "verifier_steps": 5000, "n_pool": 50000, "k": 8,
                      "sizes": [5000, 20000, 50000], "retrain_steps": 5000, "n_test": 2000, "seeds": 3}},
    cells=summary_cells, run_cell=summary_run, analyze=summary_analyze, uses_device=True,
    claims=[Claim("selection", "Training on selected synthetic data (oracle ROUGE-L best-of-k) beats "
                  "training on unselected synthetic data (test ROUGE-L, largest common size)",
                  _check_summary)],
))
