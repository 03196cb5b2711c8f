import pytest
import torch

from collapselab.nn import (
    MLP,
    ConvNet,
    DecoderLM,
    LeNet,
    TrainConfig,
    accuracy,
    fit,
    init_parameters,
    iterate_minibatches,
    sequence_loss,
)


def test_shapes_and_validation():
    x = torch.rand(3, 1, 28, 28)
    assert MLP(784, [16], 10)(x).shape == (3, 10)
    assert ConvNet(1, 10, image_size=28, width=8, depth=2)(x).shape == (3, 10)
    assert LeNet()(x).shape == (3, 10)
    with pytest.raises(ValueError, match="hidden"):
        MLP(4, [0], 2)
    with pytest.raises(ValueError, match="norm"):
        ConvNet(1, 10, norm="layer")
    with pytest.raises(ValueError, match="dropout"):
        MLP(4, [3], 2, dropout=1.0)


def test_decoder_is_causal_and_generates():
    g = torch.Generator().manual_seed(0)
    lm = DecoderLM(11, d_model=16, n_layers=1, n_heads=2, max_len=12)
    idx = torch.randint(0, 11, (2, 8), generator=g)
    full = lm(idx)
    changed = idx.clone()
    changed[:, 5:] = (changed[:, 5:] + 1) % 11
    assert torch.allclose(lm(changed)[:, :5], full[:, :5], atol=1e-6)  # the future does not leak
    out = lm.generate(idx[:, :3], 4)
    assert out.shape == (2, 7) and torch.equal(out[:, :3], idx[:, :3])
    with pytest.raises(ValueError, match="max_len"):
        lm(torch.zeros(1, 13, dtype=torch.long))
    loss = sequence_loss(full, idx, torch.zeros_like(idx, dtype=torch.bool))
    assert float(loss.detach()) == 0.0


def test_fit_learns_separable_blobs_deterministically():
    g = torch.Generator().manual_seed(0)
    x = torch.cat([torch.randn(100, 2, generator=g) + 3, torch.randn(100, 2, generator=g) - 3])
    y = torch.cat([torch.zeros(100), torch.ones(100)]).long()
    runs = []
    for _ in range(2):
        torch_gen = torch.Generator().manual_seed(1)
        with torch.random.fork_rng():
            torch.manual_seed(0)  # tests may seed; the library never does
            model = MLP(2, [8], 2)
        hist = fit(model, x, y, epochs=20, batch_size=32, lr=1e-2, generator=torch_gen)
        runs.append(hist)
    assert runs[0] == runs[1] and runs[0][-1] < runs[0][0]
    assert accuracy(model, x, y) > 0.97


