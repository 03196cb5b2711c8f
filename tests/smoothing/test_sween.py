import pytest
import torch
from torch import nn

from collapselab.smoothing import (
    SWEEN,
    AdaptiveSWEEN,
    Smooth,
    adaptive_combine,
    train_with_noise,
)


def toy_data(n=400, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=g)
    y = (x[:, 0] > 0).long() + 2 * (x[:, 1] > 0).long()  # 4 quadrant classes
    return x, y


class Fixed(nn.Module):
    """A frozen linear scorer (no training needed)."""

    def __init__(self, weight, scale=4.0):
        super().__init__()
        self.lin = nn.Linear(4, 4, bias=False)
        self.lin.weight.data = scale * weight

    def forward(self, x):
        return self.lin(x)


def quadrant_weight():
    w = torch.zeros(4, 4)
    signs = torch.tensor([[-1, -1], [1, -1], [-1, 1], [1, 1]], dtype=torch.float32)
    w[:, :2] = signs
    return w


def members():
    torch.manual_seed(0)  # test-only: deterministic module init for the random scorers
    good = Fixed(quadrant_weight())
    half = Fixed(quadrant_weight() * torch.tensor([1.0, 0.0, 0.0, 0.0]))  # sees one coordinate
    noise = Fixed(torch.randn(4, 4), scale=1.0)
    return [noise, half, good]


def test_weights_on_simplex_and_only_w_trains():
    x, y = toy_data()
    ens = SWEEN(members())
    before = [p.clone() for p in ens.members.parameters()]
    hist = ens.fit_weights(x, y, 0.25, epochs=15, lr=0.5, batch_size=64, generator=0)
    a = ens.weights
    assert a.shape == (3,) and torch.all(a >= 0) and a.sum().item() == pytest.approx(1.0, abs=1e-6)
    assert hist[-1] < hist[0]
    assert a[2] > a[1] > a[0]  # the accurate member gets the most weight
    assert all(torch.equal(p, q) for p, q in zip(before, ens.members.parameters()))
    probs = ens(x[:10])
    assert probs.sum(1).allclose(torch.ones(10)) and (probs >= 0).all()


def test_uniform_start_is_mean_of_member_probs():
    x, _ = toy_data(20)
    ens = SWEEN(members())
    assert torch.allclose(ens(x), ens.member_probs(x).mean(1))


@pytest.mark.parametrize("rule", ["ztest", "bound"])
def test_lazy_adaptive_matches_reference(rule):
    x, y = toy_data(300, seed=1)
    ens = SWEEN(members())
    ens.fit_weights(x, y, 0.25, epochs=3, lr=0.5, generator=0)
    xn = x + 0.5 * torch.randn(x.shape, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        ref = adaptive_combine(ens.member_probs(xn), ens.weights, rule=rule)
        lazy = AdaptiveSWEEN(ens, rule=rule)
        out = lazy(xn)
    assert torch.allclose(out, ref.probs, atol=1e-6)
    assert lazy.member_evals_ == int(ref.n_evals.sum()) and lazy.inputs_ == 300
    assert 0.0 < lazy.saving_ < 1.0
    if rule == "bound":  # exact rule: same class as the full ensemble on every input
        assert torch.equal(out.argmax(1), ens(xn).argmax(1))


def test_bound_rule_certifies_like_full_sween():
    x, y = toy_data(200)
    ens = SWEEN(members())
    ens.fit_weights(x, y, 0.25, epochs=3, lr=0.5, generator=0)
    full = Smooth(ens, 4, 0.25).certify(x[0], 20, 300, 0.01, generator=5)
    adaptive = AdaptiveSWEEN(ens, rule="bound")
    assert Smooth(adaptive, 4, 0.25).certify(x[0], 20, 300, 0.01, generator=5) == full
    assert adaptive.saving_ > 0


def test_train_with_noise_learns_and_is_reproducible():
    x, y = toy_data()
    models = []
    for _ in range(2):
        torch.manual_seed(1)  # test-only: identical initial weights for the reproducibility check
        m = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 4))
        hist = train_with_noise(m, x, y, 0.25, epochs=8, lr=0.01, generator=3)
        models.append(m)
    assert hist[-1] < hist[0]
    assert all(torch.equal(p, q) for p, q in zip(models[0].parameters(), models[1].parameters()))


def test_train_with_noise_step_schedule():
    """milestones multiply the rate by gamma from that epoch on: with gamma 0 the weights freeze there,
    so 5 epochs with a drop at 2 equal 2 epochs; without the drop they move on."""
    x, y = toy_data()

    def trained(epochs: int, **kw) -> list[torch.Tensor]:
        torch.manual_seed(1)  # test-only: identical initial weights
        m = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 4))
        train_with_noise(m, x, y, 0.25, epochs=epochs, lr=0.01, generator=3, **kw)
        return [p.detach().clone() for p in m.parameters()]

    two = trained(2)
    assert all(torch.equal(p, q) for p, q in zip(two, trained(5, milestones=[2], gamma=0.0)))
    assert not all(torch.equal(p, q) for p, q in zip(two, trained(5)))


