r"""Transferred discrepancy (Feng et al. 2020, arXiv 2007.12446): compare two representations through
the predictions of heads trained on them for downstream tasks.

For representations Phi_a (n, d1), Phi_b (n, d2) of the same n inputs and a task with targets y:
fit a head on each representation on the training split, h_a = argmin_h loss(h o Phi_a, y) (same for
b), and compare the heads' predictions on the test split:  TD(Phi_a, Phi_b; y) = d(h_a o Phi_a,
h_b o Phi_b).   [V: definition as read in notes B.2; the exact normalisation of d is not verified]

Heads are small config objects, one family per kind of task: :class:`LinearHead` (least squares with
intercept, ridge when ``alpha`` > 0; regression, or classification on one-hot targets) and
:class:`LogisticHead` (classification only). The strings "linear", "ridge" and "logistic" name their
defaults (``LinearHead()``, ``LinearHead(alpha=1e-3)``, ``LogisticHead()``).

* regression (head "linear" = least squares with intercept, or "ridge"): with test predictions
  p_a, p_b (n_test,) and ybar the training mean of y (the intercept-only prediction),
      TD_y = ||p_a - p_b||^2 / (0.5 (||p_a - ybar||^2 + ||p_b - ybar||^2)) = N_y / D_y,
  0 for identical predictions, 2 when the two prediction deviations are orthogonal (unrelated
  representations; Theorem 1's corollary), at most 4.   [D: notes B.3]
* classification (head "logistic" by default, or "linear"/"ridge" on one-hot targets, argmax):
  the disagreement rate P[argmax h_a != argmax h_b] on the test split, and for logistic heads the
  mean total-variation distance 0.5 sum_c |p_a(c) - p_b(c)| between predicted probabilities.
                                                                         [D: the natural instance, B.3]

Many tasks are the columns of ``targets``; the result has one value per task and a reduction:
"mean", "max", or (regression) "pooled" = sum_y N_y / sum_y D_y, the form whose expectation over
isotropic random tasks has the closed form of ``isotropic_td``.

Invariances (tested): for "linear" heads TD is unchanged by any invertible linear map of either
representation (the predictions depend on the column span only); "ridge" and "logistic" heads see
features rescaled to unit root-mean-square and an isotropic L2 penalty, so TD is unchanged by
orthogonal maps and isotropic scaling.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from collapselab._rng import SeedLike, as_rng
from collapselab._validation import check_choice, check_int, check_real
from collapselab.similarity._common import as_feature_pair, as_features, as_numpy
from collapselab.stats import MCEstimate

TASKS = ("regression", "classification")
REDUCTIONS = ("mean", "max", "pooled", None)
SOLVERS = ("features", "gram")


@dataclass(frozen=True)
class LinearHead:
    """Least-squares head with intercept: regression, or classification by argmax over one-hot targets.

    ``alpha``: ridge penalty lambda = alpha x n_train on features centred and scaled to unit RMS
    (0 = ordinary least squares, minimum-norm when rank-deficient). ``solver``: "features" (d x d normal
    equations, O(n d^2)) or "gram" (the dual (n_train x n_train) kernel form, O(n^3); the slow reference).
    """

    alpha: float = 0.0
    solver: str = "features"

    def __post_init__(self) -> None:
        check_real("alpha", self.alpha, low=0.0)
        check_choice("solver", self.solver, SOLVERS)

    @property
    def name(self) -> str:
        return "linear" if self.alpha == 0 else "ridge"


@dataclass(frozen=True)
class LogisticHead:
    """L2-penalised logistic regression (scikit-learn, lbfgs) on features centred and scaled to unit RMS;
    classification only. ``C``: inverse penalty; ``tol``/``max_iter``: lbfgs stopping rule."""

    C: float = 1.0
    tol: float = 1e-4
    max_iter: int = 1000

    def __post_init__(self) -> None:
        check_real("C", self.C, low=0.0, low_open=True)
        check_real("tol", self.tol, low=0.0, low_open=True)
        check_int("max_iter", self.max_iter, low=1)

    @property
    def name(self) -> str:
        return "logistic"


Head = LinearHead | LogisticHead
HEADS: dict[str, Head] = {"linear": LinearHead(), "ridge": LinearHead(alpha=1e-3), "logistic": LogisticHead()}


def as_head(head: str | Head | None, task: str) -> Head:
    """The head config for ``task``: None -> the task's default (linear for regression, logistic for
    classification); a name from ``HEADS``; or a :class:`LinearHead` / :class:`LogisticHead` as given."""
    if head is None:
        head = LinearHead() if task == "regression" else LogisticHead()
    elif isinstance(head, str):
        head = HEADS[check_choice("head", head, tuple(HEADS))]
    elif not isinstance(head, (LinearHead, LogisticHead)):
        raise ValueError(f"`head` must be a name in {tuple(HEADS)}, a LinearHead or a LogisticHead, "
                         f"got {type(head).__name__}")
    if isinstance(head, LogisticHead) and task == "regression":
        raise ValueError("`head`='logistic' needs task='classification'")
    return head


@dataclass(frozen=True)
class ProbeOutput:
    """Test-split predictions of one representation's heads, for T tasks.

    regression: ``pred`` (n_test, T) float, ``offset`` (T,) training means of the targets.
    classification: ``pred`` (n_test, T) int labels, ``proba`` a list of T arrays (n_test, C_t) or None
    (non-probabilistic heads), ``classes`` a list of T label arrays (the training classes of each task).
    ``score`` (T,): R^2 (regression) or accuracy (classification) on the test split.
    """

    task: str
    pred: np.ndarray
    score: np.ndarray
    offset: np.ndarray | None = None
    proba: list[np.ndarray] | None = None
    classes: list[np.ndarray] | None = None


@dataclass(frozen=True)
class TDResult:
    """Transferred discrepancy of two representations over T tasks.

    ``per_task`` (T,): regression TD_y, or classification disagreement rate. ``value``: the reduction of
    ``per_task`` ("mean"/"max"/"pooled"), or ``per_task`` itself when ``reduce=None``.
    ``prob_distance`` (T,) and ``prob_value``: mean total-variation distance of predicted probabilities
    (logistic heads only, else None). ``numerator``/``denominator`` (T,): N_y, D_y (regression).
    ``score_a``/``score_b`` (T,): each head's test R^2 or accuracy. ``n_train`` is -1 when the result
    comes from :func:`prediction_discrepancy` (the split is not known there).
    """

    per_task: np.ndarray
    value: Any
    reduce: str | None
    task: str
    head: str
    prob_distance: np.ndarray | None
    prob_value: Any
    numerator: np.ndarray | None
    denominator: np.ndarray | None
    score_a: np.ndarray
    score_b: np.ndarray
    n_train: int
    n_test: int


# ----------------------------------------------------------------------------------------------------------
# validation helpers


def _as_targets(targets: Any, n: int, task: str) -> np.ndarray:
    raw = as_numpy(targets)
    try:
        y = np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"`targets` must be numeric, got {type(targets).__name__}") from None
    if y.ndim == 1:
        y = y[:, None]
    if y.ndim != 2 or y.shape[1] < 1:
        raise ValueError(f"`targets` must have shape (n,) or (n, T) with T >= 1 tasks, got {y.shape}")
    if y.shape[0] != n:
        raise ValueError(f"`targets` must have one row per sample: {n} rows expected, got {y.shape[0]}")
    if not np.all(np.isfinite(y)):
        raise ValueError("`targets` must be finite (found NaN or inf)")
    if task == "classification":
        if not np.all(y == np.round(y)):
            raise ValueError("`targets` must hold integer class labels for task='classification'")
        return y.astype(np.int64)
    return y


def _as_index(name: str, idx: Any, n: int) -> np.ndarray:
    arr = np.asarray(as_numpy(idx))
    if arr.dtype == bool:
        if arr.shape != (n,):
            raise ValueError(f"`{name}` as a boolean mask must have shape ({n},), got {arr.shape}")
        arr = np.flatnonzero(arr)
    if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"`{name}` must be a 1-D array of integer sample indices or a boolean mask")
    if arr.size and (arr.min() < 0 or arr.max() >= n):
        raise ValueError(f"`{name}` has indices outside [0, {n - 1}]")
    return arr.astype(np.int64)


def split_indices(n: int, *, train_fraction: float = 0.5, train_idx: Any = None, test_idx: Any = None,
                  rng: SeedLike = 0) -> tuple[np.ndarray, np.ndarray]:
    """Training and test sample indices: explicit ones (validated; they may overlap for in-sample
    evaluation), or a random split of range(n) with ``train_fraction`` for training."""
    n = check_int("n", n, low=3)
    if (train_idx is None) != (test_idx is None):
        raise ValueError("give both `train_idx` and `test_idx`, or neither (then `train_fraction` splits)")
    if train_idx is not None:
        tr, te = _as_index("train_idx", train_idx, n), _as_index("test_idx", test_idx, n)
    else:
        f = check_real("train_fraction", train_fraction, low=0.0, high=1.0, low_open=True, high_open=True)
        perm = as_rng(rng).permutation(n)
        n_tr = int(round(f * n))
        tr, te = np.sort(perm[:n_tr]), np.sort(perm[n_tr:])
    if tr.size < 2:
        raise ValueError(f"the training split needs at least 2 samples, got {tr.size} "
                         "(`train_idx`/`train_fraction`)")
    if te.size < 1:
        raise ValueError("the test split is empty (`test_idx`/`train_fraction`)")
    return tr, te


# ----------------------------------------------------------------------------------------------------------
# heads


def _normalise(x_tr: np.ndarray, x_te: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centre by the training mean and scale to unit training root-mean-square (one scalar)."""
    mu = x_tr.mean(axis=0, keepdims=True)
    x_tr, x_te = x_tr - mu, x_te - mu
    rms = np.sqrt(np.mean(x_tr**2))
    if rms > 0:
        x_tr, x_te = x_tr / rms, x_te / rms
    return x_tr, x_te


