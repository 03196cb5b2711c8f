"""The tailed bigram model and the Hutter++ learner ("A Tale of Tails", Sec. 4).

Data: a context i ~ Zipf(beta) on n_contexts ranks; the next token j | i ~ Zipf(beta_token) over
the vocabulary, each context ranking the tokens by its own random permutation. The Hutter++
learner estimates p(j | i) by empirical conditional frequencies (uniform on a context it never
saw) and is scored by the expected total variation   [V names, R details]

    E_test = sum_i p_i TV(p_hat(. | i), p(. | i)),   TV(a, b) = 1/2 sum_j |a_j - b_j|.

Rate [R, derived here for this model]: E_test ~ T^{-c} with c = min(1 - 1/beta, 1 - 1/beta_token, 1/2);
with beta_token = beta this is the paper's c = min(1 - 1/beta, 1/2). A generator that keeps only the
top-k next tokens (tail cutting) gives a floor: as T -> inf the learner recovers q(. | i) and
E_test -> TV(q, p) = sum_{r > k} p_tok(r), the lost token tail mass.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from collapselab._rng import SeedLike, as_rng
from collapselab._validation import check_int, check_real
from collapselab.stats import MCEstimate
from collapselab.zipf._common import Sampler, check_counts, check_trials, mc_estimate
from collapselab.zipf._distributions import tail_cut, zipf


class TailedBigram:
    """A tailed bigram model: contexts ~ Zipf(beta), next tokens ~ Zipf(beta_token) per context.

    Attributes: ``context_probs_`` (n_contexts,), ``token_probs_`` (vocab_size,) by rank,
    ``ranking_`` (n_contexts, vocab_size): ``ranking_[i, r]`` is the token id of rank r + 1 after i,
    and ``rank_of_`` its inverse.
    """

    def __init__(self, beta: float, n_contexts: int, vocab_size: int, *, beta_token: float | None = None,
                 rng: SeedLike = 0):
        self.beta = check_real("beta", beta, low=1.0, low_open=True)
        self.beta_token = self.beta if beta_token is None else check_real("beta_token", beta_token, low=1.0,
                                                                            low_open=True)
        self.n_contexts = check_int("n_contexts", n_contexts, low=1)
        self.vocab_size = check_int("vocab_size", vocab_size, low=2)
        self.context_probs_ = zipf(self.beta, self.n_contexts)
        self.token_probs_ = zipf(self.beta_token, self.vocab_size)
        base = np.tile(np.arange(self.vocab_size), (self.n_contexts, 1))
        self.ranking_ = as_rng(rng).permuted(base, axis=1)  # (n_contexts, vocab_size)
        self.rank_of_ = np.argsort(self.ranking_, axis=1)  # rank_of_[i, j]: rank - 1 of token j after i

    def token_distribution(self, top_k: int | None = None) -> np.ndarray:
        """Next-token probabilities by rank, tail-cut to the top k ranks when ``top_k`` is given."""
        if top_k is None:
            return self.token_probs_
        return tail_cut(self.token_probs_, check_int("top_k", top_k, low=1))

    def conditional(self, contexts, top_k: int | None = None) -> np.ndarray:
        """p(. | i) over token ids for each context in ``contexts``: shape (len(contexts), vocab_size)."""
        contexts = np.asarray(contexts, dtype=np.int64)
        out = np.zeros((contexts.size, self.vocab_size))
        np.put_along_axis(out, self.ranking_[contexts], np.broadcast_to(self.token_distribution(top_k),
                                                                       out.shape), axis=1)
        return out

    def sample(self, T: int, rng: SeedLike = None, *, top_k: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """T i.i.d. (context, next token) pairs; ``top_k`` samples the generator's top-k tokens only."""
        T = check_int("T", T, low=0)
        rng = as_rng(rng)
        contexts = Sampler(self.context_probs_)(T, rng)
        ranks = Sampler(self.token_distribution(top_k))(T, rng)
        return contexts, self.ranking_[contexts, ranks]