def test_sween_validation():
    with pytest.raises(ValueError, match="candidates"):
        SWEEN([])
    ens = SWEEN(members())
    with pytest.raises(ValueError, match="rule"):
        AdaptiveSWEEN(ens, rule="vote")
    with pytest.raises(ValueError, match="confidence"):
        AdaptiveSWEEN(ens, confidence=1.0)
    with pytest.raises(ValueError, match="sigma"):
        ens.fit_weights(torch.zeros(4, 4), torch.zeros(4, dtype=torch.long), -0.1)
    with pytest.raises(ValueError, match="member_probs"):
        adaptive_combine(torch.zeros(2, 3), torch.ones(3) / 3)


def test_ensemble_heads_vote_like_their_classifiers():
    from collapselab.smoothing import EnsembleHeads

    x, y = toy_data(50)
    ens = SWEEN(members())
    ens.fit_weights(x, y, 0.25, epochs=3, lr=0.5, generator=0)
    heads = EnsembleHeads(ens, ["cand0", "cand2", "uniform", "sween", "adaptive-bound"])
    out = heads(x)  # (B, H, C)
    probs = ens.member_probs(x)
    assert out.shape == (50, 5, 4)
    assert torch.allclose(out[:, 0], probs[:, 0]) and torch.allclose(out[:, 1], probs[:, 2])
    assert torch.allclose(out[:, 2], probs.mean(1)) and torch.allclose(out[:, 3], ens(x), atol=1e-6)
    assert torch.equal(out[:, 4].argmax(1), ens(x).argmax(1))  # the exact rule keeps the class
    assert 0 < heads.evals["adaptive-bound"] <= 3 * 50 and heads.inputs == 50
    with pytest.raises(ValueError, match="heads"):
        EnsembleHeads(ens, ["cand3"])