def _linear_fit_predict(x_tr, y_tr, x_te, lam: float, solver: str) -> np.ndarray:
    """Predictions x_te w of least squares / ridge on centred x_tr (n_tr, d), centred y_tr (n_tr, T).

    features: w = (X^T X + lam I)^{-1} X^T y (min-norm lstsq when lam = 0), O(n d^2).
    gram:     the dual form, x_te X^T (X X^T + lam I)^{+} y, O(n^3): the slow reference.
    """
    if solver == "features":
        if lam > 0:
            d = x_tr.shape[1]
            w = np.linalg.solve(x_tr.T @ x_tr + lam * np.eye(d), x_tr.T @ y_tr)  # (d, T)
        else:
            w = np.linalg.lstsq(x_tr, y_tr, rcond=None)[0]
        return x_te @ w
    k = x_tr @ x_tr.T  # (n_tr, n_tr)
    if lam > 0:
        coef = np.linalg.solve(k + lam * np.eye(k.shape[0]), y_tr)
    else:
        coef = np.linalg.pinv(k, hermitian=True, rcond=1e-10) @ y_tr
    return (x_te @ x_tr.T) @ coef


def _r2(y: np.ndarray, pred: np.ndarray, offset: np.ndarray) -> np.ndarray:
    ss_tot = np.sum((y - y.mean(axis=0)) ** 2, axis=0)
    ss_res = np.sum((y - pred) ** 2, axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(ss_tot > 0, 1.0 - ss_res / np.where(ss_tot > 0, ss_tot, 1.0), np.nan)


def probe_predictions(feats: Any, targets: Any, *, train_idx: Any, test_idx: Any,
                      task: str = "regression", head: str | Head | None = None) -> ProbeOutput:
    """Fit one head per task (column of ``targets``) on ``feats[train_idx]`` and predict ``test_idx``.

    ``head``: a :class:`LinearHead` (least squares / ridge, either task), a :class:`LogisticHead`
    (classification only), one of their names in ``HEADS``, or None for the task's default. Features
    are centred and scaled to unit training RMS first. Use this to fit each representation once and
    compare many pairs with :func:`prediction_discrepancy`.
    """
    x = as_features("feats", feats)
    n = x.shape[0]
    task = check_choice("task", task, TASKS)
    cfg = as_head(head, task)
    y = _as_targets(targets, n, task)
    tr, te = split_indices(n, train_idx=train_idx, test_idx=test_idx)
    x_tr, x_te = _normalise(x[tr], x[te])
    linear = isinstance(cfg, LinearHead)
    lam = cfg.alpha * tr.size if linear else 0.0
    solver = cfg.solver if linear else "features"

    if task == "regression":
        offset = y[tr].mean(axis=0)  # (T,)
        pred = offset + _linear_fit_predict(x_tr, y[tr] - offset, x_te, lam, solver)  # (n_te, T)
        return ProbeOutput(task, pred, _r2(y[te], pred, offset), offset=offset)

    preds, probas, classes, scores = [], [], [], []
    for t in range(y.shape[1]):
        y_tr, y_te = y[tr, t], y[te, t]
        cls = np.unique(y_tr)
        if cls.size == 1:  # a single training class: the constant head
            p_lab = np.full(te.size, cls[0])
            prob = np.ones((te.size, 1))
        elif not linear:
            from sklearn.exceptions import ConvergenceWarning
            from sklearn.linear_model import LogisticRegression

            clf = LogisticRegression(C=cfg.C, max_iter=cfg.max_iter, tol=cfg.tol)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                clf.fit(x_tr, y_tr)
            prob = clf.predict_proba(x_te)  # (n_te, C_t), columns ordered as cls
            p_lab = cls[np.argmax(prob, axis=1)]
        else:
            onehot = (y_tr[:, None] == cls[None, :]).astype(np.float64)  # (n_tr, C_t)
            off = onehot.mean(axis=0)
            scores_te = off + _linear_fit_predict(x_tr, onehot - off, x_te, lam, solver)
            p_lab, prob = cls[np.argmax(scores_te, axis=1)], None
        preds.append(p_lab)
        probas.append(prob)
        classes.append(cls)
        scores.append(float(np.mean(p_lab == y_te)))
    proba = None if linear else probas
    return ProbeOutput(task, np.stack(preds, axis=1), np.asarray(scores), proba=proba, classes=classes)


# ----------------------------------------------------------------------------------------------------------
# discrepancy of predictions


def _reduce(values: np.ndarray, reduce: str | None, num=None, den=None):
    if reduce is None:
        return values
    if reduce == "mean":
        return float(np.mean(values))
    if reduce == "max":
        return float(np.max(values))
    if num is None:
        raise ValueError("`reduce`='pooled' is defined for task='regression' only")
    total = float(np.sum(den))
    return float(np.sum(num) / total) if total > 0 else 0.0


def prediction_discrepancy(out_a: ProbeOutput, out_b: ProbeOutput, *, reduce: str | None = "mean",
                           head: str = "") -> TDResult:
    """TD from two :class:`ProbeOutput` of the same tasks and splits (see the module doc)."""
    reduce = check_choice("reduce", reduce, REDUCTIONS)
    if out_a.task != out_b.task or out_a.pred.shape != out_b.pred.shape:
        raise ValueError(f"`out_a` and `out_b` must come from the same task and split, got "
                         f"{out_a.task} {out_a.pred.shape} and {out_b.task} {out_b.pred.shape}")
    n_test = out_a.pred.shape[0]
    if out_a.task == "regression":
        da, db = out_a.pred - out_a.offset, out_b.pred - out_b.offset  # deviations from ybar
        num = np.sum((out_a.pred - out_b.pred) ** 2, axis=0)  # N_y (T,)
        den = 0.5 * (np.sum(da**2, axis=0) + np.sum(db**2, axis=0))  # D_y (T,)
        per = np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)
        return TDResult(per, _reduce(per, reduce, num, den), reduce, "regression", head, None, None,
                        num, den, out_a.score, out_b.score, -1, n_test)
    if reduce == "pooled":
        raise ValueError("`reduce`='pooled' is defined for task='regression' only")
    per = np.mean(out_a.pred != out_b.pred, axis=0)  # disagreement (T,)
    prob = prob_value = None
    if out_a.proba is not None and out_b.proba is not None:
        tv = []
        for pa, pb, ca, cb in zip(out_a.proba, out_b.proba, out_a.classes, out_b.classes):
            if not np.array_equal(ca, cb):
                raise ValueError("the two heads were trained on different class sets")
            tv.append(0.5 * float(np.mean(np.sum(np.abs(pa - pb), axis=1))))
        prob = np.asarray(tv)
        prob_value = _reduce(prob, reduce)
    return TDResult(per, _reduce(per, reduce), reduce, "classification", head, prob, prob_value,
                    None, None, out_a.score, out_b.score, -1, n_test)


