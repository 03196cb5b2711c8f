"""One plotting style for every experiment, and saving figures as PNG and SVG."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # figures are files; never open a window
import matplotlib.pyplot as plt  # noqa: E402

STYLE = {
    "figure.figsize": (6.0, 4.2),
    "figure.dpi": 100,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.fontsize": 8,
    "legend.frameon": False,
    "font.size": 10,
}


def new_figure(ncols: int = 1, nrows: int = 1, *, width: float | None = None, height: float | None = None):
    """A figure and its axes in the project style: one Axes, or a 1-D array for one row or column."""
    with plt.rc_context(STYLE):
        w = width or STYLE["figure.figsize"][0] * ncols
        h = height or STYLE["figure.figsize"][1] * nrows
        fig, axes = plt.subplots(nrows, ncols, figsize=(w, h))  # 1-D array of axes for a single row
    return fig, axes


def save_figure(fig, directory: Path, stem: str) -> list[Path]:
    """Write ``stem.png`` and ``stem.svg`` under ``directory`` and close the figure."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for ext in ("png", "svg"):
        path = directory / f"{stem}.{ext}"
        fig.savefig(path, dpi=120 if ext == "png" else None, bbox_inches="tight")
        paths.append(path)
    plt.close(fig)
    return paths


def colors(n: int) -> list:
    """n distinguishable colours from the viridis map (ordered, for an ordered parameter)."""
    cmap = plt.get_cmap("viridis")
    return [cmap(i / max(n - 1, 1) * 0.9) for i in range(n)]
