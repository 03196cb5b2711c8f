"""Candidate base classifiers for smoothing experiments, by name, and CIFAR augmentation.

``CANDIDATES`` maps a name to a builder ``(in_channels, num_classes, image_size) -> nn.Module``
returning logits: MLPs, LeNet and ConvNets of :mod:`collapselab.nn` (the offline MNIST-scale
candidates) and the CIFAR ResNets of SWEEN's experiments (ResNet-20/26/32/110, [V-code:
SWEEN-author/SWEEN ``architectures.py``]). :func:`build_candidate` initialises the net from a
``torch.Generator`` so that candidates are reproducible without touching the global RNG.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from collapselab._validation import check_choice, check_int
from collapselab.nn import MLP, ConvNet, LeNet, init_parameters
from collapselab.smoothing._resnet import CifarResNet

Builder = Callable[[int, int, int], nn.Module]

CANDIDATES: dict[str, Builder] = {
    "mlp": lambda c, k, s: MLP(c * s * s, [256], k),
    "mlp-128": lambda c, k, s: MLP(c * s * s, [128], k),
    "mlp-512": lambda c, k, s: MLP(c * s * s, [512, 256], k),
    "lenet": lambda c, k, s: LeNet(c, k, image_size=s),
    "convnet-w8": lambda c, k, s: ConvNet(c, k, image_size=s, width=8, depth=2, norm="batch"),
    "convnet-w16": lambda c, k, s: ConvNet(c, k, image_size=s, width=16, depth=2, norm="batch"),
    "convnet-w32": lambda c, k, s: ConvNet(c, k, image_size=s, width=32, depth=2, norm="batch"),
    "convnet-w64": lambda c, k, s: ConvNet(c, k, image_size=s, width=64, depth=3, norm="batch"),
    "resnet20": lambda c, k, s: CifarResNet(20, k, in_channels=c),
    "resnet26": lambda c, k, s: CifarResNet(26, k, in_channels=c),
    "resnet32": lambda c, k, s: CifarResNet(32, k, in_channels=c),
    "resnet110": lambda c, k, s: CifarResNet(110, k, in_channels=c),
}


def build_candidate(name: str, in_channels: int, num_classes: int, image_size: int, *,
                    generator: torch.Generator | None = None) -> nn.Module:
    """The candidate ``name`` (a key of :data:`CANDIDATES`) for (C, H, W=H) inputs and ``num_classes``,
    its parameters drawn from ``generator`` by :func:`collapselab.nn.init_parameters` (PyTorch's
    default laws; None: torch's own initialisation from the global RNG)."""
    check_choice("name", name, tuple(CANDIDATES))
    model = CANDIDATES[name](check_int("in_channels", in_channels, low=1),
                             check_int("num_classes", num_classes, low=2),
                             check_int("image_size", image_size, low=1))
    return model if generator is None else init_parameters(model, generator)


def crop_flip(xb: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """CIFAR augmentation (SWEEN's ``cand_train.py``): random crop 32 with padding 4 and horizontal
    flip, per image, vectorised; the offsets and flips come from ``generator`` (CPU)."""
    if xb.ndim != 4:
        raise ValueError(f"`xb` must be images (B, C, H, W), got shape {tuple(xb.shape)}")
    b, _, h, w = xb.shape
    flip = (torch.rand(b, generator=generator) < 0.5).to(xb.device)
    xb = torch.where(flip[:, None, None, None], xb.flip(3), xb)
    padded = F.pad(xb, (4, 4, 4, 4))
    oy = torch.randint(0, 9, (b,), generator=generator).to(xb.device)
    ox = torch.randint(0, 9, (b,), generator=generator).to(xb.device)
    rows = (oy[:, None] + torch.arange(h, device=xb.device))[:, :, None]  # (b, h, 1)
    cols = (ox[:, None] + torch.arange(w, device=xb.device))[:, None, :]  # (b, 1, w)
    out = padded[torch.arange(b, device=xb.device)[:, None, None], :, rows, cols]  # (b, h, w, C)
    return out.permute(0, 3, 1, 2).contiguous()
