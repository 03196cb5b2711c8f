"""Hugging Face causal language models for the summarisation pipeline (``--set model=PATH``).

The functions take a (model, tokenizer) pair loaded by :func:`collapselab.lm.load_causal_lm`, the
package's one local loader (``local_files_only``, safetensors only, :class:`collapselab.lm.LMInputError`
for an unusable folder). Everything runs on the ``device`` passed in (``"cuda"`` for a GPU). The prompt
format is "Document: {document}\\nSummary:" followed by " {summary}" and the tokenizer's EOS; the
fine-tuning loss covers the summary tokens only (prompt labels are -100).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from collapselab._rng import torch_seed_scope
from collapselab._validation import check_int, check_real
from collapselab.nn.lm_train import train_steps


def _prompt(document: str) -> str:
    return f"Document: {document}\nSummary:"


def _batch(tok, documents: Sequence[str], summaries: Sequence[str], device, max_length: int):
    """Left-padded prompt + summary + EOS; labels -100 on prompt and padding."""
    rows, labels = [], []
    for d, s in zip(documents, summaries):
        p = tok(_prompt(d), add_special_tokens=True)["input_ids"]
        a = tok(" " + s, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
        ids = (p + a)[-max_length:]
        lab = ([-100] * len(p) + a)[-max_length:]
        rows.append(ids)
        labels.append(lab)
    width = max(len(r) for r in rows)
    input_ids = torch.full((len(rows), width), tok.pad_token_id, dtype=torch.long)
    attn = torch.zeros((len(rows), width), dtype=torch.long)
    lab_t = torch.full((len(rows), width), -100, dtype=torch.long)
    for i, (r, lab) in enumerate(zip(rows, labels)):
        input_ids[i, width - len(r):] = torch.tensor(r)
        attn[i, width - len(r):] = 1
        lab_t[i, width - len(r):] = torch.tensor(lab)
    return input_ids.to(device), attn.to(device), lab_t.to(device)


def finetune_causal_lm(model, tok, documents: Sequence[str], summaries: Sequence[str], *, steps: int,
                       batch_size: int = 8, lr: float = 2e-5, max_length: int = 512,
                       device: str | torch.device = "cpu", generator=None) -> list[float]:
    """Fine-tune in place on random minibatches (drawn with replacement); loss on summary tokens only.

    The shared loop :func:`collapselab.nn.lm_train.train_steps` with this recipe: AdamW at a constant
    rate ``lr`` (no warm-up, no decay), weight decay 0.01 on every parameter (AdamW's default), torch's
    default AdamW implementation, gradients clipped to norm 1. Returns the loss of every step.
    """
    if len(documents) != len(summaries) or not documents:
        raise ValueError("`documents` and `summaries` must be non-empty and of the same length")

    def batch_loss(idx: torch.Tensor) -> torch.Tensor:
        rows = idx.tolist()
        ids, attn, lab = _batch(tok, [documents[i] for i in rows], [summaries[i] for i in rows], device,
                                max_length)
        return model(input_ids=ids, attention_mask=attn, labels=lab).loss

    return train_steps(model, len(documents), batch_loss, steps=steps, batch_size=batch_size, lr=lr,
                       weight_decay=0.01, warmup=0.0, min_lr_ratio=1.0, grad_clip=1.0,
                       decay_matrices_only=False, fused=None, generator=generator, device=device).losses


@torch.no_grad()
def sample_summaries(model, tok, documents: Sequence[str], *, num_samples: int, max_new_tokens: int = 64,
                     temperature: float = 1.0, batch_size: int = 8, device: str | torch.device = "cpu",
                     seed: int = 0) -> list[list[str]]:
    """``num_samples`` sampled summaries per document (greedy when temperature = 0)."""
    num_samples = check_int("num_samples", num_samples, low=1)
    temperature = check_real("temperature", temperature, low=0.0)
    out: list[list[str]] = []
    devices = [torch.device(device).index or 0] if torch.device(device).type == "cuda" else []
    with torch_seed_scope(seed, devices):  # the global generator is restored on exit
        for s in range(0, len(documents), batch_size):
            chunk = [_prompt(d) for d in documents[s:s + batch_size]]
            enc = tok(chunk, return_tensors="pt", padding=True, padding_side="left").to(device)  # as generation needs
            gen = model.generate(**enc, do_sample=temperature > 0, temperature=temperature or None,
                                 num_return_sequences=num_samples, max_new_tokens=max_new_tokens,
                                 pad_token_id=tok.pad_token_id)
            texts = tok.batch_decode(gen[:, enc["input_ids"].shape[1]:], skip_special_tokens=True)
            for i in range(len(chunk)):
                out.append([t.strip() for t in texts[i * num_samples:(i + 1) * num_samples]])
    return out


@torch.no_grad()
def summary_logprob(model, tok, documents: Sequence[str], summaries: Sequence[str], *,
                    batch_size: int = 8, max_length: int = 512,
                    device: str | torch.device = "cpu") -> np.ndarray:
    """Mean per-token log-probability of each summary given its document (a scoring verifier)."""
    out = []
    for s in range(0, len(documents), batch_size):
        ids, attn, lab = _batch(tok, documents[s:s + batch_size], summaries[s:s + batch_size], device,
                                max_length)
        logits = model(input_ids=ids, attention_mask=attn).logits[:, :-1].float()
        target = lab[:, 1:]
        logp = torch.log_softmax(logits, -1).gather(2, target.clamp_min(0)[..., None]).squeeze(2)
        mask = (target != -100).float()
        out.append(((logp * mask).sum(1) / mask.sum(1).clamp_min(1)).cpu().numpy())
    return np.concatenate(out) if out else np.zeros(0)
