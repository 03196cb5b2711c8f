"""Experiment parameters: a pydantic schema per experiment, presets, and ``--set key=value`` parsing.

Every experiment's schema subclasses :class:`Params`. Unknown keys are errors (``extra="forbid"``);
``seeds`` (Monte Carlo replicates per cell) is common to all experiments.
"""

from __future__ import annotations

import difflib
import math
import types
import typing
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

PRESETS = ("smoke", "quick", "full")


class ParamError(ValueError):
    """A user mistake in parameters; the message is one line, fit to show as is."""


class Params(BaseModel):
    """Base class of experiment parameter schemas (frozen, unknown keys rejected)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    seeds: int = Field(1, ge=1, description="Monte Carlo replicates (independent seeds) per cell")


def _is_list(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if origin in (list, tuple):
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_is_list(a) for a in typing.get_args(annotation) if a is not type(None))
    return False


def parse_assignment(text: str, schema: type[Params]) -> tuple[str, Any]:
    """Split ``key=value`` and shape the value for ``schema`` (lists are comma-separated)."""
    if "=" not in text:
        raise ParamError(f"--set expects key=value, got {text!r}")
    key, value = (s.strip() for s in text.split("=", 1))
    fields = schema.model_fields
    if key not in fields:
        valid = ", ".join(sorted(fields))
        close = difflib.get_close_matches(key, list(fields), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ParamError(f"unknown parameter {key!r}{hint}; valid keys: {valid}")
    if _is_list(fields[key].annotation):
        return key, [v.strip() for v in value.split(",") if v.strip()]
    if value.lower() in ("none", "null") and _accepts_none(fields[key].annotation):
        return key, None
    return key, value


def _accepts_none(annotation: Any) -> bool:
    return type(None) in typing.get_args(annotation)


def resolve_params(schema: type[Params], presets: dict[str, dict[str, Any]], preset: str,
                   overrides: list[str] | None = None, seeds: int | None = None) -> Params:
    """Schema defaults, then the preset, then ``--set`` overrides, then ``--seeds``; validated.

    Raises :class:`ParamError` with a one-line message naming the offending key.
    """
    if preset not in presets:
        raise ParamError(f"unknown preset {preset!r}; valid presets: {', '.join(presets)}")
    values: dict[str, Any] = dict(presets[preset])
    for text in overrides or []:
        key, value = parse_assignment(text, schema)
        values[key] = value
    if seeds is not None:
        values["seeds"] = seeds
    try:
        params = schema.model_validate(values)
    except ValidationError as exc:
        raise ParamError(_one_line(exc, schema)) from None
    for key, value in params.model_dump().items():
        bad = _non_finite(value)
        if bad is not None:
            raise ParamError(f"bad value for {key!r}: must be a finite number (got {bad!r}); cells are plain "
                             "JSON, where inf and nan do not exist")
    return params


def _non_finite(value: Any) -> float | None:
    """The first non-finite float inside ``value`` (lists, tuples, dicts), or None."""
    if isinstance(value, float):
        return value if not math.isfinite(value) else None
    items = value.values() if isinstance(value, dict) else value if isinstance(value, (list, tuple)) else ()
    for v in items:
        bad = _non_finite(v)
        if bad is not None:
            return bad
    return None


def _one_line(exc: ValidationError, schema: type[Params]) -> str:
    err = exc.errors()[0]
    key = ".".join(str(p) for p in err["loc"]) or "parameters"
    if err["type"] == "extra_forbidden":
        top = str(err["loc"][0])
        close = difflib.get_close_matches(top, list(schema.model_fields), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return f"unknown parameter {top!r}{hint}; valid keys: {', '.join(sorted(schema.model_fields))}"
    bad = err.get("input")
    return f"bad value for {key!r}: {err['msg']} (got {bad!r})"
