"""The results store: one SQLite file (WAL) per results folder.

Tables
------
``meta``      key/value: ``app = collapselab``, ``schema`` version. A file without them is foreign.
``runs``      one row per ``collapselab run`` of one experiment: params, preset, seed stream, versions,
              host, device, start/end, status, claims.
``cells``     one row per finished (experiment, stream, cell key, replicate): params, seed, metrics
              (JSON), wall time, status (``done``/``failed``) and the traceback of a failure. Unique on
              (experiment, stream, cell_key, replicate): a rerun skips what is stored and never
              duplicates; the streams of one grid (``main``, ``confirm``, ...) live side by side.

A schema-1 store (before seed streams) is upgraded in place on opening, in one transaction: its cells
and runs become stream ``main``, whose seeds are unchanged.
``artifacts`` files a cell produced (bytes), written into each run's artifact folder.

Each finished cell is committed in its own transaction the moment it arrives, so a sweep killed at
any point keeps every cell it finished. An existing file that is not a collapselab store (or is
corrupt) raises :class:`StoreError` and is never modified.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

SCHEMA_VERSION = 2
MAIN_STREAM = "main"
APP = "collapselab"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, experiment TEXT NOT NULL, preset TEXT NOT NULL, params TEXT NOT NULL,
    package_version TEXT, git_commit TEXT, host TEXT, device TEXT, backend TEXT,
    started REAL NOT NULL, ended REAL, status TEXT NOT NULL,
    n_cells INTEGER, n_skipped INTEGER, n_done INTEGER, n_failed INTEGER, claims TEXT, environment TEXT,
    stream TEXT NOT NULL DEFAULT 'main'
);
CREATE TABLE IF NOT EXISTS cells (
    id INTEGER PRIMARY KEY, experiment TEXT NOT NULL, cell_key TEXT NOT NULL, replicate INTEGER NOT NULL,
    params TEXT NOT NULL, seed INTEGER NOT NULL, metrics TEXT, wall_time REAL, status TEXT NOT NULL,
    error TEXT, run_id TEXT, finished REAL NOT NULL, stream TEXT NOT NULL DEFAULT 'main',
    UNIQUE (experiment, stream, cell_key, replicate)
);
CREATE TABLE IF NOT EXISTS artifacts (
    cell_id INTEGER NOT NULL REFERENCES cells(id) ON DELETE CASCADE, name TEXT NOT NULL, data BLOB NOT NULL,
    PRIMARY KEY (cell_id, name)
);
"""


STORE_NAME = "collapselab.sqlite"
_STREAM_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")


def store_path(out_dir: str | Path) -> Path:
    """The store file of a results folder: ``<out_dir>/collapselab.sqlite``."""
    return Path(out_dir) / STORE_NAME


def check_stream(stream: str) -> str:
    """A seed stream's name: 1-32 of a-z, 0-9, ``-``, ``_`` (it is stored and shown); raises ValueError."""
    if not isinstance(stream, str) or not _STREAM_NAME.match(stream):
        raise ValueError(f"`stream` must be 1-32 characters of a-z, 0-9, '-' or '_' (e.g. 'main', 'confirm'), "
                         f"got {stream!r}")
    return stream


class StoreError(RuntimeError):
    """The store file cannot be used (corrupt, foreign, or from a newer collapselab)."""


@dataclass(frozen=True)
class CellRecord:
    experiment: str
    cell_key: str
    replicate: int
    params: dict[str, Any]
    seed: int
    status: str  # "done" | "failed"
    metrics: dict[str, Any] | None
    wall_time: float
    error: str | None = None
    artifacts: dict[str, bytes] | None = None
    stream: str = MAIN_STREAM


