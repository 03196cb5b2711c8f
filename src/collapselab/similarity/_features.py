"""Intermediate-layer features of a torch model through forward hooks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from collapselab._validation import check_int


def extract_features(model: Any, data: Any, layers: str | Sequence[str], *, batch_size: int = 512,
                     device: Any = "cpu") -> dict[str, np.ndarray]:
    """Outputs of the named submodules of ``model`` on ``data``, flattened per sample.

    ``layers``: names from ``model.named_modules()`` (e.g. "net.2", "features.3"). ``data``: (N, ...)
    numpy array or tensor. The model runs in eval mode under ``torch.no_grad`` in batches on ``device``;
    a forward hook on each layer records its output. Returns {layer: float64 array (N, prod(shape))}.
    """
    import torch

    names = [layers] if isinstance(layers, str) else list(layers)
    if not names:
        raise ValueError("`layers` must name at least one submodule")
    modules = dict(model.named_modules())
    unknown = [n for n in names if n not in modules or n == ""]
    if unknown:
        valid = ", ".join(n for n in modules if n)
        raise ValueError(f"`layers` has unknown module names {unknown}; valid: {valid}")
    batch_size = check_int("batch_size", batch_size, low=1)
    x = torch.as_tensor(data.detach().cpu().numpy() if hasattr(data, "detach") else np.asarray(data))
    if x.ndim < 2 or x.shape[0] < 1:
        raise ValueError(f"`data` must have shape (N, ...) with N >= 1, got {tuple(x.shape)}")
    if x.is_floating_point():
        x = x.float()
    store: dict[str, list[torch.Tensor]] = {n: [] for n in names}

    def make_hook(name):
        def hook(_module, _inputs, output):
            out = output[0] if isinstance(output, (tuple, list)) else output
            store[name].append(out.detach().flatten(1).double().cpu())  # (B, prod(shape))
        return hook

    handles = [modules[n].register_forward_hook(make_hook(n)) for n in names]
    was_training = model.training
    try:
        model.to(device).eval()
        with torch.no_grad():
            for start in range(0, x.shape[0], batch_size):
                model(x[start:start + batch_size].to(device))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return {n: torch.cat(store[n]).numpy() for n in names}