class HutterPlusPlus:
    """Hutter++ learner: empirical conditional frequencies p_hat(j | i) = n_ij / n_i (sparse counts).

    A context never seen predicts the uniform distribution over the vocabulary.
    """

    def __init__(self, n_contexts: int, vocab_size: int):
        self.n_contexts = check_int("n_contexts", n_contexts, low=1)
        self.vocab_size = check_int("vocab_size", vocab_size, low=2)

    def fit(self, contexts, tokens) -> HutterPlusPlus:
        contexts = np.asarray(contexts, dtype=np.int64)
        tokens = np.asarray(tokens, dtype=np.int64)
        if contexts.shape != tokens.shape or contexts.ndim != 1:
            raise ValueError(f"`contexts` and `tokens` must be 1-D of the same length, "
                             f"got {contexts.shape} and {tokens.shape}")
        keys = contexts * self.vocab_size + tokens
        space = self.n_contexts * self.vocab_size
        if keys.size and space <= 8 * keys.size and keys.min() >= 0:
            # dense counting when the pair space is at most 8x the sample: one pass, no sort; the same
            # sorted distinct keys and counts as np.unique
            dense = np.bincount(keys, minlength=space)
            keys = np.flatnonzero(dense)
            counts = dense[keys]
        else:
            keys, counts = np.unique(keys, return_counts=True)
        self.pairs_ = np.stack([keys // self.vocab_size, keys % self.vocab_size], axis=1)  # (m, 2)
        self.pair_counts_ = counts
        self.context_counts_ = np.bincount(contexts, minlength=self.n_contexts)
        return self

    def predict_proba(self, contexts) -> np.ndarray:
        """p_hat(. | i) for each context: shape (len(contexts), vocab_size)."""
        contexts = np.asarray(contexts, dtype=np.int64)
        out = np.full((contexts.size, self.vocab_size), 1.0 / self.vocab_size)
        for row, i in enumerate(contexts):
            sel = self.pairs_[:, 0] == i
            if self.context_counts_[i] > 0:
                out[row] = 0.0
                out[row, self.pairs_[sel, 1]] = self.pair_counts_[sel] / self.context_counts_[i]
        return out

    def error(self, model: TailedBigram) -> float:
        """sum_i p_i TV(p_hat(. | i), p(. | i)) against the true bigram ``model``.

        Uses TV = 1/2 [sum_{j seen} |p_hat_j - p_j| + (1 - sum_{j seen} p_j)] on contexts seen (only
        the observed pairs are touched); an unseen context scores TV(uniform, p(. | i)).
        """
        rank = model.rank_of_[self.pairs_[:, 0], self.pairs_[:, 1]]
        p_true = model.token_probs_[rank]
        p_hat = self.pair_counts_ / self.context_counts_[self.pairs_[:, 0]]
        abs_dev = np.bincount(self.pairs_[:, 0], weights=np.abs(p_hat - p_true), minlength=self.n_contexts)
        seen_mass = np.bincount(self.pairs_[:, 0], weights=p_true, minlength=self.n_contexts)
        tv = 0.5 * (abs_dev + 1.0 - seen_mass)
        unseen = self.context_counts_ == 0
        tv[unseen] = 0.5 * np.abs(1.0 / self.vocab_size - model.token_probs_).sum()
        return float(model.context_probs_ @ tv)


def _mean_abs_dev(n: int, q: np.ndarray, p: np.ndarray) -> np.ndarray:
    """E|X - n p_j| for X ~ Bin(n, q_j), elementwise over j (exact, O(1) each).

    E|X - c| = n q - c + 2 E(c - X)_+ and E(c - X)_+ = c F_n(m) - n q F_{n-1}(m - 1), m = floor(c),
    using x Bin(x; n, q) = n q Bin(x - 1; n - 1, q).
    """
    c = n * p
    m = np.floor(c)
    below = c * stats.binom.cdf(m, n, q) - n * q * stats.binom.cdf(m - 1, n - 1, q)
    return np.maximum(n * q - c + 2.0 * below, 0.0)


def _tv_curve(p_tok: np.ndarray, q_tok: np.ndarray, ns: np.ndarray) -> np.ndarray:
    """g(n) = E TV(p_hat_n, p) for p_hat_n the empirical law of n samples of q (g(0): uniform)."""
    out = np.empty(ns.size)
    for k, n in enumerate(ns):
        n = int(n)
        out[k] = (0.5 * np.abs(1.0 / p_tok.size - p_tok).sum() if n == 0
                  else 0.5 * _mean_abs_dev(n, q_tok, p_tok).sum() / n)
    return out


def hutter_pp_error(model: TailedBigram, T, *, top_k: int | None = None,
                    n_exact: int = 1024, grid_ratio: float = 1.01) -> np.ndarray | float:
    r"""Expected error of Hutter++ trained on T pairs from ``model`` (its generator cut to ``top_k``).

    E(T) = sum_i p_i sum_n Bin(n; T, p_i) g(n),   g(n) = E TV(p_hat_n, p_tok),   [D, here]
    g(0) = TV(uniform, p_tok),  g(n) = (1 / 2n) sum_j E|Bin(n, q_j) - n p_tok_j|  (exact per j),

    with q = p_tok, or its top-k tail cut. g is exact for n <= ``n_exact`` and, beyond, log-log
    interpolated on a geometric grid of ratio ``grid_ratio`` (g is smooth there); binomial tails
    beyond 12 standard deviations are dropped. T: a non-negative integer or array of them.
    """
    if not isinstance(model, TailedBigram):
        raise ValueError(f"`model` must be a TailedBigram, got {type(model).__name__}")
    ts, scalar = check_counts("T", T)
    n_exact = check_int("n_exact", n_exact, low=1)
    grid_ratio = check_real("grid_ratio", grid_ratio, low=1.0, low_open=True)
    p_tok, q_tok = model.token_probs_, model.token_distribution(top_k)
    pc = model.context_probs_
    ranges = []  # per (T, context): the n that carry binomial mass
    for t in ts.ravel():
        mean, sd = t * pc, np.sqrt(t * pc * (1 - pc))
        lo = np.maximum(np.floor(mean - 12 * sd - 12), 0).astype(np.int64)
        hi = np.minimum(np.ceil(mean + 12 * sd + 12), t).astype(np.int64)
        ranges.append((int(t), lo, hi))
    n_max = max(int(hi.max()) for _, _, hi in ranges)
    small = np.arange(min(n_max, n_exact) + 1)
    g_small = _tv_curve(p_tok, q_tok, small)
    if n_max > n_exact:
        n_grid = np.unique(np.round(n_exact * grid_ratio ** np.arange(
            int(np.ceil(np.log(n_max / n_exact) / np.log(grid_ratio))) + 1)).astype(np.int64))
        log_g_grid = np.log(np.maximum(_tv_curve(p_tok, q_tok, n_grid), 1e-300))

    def g(ns: np.ndarray) -> np.ndarray:
        out = np.empty(ns.size)
        low = ns <= n_exact
        out[low] = g_small[ns[low]]
        if (~low).any():
            out[~low] = np.exp(np.interp(np.log(ns[~low]), np.log(n_grid), log_g_grid))
        return out

    out = []
    for t, lo, hi in ranges:
        width = hi - lo + 1
        bucket = np.ceil(np.log2(width)).astype(np.int64)  # contexts of similar width go together
        total = 0.0
        for b in np.unique(bucket):
            idx = np.flatnonzero(bucket == b)
            ns = lo[idx, None] + np.arange(int(width[idx].max()))  # (m, w)
            valid = ns <= hi[idx, None]
            ns = np.where(valid, ns, hi[idx, None])
            pmf = np.where(valid, stats.binom.pmf(ns, t, pc[idx, None]), 0.0)
            total += pc[idx] @ (pmf * g(ns.ravel()).reshape(ns.shape)).sum(1)
        out.append(total)
    out = np.asarray(out).reshape(ts.shape)
    return float(out) if scalar else out


def simulate_hutter_pp(model: TailedBigram, T, *, top_k: int | None = None, n_trials: int = 100,
                       rng: SeedLike = None) -> MCEstimate:
    """Monte Carlo twin of :func:`hutter_pp_error`: sample T pairs from the (top-k cut) generator,
    fit :class:`HutterPlusPlus` and measure its expected TV against the true model; prefixes of one
    draw of max(T) pairs per trial."""
    if not isinstance(model, TailedBigram):
        raise ValueError(f"`model` must be a TailedBigram, got {type(model).__name__}")
    ts, scalar = check_counts("T", T)
    n_trials = check_trials(n_trials)
    rng = as_rng(rng)
    flat = ts.ravel().astype(np.int64)
    samples = []
    for _ in range(n_trials):
        ctx, tok = model.sample(int(flat.max()), rng, top_k=top_k)
        samples.append([HutterPlusPlus(model.n_contexts, model.vocab_size).fit(ctx[:t], tok[:t]).error(model)
                        for t in flat])
    return mc_estimate(samples, ts.shape, scalar)
