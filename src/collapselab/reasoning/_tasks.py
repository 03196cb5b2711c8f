"""Chain-of-thought dynamic-programming tasks (Feng et al. 2023; used by Yang et al. 2024, arXiv 2402.13934).

Every generator builds an example from a seeded ``np.random.Generator`` and checks it with an
*independent* solver before emitting it (a different algorithm from the one that writes the CoT):

* ``lis`` (size n = sequence length): prompt ``x_1 .. x_n <sep>``; CoT ``dp_1 .. dp_n <sep>`` with
  dp_l = 1 + max{dp_i : i < l, x_i < x_l} (length of the longest increasing subsequence ending at l);
  answer max dp. Checked by patience sorting (O(n log n)).
* ``ed`` (size n = string length): prompt ``a_1 .. a_n | b_1 .. b_m <sep>``; CoT the DP table D[i][j],
  i = 1..n, j = 1..m, row by row, each row followed by ``,``; then ``<sep>``; answer D[n][m]. Costs
  (insert, delete, substitute), default Levenshtein (1, 1, 1). Checked by a memoised recursion.
* ``arithmetic`` (size n = number of operators): an expression over Z_p (default p = 11) with
  ``+ - * / ( )`` (division = multiplication by the modular inverse) followed by ``=``; CoT the
  expression rewritten with one operation evaluated at a time, the steps separated by ``=``, ending
  in the value. Checked by a recursive-descent parser evaluating every step's text.
"""

from __future__ import annotations

import bisect
import functools
from dataclasses import dataclass, field

import numpy as np

from collapselab._rng import as_rng
from collapselab._validation import check_choice, check_int

TASKS = ("lis", "ed", "arithmetic")
PAD, EOS, SEP = "<pad>", "<eos>", "<sep>"


@dataclass(frozen=True)
class Example:
    prompt: list[str]
    cot: list[str]
    answer: str

    @property
    def target(self) -> list[str]:
        """What the model must produce after the prompt: CoT, answer, end of sequence."""
        return [*self.cot, self.answer, EOS]

    @property
    def text(self) -> str:
        return " ".join([*self.prompt, *self.cot, self.answer])


@dataclass
class Vocabulary:
    """Token <-> id maps; id 0 is ``<pad>``, 1 ``<eos>``, 2 ``<sep>``."""

    tokens: list[str]
    index: dict[str, int] = field(init=False)

    def __post_init__(self) -> None:
        if len(set(self.tokens)) != len(self.tokens):
            raise ValueError("`tokens` must be unique")
        self.index = {t: i for i, t in enumerate(self.tokens)}

    def __len__(self) -> int:
        return len(self.tokens)

    def encode(self, tokens: list[str]) -> list[int]:
        try:
            return [self.index[t] for t in tokens]
        except KeyError as exc:
            raise ValueError(f"token {exc.args[0]!r} is not in the vocabulary") from None

    def decode(self, ids) -> list[str]:
        return [self.tokens[int(i)] for i in ids]


class SolverMismatch(RuntimeError):
    """A generated example disagrees with the independent solver (a bug, never expected)."""


# ---------------------------------------------------------------------------------------------------
# LIS


def lis_dp(xs: list[int]) -> list[int]:
    """dp_l = 1 + max{dp_i : i < l, x_i < x_l} (O(n^2)), the CoT of the LIS task."""
    dp: list[int] = []
    for l, x in enumerate(xs):
        dp.append(1 + max((dp[i] for i in range(l) if xs[i] < x), default=0))
    return dp


def _patience(xs: list[int]) -> tuple[list[int], int]:
    """Patience sorting: (the pile each x_l lands on, counted from 1; the number of piles).

    The pile of x_l is 1 + the length of the longest strictly increasing subsequence of the earlier
    values below x_l, i.e. dp_l; the number of piles is the LIS length. O(n log n).
    """
    tails: list[int] = []  # tails[k]: the smallest last value of an increasing run of length k + 1
    piles = []
    for x in xs:
        k = bisect.bisect_left(tails, x)
        tails[k:k + 1] = [x]
        piles.append(k + 1)
    return piles, len(tails)


def lis_length(xs: list[int]) -> int:
    """Length of the longest strictly increasing subsequence by patience sorting (independent check)."""
    return _patience(xs)[1]


def _lis_example(size: int, rng: np.random.Generator, number_range: int) -> Example:
    xs = [int(v) for v in rng.integers(1, number_range, size)]
    dp = lis_dp(xs)
    answer = max(dp)
    piles, length = _patience(xs)  # independent check of the answer and of every dp_l
    if answer != length or dp != piles:
        raise SolverMismatch(f"LIS of {xs}: DP {dp} (answer {answer}) vs patience sorting {piles} ({length})")
    return Example([str(x) for x in xs] + [SEP], [str(d) for d in dp] + [SEP], str(answer))


# ---------------------------------------------------------------------------------------------------
# Edit distance


