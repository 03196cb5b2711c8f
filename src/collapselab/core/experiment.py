"""What an experiment is: data plus three pure functions, and the context a cell runs in.

An experiment declares

* ``params``: a :class:`~collapselab.core.params.Params` subclass, with ``presets`` (``smoke``,
  ``quick``, ``full``: dicts of values on top of the schema defaults);
* ``cells(params) -> list[dict]``: the grid; each cell is a JSON-serialisable dict holding *everything*
  ``run_cell`` needs (so a cell is content-addressed: equal dicts are the same cell, across runs);
* ``run_cell(cell, ctx) -> dict``: pure and picklable (a module-level function); returns metrics
  (JSON-serialisable scalars or lists). A returned key ``"artifacts"`` may map file names to bytes;
  the framework stores them and writes them into each run's artifact folder;
* ``summarize(frame, params) -> dict[str, DataFrame]``: the tables the claims read, from the results
  frame (one row per (cell, replicate): the cell's keys, the metrics, ``replicate``, ``seed``,
  ``wall_time``);
* ``plot(tables, params) -> dict[str, Figure]``: figures drawn from the tables only, so they can be
  redrawn from a run's stored tables without rerunning (``collapselab plot``);
* ``claims``: the paper's statements with their sources, kinds, declared tests and checks (reading tables);
* ``cell_cost(cell) -> float``: proportional to the CPU seconds one replicate of ``cell`` takes on one
  thread (any unit; a formula in the cell's sizes, steps and repetitions plus a fixed per-cell term), and
  for a torch experiment ``cell_flops(cell) -> float``: the floating-point operations of one replicate.
  ``--dry-run`` forecasts with them (seconds per unit of cost calibrated per experiment, FLOPs at an
  assumed device rate: :mod:`collapselab.core.costs`, :mod:`collapselab.core.estimate`).

(The older single ``analyze(frame, params) -> Analysis`` is still accepted in place of the pair.)

Bump ``version`` when ``run_cell`` changes meaning: it is part of every cell's key, so older stored
results are then recomputed instead of reused.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from collapselab._rng import hash_seed
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
    """Where a cell runs: its seed (derived from experiment, cell, replicate and seed stream), replicate,
    device and seed stream."""

    seed: int
    replicate: int = 0
    device: str = "cpu"
    stream: str = "main"

    def rng(self) -> np.random.Generator:
        return np.random.default_rng(self.seed)

    def substream_seed(self, name: str, *idx: int | str) -> int:
        """A 63-bit seed for the named sub-stream ``(name, *idx)`` of this cell: sha256 of the cell seed and
        the key (:func:`collapselab._rng.hash_seed` of ``(seed, name, *idx)``), so streams with different
        names or indices are independent and stable across runs."""
        if not name:
            raise ValueError("a sub-stream needs a non-empty `name`")
        return hash_seed(self.seed, name, *idx, bits=63)

    def generator(self, name: str, *idx: int | str) -> np.random.Generator:
        """A numpy Generator for the named sub-stream, e.g. ``ctx.generator("data")``,
        ``ctx.generator("init", model_index)``; replaces hand-made seeds like ``seed * 1000 + i``."""
        return np.random.default_rng(self.substream_seed(name, *idx))

    def torch_generator(self, name: str | None = None, *idx: int | str, device: str | None = None):
        """A torch Generator on ``device`` (default: the cell's device) seeded from the named sub-stream
        (``name`` None: from the cell seed itself, as before sub-streams existed)."""
        import torch

        g = torch.Generator(device=device or self.device)
        g.manual_seed(self.seed if name is None else self.substream_seed(name, *idx))
        return g

    @staticmethod
    def hashed_seed(*key: int | str, bits: int = 63) -> int:
        """The one derivation behind every seed here: :func:`collapselab._rng.hash_seed` (sha256 of
        ``"|".join(map(str, key))``, its top ``bits`` bits). For an experiment's own cross-cell keys whose
        layout predates :meth:`shared_seed` (kept so that stored results keep their seeds)."""
        return hash_seed(*key, bits=bits)

    def shared_seed(self, name: str, *idx: int | str, bits: int = 63) -> int:
        """A seed shared ACROSS cells: :func:`~collapselab._rng.hash_seed` of ``(name, *idx, replicate)``
        (with the seed stream appended on any stream but ``main``, so a confirmation stream never repeats
        the main stream's draws), independent of the cell seed, so every cell of one replicate that asks
        for the same key gets the same seed (a test set or an initialisation shared by the cells of a
        sweep, so that their comparison is paired). Unlike the cell seed, the key does not hold the
        experiment's name: put a namespace (the paper's slug) in ``name``. ``bits`` (default 63) is the
        width of the seed; the width is part of the value (see ``hash_seed``), kept where stored results
        depend on it."""
        if not name:
            raise ValueError("a shared stream needs a non-empty `name`")
        return hash_seed(name, *idx, self.replicate, *self.stream_key(), bits=bits)

    def stream_key(self) -> tuple[str, ...]:
        """What a cross-cell key appends for this cell's seed stream: nothing on ``main`` (its seeds are
        those of every earlier result), the stream's name on any other."""
        return () if self.stream == "main" else (self.stream,)

    def shared_generator(self, name: str, *idx: int | str) -> np.random.Generator:
        """A numpy Generator seeded with :meth:`shared_seed` ``(name, *idx)``: the same in every cell of
        this replicate (e.g. a shared test set)."""
        return np.random.default_rng(self.shared_seed(name, *idx))

    def shared_torch_generator(self, name: str, *idx: int | str, device: str | None = None):
        """A torch Generator on ``device`` (default: the cell's device) seeded with :meth:`shared_seed`
        ``(name, *idx)``: e.g. one initialisation shared by the widths of a sweep."""
        import torch

        g = torch.Generator(device=device or self.device)
        g.manual_seed(self.shared_seed(name, *idx))
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
    analyze: Callable[[pd.DataFrame, Any], Analysis] | None = None  # legacy: summarize + plot in one
    claims: list[Claim] = field(default_factory=list)
    version: int = 1
    uses_device: bool = False  # True when run_cell honours ctx.device (torch code)
    summarize: Callable[[pd.DataFrame, Any], dict[str, pd.DataFrame]] | None = None
    plot: Callable[[dict[str, pd.DataFrame], Any], dict[str, Any]] | None = None
    main_figure: str = ""  # stem of the figure shown beside the claims in the report's index
    cell_cost: Callable[[dict[str, Any]], float] | None = None  # ~ CPU seconds of one replicate (forecasts)
    cell_flops: Callable[[dict[str, Any]], float] | None = None  # FLOPs of one replicate (cuda forecast)

    def __post_init__(self) -> None:
        slug, _, rest = self.name.partition("/")
        if slug != self.paper.slug or not rest:
            raise ValueError(f"experiment name {self.name!r} must be '{self.paper.slug}/<experiment>'")
        missing = [p for p in PRESETS if p not in self.presets]
        if missing:
            raise ValueError(f"experiment {self.name!r} lacks presets {missing}")
        if self.summarize is None and self.analyze is None:
            raise ValueError(f"experiment {self.name!r} needs `summarize` (and `plot`)")
        if self.summarize is not None and self.analyze is not None:
            raise ValueError(f"experiment {self.name!r}: give `summarize` + `plot` or the legacy `analyze`, "
                             "not both")
        ids = [c.id for c in self.claims]
        if len(ids) != len(set(ids)):
            raise ValueError(f"experiment {self.name!r} has duplicate claim ids: {ids}")
        for values in self.presets.values():  # fail at import, not at run time
            self.params.model_validate(values)

    def analysis(self, frame: pd.DataFrame, params: Any) -> Analysis:
        """Tables then figures; with ``summarize`` + ``plot`` a figure failure costs no table (the caller
        catches it; see the runner)."""
        if self.summarize is None:
            assert self.analyze is not None
            return self.analyze(frame, params)
        tables = self.summarize(frame, params)
        if not isinstance(tables, dict):
            raise TypeError(f"summarize returned {type(tables).__name__}, not a dict of DataFrames")
        return Analysis(tables=tables)

    def figures(self, tables: dict[str, pd.DataFrame], params: Any) -> dict[str, Any]:
        """The figures drawn from ``tables`` (empty for a legacy experiment or one without ``plot``)."""
        if self.plot is None:
            return {}
        figs = self.plot(tables, params)
        if not isinstance(figs, dict):
            raise TypeError(f"plot returned {type(figs).__name__}, not a dict of figures")
        return figs
