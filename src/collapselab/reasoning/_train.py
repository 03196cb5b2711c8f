"""Training a decoder-only transformer on a CoT task, exact-match evaluation, and the minimal width.

Data: :func:`cot_datasets` draws *distinct* problems (a problem is its prompt; the CoT and answer are
functions of it) and splits them into train / validation / test sets that are disjoint by
construction. Loss: next-token cross-entropy on the CoT, answer and end-of-sequence tokens only (the
prompt is given), trained by :func:`collapselab.nn.train_decoder` (AdamW with decay groups, warm-up and
cosine decay, clipping, early stopping on validation exact match). Exact match: the whole CoT and
answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from collapselab._rng import as_rng
from collapselab._validation import check_int, check_real, with_options
from collapselab.nn.lm_train import DECODER, train_decoder
from collapselab.nn.loop import TrainConfig
from collapselab.nn.transformer import DecoderLM
from collapselab.reasoning._tasks import EOS, PAD, Example, Vocabulary, generate, vocabulary


def encode_batch(examples: Sequence[Example], vocab: Vocabulary, device="cpu"):
    """(inputs, targets, loss_mask), each (B, T-1): right-padded, shifted by one, mask on the target part."""
    seqs = [vocab.encode(ex.prompt + ex.target) for ex in examples]
    T = max(len(s) for s in seqs)
    pad = vocab.index[PAD]
    ids = torch.full((len(seqs), T), pad, dtype=torch.long)
    mask = torch.zeros((len(seqs), T - 1), dtype=torch.bool)
    for r, (ex, s) in enumerate(zip(examples, seqs)):
        ids[r, : len(s)] = torch.tensor(s)
        mask[r, len(ex.prompt) - 1: len(s) - 1] = True  # predicting target tokens from position |prompt|-1 on
    return ids[:, :-1].to(device), ids[:, 1:].to(device), mask.to(device)


def encode_examples(examples: Sequence[Example], vocab: Vocabulary) -> tuple[torch.Tensor, torch.Tensor]:
    """(tokens (n, T), loss_mask (n, T - 1)) for :func:`collapselab.nn.train_decoder`: right-padded rows of
    prompt + target, the mask true on the target tokens (CoT, answer, <eos>)."""
    x, y, m = encode_batch(examples, vocab)
    return torch.cat([x, y[:, -1:]], 1), m


@torch.no_grad()
def exact_match(model: DecoderLM, examples: Sequence[Example], vocab: Vocabulary, *, batch_size: int = 256,
                device="cpu") -> float:
    """Fraction of examples whose whole CoT, answer and <eos> greedy decoding reproduces exactly.

    Computed in one teacher-forced pass: greedy decoding reproduces the target iff at every target
    position the argmax given the true prefix is the true token (by induction on the position).
    """
    model.eval()
    correct = 0
    for i in range(0, len(examples), batch_size):
        x, y, m = encode_batch(examples[i:i + batch_size], vocab, device)
        pred = model(x).argmax(-1)
        correct += int(((pred == y) | ~m).all(dim=1).sum())
    return correct / max(len(examples), 1)


@torch.no_grad()
def greedy_solve(model: DecoderLM, example: Example, vocab: Vocabulary, *, max_new_tokens: int | None = None,
                 device="cpu") -> list[str]:
    """Greedy decoding after the prompt until <eos>: the model's CoT and answer as tokens."""
    model.eval()
    idx = torch.tensor([vocab.encode(example.prompt)], device=device)
    budget = max_new_tokens or (model.max_len - idx.shape[1])
    out = model.generate(idx, budget, stop_token=vocab.index[EOS])[0, idx.shape[1]:].tolist()
    tokens = vocab.decode(out)
    return tokens[: tokens.index(EOS)] if EOS in tokens else tokens


@dataclass(frozen=True)
class CoTData:
    """Disjoint train / validation / test sets of distinct problems, and how many distinct problems
    the task has at this size as far as ``draws`` samples found (``exhausted``: fewer than asked)."""

    train: list[Example]
    val: list[Example]
    test: list[Example]
    distinct: int  # distinct problems (prompts) in the pool
    draws: int  # examples drawn to build the pool
    requested: int  # n_train + n_val + n_test

    @property
    def exhausted(self) -> bool:
        return self.distinct < self.requested


def problem_key(example: Example) -> tuple[str, ...]:
    """The identity of a problem: its prompt (the CoT and answer are determined by it)."""
    return tuple(example.prompt)


