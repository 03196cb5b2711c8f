"""The distilled set as data: images, hard or soft labels, metadata; ``.npz`` I/O; the random baseline."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from collapselab._rng import as_torch_generator
from collapselab._validation import check_int


@dataclass(frozen=True)
class DistilledSet:
    """A (distilled) training set S = (X_s, Y_s).

    ``x``: float32 (N, C, H, W), in the input space of the ``collapselab.data`` loaders (or of the
    network's input when a preprocessing was applied; then ``metadata["space"]`` says which).
    ``y``: int64 (N,) hard labels, or float32 (N, classes) soft labels (non-negative, unnormalised, used
    as targets of the soft cross-entropy -sum_k y_k log softmax(f(x))_k, as in the official code).
    ``metadata``: JSON-able dict (method, T, M, steps, ...), saved with the arrays.

    Images are stored in the order they were made: for a Boost-DD set, block by block, so
    :meth:`take` returns the nested prefixes.
    """

    x: np.ndarray
    y: np.ndarray
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        x = np.asarray(self.x)
        y = np.asarray(self.y)
        if x.ndim != 4:
            raise ValueError(f"`x` must have shape (N, C, H, W), got {x.shape}")
        if not np.all(np.isfinite(x)):
            raise ValueError("`x` must be finite (found NaN or inf)")
        if y.ndim == 1:
            if not np.issubdtype(y.dtype, np.integer) or (y.size and y.min() < 0):
                raise ValueError(f"`y` of shape (N,) must hold non-negative integer labels, got {y.dtype}")
            y = y.astype(np.int64)
        elif y.ndim == 2:
            if not np.issubdtype(y.dtype, np.floating) or not np.all(np.isfinite(y)):
                raise ValueError("`y` of shape (N, classes) must be finite float soft labels")
            y = y.astype(np.float32)
        else:
            raise ValueError(f"`y` must have shape (N,) or (N, classes), got {y.shape}")
        if len(x) != len(y):
            raise ValueError(f"`x` and `y` must have the same length, got {len(x)} and {len(y)}")
        json.dumps(self.metadata)  # fail now, not at save time
        object.__setattr__(self, "x", x.astype(np.float32))
        object.__setattr__(self, "y", y)

    def __len__(self) -> int:
        return len(self.x)

    @property
    def soft(self) -> bool:
        return self.y.ndim == 2

    @property
    def labels(self) -> np.ndarray:
        """Hard labels (argmax of the soft labels when soft), int64 (N,)."""
        return self.y.argmax(1).astype(np.int64) if self.soft else self.y

    @property
    def num_classes(self) -> int:
        return int(self.y.shape[1]) if self.soft else int(self.y.max()) + 1

    def take(self, ipc: int) -> DistilledSet:
        """The first ``ipc`` images of every class, in stored order (nested prefixes of Boost-DD)."""
        ipc = check_int("ipc", ipc, low=1)
        labels = self.labels
        keep = []
        for c in np.unique(labels):
            idx = np.flatnonzero(labels == c)
            if len(idx) < ipc:
                raise ValueError(f"`ipc`={ipc} exceeds the {len(idx)} images of class {c}")
            keep.append(idx[:ipc])
        idx = np.sort(np.concatenate(keep))
        return DistilledSet(self.x[idx], self.y[idx], {**self.metadata, "prefix_ipc": ipc})

    def torch(self, device: Any = "cpu"):
        """(x, y) as torch tensors on ``device``."""
        import torch

        return torch.as_tensor(self.x, device=device), torch.as_tensor(self.y, device=device)

    def save(self, path: str | Path) -> Path:
        """Write ``x``, ``y`` and ``metadata`` (a JSON string) to an ``.npz`` file; returns the path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as f:
            f.write(self.to_bytes())
        return path

    def to_bytes(self) -> bytes:
        """The ``.npz`` file's bytes (what :meth:`save` writes)."""
        import io

        buf = io.BytesIO()
        np.savez(buf, x=self.x, y=self.y, metadata=np.array(json.dumps(self.metadata, sort_keys=True)))
        return buf.getvalue()

    @classmethod
    def load(cls, path: str | Path) -> DistilledSet:
        """Read a set written by :meth:`save`."""
        path = Path(path)
        if not path.is_file():
            raise ValueError(f"`path` {path} is not a file")
        with np.load(path, allow_pickle=False) as d:
            if "x" not in d or "y" not in d:
                raise ValueError(f"`path` {path} holds no distilled set (needs arrays x and y)")
            meta = json.loads(str(d["metadata"])) if "metadata" in d else {}
            return cls(d["x"], d["y"], meta)


def as_arrays(train: Any, name: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """(x, y) numpy arrays from a pair of arrays/tensors, checked: x (n, C, H, W) float, y (n,) int."""
    try:
        x, y = train
    except (TypeError, ValueError):
        raise ValueError(f"`{name}` must be a pair (x, y)") from None
    x = x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)
    y = y.detach().cpu().numpy() if hasattr(y, "detach") else np.asarray(y)
    if x.ndim != 4:
        raise ValueError(f"`{name}` images must have shape (n, C, H, W), got {x.shape}")
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"`{name}` labels must be integers of shape (n,), got {y.dtype} {y.shape}")
    if len(x) != len(y):
        raise ValueError(f"`{name}` images and labels differ in length: {len(x)} and {len(y)}")
    return x.astype(np.float32), y.astype(np.int64)


def random_subset(train: Any, *, ipc: int, generator: Any = None) -> DistilledSet:
    """Baseline: ``ipc`` real images per class drawn uniformly without replacement (``generator``)."""
    import torch

    x, y = as_arrays(train)
    ipc = check_int("ipc", ipc, low=1)
    g = as_torch_generator(generator)
    keep = []
    for c in range(int(y.max()) + 1):
        idx = np.flatnonzero(y == c)
        if len(idx) < ipc:
            raise ValueError(f"`ipc`={ipc} exceeds the {len(idx)} training images of class {c}")
        keep.append(idx[torch.randperm(len(idx), generator=g)[:ipc].numpy()])
    idx = np.stack(keep, 1).reshape(-1)  # class-interleaved order: (ipc, classes) flattened
    return DistilledSet(x[idx], y[idx], {"method": "random", "ipc": ipc})
