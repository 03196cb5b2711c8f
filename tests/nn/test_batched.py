"""Replicates trained together (collapselab.nn.batched) against their sequential twins.

Tolerance: the batched path computes the same function with different kernels (a batched matmul for
K matmuls, the math attention for the fused CPU kernel, a summed loss padded with masked zeros), so
each forward pass differs from the twin's by a few float32 ulps; Adam divides by sqrt(v), which can
amplify such differences in coordinates with tiny gradients, and they compound over steps. After 5-6
steps the weights agree to atol 1e-4 / rtol 1e-3 (float32 eps is 1.2e-7), while replicates of
different seeds differ by O(0.1).
"""

from __future__ import annotations

import pytest
import torch

from collapselab.nn import MLP, DecoderLM, TrainConfig, fit, train_decoder
from collapselab.nn.batched import clip_per_replicate, decoder_replicates, fit_replicates, stacked_forward

ATOL, RTOL = 1e-4, 1e-3


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _mlp(seed: int) -> MLP:
    torch.manual_seed(seed)  # the MLP draws torch's default initialisation from the global generator
    return MLP(12, [16], 3)


def _decoder(seed: int) -> DecoderLM:
    return DecoderLM(11, d_model=16, n_layers=2, n_heads=2, max_len=10, generator=_gen(seed))


def _close(a: torch.nn.Module, b: torch.nn.Module, tokens: torch.Tensor | None = None) -> None:
    for (name, p), q in zip(a.state_dict().items(), b.state_dict().values()):
        if name.endswith("qkv.bias"):  # drop the key bias (the middle third): its gradient is zero
            d = p.shape[0] // 3
            p, q = torch.cat([p[:d], p[2 * d:]]), torch.cat([q[:d], q[2 * d:]])
        torch.testing.assert_close(p, q, atol=ATOL, rtol=RTOL, msg=lambda m, n=name: f"{n}: {m}")
    if tokens is not None:
        with torch.no_grad():
            torch.testing.assert_close(a(tokens), b(tokens), atol=ATOL, rtol=RTOL)


def _max_diff(a: torch.nn.Module, b: torch.nn.Module) -> float:
    return max(float((p - q).abs().max()) for p, q in zip(a.state_dict().values(), b.state_dict().values()))


@pytest.fixture(scope="module")
def xy() -> tuple[torch.Tensor, torch.Tensor]:
    g = _gen(0)
    x = torch.randn(50, 12, generator=g)
    return x, (x[:, :3].argmax(1) + (x[:, 3] > 1).long()) % 3


@pytest.fixture(scope="module")
def lm_data() -> tuple[torch.Tensor, torch.Tensor]:
    g = _gen(1)
    tokens = torch.randint(0, 11, (40, 10), generator=g)
    mask = torch.zeros(40, 9, dtype=torch.bool)
    prompt = torch.randint(2, 6, (40,), generator=g)  # prompts of different lengths; targets after them
    ends = prompt + torch.randint(1, 4, (40,), generator=g)
    for i in range(40):
        mask[i, prompt[i]:ends[i]] = True
    return tokens, mask


@pytest.mark.parametrize("cfg", [dict(optimizer="adam", weight_decay=1e-2),
                                 dict(optimizer="sgd", lr=0.05, grad_clip=0.5),
                                 dict(optimizer="adamw", weight_decay=0.1, decay_matrices_only=True,
                                      schedule="cosine", grad_clip=1.0)])
def test_mlp_replicates_match_sequential_fit(xy, cfg):
    x, y = xy
    seeds = [3, 4, 5]
    config = TrainConfig(**cfg)
    rep = fit_replicates(_mlp, seeds, x, y, config, generators=[_gen(100 + s) for s in seeds], epochs=2,
                         batch_size=16)
    for k, s in enumerate(seeds):
        twin = _mlp(s)
        hist = fit(twin, x, y, config, epochs=2, batch_size=16, generator=_gen(100 + s))
        _close(rep.models[k], twin)
        assert rep.epoch_losses[k] == pytest.approx(hist, rel=1e-4)
        assert len(rep.losses[k]) == 8  # 2 epochs x ceil(50 / 16) steps
    assert _max_diff(rep.models[0], rep.models[1]) > 1e-2  # different seeds: different weights


@pytest.mark.parametrize("activation", ["relu", "tanh", "gelu"])
def test_stacked_forward_matches_each_model(activation):
    models = [MLP(12, [16, 8], 3, activation=activation) for _ in range(3)]
    params, _ = torch.func.stack_module_state(models)
    x = torch.randn(3, 5, 3, 4, generator=_gen(0))  # (K, B, 3, 4): MLP flattens each row to 12
    out = stacked_forward(models[0])(params, x)
    with torch.no_grad():
        for k, m in enumerate(models):
            torch.testing.assert_close(out[k], m(x[k]), atol=1e-6, rtol=1e-5)
    seq = torch.nn.Sequential(torch.nn.Linear(4, 6, bias=False), torch.nn.ReLU(), torch.nn.Linear(6, 2))
    params, _ = torch.func.stack_module_state([seq])
    out = stacked_forward(seq)(params, x[:1, :, 0])  # K = 1, no Flatten: (1, B, 3, 4) -> (1, B, 3, 2)
    with torch.no_grad():
        torch.testing.assert_close(out[0], seq(x[0, :, 0]), atol=1e-6, rtol=1e-5)


def test_stacked_forward_refuses_what_it_cannot_run():
    assert stacked_forward(MLP(4, [8], 2, dropout=0.5)) is None  # dropout masks are not per replicate
    assert stacked_forward(_decoder(0)) is None
    assert stacked_forward(torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.BatchNorm1d(4))) is None