def cot_datasets(task: str, size: int, n_train: int, n_test: int, *, n_val: int = 0,
                 seed: int | np.random.Generator = 0, task_kwargs: dict | None = None,
                 max_draws: int | None = None, chunk: int = 2048) -> CoTData:
    """Disjoint train, validation and test sets of *distinct* problems of ``task`` at ``size``.

    Examples are drawn from :func:`generate` (stream ``seed``) until the pool holds
    ``n_train + n_val + n_test`` distinct prompts or ``max_draws`` (default 3 x that + 2,000) examples
    were drawn. The pool is shuffled and split: test first, then validation, then train, so no
    prompt is in two sets. When the task has fewer distinct problems than asked (``exhausted``), the
    test set takes at most a fifth of them and the validation set a tenth, training the rest; the
    sizes of the returned sets say what was used.
    """
    n_train = check_int("n_train", n_train, low=1)
    n_test = check_int("n_test", n_test, low=1)
    n_val = check_int("n_val", n_val, low=0)
    chunk = check_int("chunk", chunk, low=1)
    want = n_train + n_val + n_test
    max_draws = check_int("max_draws", max_draws if max_draws is not None else 3 * want + 2000, low=want)
    rng = as_rng(seed)
    pool: dict[tuple[str, ...], Example] = {}
    draws = 0
    while len(pool) < want and draws < max_draws:
        for ex in generate(task, size, min(chunk, max_draws - draws), seed=rng, **(task_kwargs or {})):
            draws += 1
            pool.setdefault(problem_key(ex), ex)
            if len(pool) == want:
                break
    examples = list(pool.values())
    order = rng.permutation(len(examples))
    examples = [examples[i] for i in order]
    n = len(examples)
    if n < want:
        n_test, n_val = max(1, min(n_test, n // 5)), min(n_val, n // 10)
        n_train = n - n_test - n_val
        if n_train < 1:
            raise ValueError(f"{task} at size {size} has only {n} distinct problems: too few to split")
    test, val = examples[:n_test], examples[n_test:n_test + n_val]
    train = examples[n_test + n_val:n_test + n_val + n_train]
    return CoTData(train, val, test, n, draws, want)


@dataclass(frozen=True)
class TrainResult:
    model: DecoderLM
    vocab: Vocabulary
    losses: list[float]
    accuracy: float  # exact match on the held-out test set
    val_accuracy: float | None = None  # best validation exact match (the weights kept)
    steps: int = 0  # optimiser steps run (fewer than asked when early stopping fired)


@dataclass(frozen=True)
class CoTConfig:
    """The model and the training run of :func:`train_cot_model` (all but the width, data and seed).

    Model: a :class:`DecoderLM` with ``attention`` (softmax | sparse | linear, ``attn_kwargs``),
    ``n_layers``, ``n_heads``. Run: ``steps`` AdamW steps of ``batch_size`` rows at peak rate ``lr``
    (warm-up over 5% of the steps, cosine to 0), ``weight_decay`` on matrices; with a validation set,
    exact match on it every ``eval_every`` steps, stopping at ``stop_at`` or after ``patience``
    evaluations without improvement. Data (when :func:`train_cot_model` draws it): ``n_train``,
    ``n_val``, ``n_test`` distinct problems. Build one with ``CoTConfig(steps=...)`` or
    ``CoTConfig.make(base, **options)`` (unknown keys are a ValueError listing the valid ones).
    """

    attention: str = "softmax"
    n_layers: int = 2
    n_heads: int = 2
    attn_kwargs: dict | None = None
    steps: int = 2000
    batch_size: int = 64
    lr: float = 3e-3
    weight_decay: float = 0.01
    eval_every: int = 100
    patience: int | None = None
    stop_at: float | None = None
    n_train: int = 20000
    n_val: int = 0
    n_test: int = 500

    def __post_init__(self) -> None:
        check_int("steps", self.steps, low=1)
        check_int("batch_size", self.batch_size, low=1)
        check_real("lr", self.lr, low=0.0, low_open=True)

    @classmethod
    def make(cls, config: CoTConfig | None = None, **options) -> CoTConfig:
        """``config`` (default: ``CoTConfig()``) with ``options`` applied."""
        return with_options(cls, config, options, "train_cot_model")

    def train_config(self) -> TrainConfig:
        """The :class:`collapselab.nn.TrainConfig` of the run (the decoder trainer's defaults otherwise)."""
        return DECODER.replace(lr=self.lr, weight_decay=self.weight_decay, warmup=0.05, min_lr_ratio=0.0,
                               eval_every=self.eval_every, patience=self.patience, target=self.stop_at)


def train_cot_model(task: str, size: int, config: CoTConfig | None = None, *, width: int, seed: int = 0,
                    data: CoTData | None = None, task_kwargs: dict | None = None,
                    device: str | torch.device = "cpu", **options) -> TrainResult:
    """Train a fresh :class:`DecoderLM` of width ``width``; report exact match on the test set.

    ``config`` (default ``CoTConfig()``) with ``options`` (any :class:`CoTConfig` field: ``steps``,
    ``lr``, ``n_layers``, ``patience``, ...) sets the model and the run. The sets are
    :func:`cot_datasets` of ``seed`` unless ``data`` gives them (e.g. the same sets for several widths
    and attentions). The initialisation and batch order come from ``torch.Generator``s seeded with
    ``seed``. With a validation set, training evaluates exact match on it every ``eval_every`` steps,
    stops once it reaches ``stop_at`` or after ``patience`` evaluations without improvement, and keeps
    the best weights (:func:`collapselab.nn.train_decoder`).
    """
    cfg = CoTConfig.make(config, **options)
    check_int("width", width, low=1)
    if data is None:
        data = cot_datasets(task, size, cfg.n_train, cfg.n_test, n_val=cfg.n_val, seed=seed, task_kwargs=task_kwargs)
    train, val, test = list(data.train), list(data.val), list(data.test)
    if not train or not test:
        raise ValueError("`data` must hold non-empty train and test example lists")
    vocab = vocabulary(task, size, **(task_kwargs or {}))
    max_len = max(len(ex.prompt) + len(ex.target) for ex in train + val + test)
    device = torch.device(device)
    # initialisation from ``seed``, batch order from ``seed + 2**20``: kept as they are (the stored
    # results were drawn with these seeds); a child drawn by ``_rng.spawn`` would change every run
    g_init, g_batch = (torch.Generator().manual_seed(seed + k) for k in (0, 1 << 20))
    model = DecoderLM(len(vocab), d_model=width, n_layers=cfg.n_layers, n_heads=cfg.n_heads, max_len=max_len,
                      attention=cfg.attention, attn_kwargs=cfg.attn_kwargs, generator=g_init).to(device)
    tokens, mask = encode_examples(train, vocab)
    evaluate = (lambda m: exact_match(m, val, vocab, device=device)) if val else None
    res = train_decoder(model, tokens, mask, cfg.train_config(), steps=cfg.steps, batch_size=cfg.batch_size,
                        evaluate=evaluate, generator=g_batch, device=device)
    return TrainResult(model, vocab, res.losses, exact_match(model, test, vocab, device=device),
                       res.best_score, res.steps_run)


@dataclass(frozen=True)
class MinWidth:
    width: int | None  # the smallest width reaching the threshold; None if none in the grid did
    accuracy: dict[int, float]  # test exact match at each width tried
    final_loss: dict[int, float]  # mean training loss of the last 20 steps
    steps: dict[int, int] = field(default_factory=dict)  # optimiser steps run per width (early stopping)
    model: DecoderLM | None = None  # the model at ``width`` (None when no width reached the threshold)


def min_width(task: str, size: int, attention: str, widths: Sequence[int], threshold: float = 0.9, *,
              data: CoTData | None = None, seed: int = 0, n_train: int = 20000, n_val: int = 0,
              n_test: int = 500, coarse: int = 1, task_kwargs: dict | None = None, **train_kwargs) -> MinWidth:
    """The smallest width in ``widths`` whose model reaches ``threshold`` exact match on the test set.

    Search, assuming success is monotone in the width: ascending over every ``coarse``-th width of the
    sorted grid (and its largest), stopping at the first success; then bisection on the grid between
    the last failure and that success. ``coarse = 1`` is the plain ascending search. One set of data
    (``data``, or :func:`cot_datasets` of ``seed``) is shared by every width; each width's model starts
    from the initialisation of ``seed``. ``train_kwargs`` go to :func:`train_cot_model` (``stop_at``
    and ``patience`` end a width's training early).
    """
    check_real("threshold", threshold, low=0.0, high=1.0)
    coarse = check_int("coarse", coarse, low=1)
    if not widths:
        raise ValueError("`widths` must not be empty")
    if data is None:
        data = cot_datasets(task, size, n_train, n_test, n_val=n_val, seed=seed, task_kwargs=task_kwargs)
    grid = sorted(set(widths))
    acc: dict[int, float] = {}
    loss: dict[int, float] = {}
    steps: dict[int, int] = {}
    models: dict[int, DecoderLM] = {}

    def solves(i: int) -> bool:
        w = grid[i]
        r = train_cot_model(task, size, width=w, attention=attention, seed=seed, data=data,
                            task_kwargs=task_kwargs, **train_kwargs)
        acc[w], loss[w], steps[w] = r.accuracy, float(np.mean(r.losses[-20:])), r.steps
        if r.accuracy >= threshold:
            models[w] = r.model
            return True
        return False

    probes = list(range(0, len(grid), coarse))
    if probes[-1] != len(grid) - 1:
        probes.append(len(grid) - 1)
    lo, hi = -1, None  # largest index known to fail, smallest known to solve
    for i in probes:
        if solves(i):
            hi = i
            break
        lo = i
    if hi is None:
        return MinWidth(None, acc, loss, steps)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if solves(mid):
            hi = mid
        else:
            lo = mid
    return MinWidth(grid[hi], acc, loss, steps, models[grid[hi]])