def transferred_discrepancy(feats_a: Any, feats_b: Any, targets: Any, *, task: str = "regression",
                            head: str | Head | None = None, reduce: str | None = "mean",
                            train_idx: Any = None, test_idx: Any = None, train_fraction: float = 0.5,
                            rng: SeedLike = 0) -> TDResult:
    """Transferred discrepancy between feats_a (n, d1) and feats_b (n, d2) over the tasks in
    ``targets`` (n,) or (n, T). Numpy or torch inputs.

    Heads are fitted on a training split (``train_idx``/``test_idx``, or a random ``train_fraction``
    split drawn from ``rng``) and compared on the test split; see the module doc for the formula,
    heads and reductions. ``head``: a :class:`LinearHead` / :class:`LogisticHead` config, a name
    ("linear", "ridge", "logistic"), or None for LinearHead() (regression) / LogisticHead()
    (classification).
    Regression TD: 0 for identical predictions, ~2 for unrelated representations.
    Returns a :class:`TDResult` (per task and reduced).   [V/D: notes B.2-B.3]
    """
    a, b = as_feature_pair(feats_a, feats_b, min_samples=3)
    task = check_choice("task", task, TASKS)
    cfg = as_head(head, task)
    reduce = check_choice("reduce", reduce, REDUCTIONS)
    if reduce == "pooled" and task != "regression":
        raise ValueError("`reduce`='pooled' is defined for task='regression' only")
    tr, te = split_indices(a.shape[0], train_fraction=train_fraction, train_idx=train_idx,
                           test_idx=test_idx, rng=rng)
    out_a = probe_predictions(a, targets, train_idx=tr, test_idx=te, task=task, head=cfg)
    out_b = probe_predictions(b, targets, train_idx=tr, test_idx=te, task=task, head=cfg)
    res = prediction_discrepancy(out_a, out_b, reduce=reduce, head=cfg.name)
    return TDResult(**{**res.__dict__, "n_train": int(tr.size)})


