"""Training a decoder-only transformer on a CoT task, exact-match evaluation, and the minimal width.

Loss: next-token cross-entropy on the CoT, answer and end-of-sequence tokens only (the prompt is
given). Optimiser: AdamW with linear warm-up and cosine decay. Exact match: the whole CoT and answer.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from collapselab._rng import torch_seed_scope
from collapselab._validation import check_int, check_real
from collapselab.nn import DecoderLM, sequence_loss
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
class TrainResult:
    model: DecoderLM
    vocab: Vocabulary
    losses: list[float]
    accuracy: float  # exact match on the held-out test set


def cot_datasets(task: str, size: int, n_train: int, n_test: int, *, seed: int = 0,
                 task_kwargs: dict | None = None) -> tuple[list[Example], list[Example]]:
    """(train, test) examples of ``task`` at ``size`` from two independent streams of ``seed``."""
    check_int("n_train", n_train, low=1)
    check_int("n_test", n_test, low=1)
    streams = np.random.SeedSequence(seed).spawn(2)
    return tuple(generate(task, size, n, seed=np.random.default_rng(st), **(task_kwargs or {}))
                 for n, st in zip((n_train, n_test), streams))


def train_cot_model(task: str, size: int, *, width: int, attention: str = "softmax", n_layers: int = 2,
                    n_heads: int = 2, steps: int = 2000, batch_size: int = 64, lr: float = 3e-3,
                    weight_decay: float = 0.01, n_train: int = 20000, n_test: int = 500,
                    attn_kwargs: dict | None = None, task_kwargs: dict | None = None, seed: int = 0,
                    data: tuple[Sequence[Example], Sequence[Example]] | None = None,
                    device: str | torch.device = "cpu") -> TrainResult:
    """Train a fresh :class:`DecoderLM` of width ``width`` on ``n_train`` examples; test on ``n_test``.

    Train and test examples are :func:`cot_datasets` of ``seed`` unless ``data = (train, test)`` gives
    them (e.g. the same sets for several widths); the model's initialisation and batch order come from a
    ``torch.Generator`` seeded with ``seed``.
    """
    check_int("width", width, low=1)
    check_int("steps", steps, low=1)
    check_int("batch_size", batch_size, low=1)
    check_real("lr", lr, low=0.0, low_open=True)
    if data is None:
        data = cot_datasets(task, size, n_train, n_test, seed=seed, task_kwargs=task_kwargs)
    train, test = (list(d) for d in data)
    if not train or not test:
        raise ValueError("`data` must hold non-empty train and test example lists")
    vocab = vocabulary(task, size, **(task_kwargs or {}))
    max_len = max(len(ex.prompt) + len(ex.target) for ex in train + test)
    g = torch.Generator().manual_seed(seed)
    with torch_seed_scope(int(torch.randint(0, 2**31 - 1, (1,), generator=g))):  # init only
        model = DecoderLM(len(vocab), d_model=width, n_layers=n_layers, n_heads=n_heads, max_len=max_len,
                          attention=attention, attn_kwargs=attn_kwargs)
    model.to(device).train()
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.ndim < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=lr,
                            fused=torch.device(device).type in ("cpu", "cuda"))
    warmup = max(1, steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps)))
    X, Y, M = encode_batch(train, vocab, device)  # encoded once; a batch is cut to its own longest sequence
    lengths = M.shape[1] - M.flip(1).long().argmax(1)  # last target position + 1, per example
    losses = []
    for _ in range(steps):
        idx = torch.randint(0, len(train), (batch_size,), generator=g).to(X.device)
        T = int(lengths[idx].max())
        x, y, m = X[idx, :T], Y[idx, :T], M[idx, :T]
        loss = sequence_loss(model(x), y, m)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
    model.eval()
    return TrainResult(model, vocab, losses, exact_match(model, test, vocab, device=device))


@dataclass(frozen=True)
class MinWidth:
    width: int | None  # the smallest width reaching the threshold; None if none in the grid did
    accuracy: dict[int, float]  # best accuracy over seeds at each width tried
    final_loss: dict[int, float]  # mean training loss of the last 20 steps, of the best seed


def min_width(task: str, size: int, attention: str, widths: Sequence[int], threshold: float = 0.9,
              seeds: Sequence[int] = (0,), *, n_train: int = 20000, n_test: int = 500,
              task_kwargs: dict | None = None, **train_kwargs) -> MinWidth:
    """The smallest width in ``widths`` (ascending) whose best seed reaches ``threshold`` exact match.

    The best over seeds is used because the question is expressiveness: can a model of this width
    solve the task (when training finds the solution), not how reliably training finds it. Stops at
    the first width that succeeds. Each seed's train and test sets are generated once and shared by
    all widths. ``train_kwargs`` go to :func:`train_cot_model`.
    """
    check_real("threshold", threshold, low=0.0, high=1.0)
    if not widths:
        raise ValueError("`widths` must not be empty")
    if not seeds:
        raise ValueError("`seeds` must not be empty")
    data = {s: cot_datasets(task, size, n_train, n_test, seed=s, task_kwargs=task_kwargs) for s in seeds}
    acc: dict[int, float] = {}
    loss: dict[int, float] = {}
    for w in sorted(widths):
        runs = [train_cot_model(task, size, width=w, attention=attention, seed=s, data=data[s],
                                task_kwargs=task_kwargs, **train_kwargs) for s in seeds]
        best = max(runs, key=lambda r: r.accuracy)
        acc[w], loss[w] = best.accuracy, float(np.mean(best.losses[-20:]))
        if acc[w] >= threshold:
            return MinWidth(w, acc, loss)
    return MinWidth(None, acc, loss)
