"""Toy experiments for the framework's own tests (registered on import; no paper)."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
from pydantic import Field

from collapselab.core import (
    Analysis,
    CellContext,
    Claim,
    Experiment,
    Paper,
    Params,
    Results,
    Verdict,
    register,
)
from collapselab.core.plotting import new_figure

TOY = Paper("toy", "A toy paper for framework tests", "0000.00000", "Toy")


class ToyParams(Params):
    n_cells: int = Field(4, ge=1, description="number of cells")
    sleep: float = Field(0.0, ge=0, description="seconds each cell sleeps")
    fail_at: list[int] = Field([], description="cell indices that raise")
    scale: float = Field(1.0, gt=0, le=100, description="scale of the value")
    mode: str = Field("a", pattern="^(a|b)$", description="a or b")
    bad_figure: bool = Field(False, description="add a figure that cannot be drawn")


def cells(p: ToyParams) -> list[dict]:
    return [{"i": i, "sleep": p.sleep, "fail": i in p.fail_at, "scale": p.scale} for i in range(p.n_cells)]


def run_cell(cell: dict, ctx: CellContext) -> dict:
    time.sleep(cell["sleep"])
    if cell["fail"]:
        raise RuntimeError(f"cell {cell['i']} was told to fail")
    x = ctx.rng().standard_normal(1000)
    out = {"value": cell["scale"] * float(np.mean(x**2)), "pid": __import__("os").getpid()}
    if cell["i"] == 0:
        out["artifacts"] = {"toy_blob.txt": f"seed={ctx.seed}".encode()}
    return out


def summarize(frame: pd.DataFrame, p: ToyParams) -> dict[str, pd.DataFrame]:
    return {"summary": frame.groupby("i", as_index=False)["value"].mean()}


def plot(tables: dict[str, pd.DataFrame], p: ToyParams) -> dict:
    fig, ax = new_figure()
    ax.plot(tables["summary"]["i"], tables["summary"]["value"], "o")
    figures = {"values": fig}
    if p.bad_figure:
        bad, ax = new_figure()
        ax.set_title(r"$\frac{$")  # broken mathtext: fails when drawn
        figures = {"broken": bad, **figures}
    return figures


def analyze(frame: pd.DataFrame, p: ToyParams) -> Analysis:
    """The legacy single-function form (kept for the framework's own test of it)."""
    tables = summarize(frame, p)
    return Analysis(figures=plot(tables, p), tables=tables)


def _mean_positive(r: Results) -> Verdict:
    m = r.tables["summary"]["value"].mean()
    return Verdict.check(m > 0, f"mean value {m:.3f}")


def _impossible(r: Results) -> Verdict:
    m = r.tables["summary"]["value"].mean()
    return Verdict.check(m < 0, f"mean value {m:.3f}")


def _crashes(r: Results) -> Verdict:
    return Verdict.check(r.tables["no-such-table"].empty, "never reached")


PRESETS = {"smoke": {"n_cells": 3}, "quick": {"n_cells": 6, "seeds": 2}, "full": {"n_cells": 50, "seeds": 5}}

register(Experiment(
    name="toy/values", paper=TOY, description="Means of squared normals. Used by the framework tests.",
    params=ToyParams, presets=PRESETS, cells=cells, run_cell=run_cell, summarize=summarize, plot=plot,
    main_figure="values",
    claims=[Claim("positive", "The mean is positive", _mean_positive, source="Sec. 1", kind="paper",
                  test="sign of the mean of the per-cell means"),
            Claim("finite", "The values are finite", lambda r: Verdict.check(
                bool(np.isfinite(r.tables["summary"]["value"]).all()), "all finite"),
                  source="derived: tests", kind="consistency", test="every value finite")]))

register(Experiment(
    name="toy/failing-claim", paper=TOY, description="A claim that must FAIL (for --strict).",
    params=ToyParams, presets=PRESETS, cells=cells, run_cell=run_cell, analyze=analyze,
    claims=[Claim("negative", "The mean is negative", _impossible, source="Sec. 2", test="sign of the mean")]))

register(Experiment(
    name="toy/broken-check", paper=TOY, description="A claim whose check raises (ERROR).",
    params=ToyParams, presets=PRESETS, cells=cells, run_cell=run_cell, summarize=summarize, plot=plot,
    claims=[Claim("crashes", "A check with a bug", _crashes, source="Sec. 3", test="none: it raises")]))
