"""Non-overlapping 2-D pooling (kernel = stride, no padding) as strided slices: the same numbers as
PyTorch's pooling kernels, several times faster on a CPU for the small images of the papers.

For a kernel k x k with stride k, output pixel (i, j) pools the block x[k i + a, k j + b], a, b < k, so

    avg(x)[i, j] = (((x[ki, kj] + x[ki, kj + 1]) + ...) + x[ki + k - 1, kj + k - 1]) / k^2
    max(x)[i, j] = max_{a, b} x[ki + a, kj + b]

Summing the k^2 strided views x[..., a::k, b::k] in that row-major order (from +0, as the library does)
and dividing by k^2 is what PyTorch's CPU average pool computes per output: the outputs are equal bit
for bit. A maximum is exact in any order: the outputs are the same numbers; only a block whose maximum
is a zero that occurs as both +0 and -0 may come out with the other sign of zero (the library keeps the
first in row-major order, ``torch.maximum`` either), which compares equal and changes no sum or product
it enters except into another zero. Outputs keep the input's layout (contiguous or channels-last), as the
library's do (tests: ``tests/nn/test_pool.py``). On (1000, 6, 28, 28) one thread pools a contiguous
input in ~4 ms against ~10-14 ms (average) and ~26-33 ms (maximum) for the library kernels, whose
per-window loops dominate at these sizes; for channels-last inputs the library's average pool is the
faster and is kept.

Max pooling takes the slices only with gradients off (``torch.no_grad``, inference mode): on ties
PyTorch's backward sends the gradient to the first maximum, ``torch.maximum``'s splits it, so with
gradients on (autograd or ``torch.func`` transforms) it keeps the library kernel. Average pooling's
backward (each input gets grad / k^2) is the same either way.
"""

from __future__ import annotations

import torch
from torch import nn


def _pair(v) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else tuple(v)


_SMALL = 32768  # inputs of fewer elements pool faster in the library kernel (its fixed cost is lower)


def _sliceable(x: torch.Tensor, kernel, stride, padding, dilation=1, ceil_mode=False) -> bool:
    """Kernel = stride, no padding or dilation, floor mode, a float32/float64 (N, C, H, W) or (C, H, W)
    input of at least 32,768 elements with at least one whole block per row and column (else the library
    kernel raises its error)."""
    kh, kw = _pair(kernel)
    return (x.dim() in (3, 4) and x.dtype in (torch.float32, torch.float64) and x.numel() >= _SMALL
            and (stride is None or _pair(stride) == (kh, kw)) and _pair(padding) == (0, 0)
            and _pair(dilation) == (1, 1) and not ceil_mode and x.shape[-2] >= kh and x.shape[-1] >= kw)


def _views(x: torch.Tensor, kh: int, kw: int) -> list[torch.Tensor]:
    """The kh * kw strided views x[..., a::kh, b::kw] cut to whole blocks, in row-major (a, b) order."""
    oh, ow = x.shape[-2] // kh, x.shape[-1] // kw
    return [x[..., a:a + kh * oh:kh, b:b + kw * ow:kw] for a in range(kh) for b in range(kw)]


def avg_pool_blocks(x: torch.Tensor, kernel: int | tuple[int, int]) -> torch.Tensor:
    """Average over non-overlapping kernel blocks (``F.avg_pool2d(x, kernel)`` with its default stride,
    no padding): the k^2 strided views summed in row-major order, divided by kh * kw."""
    kh, kw = _pair(kernel)
    views = _views(x, kh, kw)
    total = views[0] + 0.0 if len(views) == 1 else views[0] + views[1]  # a fresh tensor, added to in place
    for v in views[2:]:
        total.add_(v)
    if len(views) > 1:  # the library's sum starts at +0: a block of -0s sums to +0, not -0
        total.add_(0.0)
    return total.div_(kh * kw)


def max_pool_blocks(x: torch.Tensor, kernel: int | tuple[int, int]) -> torch.Tensor:
    """Maximum over non-overlapping kernel blocks (``F.max_pool2d(x, kernel)`` with its default stride,
    no padding) as pairwise ``torch.maximum`` of the strided views (NaN propagates, as there)."""
    kh, kw = _pair(kernel)
    views = _views(x, kh, kw)
    while len(views) > 1:
        views = [torch.maximum(a, b) for a, b in zip(views[::2], views[1::2])] + views[len(views) // 2 * 2:]
    return views[0].clone() if kh * kw == 1 else views[0]


_FEW = 16  # below 4 x 4 output pixels per map the library's average pool is the faster


def _outputs(x: torch.Tensor, kernel) -> int:
    kh, kw = _pair(kernel)
    return (x.shape[-2] // kh) * (x.shape[-1] // kw)


class AvgPool2d(nn.AvgPool2d):
    """``torch.nn.AvgPool2d`` that pools non-overlapping blocks (kernel = stride, no padding, floor
    mode) of a contiguous input with at least 4 x 4 outputs per map through :func:`avg_pool_blocks`: the
    same outputs and gradients, faster on a CPU. Any other case (a channels-last input, where the
    library kernel is the faster) runs the library kernel."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if (self.divisor_override is None and x.is_contiguous()
                and _sliceable(x, self.kernel_size, self.stride, self.padding, 1, self.ceil_mode)
                and _outputs(x, self.kernel_size) >= _FEW):
            return avg_pool_blocks(x, self.kernel_size)
        return super().forward(x)


class MaxPool2d(nn.MaxPool2d):
    """``torch.nn.MaxPool2d`` that pools non-overlapping blocks through :func:`max_pool_blocks` with
    gradients off (inference, certification): the same outputs, faster on a CPU. With gradients on, or
    any other configuration, it runs the library kernel (and its tie-breaking in the backward pass)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if (not torch.is_grad_enabled() and not self.return_indices
                and _sliceable(x, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode)):
            return max_pool_blocks(x, self.kernel_size)
        return super().forward(x)
