"""Selection strategies and the generic synthesize -> select -> retrain pipeline.

Every pipeline of the paper (Gaussian mixture, eigenvalues, summarisation) is one call of
:func:`synthesize_select_retrain` with task-specific callables [V: notes A.3, common recipe]:

1. ``synthesize(inputs) -> candidates``: k candidate labels per input, shape (n, k, ...) or a list of
   n lists of k candidates (candidate 0 is the generator's own first choice: top beam, first sample);
2. a verifier gives ``scores`` (n, k) (higher is better) and/or ``accept`` (n, k) keep decisions;
   an oracle gives ``correct`` (n, k) (ground truth, available in controlled experiments);
3. :func:`select` applies a strategy, and a fresh model is retrained on the first m selected pairs
   for each m in ``sizes`` (growing amounts of selected data).

Strategies: ``none`` (keep candidate 0 of every input), ``prune`` (keep candidate 0 where the
verifier accepts it), ``best-of-k`` (keep, for every input, the candidate the verifier scores best),
``oracle`` (keep candidate 0 where it is truly correct: pruning by a perfect verifier).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from collapselab._validation import check_choice, check_int

STRATEGIES = ("none", "prune", "best-of-k", "oracle")


class Selection(NamedTuple):
    index: np.ndarray  # (m,) int64: kept inputs, in input order
    choice: np.ndarray  # (m,) int64: which candidate of each kept input


def _as_matrix(name: str, value, dtype) -> np.ndarray:
    arr = np.asarray(value, dtype=dtype)
    if arr.ndim == 1:
        arr = arr[:, None]  # one candidate per input
    if arr.ndim != 2:
        raise ValueError(f"`{name}` must have shape (n,) or (n, k), got {arr.shape}")
    return arr


def select(strategy: str, *, n: int | None = None, scores=None, accept=None, correct=None) -> Selection:
    """Apply a selection strategy to n inputs with k candidates each (see the module docstring).

    ``none`` needs ``n`` (or any of the arrays); ``prune`` needs ``accept``; ``best-of-k`` needs
    ``scores`` (ties go to the lowest index, i.e. the generator's own ranking); ``oracle`` needs
    ``correct``. Arrays may be (n,) for a single candidate per input.
    """
    check_choice("strategy", strategy, STRATEGIES)
    given = {"scores": scores, "accept": accept, "correct": correct}
    needed = {"prune": "accept", "best-of-k": "scores", "oracle": "correct"}.get(strategy)
    if needed is not None and given[needed] is None:
        raise ValueError(f"strategy {strategy!r} needs `{needed}`")
    if strategy == "none":
        if n is None:
            arrays = [v for v in given.values() if v is not None]
            if not arrays:
                raise ValueError("strategy 'none' needs `n` or one of `scores`, `accept`, `correct`")
            n = len(arrays[0])
        n = check_int("n", n, low=0)
        return Selection(np.arange(n, dtype=np.int64), np.zeros(n, dtype=np.int64))
    if strategy == "best-of-k":
        s = _as_matrix("scores", scores, np.float64)
        if np.isnan(s).any():
            raise ValueError("`scores` must not contain NaN")
        return Selection(np.arange(s.shape[0], dtype=np.int64), s.argmax(1).astype(np.int64))
    keep = _as_matrix(needed, given[needed], bool)[:, 0]
    index = np.flatnonzero(keep).astype(np.int64)
    return Selection(index, np.zeros(index.shape[0], dtype=np.int64))


def take(items, index: np.ndarray):
    """items[index] for arrays and tensors, a list comprehension for other sequences."""
    if hasattr(items, "shape"):
        return items[index]
    return [items[int(i)] for i in index]


def take_candidates(candidates, selection: Selection):
    """The chosen candidate of every kept input: candidates[i][j] for (i, j) in the selection."""
    if hasattr(candidates, "shape"):
        return candidates[selection.index, selection.choice]
    return [candidates[int(i)][int(j)] for i, j in zip(selection.index, selection.choice)]


class PipelineResult(NamedTuple):
    selection: Selection  # what was kept
    sizes: list[int]  # amounts of selected data actually used (those <= number kept)
    models: list[Any]  # retrain's output for each size (a model, or any result it returns)


def synthesize_select_retrain(inputs: Sequence | np.ndarray, *, synthesize: Callable[[Any], Any],
                              retrain: Callable[[Any, Any], Any], strategy: str,
                              score: Callable[[Any, Any], Any] | None = None,
                              accept: Callable[[Any, Any], Any] | None = None,
                              correct: Callable[[Any, Any], Any] | None = None,
                              sizes: Sequence[int] | None = None, cap_sizes: bool = False,
                              candidates: Any = None) -> PipelineResult:
    """The generic synthesize -> select -> retrain pipeline shared by every experiment.

    score / accept / correct: callables (inputs, candidates) -> (n, k) arrays, called only when the
    strategy needs them. ``sizes``: retrain on the first m selected pairs for each m (default: all
    kept once); sizes above the number kept are skipped, or with ``cap_sizes`` replaced by the number
    kept (so a strict selection still yields one retrained model). ``candidates`` may be passed precomputed
    (then ``synthesize`` is not called), so several strategies can share one synthesis.
    """
    check_choice("strategy", strategy, STRATEGIES)
    cands = synthesize(inputs) if candidates is None else candidates
    n = len(inputs)
    if len(cands) != n:
        raise ValueError(f"`synthesize` returned {len(cands)} candidate lists for {n} inputs")
    # strategy -> (select's keyword, the callable computing it, the callable's argument name)
    fns = {"prune": ("accept", accept, "accept"), "best-of-k": ("scores", score, "score"),
           "oracle": ("correct", correct, "correct")}
    kwargs: dict[str, Any] = {"n": n}
    if strategy in fns:
        name, fn, arg = fns[strategy]
        if fn is None:
            raise ValueError(f"strategy {strategy!r} needs the `{arg}` callable")
        kwargs[name] = fn(inputs, cands)
    sel = select(strategy, **kwargs)
    kept_x, kept_y = take(inputs, sel.index), take_candidates(cands, sel)
    m_kept = len(sel.index)
    if sizes is None:
        sizes = [m_kept]
    used = [check_int("sizes", m, low=0) for m in sizes]
    if cap_sizes:
        used = sorted({min(m, m_kept) for m in used} - {0})
    else:
        used = [m for m in used if m <= m_kept]
    models = [retrain(take(kept_x, np.arange(m)), take(kept_y, np.arange(m))) for m in used]
    return PipelineResult(sel, used, models)