def _blobs(n=60, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.cat([torch.randn(n, 2, generator=g) + 2, torch.randn(n, 2, generator=g) - 2])
    return x, torch.cat([torch.zeros(n), torch.ones(n)]).long()


def test_fit_options_schedule_clip_groups_and_early_stopping():
    x, y = _blobs()
    xv, yv = _blobs(seed=1)
    model = init_parameters(MLP(2, [8], 2), torch.Generator().manual_seed(0))
    hist = fit(model, x, y, epochs=30, lr=5e-2, optimizer="adamw", weight_decay=0.1, schedule="cosine",
               grad_clip=1.0, decay_matrices_only=True, validation=(xv, yv), patience=3,
               generator=torch.Generator().manual_seed(0))
    assert len(hist) < 30  # validation accuracy stopped improving: stopped early
    assert accuracy(model, xv, yv) > 0.95
    with pytest.raises(ValueError, match="patience"):
        fit(model, x, y, patience=2)
    with pytest.raises(ValueError, match="schedule"):
        fit(model, x, y, schedule="linear")


def test_fit_restores_the_best_validation_epoch():
    """Validation labels flipped: learning only lowers validation accuracy, so the best (first) epoch's
    weights come back, equal to those of a one-epoch run from the same start."""
    x, y = _blobs()
    runs = []
    for epochs, validation in ((1, None), (5, (x, 1 - y))):
        model = init_parameters(MLP(2, [8], 2), torch.Generator().manual_seed(3))
        fit(model, x, y, epochs=epochs, lr=5e-2, validation=validation, generator=torch.Generator().manual_seed(0))
        runs.append(model.state_dict())
    assert all(torch.equal(runs[0][k], runs[1][k]) for k in runs[0])


def test_fit_multistep_schedule_and_epoch_callback():
    x, y = _blobs()
    seen = []
    model = init_parameters(MLP(2, [8], 2), torch.Generator().manual_seed(0))

    def record(epoch, m):
        seen.append((epoch, accuracy(m, x, y)))

    fit(model, x, y, epochs=4, lr=0.1, schedule="multistep", milestones=(1, 3), gamma=0.5,
        on_epoch_end=record, generator=torch.Generator().manual_seed(0))
    assert [e for e, _ in seen] == [0, 1, 2, 3] and seen[-1][1] > 0.9
    with pytest.raises(ValueError, match="milestones"):
        fit(model, x, y, schedule="multistep")


def test_fit_custom_sampler_one_step_per_epoch():
    x, y = _blobs()
    sizes, steps = [], []

    def one_subset(n, gen):
        idx = torch.randperm(n, generator=gen)[:5]
        sizes.append(len(idx))
        return [idx]

    model = init_parameters(MLP(2, [8], 2), torch.Generator().manual_seed(0))
    fit(model, x, y, epochs=6, lr=0.1, sampler=one_subset, on_epoch_end=lambda e, m: steps.append(e),
        generator=torch.Generator().manual_seed(0))
    assert sizes == [5] * 6 and steps == list(range(6))
    default = init_parameters(MLP(2, [8], 2), torch.Generator().manual_seed(0))
    shuffled = init_parameters(MLP(2, [8], 2), torch.Generator().manual_seed(0))
    fit(default, x, y, epochs=2, batch_size=16, generator=torch.Generator().manual_seed(1))
    fit(shuffled, x, y, epochs=2, batch_size=999, generator=torch.Generator().manual_seed(1), autocast=False,
        sampler=lambda n, gen: iterate_minibatches(n, 16, gen))
    assert all(torch.equal(a, b) for a, b in zip(default.parameters(), shuffled.parameters()))
    with pytest.raises(ValueError, match="sampler"):
        fit(model, x, y, schedule="cosine", sampler=one_subset)


def test_multistep_drops_the_rate():
    x, y = _blobs()

    def train(**kw):
        m = init_parameters(MLP(2, [8], 2), torch.Generator().manual_seed(0))
        fit(m, x, y, epochs=3, lr=0.1, generator=torch.Generator().manual_seed(0), **kw)
        return torch.cat([p.detach().ravel() for p in m.parameters()])

    constant = train()
    assert torch.equal(train(schedule="multistep", milestones=(1,), gamma=1.0), constant)
    assert not torch.equal(train(schedule="multistep", milestones=(1,), gamma=0.1), constant)


def test_fit_takes_a_config_object_or_its_fields():
    x, y = _blobs()

    def train(*args, **kw):
        m = init_parameters(MLP(2, [8], 2), torch.Generator().manual_seed(0))
        fit(m, x, y, *args, epochs=2, generator=torch.Generator().manual_seed(0), **kw)
        return torch.cat([p.detach().ravel() for p in m.parameters()])

    cfg = TrainConfig(optimizer="sgd", lr=0.1, grad_clip=1.0)
    assert torch.equal(train(cfg), train(optimizer="sgd", lr=0.1, grad_clip=1.0))
    assert not torch.equal(train(cfg), train(cfg, lr=0.05))  # options override the config
    with pytest.raises(ValueError, match="valid keys"):
        train(epoch=3)
