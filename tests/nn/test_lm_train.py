import math

import pytest
import torch

from collapselab.nn import (
    DECODER,
    DecoderLM,
    TrainConfig,
    epoch_sampler,
    lr_at,
    param_groups,
    train_decoder,
    train_steps,
)


def copy_task(n=256, T=8, vocab=10, seed=0):
    """Rows x_1..x_4 <sep> x_1..x_3: the second half copies the first; loss on the copy only."""
    g = torch.Generator().manual_seed(seed)
    first = torch.randint(1, vocab, (n, 4), generator=g)
    tokens = torch.cat([first, torch.zeros(n, 1, dtype=torch.long), first[:, :3]], 1)
    mask = torch.zeros(n, T - 1, dtype=torch.bool)
    mask[:, 4:] = True  # targets tokens[:, 5:]: the copied part
    return tokens, mask


def model(seed=0):
    g = torch.Generator().manual_seed(seed)
    return DecoderLM(10, d_model=16, n_layers=1, n_heads=2, max_len=8, generator=g)


def test_decay_groups_split_matrices_from_vectors():
    m = model()
    groups = param_groups(m, 0.1, matrices_only=True)
    assert all(p.ndim >= 2 for p in groups[0]["params"]) and groups[0]["weight_decay"] == 0.1
    assert all(p.ndim < 2 for p in groups[1]["params"]) and groups[1]["weight_decay"] == 0.0
    assert sum(len(g["params"]) for g in groups) == len(list(m.parameters()))
    (one,) = param_groups(m, 0.1, matrices_only=False)
    assert one["weight_decay"] == 0.1 and len(one["params"]) == len(list(m.parameters()))


def test_schedule_warms_up_then_decays_to_the_floor():
    cfg = TrainConfig(lr=1.0, schedule="cosine", warmup=0.1, min_lr_ratio=0.1)
    f = [lr_at(s, 100, cfg) for s in range(100)]
    assert f[0] == pytest.approx(0.1) and f[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(f[9:], f[10:]))
    assert f[-1] == pytest.approx(0.1, abs=1e-3)
    expected = 0.5 * (1 + math.cos(math.pi * 9 / 99))  # at least one warm-up step
    assert lr_at(10, 100, cfg.replace(warmup=0.0, min_lr_ratio=0.0)) == pytest.approx(expected)
    # the integer warm-up (steps) replaces the fraction; w = 0 starts at the full rate
    assert lr_at(0, 100, cfg.replace(warmup_steps=0, min_lr_ratio=0.0)) == 1.0
    assert lr_at(0, 100, cfg.replace(warmup_steps=4)) == pytest.approx(0.25)
    assert lr_at(55, 100, TrainConfig(lr=2.0)) == 2.0  # constant
    step = TrainConfig(lr=1.0, schedule="multistep", milestones=(2, 4), gamma=0.5)
    assert [lr_at(0, 10, step, epoch=e) for e in range(6)] == [1.0, 1.0, 0.5, 0.5, 0.25, 0.25]


def test_config_validates_and_rejects_unknown_options():
    with pytest.raises(ValueError, match="optimizer"):
        TrainConfig(optimizer="rmsprop")
    with pytest.raises(ValueError, match="milestones"):
        TrainConfig(schedule="multistep")
    with pytest.raises(ValueError, match="grad_accum"):
        TrainConfig(grad_accum=0)
    with pytest.raises(ValueError, match="valid keys"):
        DECODER.replace(clip=1.0)
    assert DECODER.replace(lr=0.5).lr == 0.5 and DECODER.lr == 1e-3
    assert TrainConfig(milestones=[3, 5]).milestones == (3, 5)


def test_training_learns_and_is_reproducible():
    tokens, mask = copy_task()
    a, b = model(), model()
    ra = train_decoder(a, tokens, mask, steps=60, batch_size=32, lr=1e-2, generator=1)
    rb = train_decoder(b, tokens, mask, steps=60, batch_size=32, lr=1e-2, generator=1)
    assert ra.losses == rb.losses
    assert sum(ra.losses[-10:]) / 10 < 0.6 * sum(ra.losses[:10]) / 10


def test_loss_is_the_masked_cross_entropy_of_the_head_from_start():
    tokens, mask = copy_task(n=4)
    m = model()
    rows = torch.randint(0, 4, (4,), generator=torch.Generator().manual_seed(0))  # the batch train_decoder draws
    with torch.no_grad():
        full = m(tokens[rows, :-1])
        ref = torch.nn.functional.cross_entropy(full[:, 4:].reshape(-1, 10), tokens[rows, 5:].reshape(-1))
        assert torch.allclose(m(tokens[rows, :-1], start=4), full[:, 4:], atol=1e-6)
    r = train_decoder(m, tokens, mask, steps=1, batch_size=4, lr=1e-3, generator=0)
    assert r.losses[0] == pytest.approx(float(ref), rel=1e-5)


