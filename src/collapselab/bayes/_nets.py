"""Networks behind the posteriors, built from a plain architecture dict (so checkpoints load safely).

``arch`` keys: ``kind`` in {"mlp", "convnet", "lenet"}; ``pool`` (int >= 1, a fixed average pool on
the input before the net, e.g. 2 turns 28x28 MNIST into 14x14; 1 = none); the constructor arguments
of :class:`collapselab.nn.MLP` (``in_features`` of the *pooled* input, ``hidden``, ``out_features``,
``activation``), :class:`collapselab.nn.ConvNet` (``in_channels``, ``num_classes``, ``image_size``,
``width``, ``depth``, ``norm``) or :class:`collapselab.nn.LeNet` (``in_channels``, ``num_classes``,
``image_size``). ``dropout`` is set by the posterior (MC dropout) and must not be given.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from collapselab._validation import check_choice, check_int
from collapselab.nn import MLP, AvgPool2d, ConvNet, LeNet, init_parameters

_KINDS = {"mlp": MLP, "convnet": ConvNet, "lenet": LeNet}


def check_arch(arch: Any) -> dict[str, Any]:
    """Validate and copy an architecture dict (see module docstring)."""
    if not isinstance(arch, dict) or "kind" not in arch:
        raise ValueError(f"`arch` must be a dict with a 'kind' key in {tuple(_KINDS)}, got {arch!r}")
    arch = dict(arch)
    check_choice("arch['kind']", arch["kind"], tuple(_KINDS))
    arch["pool"] = check_int("arch['pool']", arch.get("pool", 1), low=1)
    if "dropout" in arch:
        raise ValueError("`arch` must not set 'dropout'; MCDropout(p=...) sets it")
    if "hidden" in arch:
        arch["hidden"] = [int(h) for h in arch["hidden"]]
    return arch


def build_net(
    arch: dict[str, Any],
    *,
    dropout: float = 0.0,
    generator: torch.Generator | None = None,
    batchnorm_ok: bool = True,
) -> nn.Module:
    """The network for ``arch`` (pool -> net), initialised from ``generator`` by
    :func:`collapselab.nn.init_parameters` (PyTorch's default laws; None: torch's own init)."""
    arch = check_arch(arch)
    kwargs = {k: v for k, v in arch.items() if k not in ("kind", "pool")}
    if not batchnorm_ok and kwargs.get("norm") == "batch":
        raise ValueError(
            "`arch['norm']`='batch' is not supported by sampled-weight posteriors "
            "(running statistics are not parameters); use 'instance' or None"
        )
    try:
        net = _KINDS[arch["kind"]](**kwargs, dropout=dropout)
    except TypeError as exc:
        raise ValueError(f"`arch` has keys that {arch['kind']!r} does not take: {exc}") from None
    layers = [AvgPool2d(arch["pool"])] if arch["pool"] > 1 else []
    model = nn.Sequential(*layers, net)
    if generator is not None:
        init_parameters(model, generator)
    return model
