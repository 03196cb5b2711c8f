"""Randomness as an argument, normalised in one place (numpy and torch)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

SeedLike = int | np.random.Generator | None


def as_rng(seed: SeedLike) -> np.random.Generator:
    """An ``np.random.Generator`` from a seed, a Generator (passed through) or None (fresh entropy)."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or (isinstance(seed, (int, np.integer)) and not isinstance(seed, bool)):
        return np.random.default_rng(seed)
    raise ValueError(f"`rng` must be an int seed, a numpy Generator or None, got {type(seed).__name__}")


def as_torch_generator(seed: Any, device: Any = "cpu"):
    """A ``torch.Generator`` on ``device`` from a seed, a Generator (passed through) or None."""
    import torch

    if isinstance(seed, torch.Generator):
        return seed
    g = torch.Generator(device=device)
    if seed is None:
        g.seed()
    elif isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        g.manual_seed(int(seed))
    else:
        raise ValueError(f"`generator` must be an int seed, a torch.Generator or None, "
                         f"got {type(seed).__name__}")
    return g


def resolve_device(name: Any = "cpu"):
    """``"auto"`` picks CUDA when available; any other string or torch.device passes through."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


@contextmanager
def torch_seed_scope(seed: int, devices: Sequence[int] = ()) -> Iterator[None]:
    """Seed torch's global generator for the block only (e.g. a module's weight initialisation, which
    draws from it), then restore the caller's state: ``fork_rng`` + ``manual_seed`` in one place."""
    import torch

    with torch.random.fork_rng(devices=list(devices)):
        torch.manual_seed(int(seed))
        yield