def ed_table(a: str, b: str, costs: tuple[int, int, int] = (1, 1, 1)) -> list[list[int]]:
    """D[i][j] = min(D[i-1][j] + del, D[i][j-1] + ins, D[i-1][j-1] + sub * [a_i != b_j]),
    D[i][0] = i * del, D[0][j] = j * ins. Returns the full (n+1) x (m+1) table."""
    ins, dele, sub = costs
    n, m = len(a), len(b)
    D = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(1, n + 1):
        D[i][0] = i * dele
    for j in range(1, m + 1):
        D[0][j] = j * ins
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            D[i][j] = min(D[i - 1][j] + dele, D[i][j - 1] + ins, D[i - 1][j - 1] + (sub if a[i - 1] != b[j - 1] else 0))
    return D


def _suffix_distance(a: str, b: str, costs: tuple[int, int, int]):
    """go(i, j) = edit distance of the suffixes a[i:] and b[j:], by memoised recursion."""
    ins, dele, sub = costs

    @functools.cache
    def go(i: int, j: int) -> int:
        if i == len(a):
            return (len(b) - j) * ins
        if j == len(b):
            return (len(a) - i) * dele
        return min(go(i + 1, j) + dele, go(i, j + 1) + ins, go(i + 1, j + 1) + (0 if a[i] == b[j] else sub))

    return go


def edit_distance(a: str, b: str, costs: tuple[int, int, int] = (1, 1, 1)) -> int:
    """Edit distance by memoised recursion on suffixes (independent check of :func:`ed_table`)."""
    return _suffix_distance(a, b, tuple(costs))(0, 0)