def chance_disagreement(score_a: Any, score_b: Any, *, n_classes: int = 2) -> np.ndarray:
    """Disagreement rate expected from two classifiers with accuracies ``score_a``, ``score_b`` whose
    errors are independent (and, for more than two classes, spread uniformly over the wrong classes):

        P[h_a != h_b] = 1 - s_a s_b - (1 - s_a)(1 - s_b) / (C - 1),

    which is s_a (1 - s_b) + s_b (1 - s_a) for binary tasks (C = 2; exact there, where a disagreement
    means exactly one of the two is wrong). Observed disagreement over this is one minus the error
    consistency kappa of Geirhos et al. (2020): 1 for independent errors, 0 for identical predictions.
    It removes the part of a classification TD that error rates alone explain (TD rises with error even
    between unrelated representations).   [R: Geirhos et al. 2020, NeurIPS, Eq. 1-2]

    ``score_a``, ``score_b``: accuracies in [0, 1] (scalars or arrays of one shape, e.g. ``TDResult``'s
    ``score_a``/``score_b`` per task). Returns an array of that shape.
    """
    n_classes = check_int("n_classes", n_classes, low=2)
    a = np.asarray(as_numpy(score_a), dtype=np.float64)
    b = np.asarray(as_numpy(score_b), dtype=np.float64)
    for name, v in (("score_a", a), ("score_b", b)):
        if not np.all(np.isfinite(v)) or np.any((v < 0) | (v > 1)):
            raise ValueError(f"`{name}` must hold accuracies in [0, 1]")
    if a.shape != b.shape:
        raise ValueError(f"`score_a` and `score_b` must have the same shape, got {a.shape} and {b.shape}")
    return 1.0 - a * b - (1.0 - a) * (1.0 - b) / (n_classes - 1)