class Store:
    """Open (or create) the SQLite store at ``path``. Use as a context manager or call ``close``."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        existed = self.path.exists() and self.path.stat().st_size > 0
        if existed:
            _check_sqlite_header(self.path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
            if existed:
                self._check_existing()
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
            self.conn.execute("PRAGMA foreign_keys=ON")
            if not existed:
                self.conn.executescript(  # one transaction: a half-created store never exists
                    f"BEGIN; {_SCHEMA} INSERT OR REPLACE INTO meta VALUES ('app', '{APP}');"
                    f" INSERT OR REPLACE INTO meta VALUES ('schema', '{SCHEMA_VERSION}'); COMMIT;")
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path} is not a usable collapselab store ({exc}); "
                             f"it was left untouched: choose another --out folder") from None

    def _check_existing(self) -> None:
        try:
            tables = {r[0] for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if "meta" not in tables:
                raise StoreError(f"{self.path} is an SQLite file but not a collapselab store; it was left "
                                 f"untouched: choose another --out folder")
            meta = dict(self.conn.execute("SELECT key, value FROM meta"))
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path} is corrupt ({exc}); it was left untouched") from None
        if meta.get("app") != APP:
            raise StoreError(f"{self.path} belongs to {meta.get('app')!r}, not collapselab; left untouched")
        schema = int(meta.get("schema", "0"))
        if schema > SCHEMA_VERSION:
            raise StoreError(f"{self.path} was written by a newer collapselab (schema {meta['schema']}); "
                             f"upgrade collapselab to read it")
        if schema < 2:
            self._upgrade_to_streams()

    def _upgrade_to_streams(self) -> None:
        """Schema 1 -> 2: add the ``stream`` column (every stored cell and run is stream ``main``) and make
        cells unique per stream. SQLite cannot change a UNIQUE constraint in place, so the cells table is
        rebuilt with the same ids (artifacts keep pointing at their cells); all in one transaction."""
        cols = ("id, experiment, cell_key, replicate, params, seed, metrics, wall_time, status, error, run_id, "
                "finished")
        new_cells = _SCHEMA.split("CREATE TABLE IF NOT EXISTS cells")[1].split(";")[0]
        self.conn.execute("PRAGMA foreign_keys=OFF")  # the rebuild must not cascade into artifacts
        self.conn.executescript(
            f"BEGIN; CREATE TABLE cells_v2 {new_cells};"
            f" INSERT INTO cells_v2 ({cols}, stream) SELECT {cols}, 'main' FROM cells;"
            " DROP TABLE cells; ALTER TABLE cells_v2 RENAME TO cells;"
            " ALTER TABLE runs ADD COLUMN stream TEXT NOT NULL DEFAULT 'main';"
            f" INSERT OR REPLACE INTO meta VALUES ('schema', '{SCHEMA_VERSION}'); COMMIT;")

    # -- transactions -------------------------------------------------------------------------
    class _Tx:
        def __init__(self, conn: sqlite3.Connection):
            self.conn = conn

        def __enter__(self):
            self.conn.execute("BEGIN IMMEDIATE")
            return self.conn

        def __exit__(self, exc_type, exc, tb):
            self.conn.execute("ROLLBACK" if exc_type else "COMMIT")
            return False

    def _tx(self) -> Store._Tx:
        return Store._Tx(self.conn)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- runs ---------------------------------------------------------------------------------
    def start_run(self, run_id: str, experiment: str, preset: str, params: dict, *, info: dict[str, Any],
                  stream: str = MAIN_STREAM) -> None:
        with self._tx() as c:
            c.execute(
                "INSERT INTO runs (run_id, experiment, preset, params, package_version, git_commit, host, device,"
                " backend, started, status, environment, stream) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (run_id, experiment, preset, json.dumps(params, sort_keys=True), info.get("package_version"),
                 info.get("git_commit"), info.get("host"), info.get("device"), info.get("backend"),
                 time.time(), "running", json.dumps(info.get("environment", {}), sort_keys=True), stream))

    def finish_run(self, run_id: str, *, status: str, counts: dict[str, int], claims: list[dict]) -> None:
        with self._tx() as c:
            c.execute("UPDATE runs SET ended=?, status=?, n_cells=?, n_skipped=?, n_done=?, n_failed=?, claims=?"
                      " WHERE run_id=?",
                      (time.time(), status, counts.get("total"), counts.get("skipped"), counts.get("done"),
                       counts.get("failed"), json.dumps(claims), run_id))

    def runs(self, experiment: str | None = None) -> pd.DataFrame:
        q = "SELECT * FROM runs" + (" WHERE experiment=?" if experiment else "") + " ORDER BY started"
        return pd.read_sql_query(q, self.conn, params=(experiment,) if experiment else None)

    def latest_run(self, experiment: str, *, finished: bool = True, preset: str | None = None,
                   stream: str | None = MAIN_STREAM) -> dict[str, Any] | None:
        """The latest run of ``experiment`` (finished, at ``preset``, on ``stream``: None for any)."""
        q = "SELECT * FROM runs WHERE experiment=?" + (" AND ended IS NOT NULL" if finished else "")
        args: list[Any] = [experiment]
        for col, value in (("preset", preset), ("stream", stream)):
            if value:
                q += f" AND {col}=?"
                args.append(value)
        cur = self.conn.execute(q + " ORDER BY started DESC LIMIT 1", args)
        row = cur.fetchone()
        return dict(zip([d[0] for d in cur.description], row)) if row else None

    # -- cells --------------------------------------------------------------------------------
    def streams(self, experiment: str | None = None) -> list[str]:
        """The seed streams with finished runs (of ``experiment``), ``main`` first."""
        q = "SELECT DISTINCT stream FROM runs WHERE ended IS NOT NULL" + (" AND experiment=?" if experiment else "")
        found = {r[0] for r in self.conn.execute(q, (experiment,) if experiment else ())}
        return sorted(found, key=lambda s: (s != MAIN_STREAM, s))

    def cell_status(self, experiment: str, stream: str = MAIN_STREAM) -> dict[tuple[str, int], str]:
        """{(cell_key, replicate): status} of every stored cell of ``experiment`` on ``stream``."""
        cur = self.conn.execute("SELECT cell_key, replicate, status FROM cells WHERE experiment=? AND stream=?",
                                (experiment, stream))
        return {(k, r): s for k, r, s in cur}

    def put_cell(self, rec: CellRecord, run_id: str | None) -> None:
        """Insert (or, for a retried failure, replace) one finished cell, in its own transaction."""
        with self._tx() as c:
            c.execute("DELETE FROM cells WHERE experiment=? AND stream=? AND cell_key=? AND replicate=? AND "
                      "status='failed'", (rec.experiment, rec.stream, rec.cell_key, rec.replicate))
            cur = c.execute(
                "INSERT OR IGNORE INTO cells (experiment, cell_key, replicate, params, seed, metrics, wall_time,"
                " status, error, run_id, finished, stream) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (rec.experiment, rec.cell_key, rec.replicate, json.dumps(rec.params, sort_keys=True), rec.seed,
                 None if rec.metrics is None else json.dumps(rec.metrics), rec.wall_time, rec.status,
                 rec.error, run_id, time.time(), rec.stream))
            if cur.rowcount and rec.artifacts:
                c.executemany("INSERT INTO artifacts (cell_id, name, data) VALUES (?,?,?)",
                              [(cur.lastrowid, name, sqlite3.Binary(data)) for name, data in rec.artifacts.items()])

    def frame(self, experiment: str, keys: Iterable[tuple[str, int]] | None = None,
              *, include_failed: bool = False, stream: str = MAIN_STREAM) -> pd.DataFrame:
        """One row per stored cell of ``stream``: its params, its metrics (columns), replicate, seed,
        wall_time. With ``keys`` ((cell_key, replicate) pairs, e.g. a run's planned tasks): only those
        cells, in the order of ``keys``, so that an analysis sees the same frame whatever order the workers
        finished the cells in (a bootstrap over rows, a groupby in order of appearance); without, every
        cell in the order stored."""
        cur = self.conn.execute(
            "SELECT cell_key, replicate, params, seed, metrics, wall_time, status FROM cells WHERE experiment=?"
            " AND stream=?" + ("" if include_failed else " AND status='done'") + " ORDER BY id",
            (experiment, stream))
        order = {k: i for i, k in enumerate(keys)} if keys is not None else None
        rows = []
        for key, rep, params, seed, metrics, wall, status in cur:
            if order is not None and (key, rep) not in order:
                continue
            row = dict(json.loads(params))
            row.update(json.loads(metrics) if metrics else {})
            row.update(replicate=rep, seed=seed, wall_time=wall, status=status, cell_key=key)
            rows.append(row)
        if order is not None:
            rows.sort(key=lambda row: order[(row["cell_key"], row["replicate"])])
        return pd.DataFrame(rows)

    def finished_cells(self, experiment: str) -> list[tuple[dict, float, str | None, str, str, str, str]]:
        """(params, wall seconds, device, preset, stream, cell key, environment JSON) of every finished cell
        of ``experiment``, with the device, preset and environment of the run that computed it (preset "?"
        for a cell whose run is gone), in the order they were stored."""
        cur = self.conn.execute(
            "SELECT c.params, c.wall_time, r.device, r.preset, c.stream, c.cell_key, r.environment FROM cells c "
            "LEFT JOIN runs r ON c.run_id = r.run_id WHERE c.experiment=? AND c.status='done' ORDER BY c.id",
            (experiment,))
        return [(json.loads(params), float(wall or 0.0), device, preset or "?", stream, key, env)
                for params, wall, device, preset, stream, key, env in cur]

    def failures(self, experiment: str, stream: str = MAIN_STREAM) -> list[tuple[str, int, str]]:
        cur = self.conn.execute("SELECT cell_key, replicate, error FROM cells WHERE experiment=? AND stream=? AND "
                                "status='failed'", (experiment, stream))
        return list(cur)

    def artifacts(self, experiment: str, keys: Iterable[tuple[str, int]],
                  stream: str = MAIN_STREAM) -> dict[str, bytes]:
        wanted = set(keys)
        cur = self.conn.execute("SELECT c.cell_key, c.replicate, a.name, a.data FROM artifacts a JOIN cells c "
                                "ON a.cell_id = c.id WHERE c.experiment=? AND c.stream=? ORDER BY c.id",
                                (experiment, stream))
        return {name: bytes(data) for key, rep, name, data in cur if (key, rep) in wanted}


def _check_sqlite_header(path: Path) -> None:
    with open(path, "rb") as f:
        head = f.read(16)
    if head != b"SQLite format 3\x00":
        raise StoreError(f"{path} exists and is not an SQLite database; it was left untouched: "
                         f"choose another --out folder or move the file")