def _ed_example(size: int, rng: np.random.Generator, alphabet: str, costs: tuple[int, int, int]) -> Example:
    letters = list(alphabet)
    a = "".join(rng.choice(letters, size))
    if rng.random() < 0.4:  # unrelated second string
        b = "".join(rng.choice(letters, size + int(rng.integers(-1, 2))))
    else:  # a few random edits of the first
        b = list(a)
        for _ in range(int(rng.integers(1, max(2, size // 2 + 1)))):
            op = rng.integers(3)
            pos = int(rng.integers(len(b) + (op == 1)))
            if op == 0 and b:
                b[min(pos, len(b) - 1)] = str(rng.choice(letters))
            elif op == 1 and len(b) < size + 1:
                b.insert(pos, str(rng.choice(letters)))
            elif op == 2 and len(b) > max(1, size - 1):
                del b[min(pos, len(b) - 1)]
        b = "".join(b)
    D = ed_table(a, b, costs)
    # Independent check of every cell, D[i][j] = distance(a[:i], b[:j]): reversing both strings keeps
    # the distance, so the suffix recursion on the reversed strings gives every prefix pair in O(nm).
    rev = _suffix_distance(a[::-1], b[::-1], costs)
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            if D[i][j] != rev(len(a) - i, len(b) - j):
                raise SolverMismatch(f"ED D[{i}][{j}] of {a}|{b}")
    cot = [str(D[i][j]) if j <= len(b) else "," for i in range(1, len(a) + 1) for j in range(1, len(b) + 2)]
    return Example([*a, "|", *b, SEP], [*cot, SEP], str(D[len(a)][len(b)]))


# ---------------------------------------------------------------------------------------------------
# Arithmetic over Z_p

_PREC = {"+": 1, "-": 1, "*": 2, "/": 2}


def _apply(op: str, a: int, b: int, p: int) -> int:
    if op == "+":
        return (a + b) % p
    if op == "-":
        return (a - b) % p
    if op == "*":
        return (a * b) % p
    return (a * pow(b, -1, p)) % p


class _Node:
    __slots__ = ("op", "left", "right", "value")

    def __init__(self, value: int | None = None, op: str | None = None, left=None, right=None):
        self.value, self.op, self.left, self.right = value, op, left, right

    @property
    def leaf(self) -> bool:
        return self.op is None


def _render(node: _Node) -> list[str]:
    """Tokens with the brackets a left-associative parse needs to rebuild exactly this tree."""
    if node.leaf:
        return [str(node.value)]
    left, right = _render(node.left), _render(node.right)
    if not node.left.leaf and _PREC[node.left.op] < _PREC[node.op]:
        left = ["(", *left, ")"]
    if not node.right.leaf and _PREC[node.right.op] <= _PREC[node.op]:
        right = ["(", *right, ")"]
    return [*left, node.op, *right]


def _evaluate_one(node: _Node, p: int) -> bool:
    """Evaluate the leftmost operation whose operands are both numbers; True if one was evaluated."""
    if node.leaf:
        return False
    if node.left.leaf and node.right.leaf:
        node.value, node.op = _apply(node.op, node.left.value, node.right.value, p), None
        node.left = node.right = None
        return True
    return _evaluate_one(node.left, p) or _evaluate_one(node.right, p)


def evaluate_expression(tokens: list[str], p: int) -> int:
    """Recursive-descent evaluation of an infix expression over Z_p (the independent checker)."""
    pos = 0

    def peek() -> str | None:
        return tokens[pos] if pos < len(tokens) else None

    def atom() -> int:
        nonlocal pos
        tok = peek()
        if tok == "(":
            pos += 1
            v = expr()
            if peek() != ")":
                raise ValueError(f"unbalanced brackets in {' '.join(tokens)!r}")
            pos += 1
            return v
        if tok is None or not tok.isdigit():
            raise ValueError(f"expected a number at {pos} in {' '.join(tokens)!r}")
        pos += 1
        return int(tok) % p

    def term() -> int:
        nonlocal pos
        v = atom()
        while peek() in ("*", "/"):
            op = tokens[pos]
            pos += 1
            v = _apply(op, v, atom(), p)
        return v

    def expr() -> int:
        nonlocal pos
        v = term()
        while peek() in ("+", "-"):
            op = tokens[pos]
            pos += 1
            v = _apply(op, v, term(), p)
        return v

    value = expr()
    if pos != len(tokens):
        raise ValueError(f"trailing tokens in {' '.join(tokens)!r}")
    return value


def _arithmetic_example(size: int, rng: np.random.Generator, p: int) -> Example:
    root = _Node(int(rng.integers(p)))
    leaves = [root]
    for _ in range(size):  # replace a random number x by (a op b) with a op b = x (mod p)
        leaf = leaves.pop(int(rng.integers(len(leaves))))
        x, op = leaf.value, str(rng.choice(list(_PREC)))
        b = int(rng.integers(1, p)) if op in "*/" else int(rng.integers(p))
        if op == "+":
            a = (x - b) % p
        elif op == "-":
            a = (x + b) % p
        elif op == "*":
            a = (x * pow(b, -1, p)) % p  # b != 0
        else:
            a = (x * b) % p
        leaf.op, leaf.value, leaf.left, leaf.right = op, None, _Node(a), _Node(b)
        leaves += [leaf.left, leaf.right]
    prompt = _render(root)
    value = evaluate_expression(prompt, p)
    steps = []
    while _evaluate_one(root, p):
        steps.append(_render(root))
    if len(steps) != size or steps[-1] != [str(value)]:
        raise SolverMismatch(f"arithmetic steps of {prompt}")
    for s in steps:  # every rewritten expression keeps the value
        if evaluate_expression(s, p) != value:
            raise SolverMismatch(f"arithmetic step {s} of {prompt}")
    cot = [tok for s in steps[:-1] for tok in (*s, "=")]
    return Example([*prompt, "="], cot, str(value))


# ---------------------------------------------------------------------------------------------------


def generate(task: str, size: int, count: int, *, seed: int | np.random.Generator = 0, cot: bool = True,
             number_range: int | None = None, alphabet: str = "abcdef", costs: tuple[int, int, int] = (1, 1, 1),
             modulus: int = 11) -> list[Example]:
    """``count`` verified examples of ``task`` at ``size``.

    cot=False drops the chain of thought (direct answer after the prompt). ``number_range`` (LIS values
    in [1, number_range); default 4 * size + 10), ``alphabet`` and ``costs`` (ED), ``modulus`` (arithmetic,
    a prime) parametrise the tasks.
    """
    check_choice("task", task, TASKS)
    size = check_int("size", size, low=1 if task != "lis" else 2)
    count = check_int("count", count, low=0)
    rng = as_rng(seed)
    if task == "lis":
        nr = check_int("number_range", number_range if number_range is not None else 4 * size + 10, low=3)
        make = functools.partial(_lis_example, number_range=nr)
    elif task == "ed":
        if len(set(alphabet)) < 2 or len(set(alphabet)) != len(alphabet):
            raise ValueError(f"`alphabet` must hold at least 2 distinct letters, got {alphabet!r}")
        if len(costs) != 3 or any(check_int("costs", c, low=0) < 0 for c in costs):
            raise ValueError(f"`costs` must be (insert, delete, substitute) integers, got {costs!r}")
        make = functools.partial(_ed_example, alphabet=alphabet, costs=tuple(costs))
    else:
        modulus = check_int("modulus", modulus, low=2)
        if any(modulus % f == 0 for f in range(2, int(modulus**0.5) + 1)):
            raise ValueError(f"`modulus` must be prime (division needs inverses), got {modulus}")
        make = functools.partial(_arithmetic_example, p=modulus)
    out = []
    for _ in range(count):
        ex = make(size, rng)
        out.append(ex if cot else Example(ex.prompt, [], ex.answer))
    return out


def vocabulary(task: str, size: int, *, number_range: int | None = None, alphabet: str = "abcdef",
               costs: tuple[int, int, int] = (1, 1, 1), modulus: int = 11) -> Vocabulary:
    """The vocabulary covering every example :func:`generate` can emit for these settings."""
    check_choice("task", task, TASKS)
    special = [PAD, EOS, SEP]
    if task == "lis":
        nr = number_range if number_range is not None else 4 * size + 10
        return Vocabulary(special + [str(i) for i in range(max(nr, size + 1) + 1)])
    if task == "ed":
        top = max(costs) * (2 * size + 2)
        return Vocabulary(special + ["|", ","] + sorted(set(alphabet)) + [str(i) for i in range(top + 1)])
    return Vocabulary(special + ["+", "-", "*", "/", "(", ")", "="] + [str(i) for i in range(modulus)])
