import itertools

import numpy as np
import pytest

from collapselab.reasoning import (
    TASKS,
    ed_table,
    edit_distance,
    evaluate_expression,
    generate,
    lis_dp,
    lis_length,
    vocabulary,
)
from collapselab.reasoning._tasks import _patience


def brute_lis(xs):
    return max(len(c) for r in range(1, len(xs) + 1) for c in itertools.combinations(xs, r)
               if all(a < b for a, b in zip(c, c[1:])))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lis_solvers_agree_with_brute_force(seed):
    rng = np.random.default_rng(seed)
    for _ in range(30):
        xs = [int(v) for v in rng.integers(0, 9, 7)]
        assert lis_length(xs) == max(lis_dp(xs)) == brute_lis(xs)
        # the check of every CoT step: patience pile of x_l = 1 + LIS of the earlier values below x_l
        piles, dp = _patience(xs)[0], lis_dp(xs)
        for l, x in enumerate(xs):
            below = [v for v in xs[:l] if v < x]
            assert piles[l] == dp[l] == 1 + (brute_lis(below) if below else 0)


def test_edit_distance_known_values_and_costs():
    assert edit_distance("kitten", "sitting") == ed_table("kitten", "sitting")[-1][-1] == 3
    assert edit_distance("", "abc") == 3 and edit_distance("abc", "") == 3
    assert edit_distance("ab", "ba") == 2  # two substitutions
    assert edit_distance("ab", "ba", (2, 2, 3)) == 4 == ed_table("ab", "ba", (2, 2, 3))[-1][-1]  # delete + insert


@pytest.mark.parametrize("costs", [(1, 1, 1), (1, 2, 3), (3, 1, 1)])
def test_reversing_both_strings_keeps_the_distance(costs):
    """The generator checks every prefix cell with the suffix recursion on the reversed strings."""
    rng = np.random.default_rng(sum(costs))
    for _ in range(20):
        a, b = ("".join(rng.choice(list("abc"), int(rng.integers(0, 6)))) for _ in range(2))
        table = ed_table(a, b, costs)
        for i in range(len(a) + 1):
            for j in range(len(b) + 1):
                assert table[i][j] == edit_distance(a[:i], b[:j], costs) == edit_distance(a[:i][::-1], b[:j][::-1],
                                                                                          costs)


@pytest.mark.parametrize("text, p, value", [("2 * ( 7 + 3 / 3 )", 11, 5), ("1 - 2 - 3", 11, 7),
                                            ("8 / 2 / 2", 11, 2), ("3 - ( 4 - 5 )", 7, 4)])
def test_expression_evaluator(text, p, value):
    assert evaluate_expression(text.split(), p) == value


@pytest.mark.parametrize("task, size", [("lis", 5), ("ed", 4), ("arithmetic", 3)])
def test_generated_examples_are_consistent(task, size):
    exs = generate(task, size, 40, seed=3)
    vocab = vocabulary(task, size)
    for ex in exs:
        ids = vocab.encode(ex.prompt + ex.target)  # every token is in the vocabulary
        assert vocab.decode(ids) == ex.prompt + ex.target
        assert ex.text == " ".join(ex.prompt + ex.cot + [ex.answer])
    if task == "lis":
        for ex in exs:
            xs = [int(t) for t in ex.prompt[:-1]]
            assert [int(t) for t in ex.cot[:-1]] == lis_dp(xs) and int(ex.answer) == brute_lis(xs)
    elif task == "ed":
        for ex in exs:
            bar = ex.prompt.index("|")
            a, b = "".join(ex.prompt[:bar]), "".join(ex.prompt[bar + 1:-1])
            rows = " ".join(ex.cot[:-1]).split(" , ")
            assert len(rows) == len(a) and int(ex.answer) == edit_distance(a, b)
    else:
        for ex in exs:
            assert ex.cot[-1] == "=" and ex.prompt[-1] == "="
            steps = " ".join(ex.cot[:-1]).split(" = ")  # the intermediate expressions
            assert len([o for o in ex.prompt if o in "+-*/"]) == size and len(steps) == size - 1
            value = evaluate_expression(ex.prompt[:-1], 11)
            assert int(ex.answer) == value
            for k, step in enumerate(steps):  # one operation fewer at each step, same value
                assert len([o for o in step.split() if o in "+-*/"]) == size - 1 - k
                assert evaluate_expression(step.split(), 11) == value
    assert [e.text for e in generate(task, size, 5, seed=3)] == [e.text for e in exs[:5]]


def test_direct_answer_mode_and_validation():
    ex = generate("lis", 4, 1, seed=0, cot=False)[0]
    assert ex.cot == [] and ex.target[-1] == "<eos>"
    with pytest.raises(ValueError, match="task"):
        generate("sorting", 4, 1)
    with pytest.raises(ValueError, match="size"):
        generate("lis", 0, 1)
    with pytest.raises(ValueError, match="modulus"):
        generate("arithmetic", 2, 1, modulus=12)
    with pytest.raises(ValueError, match="alphabet"):
        generate("ed", 3, 1, alphabet="a")
    with pytest.raises(ValueError, match="vocabulary"):
        vocabulary("lis", 4).encode(["<bogus>"])
    assert set(TASKS) == {"lis", "ed", "arithmetic"}


@pytest.mark.parametrize("task, target", [("lis", "lis_dp"), ("ed", "ed_table"), ("arithmetic", "evaluate_expression")])
def test_a_wrong_solver_is_caught(monkeypatch, task, target):
    """Every emitted example is checked: corrupt one solver and generation must refuse."""
    from collapselab.reasoning import SolverMismatch, _tasks

    real = getattr(_tasks, target)

    def corrupt(*args, **kwargs):
        out = real(*args, **kwargs)
        if target == "lis_dp":
            return out[:-1] + [out[-1] + 1]
        if target == "ed_table":
            out[-1][-1] += 1
            return out
        return out + 1

    monkeypatch.setattr(_tasks, target, corrupt)
    with pytest.raises(SolverMismatch):
        generate(task, 3, 5, seed=0)