def test_early_stopping_restores_the_best_weights():
    tokens, mask = copy_task()
    m = model()
    scores = iter([0.5, 0.9, 0.2, 0.1, 0.0])
    snapshots = []

    def evaluate(mod):
        snapshots.append(mod.head.weight.detach().clone())
        return next(scores)

    r = train_decoder(m, tokens, mask, steps=100, batch_size=16, evaluate=evaluate, eval_every=5, patience=3,
                 generator=0)
    assert r.stopped_early and r.steps_run == 25 and r.best_step == 10 and r.best_score == 0.9
    assert torch.equal(m.head.weight, snapshots[1])
    hit = train_decoder(model(), tokens, mask, steps=100, batch_size=16, evaluate=lambda _: 1.0, eval_every=5,
                   target=0.99, generator=0)
    assert hit.stopped_early and hit.steps_run == 5


def test_bad_arguments_are_named():
    tokens, mask = copy_task(n=4)
    with pytest.raises(ValueError, match="loss_mask"):
        train_decoder(model(), tokens, mask[:, :3], steps=1)
    with pytest.raises(ValueError, match="tokens"):
        train_decoder(model(), tokens[:, :1], mask[:, :0], steps=1)
    with pytest.raises(ValueError, match="lr"):
        train_decoder(model(), tokens, mask, steps=1, lr=0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_trains_on_cuda_with_bf16_autocast():
    tokens, mask = copy_task()
    m = model().to("cuda")
    r = train_decoder(m, tokens, mask, steps=100, batch_size=32, lr=1e-2, generator=0, device="cuda")
    assert next(m.parameters()).dtype == torch.float32 and sum(r.losses[-10:]) < sum(r.losses[:10])


def test_train_steps_takes_any_batch_loss_and_skips_empty_batches():
    x = torch.randn(32, 3, generator=torch.Generator().manual_seed(0))
    y = x @ torch.tensor([1.0, -2.0, 0.5])
    lin = torch.nn.Linear(3, 1)
    seen = []

    def batch_loss(idx):
        seen.append(idx.clone())
        if len(seen) == 1:
            return None  # nothing to learn: recorded as 0, no optimiser step
        return ((lin(x[idx]).squeeze(1) - y[idx]) ** 2).mean()

    r = train_steps(lin, 32, batch_loss, steps=200, batch_size=8, lr=5e-2, weight_decay=0.0, warmup=0.0,
                    min_lr_ratio=1.0, decay_matrices_only=False, generator=0)
    assert r.losses[0] == 0.0 and r.steps_run == 200 and r.losses[-1] < 0.01 * r.losses[1]
    assert all(i.dtype == torch.int64 and len(i) == 8 and int(i.max()) < 32 for i in seen)
    with pytest.raises(ValueError, match="`n`"):
        train_steps(lin, 0, batch_loss, steps=1)


def test_epoch_sampler_sees_every_row_before_repeats_leftovers_first():
    draws = epoch_sampler(5, torch.Generator().manual_seed(0))
    got = torch.cat([draws(2) for _ in range(5)])  # 10 indices: two epochs, the 5th straddling them
    assert got.dtype == torch.int64 and sorted(got[:5].tolist()) == sorted(got[5:].tolist()) == list(range(5))
    again = epoch_sampler(5, torch.Generator().manual_seed(0))
    assert torch.equal(torch.cat([again(2) for _ in range(5)]), got)


def test_train_steps_accumulates_micro_batches_warms_up_in_steps_and_calls_back():
    x = torch.randn(24, 3, generator=torch.Generator().manual_seed(0))
    y = x @ torch.tensor([1.0, -2.0, 0.5])

    def run(batch_size, grad_accum, warmup_steps, steps=6):
        lin = torch.nn.Linear(3, 1)
        torch.nn.init.zeros_(lin.weight)
        torch.nn.init.zeros_(lin.bias)
        order = iter(torch.arange(24).repeat(10).split(batch_size))
        calls = []
        r = train_steps(lin, 24, lambda idx: ((lin(x[idx]).squeeze(1) - y[idx]) ** 2).mean(), steps=steps,
                        batch_size=batch_size, grad_accum=grad_accum, lr=0.1, weight_decay=0.0, betas=(0.8, 0.9),
                        warmup_steps=warmup_steps, min_lr_ratio=1.0, grad_clip=None,
                        sampler=lambda size: next(order), callback=lambda step, seen: calls.append((step, seen)))
        return lin, r.losses, calls

    # three micro-batches of 4 = one batch of 12 (same rows): same losses and weights up to rounding
    a, la, ca = run(4, 3, 0)
    b, lb, cb = run(12, 1, 0)
    assert la == pytest.approx(lb, rel=1e-5) and torch.allclose(a.weight, b.weight, atol=1e-6)
    assert ca == cb == [(s, 12 * (s + 1)) for s in range(6)]
    # integer warm-up: Adam's first update is ~lr * sign(g), so it shows the rate of step 0
    assert torch.allclose(run(12, 1, 0, steps=1)[0].weight.abs(), torch.full((1, 3), 0.1), rtol=1e-4)
    assert torch.allclose(run(12, 1, 4, steps=1)[0].weight.abs(), torch.full((1, 3), 0.025), rtol=1e-4)
    cfg = TrainConfig(lr=0.1, schedule="cosine", warmup_steps=4)
    assert lr_at(0, 6, cfg) == pytest.approx(0.025) and lr_at(0, 6, cfg.replace(warmup_steps=0)) == 0.1
