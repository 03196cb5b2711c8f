"""CellContext's seeds: per-cell sub-streams and the streams shared across the cells of a replicate."""

import hashlib

import numpy as np
import pytest
import torch

from collapselab.core import CellContext


def test_substream_seed_is_unchanged():
    ctx = CellContext(seed=987, replicate=2)
    digest = hashlib.sha256(b"987|init|3").digest()
    assert ctx.substream_seed("init", 3) == int.from_bytes(digest[:8], "little") >> 1


def test_shared_seed_ignores_the_cell_seed_but_not_the_replicate():
    a, b, c = CellContext(seed=1, replicate=0), CellContext(seed=2, replicate=0), CellContext(seed=1, replicate=1)
    assert a.shared_seed("paper|test-set") == b.shared_seed("paper|test-set")
    assert a.shared_seed("paper|test-set") != c.shared_seed("paper|test-set")
    assert a.shared_seed("init", 0) != a.shared_seed("init", 1)
    assert a.shared_seed("x") != a.substream_seed("x")
    assert a.shared_seed("x", bits=31) < 2**31
    with pytest.raises(ValueError, match="name"):
        a.shared_seed("")


def test_shared_generators_agree_across_cells():
    a, b = CellContext(seed=5, replicate=3), CellContext(seed=6, replicate=3)
    assert np.array_equal(a.shared_generator("data").random(4), b.shared_generator("data").random(4))
    ga, gb = a.shared_torch_generator("init", 2), b.shared_torch_generator("init", 2, device="cpu")
    assert torch.equal(torch.rand(4, generator=ga), torch.rand(4, generator=gb))
    assert not np.array_equal(a.shared_generator("data").random(4), a.generator("data").random(4))


def test_hashed_seed_is_the_documented_key_layout():
    ctx = CellContext(seed=0, replicate=4)
    assert ctx.shared_seed("efficient-transformers", "lis", 8, bits=62) == CellContext.hashed_seed(
        "efficient-transformers", "lis", 8, 4, bits=62)


def test_shared_seeds_are_the_same_across_cells_but_not_across_streams():
    from collapselab._rng import hash_seed

    main, other_cell = CellContext(seed=1, replicate=2), CellContext(seed=99, replicate=2)
    confirm = CellContext(seed=1, replicate=2, stream="confirm")
    assert main.shared_seed("paper", "x") == other_cell.shared_seed("paper", "x") == hash_seed("paper", "x", 2)
    assert confirm.shared_seed("paper", "x") != main.shared_seed("paper", "x")
    assert main.stream_key() == () and confirm.stream_key() == ("confirm",)


def test_a_task_runs_with_its_stream():
    from collapselab.core.sweep import Task, execute

    record = execute(Task("toy/values", "k", 0, {}, 5, "cpu", lambda cell, ctx: {"stream": ctx.stream},
                          stream="confirm"))
    assert record.status == "done" and record.metrics == {"stream": "confirm"}