def chance_disagreement_mc(score_a: float, score_b: float, *, n_classes: int = 2, n: int = 100_000,
                           rng: SeedLike = 0) -> MCEstimate:
    """Monte Carlo twin of :func:`chance_disagreement`: ``n`` labelled points, two classifiers that are
    right independently with probabilities ``score_a``/``score_b`` and otherwise pick a wrong class
    uniformly; the observed disagreement rate with its binomial standard error."""
    n_classes = check_int("n_classes", n_classes, low=2)
    n = check_int("n", n, low=2)
    sa = check_real("score_a", score_a, low=0.0, high=1.0)
    sb = check_real("score_b", score_b, low=0.0, high=1.0)
    gen = as_rng(rng)
    y = gen.integers(0, n_classes, n)

    def predict(s: float) -> np.ndarray:
        wrong = (y + gen.integers(1, n_classes, n)) % n_classes  # uniform over the other classes
        return np.where(gen.random(n) < s, y, wrong)

    d = predict(sa) != predict(sb)
    p = float(d.mean())
    return MCEstimate(p, float(np.sqrt(p * (1 - p) / n)), n)


# ----------------------------------------------------------------------------------------------------------
# task families (targets matrices)


def one_vs_rest_tasks(labels: Any) -> np.ndarray:
    """Binary tasks "class c vs the rest", one column per class present: (n,) labels -> (n, C) 0/1."""
    y = _as_labels(labels)
    classes = np.unique(y)
    return (y[:, None] == classes[None, :]).astype(np.int64)


