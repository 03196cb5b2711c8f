"""Small image/vector models shared by the papers: MLP, ConvNet (instance/batch norm), LeNet."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from collapselab._validation import check_choice, check_int, check_real
from collapselab.nn.pool import AvgPool2d, MaxPool2d


class MLP(nn.Module):
    """Fully connected net: flatten -> [Linear -> act -> Dropout] * len(hidden) -> Linear.

    Input (B, *shape) is flattened to (B, in_features).
    """

    def __init__(self, in_features: int, hidden: Sequence[int], out_features: int, *,
                 dropout: float = 0.0, activation: str = "relu"):
        super().__init__()
        check_int("in_features", in_features, low=1)
        check_int("out_features", out_features, low=1)
        check_real("dropout", dropout, low=0.0, high=1.0, high_open=True)
        act = {"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU}[check_choice(
            "activation", activation, ("relu", "tanh", "gelu"))]
        layers: list[nn.Module] = [nn.Flatten()]
        width = in_features
        for i, h in enumerate(hidden):
            check_int(f"hidden[{i}]", h, low=1)
            layers += [nn.Linear(width, h), act()]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = h
        layers.append(nn.Linear(width, out_features))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def _norm(kind: str | None, channels: int) -> nn.Module:
    if kind is None or kind == "none":
        return nn.Identity()
    if kind == "instance":
        return nn.GroupNorm(channels, channels, affine=True)  # instance norm that works at batch 1
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    raise ValueError(f"`norm` must be 'instance', 'batch' or None, got {kind!r}")


class ConvNet(nn.Module):
    """The dataset-distillation ConvNet: depth x [conv3x3(width) -> norm -> ReLU -> avgpool2] -> linear.

    Input (B, C, H, W); H and W must be divisible by 2**depth. ``dropout`` is applied before the head.
    """

    def __init__(self, in_channels: int, num_classes: int, *, image_size: int = 28, width: int = 64,
                 depth: int = 3, norm: str | None = "instance", dropout: float = 0.0):
        super().__init__()
        check_int("in_channels", in_channels, low=1)
        check_int("num_classes", num_classes, low=1)
        check_int("width", width, low=1)
        check_int("depth", depth, low=1)
        check_real("dropout", dropout, low=0.0, high=1.0, high_open=True)
        layers: list[nn.Module] = []
        c, size = in_channels, check_int("image_size", image_size, low=1)
        for _ in range(depth):
            layers += [nn.Conv2d(c, width, 3, padding=1), _norm(norm, width), nn.ReLU(), AvgPool2d(2)]
            c, size = width, size // 2
        if size < 1:
            raise ValueError(f"`depth`={depth} pools a {image_size}px image below 1px")
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(dropout) if dropout > 0 else nn.Identity(),
                                  nn.Linear(c * size * size, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class LeNet(nn.Module):
    """LeNet-5-like: conv5(6) -> pool -> conv5(16) -> pool -> 120 -> 84 -> classes (28x28 or 32x32)."""

    def __init__(self, in_channels: int = 1, num_classes: int = 10, *, image_size: int = 28,
                 dropout: float = 0.0):
        super().__init__()
        check_int("image_size", image_size, low=12)
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, 5, padding=2), nn.ReLU(), MaxPool2d(2),
            nn.Conv2d(6, 16, 5), nn.ReLU(), MaxPool2d(2))
        size = ((image_size // 2) - 4) // 2
        self.head = nn.Sequential(
            nn.Flatten(), nn.Linear(16 * size * size, 120), nn.ReLU(),
            nn.Dropout(dropout) if dropout > 0 else nn.Identity(),
            nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))
