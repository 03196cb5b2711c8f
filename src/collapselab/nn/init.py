"""Reproducible weight initialisation from a ``torch.Generator`` (never torch's global generator).

PyTorch's modules initialise themselves from the global generator; ``init_parameters`` redraws every
parameter of a module from an explicit generator instead, with PyTorch's default laws:

* ``Linear`` / ``Conv*``: weight ~ kaiming-uniform(a = sqrt(5)), i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
  bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in));
* ``Embedding``: N(0, 1); normalisation layers: weight 1, bias 0;
* any other module with ``reset_parameters`` (or ``_reset_parameters``, as ``MultiheadAttention``): it,
  run with torch's generator forked and seeded from ``generator`` (restored afterwards).

Values are drawn on the generator's device and copied into the parameters, so a CPU generator gives the
same initial weights whatever device the module lives on.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from collapselab._rng import spawn_seed, torch_seed_scope

_NORMS = (nn.LayerNorm, nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.GroupNorm, nn.InstanceNorm2d)


def _uniform(shape: torch.Size, bound: float, g: torch.Generator) -> torch.Tensor:
    return (torch.rand(shape, generator=g, device=g.device) * 2 - 1) * bound


def init_parameters(module: nn.Module, generator: torch.Generator) -> nn.Module:
    """Re-initialise all parameters of ``module`` (in place, in module order) from ``generator``;
    returns the module. Buffers (e.g. BatchNorm running statistics) are reset to their defaults."""
    if not isinstance(generator, torch.Generator):
        raise ValueError(f"`generator` must be a torch.Generator, got {type(generator).__name__}")
    with torch.no_grad():
        for sub in module.modules():
            own = dict(sub.named_parameters(recurse=False))
            if not own:
                continue
            if isinstance(sub, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)):
                w = sub.weight
                fan_in = w[0].numel()
                bound = 1.0 / math.sqrt(fan_in) if fan_in else 0.0
                w.copy_(_uniform(w.shape, bound, generator))
                if sub.bias is not None:
                    sub.bias.copy_(_uniform(sub.bias.shape, bound, generator))
            elif isinstance(sub, nn.Embedding):
                sub.weight.copy_(torch.randn(sub.weight.shape, generator=generator, device=generator.device))
            elif isinstance(sub, _NORMS):
                if getattr(sub, "weight", None) is not None:
                    sub.weight.fill_(1.0)
                if getattr(sub, "bias", None) is not None:
                    sub.bias.zero_()
                if hasattr(sub, "reset_running_stats") and getattr(sub, "track_running_stats", False):
                    sub.reset_running_stats()
            elif callable(reset := getattr(sub, "reset_parameters", None)
                          or getattr(sub, "_reset_parameters", None)):
                seed = spawn_seed(generator)
                devices = [p.device.index or 0 for p in own.values() if p.device.type == "cuda"]
                with torch_seed_scope(seed, sorted(set(devices))):
                    reset()
            else:
                raise ValueError(f"init_parameters does not know how to initialise {type(sub).__name__} "
                                 f"(parameters {list(own)}); give it a reset_parameters method")
    return module
