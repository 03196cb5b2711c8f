import pytest
import torch
from torch import nn

from collapselab.nn import MLP, ConvNet, LeNet, fused_for_inference
from collapselab.smoothing import CifarResNet


def _scramble_bn(model: nn.Module, seed: int = 0) -> nn.Module:
    """Batch norms with running statistics and affine parameters far from (0, 1), so that a wrong
    fold (a missing mean, gamma or beta term) changes the outputs."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                c = m.num_features
                m.running_mean.copy_(0.5 * torch.randn(c, generator=g))
                m.running_var.copy_(0.5 + 1.5 * torch.rand(c, generator=g))
                m.weight.copy_(1 + 0.3 * torch.randn(c, generator=g))
                m.bias.copy_(0.3 * torch.randn(c, generator=g))
    return model


def _models():
    torch.manual_seed(0)  # test-only: deterministic module init
    return {
        "convnet-batch": (_scramble_bn(ConvNet(1, 10, width=8, depth=2, norm="batch")), (1, 28, 28)),
        "convnet-instance": (ConvNet(1, 10, width=8, depth=2, norm="instance"), (1, 28, 28)),
        "convnet-none": (ConvNet(3, 10, image_size=16, width=8, depth=2, norm=None), (3, 16, 16)),
        "lenet": (LeNet(1, 10), (1, 28, 28)),
        "mlp": (MLP(784, [32], 10, dropout=0.2), (1, 28, 28)),
        "resnet8": (_scramble_bn(CifarResNet(8, 10, in_channels=3, width=4)), (3, 16, 16)),
    }


@pytest.mark.parametrize("name", list(_models()))
def test_fused_equals_original_and_leaves_it_alone(name):
    model, shape = _models()[name]
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    layouts = [p.is_contiguous() for p in model.parameters()]
    fused = fused_for_inference(model)
    assert model.training and fused is not model  # the argument keeps its mode ...
    after = model.state_dict()
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)  # ... values
    assert [p.is_contiguous() for p in model.parameters()] == layouts  # ... and layout
    x = torch.randn(16, *shape, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ref = model.eval()(x)
        out = fused(x)
    assert not fused.training and torch.allclose(out, ref, atol=1e-5, rtol=0)
    n_bn = sum(isinstance(m, nn.BatchNorm2d) for m in fused.modules())
    assert n_bn == 0  # every conv -> bn pair folded (ConvNet's features, ResNet stem, blocks, shortcuts)
    if name == "convnet-instance":  # group norm: nothing to fold, layout kept
        assert any(isinstance(m, nn.GroupNorm) for m in fused.modules())
        assert all(p.is_contiguous() for p in fused.parameters())
    if name in ("convnet-batch", "resnet8"):
        assert sum(isinstance(m, nn.BatchNorm2d) for m in model.modules()) > 0
        conv = next(m for m in fused.modules() if isinstance(m, nn.Conv2d))
        assert conv.weight.is_contiguous(memory_format=torch.channels_last) and conv.bias is not None


class _ConvUsedTwice(nn.Module):
    """conv -> bn, but the conv's output is also read by the residual: folding would be wrong."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 2, 3, padding=1)
        self.bn = nn.BatchNorm2d(2)

    def forward(self, x):
        h = self.conv(x)
        return self.bn(h) + h


class _Untraceable(nn.Module):
    """Data-dependent control flow (torch.fx cannot trace it): only nn.Sequential pairs fold."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU())
        self.other = nn.Conv2d(4, 4, 1)
        self.bn = nn.BatchNorm2d(4)

    def forward(self, x):
        h = self.body(x)
        if h.sum() > 0:
            h = h + 1
        return self.bn(self.other(h))


@pytest.mark.parametrize("make, folded", [(_ConvUsedTwice, 0), (_Untraceable, 1)])
def test_folds_only_exact_conv_bn_pairs(make, folded):
    torch.manual_seed(0)
    model = _scramble_bn(make()).eval()
    fused = fused_for_inference(model)
    x = torch.randn(5, 2, 6, 6, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        assert torch.allclose(fused(x), model(x), atol=1e-5, rtol=0)
    n_before = sum(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    assert n_before - sum(isinstance(m, nn.BatchNorm2d) for m in fused.modules()) == folded


def test_batch_statistics_norm_is_not_folded_and_input_is_checked():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 3, 3), nn.BatchNorm2d(3, track_running_stats=False), nn.Flatten())
    fused = fused_for_inference(model)
    assert isinstance(fused[1], nn.BatchNorm2d)
    x = torch.randn(4, 1, 5, 5)
    with torch.no_grad():
        assert torch.allclose(fused(x), model.eval()(x), atol=1e-5)
    with pytest.raises(ValueError, match="nn.Module"):
        fused_for_inference(lambda x: x)  # type: ignore[arg-type]