def random_partition_tasks(labels: Any, n_tasks: int, *, rng: SeedLike = 0) -> np.ndarray:
    """Binary tasks from random balanced partitions of the classes into two halves (distinct up to
    swapping the halves, while enough exist): (n,) labels -> (n, n_tasks) 0/1."""
    y = _as_labels(labels)
    n_tasks = check_int("n_tasks", n_tasks, low=1)
    classes = np.unique(y)
    if classes.size < 2:
        raise ValueError("`labels` must contain at least 2 classes to partition")
    gen = as_rng(rng)
    half = classes.size // 2
    seen: set[frozenset] = set()
    n_distinct = _n_partitions(classes.size)
    cols = []
    while len(cols) < n_tasks:
        perm = gen.permutation(classes.size)
        side = frozenset(classes[perm[:half]].tolist())
        key = frozenset([side, frozenset(classes.tolist()) - side])
        if key in seen and len(seen) < n_distinct:
            continue
        seen.add(key)
        cols.append(np.isin(y, list(side)).astype(np.int64))
    return np.stack(cols, axis=1)


def _n_partitions(c: int) -> int:
    from math import comb

    half = c // 2
    return comb(c, half) // (2 if 2 * half == c else 1)


def random_linear_tasks(feats: Any, n_tasks: int, *, noise: float = 0.0, rng: SeedLike = 0) -> np.ndarray:
    """Regression tasks y = Phi_c w + noise * eps, w ~ N(0, I_d / d), eps ~ N(0, I) per task, on the
    centred features: (n, d) -> (n, n_tasks). Tasks "aligned with" one representation (notes B.3)."""
    x = as_features("feats", feats)
    n_tasks = check_int("n_tasks", n_tasks, low=1)
    noise = check_real("noise", noise, low=0.0)
    gen = as_rng(rng)
    w = gen.standard_normal((x.shape[1], n_tasks)) / np.sqrt(x.shape[1])
    y = (x - x.mean(axis=0)) @ w
    if noise > 0:
        y = y + noise * gen.standard_normal(y.shape)
    return y


def isotropic_tasks(n: int, n_tasks: int, *, rng: SeedLike = 0) -> np.ndarray:
    """Regression tasks with i.i.d. N(0, 1) targets, (n, n_tasks): isotropic in sample space."""
    n = check_int("n", n, low=1)
    n_tasks = check_int("n_tasks", n_tasks, low=1)
    return as_rng(rng).standard_normal((n, n_tasks))


def _as_labels(labels: Any) -> np.ndarray:
    y = np.asarray(as_numpy(labels))
    if y.ndim != 1 or y.size < 2:
        raise ValueError(f"`labels` must be a 1-D array of class labels, got shape {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        if not (np.issubdtype(y.dtype, np.floating) and np.all(y == np.round(y))):
            raise ValueError("`labels` must hold integer class labels")
        y = y.astype(np.int64)
    return y
