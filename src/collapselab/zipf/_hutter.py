"""The deterministic infinite-memory ("Hutter") learner on Zipf data, its generation chains, and
their Monte Carlo twins (Dohmatob, Feng, Yang, Charton & Kempe, "A Tale of Tails", ICML 2024, Sec. 2-3).

Setting. Inputs i in {1..N} are drawn from a distribution; the label of i is a deterministic
f*(i). The memoriser stores every (input, label) pair it sees and answers "unknown" (always wrong)
on inputs it never saw. Trained on T i.i.d. inputs from q and tested on p (Eq. 9)::

    E_test = sum_i p_i P(i unseen) = sum_i p_i (1 - q_i)^T                            [V]

Each closed form here has a twin with the same arguments (plus ``n_trials`` and ``rng``) that draws
real datasets and trains a real :class:`Memorizer`; tests hold them together within a few
standard errors.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from collapselab._rng import SeedLike, as_rng
from collapselab._validation import check_int
from collapselab.stats import MCEstimate
from collapselab.zipf._common import Sampler, check_counts, check_prob, check_trials, mc_estimate


def _check_generations(generations) -> tuple[np.ndarray, bool]:
    arr = np.asarray(generations)
    if arr.dtype.kind not in "iu" or arr.size == 0 or np.any(arr < 0):
        raise ValueError(f"`generations` must be a non-negative integer or an array of them, got {generations!r}")
    return arr.astype(np.int64), arr.ndim == 0


def _log1m(q: np.ndarray) -> np.ndarray:
    """log(1 - q), -inf where q = 1."""
    with np.errstate(divide="ignore"):
        return np.log1p(-q)


def _pow1m(log1m_q: np.ndarray, t: float) -> np.ndarray:
    """(1 - q)^t = exp(t log1p(-q)) from precomputed log1p(-q); exact at q = 1 and at t = 0."""
    if t == 0:
        return np.ones_like(log1m_q)
    return np.exp(t * log1m_q)


def expected_error(p, q, T) -> np.ndarray | float:
    r"""Expected test error of the memoriser trained on T i.i.d. samples from q, tested on p.

    E(T) = sum_i p_i (1 - q_i)^T   (Tale of Tails Eq. 9)   [V]

    Computed as exp(T * log1p(-q_i)) (stable for tiny q_i and huge T). Limits: q = p gives the
    clean law E ~ (A^{1/beta} Gamma(1 - 1/beta) / beta) T^{-(1 - 1/beta)} for Zipf(beta) [V rate, D
    constant]; as T -> inf, E -> sum_{i: q_i = 0} p_i (the lost tail mass under tail cutting).

    p, q: probability vectors of shape (N,) on the same support (q may have zeros).
    T: a non-negative number or an array of them; the result has T's shape.
    """
    p = check_prob("p", p)
    q = check_prob("q", q)
    if p.shape != q.shape:
        raise ValueError(f"`p` and `q` must have the same shape, got {p.shape} and {q.shape}")
    ts, scalar = check_counts("T", T)
    keep = p > 0  # items never tested do not contribute
    p, lq = p[keep], _log1m(q[keep])
    out = np.array([float(p @ _pow1m(lq, t)) for t in ts.ravel()]).reshape(ts.shape)
    return float(out) if scalar else out


def memorizer_chain_error(p, T, T0, generations) -> np.ndarray | float:
    r"""Exact expected error after ``generations`` rounds of memorisers labelling each other's data.

    Generation 1 memorises T0 clean samples from p; generation g memorises T0 inputs drawn from p
    and labelled by generation g-1 (an input that generation g-1 never saw gets a wrong label, which
    then propagates); the model under test memorises T inputs labelled by generation n. Item i is
    correct only if it was drawn in all n + 1 training sets, hence   [D, notes Sec. 3.2]

        E^(n)(T) = sum_i p_i [1 - (1 - (1 - p_i)^T) (1 - (1 - p_i)^{T0})^n]

    n = 0 is clean training, E = sum_i p_i (1 - p_i)^T. As T -> inf the floor
    sum_i p_i [1 - (1 - (1 - p_i)^{T0})^n] rises with n ("shifted scaling").
    T and generations broadcast against each other; the result has the broadcast shape.
    """
    p = check_prob("p", p)
    ts, t_scalar = check_counts("T", T)
    T0 = check_int("T0", T0, low=1)
    gens, g_scalar = _check_generations(generations)
    ts_b, gens_b = np.broadcast_arrays(ts, gens)
    p = p[p > 0]
    lp = _log1m(p)
    with np.errstate(divide="ignore"):
        log_seen0 = np.log(-np.expm1(T0 * lp))  # log(1 - (1 - p)^T0)
    out = np.empty(ts_b.shape)
    for idx in np.ndindex(ts_b.shape):
        t, n = float(ts_b[idx]), int(gens_b[idx])
        with np.errstate(divide="ignore"):
            log_seen_t = np.log(-np.expm1(t * lp)) if t > 0 else np.full_like(p, -np.inf)
        log_correct = log_seen_t + n * log_seen0 if n > 0 else log_seen_t
        out[idx] = p @ (-np.expm1(log_correct))
    return float(out) if (t_scalar and g_scalar) else out


def resampling_chain(p, T0: int, generations, rng: SeedLike = None) -> np.ndarray:
    r"""Frequency-resampling (Wright-Fisher) chain: q_0 = p, q_g = Multinomial(T0, q_{g-1}) / T0.

    Each generation is the empirical distribution of T0 samples of the previous one; an item whose
    count hits 0 is lost for ever, so the tail erodes with g.   [D, notes Sec. 3.2]

    ``generations``: an int n (returns q_n, shape (N,)) or a sequence of generation indices
    (returns the stacked q_g, shape (len, N), in the order given).
    """
    p = check_prob("p", p)
    T0 = check_int("T0", T0, low=1)
    gens, scalar = _check_generations(generations)
    rng = as_rng(rng)
    wanted = set(int(g) for g in gens.ravel())
    found = {0: p.copy()} if 0 in wanted else {}
    q = p
    for g in range(1, int(gens.max()) + 1):
        q = rng.multinomial(T0, q / q.sum()) / T0
        if g in wanted:
            found[g] = q
    if scalar:
        return found[int(gens)]
    return np.stack([found[int(g)] for g in gens.ravel()])


def _binomial_rows(p: np.ndarray, T0: int, chunk: int = 2048) -> np.ndarray:
    """v_x = sum_i p_i Bin(x; T0, p_i) for x = 0..T0 (items sorted, pmf tails beyond 12 sd dropped)."""
    p = np.sort(p)[::-1]
    v = np.zeros(T0 + 1)
    for start in range(0, p.size, chunk):
        pc = p[start:start + chunk]
        mean = T0 * pc.max()
        x_max = int(min(T0, np.ceil(mean + 12 * np.sqrt(mean) + 12)))
        x = np.arange(x_max + 1)
        v[:x_max + 1] += pc @ stats.binom.pmf(x[None, :], T0, pc[:, None])
    return v


def resampling_chain_error(p, T, T0, generations) -> np.ndarray | float:
    r"""Exact expected error of a memoriser trained on T samples from the Wright-Fisher chain's q_n.

    The count X of one item evolves as a Markov chain X_1 ~ Bin(T0, p_i), X_g ~ Bin(T0, X_{g-1}/T0),
    and given q_n the memoriser's error is sum_i p_i (1 - q_{n,i})^T. Hence   [D, here]

        E^(n)(T) = v_1 M^{n-1} w(T),   v_1[x] = sum_i p_i Bin(x; T0, p_i),
        M[x, y] = Bin(y; T0, x / T0),   w(T)[x] = (1 - x / T0)^T

    and n = 0 is clean training. The floor (T -> inf) is the expected lost mass v_1 M^{n-1} e_0.
    Cost O(N T0 + n T0^2) time, O(T0^2) memory: meant for T0 up to a few thousand.
    T and generations broadcast; the result has the broadcast shape.
    """
    p = check_prob("p", p)
    ts, t_scalar = check_counts("T", T)
    T0 = check_int("T0", T0, low=1)
    gens, g_scalar = _check_generations(generations)
    ts_b, gens_b = np.broadcast_arrays(ts, gens)
    x = np.arange(T0 + 1)
    n_max = int(gens_b.max())
    vs = {}
    if n_max >= 1:
        v = _binomial_rows(p[p > 0], T0)
        vs[1] = v
        if n_max >= 2:
            M = stats.binom.pmf(x[None, :], T0, x[:, None] / T0)  # (T0+1, T0+1), rows sum to 1
            for g in range(2, n_max + 1):
                v = v @ M
                vs[g] = v
    lx = _log1m(x / T0)
    out = np.empty(ts_b.shape)
    for idx in np.ndindex(ts_b.shape):
        t, n = float(ts_b[idx]), int(gens_b[idx])
        if n == 0:
            out[idx] = expected_error(p, p, t)
        else:
            out[idx] = vs[n] @ _pow1m(lx, t)
    return float(out) if (t_scalar and g_scalar) else out


class Memorizer:
    """The deterministic infinite-memory learner: a lookup table over inputs 0..n_inputs-1.

    ``fit(x, y)`` stores y for every x seen (fitted table ``table_``); ``predict(x)`` returns the
    stored label, or ``unknown`` (-1, never a true label) for inputs it never saw.
    """

    def __init__(self, n_inputs: int, *, unknown: int = -1):
        self.n_inputs = check_int("n_inputs", n_inputs, low=1)
        self.unknown = unknown

    def fit(self, x, y) -> Memorizer:
        x = np.asarray(x, dtype=np.int64)
        y = np.asarray(y, dtype=np.int64)
        if x.shape != y.shape or x.ndim != 1:
            raise ValueError(f"`x` and `y` must be 1-D of the same length, got {x.shape} and {y.shape}")
        if x.size and (x.min() < 0 or x.max() >= self.n_inputs):
            raise ValueError(f"`x` must lie in [0, {self.n_inputs}), got range [{x.min()}, {x.max()}]")
        self.table_ = np.full(self.n_inputs, self.unknown, dtype=np.int64)
        self.table_[x] = y
        return self

    def predict(self, x) -> np.ndarray:
        return self.table_[np.asarray(x, dtype=np.int64)]

    def error(self, p, labels) -> float:
        """Population error sum_i p_i 1[predict(i) != labels_i] (an exact average over test inputs)."""
        return float(np.asarray(p)[self.table_ != np.asarray(labels)].sum())


def simulate_memorizer(p, q, T, *, n_trials: int = 100, rng: SeedLike = None,
                       n_labels: int = 10) -> MCEstimate:
    """Monte Carlo twin of :func:`expected_error`: draw T inputs from q, label them with a random
    f*, fit a :class:`Memorizer`, and measure its population error on p; ``n_trials`` datasets.

    For an array T each trial draws max(T) inputs and trains one memoriser per prefix of length T.
    """
    p = check_prob("p", p)
    q = check_prob("q", q)
    if p.shape != q.shape:
        raise ValueError(f"`p` and `q` must have the same shape, got {p.shape} and {q.shape}")
    ts, scalar = check_counts("T", T)
    n_trials = check_trials(n_trials)
    rng = as_rng(rng)
    flat = ts.ravel().astype(np.int64)
    draw = Sampler(q)
    samples = []
    for _ in range(n_trials):
        labels = rng.integers(0, n_labels, p.size)  # f*
        x = draw(int(flat.max()), rng)
        samples.append([Memorizer(p.size).fit(x[:t], labels[x[:t]]).error(p, labels) for t in flat])
    return mc_estimate(samples, ts.shape, scalar)


def simulate_memorizer_chain(p, T, T0, generations, *, n_trials: int = 100, rng: SeedLike = None,
                             n_labels: int = 10) -> MCEstimate:
    """Monte Carlo twin of :func:`memorizer_chain_error`: a real chain of memorisers, each trained on
    T0 inputs from p labelled by its predecessor (generation 0's teacher is the true f*), and the
    final model trained on T inputs labelled by generation n."""
    p = check_prob("p", p)
    ts, t_scalar = check_counts("T", T)
    T0 = check_int("T0", T0, low=1)
    gens, g_scalar = _check_generations(generations)
    n_trials = check_trials(n_trials)
    rng = as_rng(rng)
    ts_b, gens_b = np.broadcast_arrays(ts, gens)
    pairs = list(zip(ts_b.ravel().astype(np.int64), gens_b.ravel()))
    draw = Sampler(p)
    samples = []
    for _ in range(n_trials):
        truth = rng.integers(0, n_labels, p.size)
        teachers = [truth]  # teachers[g] = the labelling table of generation g (0 = ground truth)
        for _g in range(int(gens_b.max())):
            x = draw(T0, rng)
            teachers.append(Memorizer(p.size).fit(x, teachers[-1][x]).table_)
        x = draw(int(ts_b.max()), rng)
        samples.append([Memorizer(p.size).fit(x[:t], teachers[n][x[:t]]).error(p, truth) for t, n in pairs])
    return mc_estimate(samples, ts_b.shape, t_scalar and g_scalar)


def simulate_resampling_chain(p, T, T0, generations, *, n_trials: int = 100, rng: SeedLike = None,
                              n_labels: int = 10) -> MCEstimate:
    """Monte Carlo twin of :func:`resampling_chain_error`: run :func:`resampling_chain` to q_n, draw
    T inputs from q_n (labels correct), fit a :class:`Memorizer` and measure its error on p."""
    p = check_prob("p", p)
    ts, t_scalar = check_counts("T", T)
    T0 = check_int("T0", T0, low=1)
    gens, g_scalar = _check_generations(generations)
    n_trials = check_trials(n_trials)
    rng = as_rng(rng)
    ts_b, gens_b = np.broadcast_arrays(ts, gens)
    uniq = sorted(set(int(g) for g in gens_b.ravel()))
    samples = []
    for _ in range(n_trials):
        truth = rng.integers(0, n_labels, p.size)
        qs = dict(zip(uniq, resampling_chain(p, T0, uniq, rng)))
        draws = {n: Sampler(qs[n])(int(ts_b.max()), rng) for n in uniq}
        row = []
        for t, n in zip(ts_b.ravel().astype(np.int64), gens_b.ravel()):
            x = draws[int(n)][:t]
            row.append(Memorizer(p.size).fit(x, truth[x]).error(p, truth))
        samples.append(row)
    return mc_estimate(samples, ts_b.shape, t_scalar and g_scalar)
