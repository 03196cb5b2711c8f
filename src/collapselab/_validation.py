"""Input checks shared by every topic package: each raises ``ValueError`` naming the argument."""

from __future__ import annotations

import dataclasses
import math
from typing import Any, TypeVar

import numpy as np

_Config = TypeVar("_Config")


def with_options(cls: type[_Config], config: _Config | None, options: dict[str, Any], what: str) -> _Config:
    """The frozen dataclass ``config`` (default: ``cls()``) with the fields in ``options`` replaced: the one
    way the config objects (training, distillation, chain-of-thought) take keyword options. An unknown key
    is a ValueError listing the valid ones (``what`` names the kind of option); ``config`` must be a ``cls``."""
    valid = tuple(f.name for f in dataclasses.fields(cls))
    bad = sorted(set(options) - set(valid))
    if bad:
        raise ValueError(f"unknown {what} option(s) {bad}; valid keys: {valid}")
    if config is None:
        return cls(**options)
    if not isinstance(config, cls):
        raise ValueError(f"`config` must be a {cls.__name__}, got {type(config).__name__}")
    return dataclasses.replace(config, **options) if options else config


def check_int(name: str, value: Any, *, low: int | None = None, high: int | None = None) -> int:
    """An integer (bools rejected) in [low, high]."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"`{name}` must be an integer, got {value!r}")
    value = int(value)
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"`{name}` must be in [{low if low is not None else '-inf'}, "
                         f"{high if high is not None else 'inf'}], got {value}")
    return value


def check_real(name: str, value: Any, *, low: float = -math.inf, high: float = math.inf,
               low_open: bool = False, high_open: bool = False) -> float:
    """A finite real number in the interval given (open or closed at each end)."""
    if isinstance(value, bool):
        raise ValueError(f"`{name}` must be a real number, got {value!r}")
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"`{name}` must be a real number, got {value!r}") from None
    if math.isnan(x):
        raise ValueError(f"`{name}` must not be NaN")
    ok_low = x > low if low_open else x >= low
    ok_high = x < high if high_open else x <= high
    if not (ok_low and ok_high):
        lb = "(" if low_open else "["
        hb = ")" if high_open else "]"
        raise ValueError(f"`{name}` must be in {lb}{low}, {high}{hb}, got {value!r}")
    return x


def check_array(name: str, value: Any, *, ndim: int | None = None, finite: bool = True,
                positive: bool = False, nonnegative: bool = False, min_len: int = 1,
                dtype: Any = np.float64) -> np.ndarray:
    """Convert to an ndarray and check dimension, length, finiteness and sign."""
    try:
        arr = np.asarray(value, dtype=dtype)
    except (TypeError, ValueError):
        raise ValueError(f"`{name}` must be array-like of numbers, got {type(value).__name__}") from None
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"`{name}` must have {ndim} dimension(s), got shape {arr.shape}")
    if arr.ndim >= 1 and arr.shape[0] < min_len:
        raise ValueError(f"`{name}` must have at least {min_len} entries, got {arr.shape[0]}")
    if finite and not np.all(np.isfinite(arr)):
        raise ValueError(f"`{name}` must be finite (found NaN or inf)")
    if positive and not np.all(arr > 0):
        raise ValueError(f"`{name}` must be strictly positive, min is {arr.min()!r}")
    if nonnegative and not np.all(arr >= 0):
        raise ValueError(f"`{name}` must be non-negative, min is {arr.min()!r}")
    return arr


def check_choice(name: str, value: Any, choices: tuple[str, ...] | list[str]) -> str:
    if value not in choices:
        raise ValueError(f"`{name}` must be one of {tuple(choices)}, got {value!r}")
    return value


def check_same_length(names: tuple[str, str], a: np.ndarray, b: np.ndarray) -> None:
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"`{names[0]}` and `{names[1]}` must have the same length, "
                         f"got {a.shape[0]} and {b.shape[0]}")
