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

from collapselab._rng import SeedLike, as_rng, as_torch_generator, torch_seed_scope
from collapselab._validation import check_int
from collapselab.nn import DecoderLM, fit, sequence_loss


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


def train_gcd_model(task: GCDTask, a, b, answers, *, d_model: int = 64, n_layers: int = 2, n_heads: int = 4,
                    epochs: int = 4, batch_size: int = 256, lr: float = 1e-3, weight_decay: float = 0.0,
                    generator: SeedLike = None, device: str = "cpu") -> DecoderLM:
    """A fresh :class:`DecoderLM` trained (AdamW) on the sequences of (a, b, answers), loss on answers only."""
    gen = as_torch_generator(generator)
    seq = torch.as_tensor(task.sequences(a, b, answers), dtype=torch.long)  # (n, 3L + 2)
    x, y = seq[:, :-1], seq[:, 1:]  # y[t] is the token after x[..t]
    answer_mask = torch.zeros(y.shape[1], dtype=torch.bool)
    answer_mask[task.prompt_len - 1:] = True  # positions whose next token is an answer digit
    with torch_seed_scope(int(torch.randint(0, 2**62, (1,), generator=gen))):  # init from ``generator``
        model = DecoderLM(task.vocab_size, d_model=d_model, n_layers=n_layers, n_heads=n_heads,
                          max_len=task.seq_len)

    def loss_fn(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return sequence_loss(logits, targets, answer_mask.to(targets.device).expand_as(targets))

    fit(model, x, y, epochs=epochs, batch_size=batch_size, lr=lr, weight_decay=weight_decay, optimizer="adamw",
        loss_fn=loss_fn, device=device, generator=gen)
    return model


@torch.no_grad()
def predict_gcd(model: DecoderLM, task: GCDTask, a, b, *, batch_size: int = 4096, device: str = "cpu") -> np.ndarray:
    """The model's answers by greedy decoding of L tokens after the prompt (a value in [0, base^L))."""
    model.to(device).eval()
    prompts = torch.as_tensor(task.prompts(a, b), dtype=torch.long)
    out = []
    for i in range(0, len(prompts), batch_size):
        seq = model.generate(prompts[i:i + batch_size].to(device), task.n_digits)
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
