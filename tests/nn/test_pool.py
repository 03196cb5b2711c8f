import pytest
import torch
import torch.nn.functional as F
from torch import nn

from collapselab.nn import AvgPool2d, LeNet, MaxPool2d, avg_pool_blocks, max_pool_blocks, pool


def _same(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Equal bit for bit: values (NaN where NaN, whatever its sign bit), sign of zero, shape and strides
    (the layout the next layer sees)."""
    nan = a.isnan()
    return (a.shape == b.shape and a.stride() == b.stride() and torch.equal(nan, b.isnan())
            and torch.equal(a.nan_to_num(), b.nan_to_num()) and torch.equal(a.signbit() & ~nan, b.signbit() & ~nan))


def _input(shape, channels_last: bool, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    # heavy-tailed values over many magnitudes, exact zeros of both signs, so rounding order shows
    x = torch.randn(shape, generator=g) * torch.rand(shape, generator=g).pow(8) * 1e3
    if channels_last and x.dim() == 4:
        x = x.contiguous(memory_format=torch.channels_last)
    return x


@pytest.mark.parametrize("shape", [(7, 3, 28, 28), (5, 16, 10, 10), (4, 8, 7, 7), (3, 13, 15), (2, 5, 9, 11)])
@pytest.mark.parametrize("kernel", [1, 2, 3, (2, 3)])
@pytest.mark.parametrize("channels_last", [False, True])
def test_block_pools_equal_the_library_kernels_bit_for_bit(shape, kernel, channels_last):
    x = _input(shape, channels_last)
    assert _same(avg_pool_blocks(x, kernel), F.avg_pool2d(x, kernel))
    assert _same(max_pool_blocks(x, kernel), F.max_pool2d(x, kernel))


def test_block_pools_keep_nan_inf_and_signed_zeros_as_the_library():
    x = -torch.zeros(2, 3, 4, 4, dtype=torch.float64)  # all -0: the library's average sums from +0
    x[0, 0, 0, 0], x[0, 1, 2, 3], x[1, 2, 1, 1] = float("nan"), float("inf"), -float("inf")
    for k in (1, 2, (1, 2)):
        assert _same(avg_pool_blocks(x, k), F.avg_pool2d(x, k))
        assert _same(max_pool_blocks(x, k), F.max_pool2d(x, k))


def test_max_pool_of_mixed_signed_zeros_gives_equal_values():
    g = torch.Generator().manual_seed(0)
    x = (torch.randint(0, 2, (4, 3, 8, 8), generator=g).float() * 2 - 1) * 0.0  # +0 and -0 mixed
    assert torch.equal(max_pool_blocks(x, 2), F.max_pool2d(x, 2))


def test_average_pool_gradient_equals_the_library():
    x = _input((6, 3, 12, 12), False).requires_grad_()
    go = _input((6, 3, 6, 6), False, seed=1)
    (g1,) = torch.autograd.grad(F.avg_pool2d(x, 2), x, go)
    (g2,) = torch.autograd.grad(AvgPool2d(2)(x), x, go)
    assert _same(g1, g2)


def test_max_pool_keeps_the_library_kernel_with_gradients_on():
    # a tie at a positive value: the library sends the gradient to the first maximum, torch.maximum splits it
    x = torch.ones(1, 1, 2, 2, requires_grad=True)
    (g,) = torch.autograd.grad(MaxPool2d(2)(x).sum(), x)
    assert g.flatten().tolist() == [1.0, 0.0, 0.0, 0.0]
    with torch.no_grad():
        assert MaxPool2d(2)(x).item() == 1.0


@pytest.mark.parametrize("cls, lib", [(AvgPool2d, nn.AvgPool2d), (MaxPool2d, nn.MaxPool2d)])
@pytest.mark.parametrize("kwargs", [{"kernel_size": 2}, {"kernel_size": 3, "stride": 2},
                                    {"kernel_size": 2, "padding": 1}, {"kernel_size": 2, "ceil_mode": True},
                                    {"kernel_size": 3}])
def test_layers_match_torch_layers_in_every_configuration(cls, lib, kwargs):
    x = _input((64, 8, 11, 11), False)
    with torch.no_grad():
        assert _same(cls(**kwargs)(x), lib(**kwargs)(x))
        assert _same(cls(**kwargs)(x.half()), lib(**kwargs)(x.half()))


def test_too_small_input_raises_the_library_error():
    with pytest.raises(RuntimeError, match="too small"), torch.no_grad():
        MaxPool2d(2)(torch.zeros(1, 1, 1, 8))


@pytest.mark.parametrize("channels_last", [False, True])
def test_lenet_outputs_equal_with_the_library_pools(channels_last):
    torch.manual_seed(0)  # test-only: deterministic module init
    net = LeNet(1, 10).eval()
    ref = LeNet(1, 10).eval()
    ref.load_state_dict(net.state_dict())
    ref.features[2], ref.features[5] = nn.MaxPool2d(2), nn.MaxPool2d(2)
    if channels_last:
        net, ref = net.to(memory_format=torch.channels_last), ref.to(memory_format=torch.channels_last)
    x = _input((64, 1, 28, 28), channels_last)
    with torch.no_grad():
        assert _same(net(x), ref(x))


def test_layers_take_the_slices_where_they_should(monkeypatch):
    calls = []
    monkeypatch.setattr(pool, "max_pool_blocks", lambda x, k: calls.append("max") or F.max_pool2d(x, k))
    monkeypatch.setattr(pool, "avg_pool_blocks", lambda x, k: calls.append("avg") or F.avg_pool2d(x, k))
    big, small = _input((64, 6, 28, 28), False), _input((2, 6, 28, 28), False)
    with torch.no_grad():
        MaxPool2d(2)(big), AvgPool2d(2)(big)
        assert calls == ["max", "avg"]
        MaxPool2d(2)(small), AvgPool2d(2)(small)  # small inputs: the library kernel
        AvgPool2d(2)(big.contiguous(memory_format=torch.channels_last))  # channels-last average: the library
        AvgPool2d(2)(_input((512, 8, 7, 7), False))  # 3 x 3 outputs: the library
        assert calls == ["max", "avg"]
        MaxPool2d(2)(big.contiguous(memory_format=torch.channels_last))
        assert calls == ["max", "avg", "max"]
    MaxPool2d(2)(big.requires_grad_())  # gradients on: the library's max (tie-breaking)
    AvgPool2d(2)(big)
    assert calls == ["max", "avg", "max", "avg"]
