"""Evaluation on held-out human text: per-token losses, perplexity, and loss on the tail (tokens rare in
the human corpus, binned by :func:`collapselab.lm.corpus.frequency_bins`)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from collapselab._validation import check_int


@torch.no_grad()
def token_nll(model, blocks: torch.Tensor, *, batch_size: int = 64, device: str | torch.device = "cpu"
              ) -> tuple[np.ndarray, np.ndarray]:
    """(nll, targets): the negative log-likelihood in nats of each next token and the token itself,
    both (N, T-1) float64 / int64 numpy arrays, for blocks (N, T)."""
    batch_size = check_int("batch_size", batch_size, low=1)
    blocks = torch.as_tensor(blocks)
    if blocks.ndim != 2 or blocks.shape[1] < 2:
        raise ValueError(f"`blocks` must be (N, T >= 2) token ids, got shape {tuple(blocks.shape)}")
    model.eval()
    out = []
    for s in range(0, len(blocks), batch_size):
        b = blocks[s:s + batch_size].to(device)
        logits = model(input_ids=b[:, :-1]).logits.float()  # (B, T-1, V)
        out.append(F.cross_entropy(logits.transpose(1, 2), b[:, 1:], reduction="none").cpu())
    nll = torch.cat(out).double().numpy() if out else np.zeros((0, blocks.shape[1] - 1))
    return nll, blocks[:, 1:].cpu().numpy()


def perplexity(nll: np.ndarray) -> float:
    """exp(mean per-token NLL): the perplexity of the text the ``nll`` array scores."""
    nll = np.asarray(nll, dtype=np.float64)
    if nll.size == 0:
        raise ValueError("`nll` is empty")
    return float(np.exp(nll.mean()))


def binned_loss(nll: np.ndarray, targets: np.ndarray, bins: np.ndarray, n_bins: int | None = None) -> np.ndarray:
    """Mean NLL of the target tokens in each frequency bin (``bins[token] = b``); NaN for an empty bin.
    The last bin is the tail: the loss there is the model's loss on rare human tokens."""
    nll = np.asarray(nll, dtype=np.float64).ravel()
    targets = np.asarray(targets).ravel()
    if nll.shape != targets.shape:
        raise ValueError(f"`nll` {nll.shape} and `targets` {targets.shape} must have the same size")
    b = np.asarray(bins)[targets]
    n_bins = int(np.asarray(bins).max()) + 1 if n_bins is None else n_bins
    s = np.bincount(b, weights=nll, minlength=n_bins)
    n = np.bincount(b, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, s / np.maximum(n, 1), np.nan)
