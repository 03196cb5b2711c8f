import math

import numpy as np
import pytest
import torch

from collapselab.lm import (
    binned_loss,
    filter_logits,
    generated_bin_mass,
    lr_at,
    recursive_chain,
    sample_continuations,
    small_gpt2,
    token_nll,
    train_causal_lm,
    training_set,
)
from collapselab.lm.train import CAUSAL_LM


def _g(seed):
    return torch.Generator().manual_seed(seed)


def test_top_k_and_top_p_keep_the_right_ids():
    p = torch.tensor([0.5, 0.25, 0.15, 0.1])
    logits = p.log()
    keep = filter_logits(logits, top_p=0.7).exp()  # 0.5 + 0.25 reaches 0.7: two ids
    assert torch.allclose(keep, torch.tensor([2 / 3, 1 / 3, 0, 0]))
    assert torch.allclose(filter_logits(logits, top_p=0.75).exp(), keep)  # exactly reached: no third id
    assert torch.allclose(filter_logits(logits, top_k=3).exp(), torch.tensor([0.5, 0.25, 0.15, 0]) / 0.9)
    assert torch.allclose(filter_logits(logits, top_p=1.0).exp(), p)
    assert torch.allclose(filter_logits(logits, temperature=0.5).exp(), p ** 2 / (p ** 2).sum())
    assert filter_logits(logits, temperature=0).exp().tolist() == [1, 0, 0, 0]
    with pytest.raises(ValueError, match="top_p"):
        filter_logits(logits, top_p=0.0)


def test_sampling_is_reproducible_and_uses_the_cache_correctly():
    model = small_gpt2(20, n_layer=1, n_embd=8, n_head=2, n_positions=16, generator=torch.Generator().manual_seed(0))
    prompts = torch.randint(1, 20, (64, 3), generator=torch.Generator().manual_seed(1))
    a = sample_continuations(model, prompts, max_new_tokens=5, batch_size=16, generator=_g(2))
    b = sample_continuations(model, prompts, max_new_tokens=5, batch_size=16, generator=_g(2))
    c = sample_continuations(model, prompts, max_new_tokens=5, batch_size=16, generator=_g(3))
    assert a.shape == (64, 8) and torch.equal(a[:, :3], prompts)
    assert torch.equal(a, b) and not torch.equal(a, c)
    with pytest.raises(ValueError, match="context"):
        sample_continuations(model, prompts, max_new_tokens=14, generator=torch.Generator())
    # the cache-based loop matches a full forward: greedy continuation = arg-max of the full logits
    g = sample_continuations(model, prompts[:4], max_new_tokens=3, temperature=0, generator=torch.Generator())
    full = model(input_ids=g[:, :-1]).logits.argmax(-1)
    assert torch.equal(full[:, 2:], g[:, 3:])


def test_lr_schedule_warmup_then_cosine():
    cfg = CAUSAL_LM.replace(lr=1.0)  # integer warm-up of 10 steps, cosine to lr / 10
    assert lr_at(0, 100, cfg) == pytest.approx(0.1)
    assert lr_at(10, 100, cfg) == pytest.approx(1.0)
    assert lr_at(55, 100, cfg) == pytest.approx(0.1 + 0.9 * 0.5)
    assert lr_at(100, 100, cfg) == pytest.approx(0.1)
    assert lr_at(70, 100, cfg.replace(lr=2.0, min_lr_ratio=1.0)) == pytest.approx(2.0)


def test_training_with_accumulation_fits_a_repeated_pattern():
    blocks = torch.tensor([[1, 2, 3, 4, 5, 6, 7, 8]] * 16)
    model = small_gpt2(10, n_layer=1, n_embd=16, n_head=2, n_positions=8, generator=torch.Generator().manual_seed(0))
    losses = train_causal_lm(model, blocks, steps=40, batch_size=4, grad_accum=2, lr=1e-2, warmup_steps=2,
                             generator=torch.Generator().manual_seed(0)).losses
    assert losses[-1] < 0.2 < losses[0]
    nll, tgt = token_nll(model, blocks[:2])
    assert nll.shape == (2, 7) and tgt[0].tolist() == [2, 3, 4, 5, 6, 7, 8]
    assert math.isclose(float(nll.mean()), float(torch.nn.functional.cross_entropy(
        model(input_ids=blocks[:2, :-1]).logits.detach().reshape(-1, 10), blocks[:2, 1:].reshape(-1))), rel_tol=1e-5)


def test_binned_loss_and_generated_mass():
    nll = np.array([[1.0, 2.0, 3.0]])
    tgt = np.array([[0, 1, 1]])
    assert binned_loss(nll, tgt, np.array([0, 1, 1]), 3)[:2].tolist() == [1.0, 2.5]
    assert np.isnan(binned_loss(nll, tgt, np.array([0, 1, 1]), 3)[2])
    blocks = torch.tensor([[9, 9, 0, 1, 1, 2]])
    assert generated_bin_mass(blocks, np.array([0, 1, 2]), prompt_tokens=2).tolist() == [0.25, 0.5, 0.25]


def test_training_sets_of_the_strategies():
    human = torch.zeros(10, 4, dtype=torch.long)
    syn = [torch.ones(10, 4, dtype=torch.long), 2 * torch.ones(10, 4, dtype=torch.long)]
    assert training_set("replace", human, []) is human
    assert torch.equal(training_set("replace", human, syn), syn[1])
    assert len(training_set("accumulate", human, syn)) == 30
    mix = training_set("mix", human, syn, pi=0.3, rng=0)
    assert len(mix) == 10 and int((mix[:, 0] == 0).sum()) == 3 and int((mix[:, 0] == 2).sum()) == 7
    with pytest.raises(ValueError, match="strategy"):
        training_set("keep", human, syn)


def test_recursive_chain_feeds_each_generation_the_previous_text():
    seen = []

    def fit(blocks, k):
        seen.append(int(blocks[0, 0]))
        return k

    res = recursive_chain(torch.zeros(4, 2, dtype=torch.long), generations=3, strategy="replace", fit=fit,
                          synthesize=lambda m, k: torch.full((4, 2), 10 + m), evaluate=lambda m, k, s: {"m": m})
    assert seen == [0, 10, 11, 12] and [r["m"] for r in res.rows] == [0, 1, 2, 3]
    assert [r["train_blocks"] for r in res.rows] == [4, 4, 4, 4]


def test_draw_categorical_samples_the_distribution_and_never_a_zero_probability_id():
    from collapselab.lm import draw_categorical

    p = torch.tensor([0.5, 0.0, 0.3, 0.2, 0.0])
    logp = torch.log(p).expand(20000, 5)
    ids = draw_categorical(logp, _g(0)).ravel()
    freq = torch.bincount(ids, minlength=5).double() / len(ids)
    assert freq[1] == 0 and freq[4] == 0
    se = torch.sqrt(p.double() * (1 - p.double()) / len(ids))
    assert torch.all((freq - p.double()).abs() <= 4 * se + 1e-12)
    assert torch.equal(draw_categorical(logp[:50], _g(3)), draw_categorical(logp[:50], _g(3)))
    # a point mass (greedy, temperature 0) is always drawn
    x = torch.randn(7, 9, generator=_g(2))
    assert torch.equal(draw_categorical(filter_logits(x, temperature=0.0), _g(1)).ravel(), x.argmax(-1))