class _Wrapped(torch.nn.Module):
    """The same MLP behind a forward the stacked path cannot read: trained under vmap."""

    def __init__(self, seed: int):
        super().__init__()
        self.inner = _mlp(seed)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(x)


def test_stacked_and_vmapped_replicates_agree(xy):
    x, y = xy
    seeds, config = [3, 4], TrainConfig(optimizer="adamw", weight_decay=0.1, grad_clip=0.5)
    gens = lambda: [_gen(100 + s) for s in seeds]  # noqa: E731
    fast = fit_replicates(_mlp, seeds, x, y, config, generators=gens(), epochs=2, batch_size=16)
    slow = fit_replicates(_Wrapped, seeds, x, y, config, generators=gens(), epochs=2, batch_size=16)
    for a, b in zip(fast.models, slow.models):
        _close(a, b.inner)
    for a, b in zip(fast.losses, slow.losses):
        assert a == pytest.approx(b, rel=1e-4)


def test_decoder_replicates_match_sequential_train_decoder(lm_data):
    tokens, mask = lm_data
    seeds = [7, 8]
    rep = decoder_replicates(_decoder, seeds, tokens, mask, generators=[_gen(200 + s) for s in seeds], steps=6,
                             batch_size=8, lr=3e-3)
    for k, s in enumerate(seeds):
        twin = _decoder(s)
        hist = train_decoder(twin, tokens, mask, steps=6, batch_size=8, lr=3e-3, generator=_gen(200 + s))
        _close(rep.models[k], twin, tokens)
        assert rep.losses[k] == pytest.approx(hist.losses, rel=1e-4)
    assert _max_diff(rep.models[0], rep.models[1]) > 1e-2


def test_decoder_replicates_with_their_own_data(lm_data):
    tokens, mask = lm_data
    data = [(tokens[:30], mask[:30]), (tokens[10:], mask[10:])]
    rep = decoder_replicates(_decoder, [1, 1], [d[0] for d in data], [d[1] for d in data],
                             generators=[_gen(5), _gen(5)], steps=5, batch_size=8)
    for k, (t, m) in enumerate(data):
        twin = _decoder(1)
        train_decoder(twin, t, m, steps=5, batch_size=8, generator=_gen(5))
        _close(rep.models[k], twin, t)
    assert _max_diff(rep.models[0], rep.models[1]) > 1e-3  # same seed and order, other data


def test_replicates_draw_their_own_data_order(xy):
    """Same initialisation, different batch-order generators: the replicates part; the same generators:
    they stay equal (one replicate's draws do not touch another's stream)."""
    x, y = xy
    apart = fit_replicates(_mlp, [1, 1], x, y, generators=[_gen(1), _gen(2)], epochs=1, batch_size=10)
    assert _max_diff(apart.models[0], apart.models[1]) > 1e-4
    assert apart.losses[0] != apart.losses[1]
    same = fit_replicates(_mlp, [1, 1], x, y, generators=[_gen(9), _gen(9)], epochs=1, batch_size=10)
    assert _max_diff(same.models[0], same.models[1]) == 0.0


def test_clipping_is_per_replicate():
    """One replicate with a huge gradient: per-replicate clipping leaves the small one untouched, while
    clipping the global norm of both (the wrong rule) would shrink it."""
    small, big = torch.full((3,), 0.1), torch.full((3,), 100.0)
    g = torch.stack([small, big])  # (K=2, 3)
    p = torch.nn.Parameter(torch.zeros(2, 3))
    p.grad = g.clone()
    torch.nn.utils.clip_grad_norm_([p], 1.0)  # the one-model rule over both replicates
    glob = p.grad
    norms = clip_per_replicate([g], 1.0)
    torch.testing.assert_close(norms, torch.stack([small.norm(), big.norm()]))
    torch.testing.assert_close(g[0], small)  # under the threshold: unchanged
    torch.testing.assert_close(g[1].norm(), torch.tensor(1.0), atol=1e-5, rtol=0)
    assert float(glob[0].norm()) < 2e-3 < float(g[0].norm())  # the global rule crushed the small replicate


def test_clipping_matches_torch_per_model():
    g = _gen(3)
    grads = [torch.randn(4, 5, 3, generator=g), torch.randn(4, 7, generator=g) * 10]
    ref = [[torch.nn.Parameter(torch.zeros_like(t[k])) for t in grads] for k in range(4)]
    for k in range(4):
        for t, r in zip(grads, ref[k]):
            r.grad = t[k].clone()
        torch.nn.utils.clip_grad_norm_(ref[k], 2.0)
    clip_per_replicate(grads, 2.0)
    for k in range(4):
        for t, r in zip(grads, ref[k]):
            torch.testing.assert_close(t[k], r.grad)


def test_bad_input_raises(xy):
    x, y = xy
    with pytest.raises(ValueError, match="generators"):
        fit_replicates(_mlp, [1, 2], x, y, generators=[_gen(1)], epochs=1)
    with pytest.raises(ValueError, match="early stopping"):
        fit_replicates(_mlp, [1], x, y, generators=[_gen(1)], epochs=1, patience=2)
    with pytest.raises(ValueError, match="seeds"):
        fit_replicates(_mlp, [], x, y, generators=[], epochs=1)
    tokens = torch.zeros(4, 5, dtype=torch.long)
    with pytest.raises(ValueError, match="learned target"):
        decoder_replicates(_decoder, [1], tokens, torch.zeros(4, 4, dtype=torch.bool), generators=[_gen(1)], steps=1)
