"""The GCD task of "A Tale of Tails" (Sec. 6) for a small decoder-only transformer.

For uniform random integers a, b, P(gcd(a, b) = g) = 1 / (zeta(2) g^2): the labels follow a Zipf law
with beta = 2, so a model generating its own training data cuts the tail of rare GCDs. [V task; R details]

Encoding (fixed width, big-endian digits in base ``base``; L = digits of ``max_int``)::

    a_{L-1} .. a_0  SEP  b_{L-1} .. b_0  EQ  g_{L-1} .. g_0          (3L + 2 tokens)

The model (``collapselab.nn.DecoderLM``) reads the prompt up to EQ and is trained with the next-token
loss on the L answer tokens only; it answers by greedy decoding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from collapselab._rng import SeedLike, as_rng, as_torch_generator
from collapselab._validation import check_int, check_real
from collapselab.nn import DecoderLM, TrainConfig, Trainer, init_parameters, iterate_minibatches, sequence_loss


@dataclass(frozen=True)
class GCDTask:
    """Pairs of integers in [1, max_int] written in base ``base``; vocabulary: digits, SEP, EQ."""

    base: int = 60
    max_int: int = 3599

    def __post_init__(self) -> None:
        check_int("base", self.base, low=2)
        check_int("max_int", self.max_int, low=2)

    @property
    def n_digits(self) -> int:
        n, x = 0, self.max_int
        while x:
            x //= self.base
            n += 1
        return n

    @property
    def sep(self) -> int:
        return self.base

    @property
    def eq(self) -> int:
        return self.base + 1

    @property
    def vocab_size(self) -> int:
        return self.base + 2

    @property
    def seq_len(self) -> int:
        return 3 * self.n_digits + 2

    @property
    def prompt_len(self) -> int:
        return 2 * self.n_digits + 2

    def digits(self, x) -> np.ndarray:
        """(n,) non-negative ints < base^L -> (n, L) big-endian digits."""
        x = np.asarray(x, dtype=np.int64)
        powers = self.base ** np.arange(self.n_digits - 1, -1, -1, dtype=np.int64)
        return (x[:, None] // powers[None, :]) % self.base

    def value(self, digits) -> np.ndarray:
        """(n, L) digits -> (n,) ints."""
        d = np.asarray(digits, dtype=np.int64)
        powers = self.base ** np.arange(self.n_digits - 1, -1, -1, dtype=np.int64)
        return d @ powers

    def prompts(self, a, b) -> np.ndarray:
        n = len(a)
        return np.concatenate([self.digits(a), np.full((n, 1), self.sep), self.digits(b),
                               np.full((n, 1), self.eq)], axis=1)  # (n, 2L + 2)

    def sequences(self, a, b, answers) -> np.ndarray:
        """Full training sequences (n, 3L + 2); ``answers`` are the labels (true or a model's)."""
        return np.concatenate([self.prompts(a, b), self.digits(answers)], axis=1)


def sample_pairs(task: GCDTask, n: int, rng: SeedLike = None) -> tuple[np.ndarray, np.ndarray]:
    """n pairs (a, b) uniform on [1, max_int]^2."""
    n = check_int("n", n, low=0)
    rng = as_rng(rng)
    return rng.integers(1, task.max_int + 1, n), rng.integers(1, task.max_int + 1, n)


def gcd_test_set(task: GCDTask, values, per_value: int, rng: SeedLike = None
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Up to ``per_value`` pairs with gcd exactly g for each g in ``values``: (a, b) = (g u, g v) with
    gcd(u, v) = 1 and u, v uniform on [1, max_int // g] (rejection). Returns a, b, g."""
    per_value = check_int("per_value", per_value, low=1)
    rng = as_rng(rng)
    out_a, out_b, out_g = [], [], []
    for g in values:
        m = task.max_int // int(g)
        if m < 1:
            continue
        u, v = rng.integers(1, m + 1, 40 * per_value), rng.integers(1, m + 1, 40 * per_value)
        keep = np.gcd(u, v) == 1
        u, v = u[keep][:per_value], v[keep][:per_value]
        out_a.append(g * u)
        out_b.append(g * v)
        out_g.append(np.full(u.size, g))
    return np.concatenate(out_a), np.concatenate(out_b), np.concatenate(out_g)


def new_gcd_model(task: GCDTask, *, d_model: int = 64, n_layers: int = 2, n_heads: int = 4,
                  generator: SeedLike = None, device: str | torch.device = "cpu") -> DecoderLM:
    """A fresh :class:`DecoderLM` for ``task``, initialised by :func:`collapselab.nn.init_parameters` from
    ``generator`` (PyTorch's default laws), then moved to ``device``."""
    gen = as_torch_generator(generator)
    model = DecoderLM(task.vocab_size, d_model=d_model, n_layers=n_layers, n_heads=n_heads, max_len=task.seq_len)
    return init_parameters(model, gen).to(device)


class GCDLearner:
    """A GCD transformer with its AdamW optimiser, trained by passes over the pairs it is given.

    The loop is the project's one (:class:`collapselab.nn.Trainer`, kept across calls): plain AdamW at a
    constant rate, no clipping, float32 on every device.

    ``train(a, b, answers)`` makes one pass in a random order (from ``generator``) with the next-token
    cross-entropy on the answer digits only; repeated calls continue the same optimisation, so feeding
    fresh pairs at each call is online training (one optimiser step per ``batch_size`` samples).
    ``steps_`` and ``samples_`` count what it has trained on.
    """

    def __init__(self, task: GCDTask, *, d_model: int = 64, n_layers: int = 2, n_heads: int = 4,
                 lr: float = 1e-3, weight_decay: float = 0.0, batch_size: int = 256,
                 generator: SeedLike = None, device: str | torch.device = "cpu"):
        if not isinstance(task, GCDTask):
            raise ValueError(f"`task` must be a GCDTask, got {type(task).__name__}")
        self.task = task
        self.batch_size = check_int("batch_size", batch_size, low=1)
        check_real("lr", lr, low=0.0, low_open=True)
        check_real("weight_decay", weight_decay, low=0.0)
        self.generator = as_torch_generator(generator)
        self.device = torch.device(device)
        self.model = new_gcd_model(task, d_model=d_model, n_layers=n_layers, n_heads=n_heads,
                                   generator=self.generator, device=self.device)
        # the one loop (collapselab.nn.Trainer): plain AdamW at a constant rate, float32, no clipping;
        # the trainer (its optimiser state) persists across train() calls
        config = TrainConfig(optimizer="adamw", lr=lr, weight_decay=weight_decay, autocast=False)
        self._trainer = Trainer(self.model, config, device=self.device)
        self.optimizer = self._trainer.optimizer
        mask = torch.zeros(task.seq_len - 1, dtype=torch.bool)
        mask[task.prompt_len - 1:] = True  # positions whose next token is an answer digit
        self._mask = mask.to(self.device)
        self.steps_ = 0
        self.samples_ = 0

    def train(self, a, b, answers) -> float:
        """One pass over the sequences of (a, b, answers); returns the mean answer-token loss."""
        a, b, answers = (np.asarray(v, dtype=np.int64) for v in (a, b, answers))
        if not (a.shape == b.shape == answers.shape) or a.ndim != 1:
            raise ValueError(f"`a`, `b` and `answers` must be 1-D of one length, got {a.shape}, {b.shape}, "
                             f"{answers.shape}")
        seq = torch.as_tensor(self.task.sequences(a, b, answers), dtype=torch.long)  # (n, 3L + 2)
        x, y = seq[:, :-1], seq[:, 1:]  # y[t] is the token after x[..t]
        def batch_loss(idx: torch.Tensor) -> torch.Tensor:
            xb, yb = x[idx].to(self.device), y[idx].to(self.device)
            return sequence_loss(self.model(xb), yb, self._mask.expand_as(yb))

        history = self._trainer.run(batch_loss, lambda _: iterate_minibatches(len(seq), self.batch_size,
                                                                              self.generator))
        self.steps_ += history.steps_run
        self.samples_ += len(seq)
        return history.epoch_losses[0]

    def predict(self, a, b) -> np.ndarray:
        """Greedy answers of the model (see :func:`predict_gcd`)."""
        return predict_gcd(self.model, self.task, a, b, device=self.device)


def train_gcd_model(task: GCDTask, a, b, answers, *, d_model: int = 64, n_layers: int = 2, n_heads: int = 4,
                    epochs: int = 4, batch_size: int = 256, lr: float = 1e-3, weight_decay: float = 0.0,
                    generator: SeedLike = None, device: str | torch.device = "cpu") -> DecoderLM:
    """A fresh model trained (AdamW) for ``epochs`` passes over (a, b, answers), loss on answers only."""
    epochs = check_int("epochs", epochs, low=0)
    learner = GCDLearner(task, d_model=d_model, n_layers=n_layers, n_heads=n_heads, lr=lr,
                         weight_decay=weight_decay, batch_size=batch_size, generator=generator, device=device)
    for _ in range(epochs):
        learner.train(a, b, answers)
    return learner.model


def synthesize_pairs(teacher: DecoderLM, task: GCDTask, n: int, rng: SeedLike = None, *, top_k: int | None = None,
                     device: str | torch.device = "cpu", chunk: int = 65536) -> tuple[np.ndarray, np.ndarray,
                                                                                   np.ndarray, int]:
    r"""AI-generated training data: uniform pairs labelled by ``teacher``'s greedy answer.

    ``top_k`` (tail cutting, Tale of Tails Thm 2.1 / Sec. 6): the generator emits only the pairs whose
    answer is one of its top-k answers 1..k (P(gcd = g) = 6 / (pi^2 g^2) decreases in g, so the top-k
    ranks are the values 1..k); everything it would have answered above k is *missing* from the data,
    not mislabelled. Pairs are drawn in rounds until n are kept: a round labels m = ceil(1.1 (n - kept) / r)
    pairs (at most ``chunk``, at least 64), with r the fraction kept so far (1 before the first round), so
    the teacher labels about 10% more pairs than it keeps. Returns (a, b, answers, drawn), with ``drawn``
    the number of uniform pairs labelled to keep n.
    """
    n = check_int("n", n, low=0)
    if top_k is not None:
        top_k = check_int("top_k", top_k, low=1)
    chunk = check_int("chunk", chunk, low=1)
    rng = as_rng(rng)
    parts, kept, drawn = [], 0, 0
    while kept < n:
        rate = kept / drawn if drawn else 1.0
        m = n - kept if top_k is None else min(chunk, max(64, math.ceil(1.1 * (n - kept) / max(rate, 0.01))))
        a, b = sample_pairs(task, m, rng)
        ans = predict_gcd(teacher, task, a, b, device=device)
        drawn += m
        if top_k is not None:
            keep = (ans >= 1) & (ans <= top_k)
            a, b, ans = a[keep], b[keep], ans[keep]
            if kept + len(a) == 0 and drawn >= 10 * max(n, 64):
                raise ValueError(f"the teacher answers no pair within the top_k={top_k} values")
        parts.append((a, b, ans))
        kept += len(a)
    a, b, ans = (np.concatenate([p[i] for p in parts])[:n] if parts else np.zeros(0, dtype=np.int64)
                 for i in range(3))
    return a, b, ans, drawn


def mixed_pairs(task: GCDTask, teacher: DecoderLM | None, n: int, pi: float, rng: SeedLike = None, *,
                top_k: int | None = None, device: str | torch.device = "cpu"
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    r"""n training pairs of which Binomial(n, pi) are clean (uniform pairs, true gcd) and the rest AI data
    from :func:`synthesize_pairs` (``teacher``, ``top_k``): the mixture pi p + (1 - pi) q of Thm 3.2.

    ``teacher`` None means clean data only (pi is then ignored). Returns (a, b, answers, is_clean).
    """
    n = check_int("n", n, low=0)
    pi = check_real("pi", pi, low=0.0, high=1.0)
    rng = as_rng(rng)
    n_clean = n if teacher is None else int(rng.binomial(n, pi))
    a, b = sample_pairs(task, n_clean, rng)
    out = [(a, b, np.gcd(a, b), np.ones(n_clean, dtype=bool))]
    if n > n_clean:
        sa, sb, sl, _ = synthesize_pairs(teacher, task, n - n_clean, rng, top_k=top_k, device=device)
        out.append((sa, sb, sl, np.zeros(n - n_clean, dtype=bool)))
    return tuple(np.concatenate([o[i] for o in out]) for i in range(4))


@torch.no_grad()
def predict_gcd(model: DecoderLM, task: GCDTask, a, b, *, batch_size: int = 4096, device: str = "cpu") -> np.ndarray:
    """The model's answers by greedy decoding of L tokens after the prompt (a value in [0, base^L)).

    Decodes through the model's KV cache (:meth:`DecoderLM.generate_cached`): the prompt's 2L + 2 tokens
    and L - 1 answer tokens are each computed once (3L + 1 token positions, against the
    sum_{j<L} (2L + 2 + j) of recomputing the prefix at every digit), the same greedy tokens."""
    model.to(device).eval()
    prompts = torch.as_tensor(task.prompts(a, b), dtype=torch.long)
    out = []
    for i in range(0, len(prompts), batch_size):
        seq = model.generate_cached(prompts[i:i + batch_size].to(device), task.n_digits)
        digits = seq[:, task.prompt_len:].clamp_max(task.base - 1).cpu().numpy()  # SEP/EQ read as base-1
        out.append(task.value(digits))
    return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)


def accuracy_by_value(predicted, truth) -> dict[int, float]:
    """Accuracy of predictions on the test pairs of each true GCD value."""
    predicted, truth = np.asarray(predicted), np.asarray(truth)
    return {int(g): float(np.mean(predicted[truth == g] == g)) for g in np.unique(truth)}


def known_values(acc: dict[int, float], threshold: float = 0.5) -> list[int]:
    """GCD values the model 'knows': right on more than ``threshold`` of their test pairs."""
    return sorted(g for g, v in acc.items() if v > threshold)


def gcd_frequency(g: int) -> float:
    """P(gcd(a, b) = g) = 6 / (pi^2 g^2) for a, b uniform on the integers (a Zipf law, beta = 2)."""
    return 6.0 / (math.pi**2 * g**2)
