"""A CIFAR ResNet (He et al. 2016, Sec. 4.2): depth 6m + 2, three stages of m basic blocks with
widths (w, 2w, 4w), global average pooling; ResNet-20/26/32/110 are m = 3/4/5/18 with w = 16.
The candidates of SWEEN's CIFAR-10 experiments are of this family.  [V-code: SWEEN-author/SWEEN]"""

from __future__ import annotations

import torch
from torch import nn

from collapselab._validation import check_int


class _Block(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.short = (nn.Identity() if stride == 1 and c_in == c_out else
                      nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(h)) + self.short(x))


class CifarResNet(nn.Module):
    """ResNet-(6m+2) for small images: (B, C, H, W) -> logits (B, num_classes)."""

    def __init__(self, depth: int = 20, num_classes: int = 10, *, in_channels: int = 3, width: int = 16):
        super().__init__()
        depth = check_int("depth", depth, low=8)
        if (depth - 2) % 6:
            raise ValueError(f"`depth` must be 6m + 2 (20, 26, 32, 110, ...), got {depth}")
        m = (depth - 2) // 6
        width = check_int("width", width, low=1)
        check_int("num_classes", num_classes, low=2)
        layers: list[nn.Module] = [nn.Conv2d(check_int("in_channels", in_channels, low=1), width, 3, 1, 1,
                                             bias=False), nn.BatchNorm2d(width), nn.ReLU()]
        c = width
        for stage, c_out in enumerate((width, 2 * width, 4 * width)):
            for i in range(m):
                layers.append(_Block(c, c_out, 2 if stage > 0 and i == 0 else 1))
                c = c_out
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(c, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).mean(dim=(2, 3)))
