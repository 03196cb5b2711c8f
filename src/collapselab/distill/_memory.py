"""Counting the memory an autograd graph holds, deterministically and on any device."""

from __future__ import annotations

from contextlib import contextmanager

import torch


class GraphMemory:
    """Bytes of the distinct tensor storages saved for backward while the context was open.

    Every tensor autograd saves (activations, inputs of nonlinearities, optimiser intermediates of a
    differentiable unroll) is held until ``backward``; at the start of ``backward`` the graph therefore
    pins at least ``bytes`` bytes. Storages are counted once (a parameter saved by several ops is not
    double counted), so the figure is the graph's share of the peak memory: the quantity that grows
    linearly with the unrolled length M in BPTT. Unlike wall-clock profilers it is the same on CPU and
    CUDA and from run to run.
    """

    def __init__(self) -> None:
        # storages are kept referenced while the context is open, so a freed address cannot be reused
        # and miscounted; open it only around graph-building code whose graph survives to backward
        self._storages: dict[tuple[str, int], torch.UntypedStorage | int] = {}
        self.n_tensors = 0

    @property
    def bytes(self) -> int:
        return int(sum(s if isinstance(s, int) else s.nbytes() for s in self._storages.values()))

    def freeze(self) -> None:
        """Drop the references to the storages (keep their sizes); called when counting stops."""
        self._storages = {k: (v if isinstance(v, int) else v.nbytes()) for k, v in self._storages.items()}

    def _pack(self, t: torch.Tensor) -> torch.Tensor:
        self.n_tensors += 1
        try:
            storage = t.untyped_storage()
            key = (str(t.device), storage.data_ptr())
            self._storages.setdefault(key, storage)
        except (RuntimeError, NotImplementedError):  # tensors without storage (e.g. some wrappers)
            self._storages[("anon", id(t))] = t.numel() * t.element_size()
        return t


@contextmanager
def graph_memory():
    """``with graph_memory() as mem: loss = ...`` then ``mem.bytes``: see :class:`GraphMemory`."""
    mem = GraphMemory()
    try:
        with torch.autograd.graph.saved_tensors_hooks(mem._pack, lambda t: t):
            yield mem
    finally:
        mem.freeze()
