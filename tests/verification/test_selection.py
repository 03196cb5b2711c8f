import numpy as np
import pytest

from collapselab.verification import STRATEGIES, select, synthesize_select_retrain, take_candidates


def test_select_strategies():
    scores = np.array([[0.1, 0.9, 0.2], [0.5, 0.5, 0.1], [0.0, -1.0, 3.0]])
    accept = np.array([[True, False, False], [False, True, True], [True, True, True]])
    correct = np.array([[False, True, False], [True, False, False], [True, False, False]])
    s = select("none", n=3)
    assert s.index.tolist() == [0, 1, 2] and s.choice.tolist() == [0, 0, 0]
    s = select("best-of-k", scores=scores)
    assert s.index.tolist() == [0, 1, 2] and s.choice.tolist() == [1, 0, 2]  # ties: lowest index
    s = select("prune", accept=accept)
    assert s.index.tolist() == [0, 2] and s.choice.tolist() == [0, 0]
    s = select("oracle", correct=correct)
    assert s.index.tolist() == [1, 2]
    assert select("none", scores=scores).index.tolist() == [0, 1, 2]
    assert select("prune", accept=np.array([True, False])).index.tolist() == [0]


def test_pipeline_selects_then_retrains_on_growing_sizes():
    inputs = list(range(10))
    calls = []

    def synthesize(xs):
        return [[x, x + 100] for x in xs]  # candidate 1 is "better"

    def retrain(xs, ys):
        calls.append((list(xs), list(ys)))
        return len(xs)

    res = synthesize_select_retrain(inputs, synthesize=synthesize, retrain=retrain, strategy="best-of-k",
                                    score=lambda xs, c: np.array([[0.0, 1.0]] * len(xs)), sizes=[3, 10, 50])
    assert res.sizes == [3, 10] and res.models == [3, 10]  # 50 > kept: skipped
    assert calls[0] == ([0, 1, 2], [100, 101, 102])
    res = synthesize_select_retrain(inputs, synthesize=synthesize, retrain=retrain, strategy="oracle",
                                    correct=lambda xs, c: np.array([[x % 2 == 0, True] for x in xs]))
    assert res.selection.index.tolist() == [0, 2, 4, 6, 8] and res.sizes == [5]
    capped = synthesize_select_retrain(inputs, synthesize=synthesize, retrain=retrain, strategy="oracle",
                                       correct=lambda xs, c: np.array([[x < 4, True] for x in xs]),
                                       sizes=[2, 8, 9], cap_sizes=True)
    assert capped.sizes == [2, 4] and capped.models == [2, 4]
    cands = np.arange(20).reshape(10, 2)
    assert take_candidates(cands, select("best-of-k", scores=np.tile([0, 1], (10, 1)))).tolist() == \
        list(range(1, 20, 2))


def test_selection_errors():
    assert STRATEGIES == ("none", "prune", "best-of-k", "oracle")
    with pytest.raises(ValueError, match="strategy"):
        select("majority", n=3)
    with pytest.raises(ValueError, match="accept"):
        select("prune", scores=np.zeros((2, 2)))
    with pytest.raises(ValueError, match="scores"):
        select("best-of-k", scores=np.array([[np.nan, 1.0]]))
    with pytest.raises(ValueError, match="score"):
        synthesize_select_retrain([1, 2], synthesize=lambda x: [[0], [0]], retrain=lambda x, y: 0,
                                  strategy="best-of-k")
    with pytest.raises(ValueError, match="candidate lists"):
        synthesize_select_retrain([1, 2], synthesize=lambda x: [[0]], retrain=lambda x, y: 0, strategy="none")
