"""The randomness helpers of ``collapselab._rng``: child generators, hashed seeds, the torch seed scope."""

import hashlib

import numpy as np
import pytest
import torch

from collapselab._rng import as_rng, hash_seed, spawn, spawn_seed, torch_seed_scope


def _old_child(g: torch.Generator) -> int:  # the draw the call sites wrote by hand before spawn_seed
    return int(torch.randint(0, 2**62, (1,), generator=g))


def test_spawn_seed_is_the_hand_written_draw_and_advances_the_parent_alike():
    a, b = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    assert [spawn_seed(a) for _ in range(4)] == [_old_child(b) for _ in range(4)]
    assert torch.equal(torch.rand(5, generator=a), torch.rand(5, generator=b))


def test_spawn_gives_a_child_seeded_by_that_draw():
    parent, ref = torch.Generator().manual_seed(11), torch.Generator().manual_seed(11)
    child = spawn(parent)
    expected = torch.Generator().manual_seed(_old_child(ref))
    assert torch.equal(torch.randn(6, generator=child), torch.randn(6, generator=expected))
    assert child.device == parent.device
    # two children drawn in turn from one parent differ
    assert not torch.equal(torch.rand(4, generator=spawn(parent)), torch.rand(4, generator=spawn(parent)))


def test_spawn_rejects_a_non_generator():
    with pytest.raises(ValueError, match="generator"):
        spawn_seed(7)


@pytest.mark.parametrize("key", [("a",), ("efficient-transformers", "lis", 8, 0), (12345, "init", 3)])
def test_hash_seed_reproduces_the_four_derivations(key):
    digest = hashlib.sha256("|".join(map(str, key)).encode()).digest()
    assert hash_seed(*key, bits=63) == int.from_bytes(digest[:8], "little") >> 1  # CellContext sub-streams
    assert hash_seed(*key, bits=62) == int.from_bytes(digest[:8], "little") >> 2  # efficient-transformers
    assert hash_seed(*key, bits=31) == int.from_bytes(digest[:4], "little") >> 1  # transferred-discrepancy
    assert hash_seed(*key, bits=32) == int.from_bytes(digest[:4], "little")  # core.sweep.derive_seed


def test_hash_seed_range_and_arguments():
    seeds = [hash_seed("k", i, bits=10) for i in range(200)]
    assert all(0 <= s < 2**10 for s in seeds) and len(set(seeds)) > 150
    assert hash_seed("k", 1) != hash_seed("k", 2) and hash_seed("k", 1) == hash_seed("k", "1")
    with pytest.raises(ValueError, match="bits"):
        hash_seed("k", bits=0)
    with pytest.raises(ValueError, match="key"):
        hash_seed()


def test_torch_seed_scope_seeds_the_block_and_restores_the_caller():
    torch.manual_seed(0)
    with torch_seed_scope(5):
        inside = torch.rand(3)
    after = torch.rand(3)
    torch.manual_seed(5)
    assert torch.equal(inside, torch.rand(3))
    torch.manual_seed(0)
    assert torch.equal(after, torch.rand(3))


def test_as_rng_passes_generators_and_rejects_other_types():
    g = np.random.default_rng(1)
    assert as_rng(g) is g
    assert as_rng(4).integers(1000) == np.random.default_rng(4).integers(1000)
    with pytest.raises(ValueError, match="rng"):
        as_rng(1.5)
