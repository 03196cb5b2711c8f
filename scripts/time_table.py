"""Print the markdown table of docs/framework.md's "Where the quick reproduction's time goes" from a results
folder: per experiment, the cell time (the sum of its finished cells' wall times, one worker and one thread
each) on each seed stream at one preset, its share of the total, and when its last run was analysed (minutes
after the first run of the preset started: with ``reproduce``'s one queue experiments overlap, so a wall time
per experiment is not defined). The last lines give the wall time from the first run's start to the last
run's end and how busy the workers were.

    python scripts/time_table.py --out /tmp/ledger --preset quick --workers 2 > /tmp/times.md
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path

from collapselab.core.registry import all_experiments
from collapselab.core.store import Store, store_path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True, help="results folder (holds collapselab.sqlite)")
    ap.add_argument("--preset", default="quick")
    ap.add_argument("--workers", type=int, default=2, help="workers of the run (for the busy fraction)")
    args = ap.parse_args(argv)
    db = store_path(args.out)
    if not db.exists():
        ap.error(f"--out {args.out}: no collapselab store there")
    cell_s: dict[tuple[str, str], float] = defaultdict(float)
    with Store(db) as store:
        runs = store.runs()
        runs = runs[(runs["preset"] == args.preset) & runs["ended"].notna()]
        if runs.empty:
            ap.error(f"no finished run at preset {args.preset!r} in {args.out}")
        names = [n for n in all_experiments() if n in set(runs["experiment"])]
        for name in names:
            for _, wall, _, preset, stream, _, _ in store.finished_cells(name):
                if preset == args.preset:
                    cell_s[(name, stream)] += wall
    streams = sorted({s for _, s in cell_s}, key=lambda s: (s != "main", s))
    t0, t1 = float(runs["started"].min()), float(runs["ended"].max())
    total = sum(cell_s.values())
    rows = []
    for name in names:
        done = runs[runs["experiment"] == name]["ended"].max()
        rows.append((sum(cell_s[(name, s)] for s in streams), name,
                     [cell_s[(name, s)] for s in streams], (float(done) - t0) / 60))
    print("| experiment | " + " | ".join(f"{s}: cell CPU-s" for s in streams)
          + " | share of cell time | analysed at (min) |")
    print("|---|" + "---|" * len(streams) + "---|---|")
    for both, name, per, at in sorted(rows, key=lambda r: -r[0]):
        print(f"| `{name}` | " + " | ".join(f"{v:.0f}" for v in per) + f" | {100 * both / total:.1f}% | {at:.1f} |")
    wall = t1 - t0
    print(f"\nwall {wall / 60:.1f} min from the first run's start to the last run's end; cell time "
          f"{total / 60:.1f} CPU-min (" + ", ".join(f"{s} {sum(v for (n, t), v in cell_s.items() if t == s) / 60:.1f}"
                                                     for s in streams)
          + f"); {args.workers} workers busy {100 * total / (args.workers * wall):.0f}% of the wall time")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
