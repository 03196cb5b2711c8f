"""Randomness as an argument, normalised in one place (numpy and torch)."""

from __future__ import annotations

import hashlib
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


def spawn_seed(generator: Any) -> int:
    """A child seed drawn from the torch ``generator``: one ``torch.randint(0, 2**62, (1,))`` draw on the
    generator's device, so it advances the parent by exactly that draw (the child's stream is a
    function of the parent's state, and the parent's later draws are independent of the child's)."""
    import torch

    if not isinstance(generator, torch.Generator):
        raise ValueError(f"`generator` must be a torch.Generator, got {type(generator).__name__}")
    return int(torch.randint(0, 2**62, (1,), generator=generator, device=generator.device))


def spawn(generator: Any, device: Any = None):
    """A child ``torch.Generator`` on ``device`` (default: the parent's) seeded with
    :func:`spawn_seed` of the parent ``generator``, e.g. a device generator for noise drawn from the
    CPU generator that fixes the batch order."""
    import torch

    child = torch.Generator(device=generator.device if device is None else device)
    child.manual_seed(spawn_seed(generator))
    return child


def hash_seed(*key: int | str, bits: int = 63) -> int:
    """A ``bits``-bit seed from a key: sha256 of ``"|".join(map(str, key))``, the first
    ``ceil(bits / 8)`` digest bytes read little-endian, shifted right to keep the top ``bits`` bits.

    Stable across machines, runs and Python versions (unlike ``hash``). Keys that differ in any part
    give independent seeds; the bit width is part of the definition (a 31-bit and a 63-bit seed of
    one key differ), so a caller keeps the width its stored results were drawn with.
    """
    if isinstance(bits, bool) or not isinstance(bits, int) or not 1 <= bits <= 256:
        raise ValueError(f"`bits` must be an int in [1, 256], got {bits!r}")
    if not key:
        raise ValueError("`key` must hold at least one part")
    n_bytes = -(-bits // 8)
    digest = hashlib.sha256("|".join(map(str, key)).encode()).digest()
    return int.from_bytes(digest[:n_bytes], "little") >> (8 * n_bytes - bits)


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