def test_build_candidate_is_reproducible_and_crop_flip_keeps_pixels():
    from collapselab.smoothing import CANDIDATES, build_candidate, crop_flip

    a = build_candidate("convnet-w8", 1, 10, 28, generator=torch.Generator().manual_seed(0))
    b = build_candidate("convnet-w8", 1, 10, 28, generator=torch.Generator().manual_seed(0))
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert "resnet110" in CANDIDATES
    with pytest.raises(ValueError, match="name"):
        build_candidate("vgg", 1, 10, 28)
    x = torch.rand(6, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    out = crop_flip(x, torch.Generator().manual_seed(2))
    assert out.shape == x.shape and out.min() >= 0 and out.max() <= x.max()
    assert torch.equal(crop_flip(x, torch.Generator().manual_seed(2)), out)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_sween_and_certify_on_cuda():
    x, y = toy_data(64)
    ens = SWEEN(members()).to("cuda")
    ens.fit_weights(x, y, 0.25, epochs=2, lr=0.5, device="cuda", generator=0)
    cert = Smooth(ens, 4, 0.25).certify(x[0].cuda(), 10, 100, 0.01, generator=torch.Generator("cuda").manual_seed(0))
    assert cert.label in (-1, 0, 1, 2, 3)


def test_noisy_nll_pairs_weightings_on_shared_noise():
    import torch
    from torch import nn

    from collapselab.smoothing import SWEEN, noisy_nll

    torch.manual_seed(0)
    members = [nn.Sequential(nn.Flatten(), nn.Linear(4, 3)) for _ in range(2)]
    ens = SWEEN(members)
    x, y = torch.rand(7, 1, 2, 2), torch.tensor([0, 1, 2, 0, 1, 2, 0])
    w = torch.tensor([[0.5, 0.5], [1.0, 0.0], [0.0, 1.0]])
    out = noisy_nll(ens, x, y, 0.0, w, n_noise=2, batch_size=4, generator=0)
    assert out.shape == (7, 3) and out.dtype == torch.float64
    with torch.no_grad():  # sigma 0: the exact NLL of each weighting
        p = torch.stack([torch.softmax(m(x), -1) for m in members], 1)  # (N, K, C)
        py = p[torch.arange(7), :, y]  # (N, K)
    assert torch.allclose(out[:, 1], -torch.log(py[:, 0] + 1e-10).double(), atol=1e-5)
    assert torch.allclose(out[:, 0], -torch.log(py.mean(1) + 1e-10).double(), atol=1e-5)
    # with noise, the mixture's NLL is at most the mean of the members' (log is concave), draw by draw
    noisy = noisy_nll(ens, x, y, 0.5, w, n_noise=3, generator=1)
    assert torch.all(noisy[:, 0] <= (noisy[:, 1] + noisy[:, 2]) / 2 + 1e-6)
    with pytest.raises(ValueError, match="weights"):
        noisy_nll(ens, x, y, 0.5, torch.tensor([[0.7, 0.7]]))


def _bn_members():
    """Three small batch-norm ConvNets with running statistics and affine terms far from (0, 1)."""
    from collapselab.nn import ConvNet

    torch.manual_seed(0)  # test-only: deterministic module init
    g = torch.Generator().manual_seed(1)
    out = []
    for _ in range(3):
        m = ConvNet(1, 4, image_size=8, width=4, depth=2, norm="batch")
        with torch.no_grad():
            for bn in (b for b in m.modules() if isinstance(b, nn.BatchNorm2d)):
                bn.running_mean.copy_(0.5 * torch.randn(4, generator=g))
                bn.running_var.copy_(0.5 + torch.rand(4, generator=g))
                bn.weight.copy_(1 + 0.3 * torch.randn(4, generator=g))
                bn.bias.copy_(0.3 * torch.randn(4, generator=g))
            m.head[-1].weight.mul_(8.0)  # confident members: votes far from ties
        out.append(m)
    return out


def test_for_inference_keeps_weights_and_certification_counts():
    from collapselab.smoothing import EnsembleHeads, smoothed_class_counts

    ens = SWEEN(_bn_members())
    with torch.no_grad():
        ens.w.copy_(torch.tensor([0.5, -0.3, 0.1]))
    before = {k: v.clone() for k, v in ens.state_dict().items()}
    fast = ens.for_inference()
    assert torch.equal(fast.w, ens.w) and fast.w is not ens.w and all(a is not b for a, b in zip(
        fast.members, ens.members))
    assert all(torch.equal(v, ens.state_dict()[k]) for k, v in before.items())  # ens unchanged
    assert not any(isinstance(m, nn.BatchNorm2d) for m in fast.modules())  # folded
    assert all(not p.requires_grad for p in fast.members.parameters())
    x = torch.randn(6, 1, 8, 8, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        assert torch.allclose(fast(x), ens(x), atol=1e-6)
    heads = ["cand0", "cand1", "cand2", "uniform", "sween", "adaptive", "adaptive-bound"]
    slow_h, fast_h = EnsembleHeads(ens, heads), EnsembleHeads(fast, heads)
    kw = dict(num_classes=4, batch_size=128, device="cpu")
    a = smoothed_class_counts(slow_h, x, 300, 0.5, generator=7, **kw)
    b = smoothed_class_counts(fast_h, x, 300, 0.5, generator=7, **kw)
    assert torch.equal(a, b)  # the same votes on the same noise, head by head
    assert (a.amax(-1) < 300).any()  # not a degenerate case: the noise moves some votes
    assert slow_h.evals == fast_h.evals and slow_h.inputs == fast_h.inputs == 6 * 300


def test_train_with_noise_channels_last_trains_the_same_model():
    from collapselab.nn import MLP, ConvNet

    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(96, 2, 8, 8, generator=g), torch.randint(0, 3, (96,), generator=g)  # C > 1: the
    # two layouts differ

    def trained(make, **kw):
        torch.manual_seed(0)  # test-only: deterministic module init
        m = make()
        seen = []  # layout of the batches and of the first layer's weight during training
        first = next(c for c in m.modules() if isinstance(c, (nn.Conv2d, nn.Linear)))
        first.register_forward_pre_hook(lambda mod, inp: seen.append(
            (inp[0].is_contiguous(), mod.weight.is_contiguous())))
        hist = train_with_noise(m, x, y, 0.25, epochs=2, batch_size=32, generator=3, **kw)
        return m, hist, set(seen)

    def bn():
        return ConvNet(2, 3, image_size=8, width=4, depth=2, norm="batch")

    a, ha, sa = trained(bn, channels_last=False)
    b, hb, sb = trained(bn)  # default on a CPU: channels-last for a batch-norm ConvNet
    assert sa == {(True, True)} and sb == {(False, False)}  # channels-last batches and weights
    assert all(p.is_contiguous() for p in b.parameters())  # contiguous at rest (saveable)
    assert ha == pytest.approx(hb, rel=1e-4)  # the same optimisation up to rounding
    # (parameters drift apart by ~lr per step: the conv bias before a batch norm has zero gradient and
    # Adam scales the rounding noise of that gradient to steps of size lr; the norm cancels the bias)
    with torch.no_grad():
        assert torch.allclose(a.eval()(x), b.eval()(x), atol=0.02)
    for make in (lambda: ConvNet(2, 3, image_size=8, width=4, depth=2, norm="instance"),
                 lambda: MLP(128, [8], 3)):
        assert trained(make)[2] == {(True, True)}  # group norm and MLPs keep the contiguous layout
