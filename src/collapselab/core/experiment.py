"""What an experiment is: data plus three pure functions, and the context a cell runs in.

An experiment declares

* ``params``: a :class:`~collapselab.core.params.Params` subclass, with ``presets`` (``smoke``,
  ``quick``, ``full``: dicts of values on top of the schema defaults);
* ``cells(params) -> list[dict]``: the grid; each cell is a JSON-serialisable dict holding *everything*
  ``run_cell`` needs (so a cell is content-addressed: equal dicts are the same cell, across runs);
* ``run_cell(cell, ctx) -> dict``: pure and picklable (a module-level function); returns metrics
  (JSON-serialisable scalars or lists). A returned key ``"artifacts"`` may map file names to bytes;
  the framework stores them and writes them into each run's artifact folder;
* ``analyze(frame, params) -> Analysis``: figures and tables from the results frame (one row per
  (cell, replicate): the cell's keys, the metrics, ``replicate``, ``seed``, ``wall_time``);
* ``claims``: the paper's statements with their checks.

Bump ``version`` when ``run_cell`` changes meaning: it is part of every cell's key, so older stored
results are then recomputed instead of reused.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from collapselab.core.claims import Claim
from collapselab.core.params import PRESETS, Params


@dataclass(frozen=True)
class Paper:
    slug: str  # e.g. "strong-collapse": the prefix of the paper's experiment names
    title: str
    arxiv: str
    short: str = ""  # short label for tables (defaults to the title)


@dataclass(frozen=True)
class CellContext:
    """Where a cell runs: its seed (derived from experiment, cell and replicate), replicate, device."""

    seed: int
    replicate: int = 0
    device: str = "cpu"

    def rng(self) -> np.random.Generator:
        return np.random.default_rng(self.seed)

    def torch_generator(self, device: str | None = None):
        import torch

        g = torch.Generator(device=device or "cpu")
        g.manual_seed(self.seed)
        return g


@dataclass
class Analysis:
    """Figures (matplotlib) and tables (DataFrames) keyed by file stem."""

    figures: dict[str, Any] = field(default_factory=dict)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)


@dataclass(frozen=True)
class Experiment:
    name: str  # "paper-slug/experiment"
    paper: Paper
    description: str
    params: type[Params]
    presets: dict[str, dict[str, Any]]
    cells: Callable[[Any], list[dict[str, Any]]]
    run_cell: Callable[[dict[str, Any], CellContext], dict[str, Any]]
    analyze: Callable[[pd.DataFrame, Any], Analysis]
    claims: list[Claim] = field(default_factory=list)
    version: int = 1
    uses_device: bool = False  # True when run_cell honours ctx.device (torch code)

    def __post_init__(self) -> None:
        slug, _, rest = self.name.partition("/")
        if slug != self.paper.slug or not rest:
            raise ValueError(f"experiment name {self.name!r} must be '{self.paper.slug}/<experiment>'")
        missing = [p for p in PRESETS if p not in self.presets]
        if missing:
            raise ValueError(f"experiment {self.name!r} lacks presets {missing}")
        ids = [c.id for c in self.claims]
        if len(ids) != len(set(ids)):
            raise ValueError(f"experiment {self.name!r} has duplicate claim ids: {ids}")
        for values in self.presets.values():  # fail at import, not at run time
            self.params.model_validate(values)
