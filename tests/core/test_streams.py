"""Seed streams: the same grid on independent seeds, side by side in one store."""

import hashlib
import json
import sqlite3

import pytest
import toy_experiments  # noqa: F401  (registers toy/*)
from test_cli import run_main

from collapselab.cli import main
from collapselab.core.ledger import DIFFER, ledger, record_status, stream_headline
from collapselab.core.reproduce import reproduce
from collapselab.core.runner import run_experiment
from collapselab.core.store import Store, check_stream, store_path
from collapselab.core.sweep import derive_seed


def test_main_stream_keeps_the_seeds_results_were_computed_with():
    # the formula every stored result of the main stream was computed with: sha256 of "exp|key|rep"
    old = int.from_bytes(hashlib.sha256(b"toy/values|abc|0").digest()[:4], "little")
    assert derive_seed("toy/values", "abc", 0) == derive_seed("toy/values", "abc", 0, "main") == old
    seeds = {derive_seed("toy/values", "abc", r, s) for r in range(3) for s in ("main", "confirm", "c2")}
    assert len(seeds) == 9


def test_streams_share_a_store_without_clashing(tmp_path):
    main_run = run_experiment("toy/values", preset="quick", out_dir=tmp_path)
    conf = run_experiment("toy/values", preset="quick", out_dir=tmp_path, stream="confirm")
    assert conf.counts["done"] == conf.counts["total"] == 12 and conf.stream == "confirm"
    key = ["cell_key", "replicate"]
    a, b = main_run.frame.sort_values(key), conf.frame.sort_values(key)
    assert a["cell_key"].tolist() == b["cell_key"].tolist()  # the same grid
    assert not set(a["seed"]) & set(b["seed"])  # on other seeds
    assert a["value"].tolist() != b["value"].tolist()
    again = run_experiment("toy/values", preset="quick", out_dir=tmp_path)  # main resumes: nothing to run
    assert again.counts["skipped"] == 12 and again.frame["seed"].tolist() == main_run.frame["seed"].tolist()
    with Store(store_path(tmp_path)) as store:
        assert store.streams("toy/values") == ["main", "confirm"]
        assert store.latest_run("toy/values", stream="confirm")["run_id"] == conf.run_id
    params = json.loads((conf.artifact_dir / "params.json").read_text())
    assert params["stream"] == "confirm"


def test_ledger_shows_each_streams_verdict_and_agreement(tmp_path):
    run_experiment("toy/values", preset="quick", out_dir=tmp_path)
    run_experiment("toy/values", preset="quick", out_dir=tmp_path, stream="confirm")
    rows = {(r["experiment"], r["id"]): r for r in ledger(tmp_path)}
    row = rows[("toy/values", "positive")]
    assert set(row["streams"]) == {"main", "confirm"}
    assert row["streams"]["main"]["status"] == row["streams"]["confirm"]["status"] == "PASS"
    assert row["status"] == "PASS" and row["agreement"] == "agree"
    assert rows[("toy/failing-claim", "negative")]["status"] == "not run"


def test_ledger_reads_several_results_folders(tmp_path, capsys):
    """Runs in two folders (a laptop's and a GPU machine's copied back): per experiment and stream the
    latest run over both; a preset filter picks each preset's run wherever it is; a named folder without
    a store is a one-line error."""
    laptop, gpu = tmp_path / "laptop", tmp_path / "gpu"
    quick = run_experiment("toy/values", preset="quick", out_dir=laptop)
    smoke = run_experiment("toy/values", preset="smoke", out_dir=gpu)  # started later, elsewhere
    run_experiment("toy/values", preset="quick", out_dir=gpu, stream="confirm")
    rows = {r["id"]: r for r in ledger([laptop, gpu]) if r["experiment"] == "toy/values"}
    assert rows["positive"]["streams"]["main"]["run_id"] == smoke.run_id
    assert set(rows["positive"]["streams"]) == {"main", "confirm"}
    at_quick = {r["id"]: r for r in ledger([laptop, gpu], preset="quick") if r["experiment"] == "toy/values"}
    assert at_quick["positive"]["streams"]["main"]["run_id"] == quick.run_id
    assert at_quick["positive"]["streams"]["confirm"]["status"] == "PASS"
    only = {r["id"]: r for r in ledger(laptop) if r["experiment"] == "toy/values"}
    assert set(only["positive"]["streams"]) == {"main"}
    code, text, _ = run_main(capsys, "claims", "--out", str(laptop), "--out", str(gpu), "--preset", "quick",
                             "--json")
    got = {(r["experiment"], r["id"]): r for r in json.loads(text)}
    assert code == 0 and got[("toy/values", "positive")]["streams"]["main"]["run_id"] == quick.run_id
    code, _, err = run_main(capsys, "claims", "--out", str(laptop), "--out", str(tmp_path / "typo"))
    assert code == 2 and "typo" in err and len(err.strip().splitlines()) == 1


def test_record_status_never_reports_a_disagreement_as_either():
    assert record_status(["PASS", "PASS"]) == "PASS"
    assert record_status(["PASS", "FAIL"]) == DIFFER
    assert record_status(["PASS", "INCONCLUSIVE"]) == DIFFER
    assert record_status(["not run", "FAIL"]) == "FAIL"
    assert record_status(["not run"]) == "not run"


def _row(status_main, status_conf, kind="paper", restated=False):
    statuses = [status_main, status_conf]
    ran = [s for s in statuses if s != "not run"]
    agreement = ("agree" if len(set(ran)) == 1 else "differ") if len(ran) == 2 else "one stream"
    return {"kind": kind, "status": record_status(statuses), "agreement": agreement, "id": "x",
            "statement": "", "measured": "", "restated_after_look": restated}


def test_stream_headline_counts_agreement():
    rows = [_row("PASS", "PASS"), _row("PASS", "PASS", restated=True), _row("FAIL", "FAIL"),
            _row("PASS", "FAIL"), _row("INCONCLUSIVE", "INCONCLUSIVE"), _row("PASS", "not run"),
            _row("PASS", "PASS", kind="consistency")]
    text = stream_headline(rows)
    assert text.startswith("paper claims: 2 PASS on both streams, 1 FAIL on both, 1 differ, "
                           "1 INCONCLUSIVE on both")
    assert "on one stream only: 1 PASS" in text
    assert "restated after a FAIL or INCONCLUSIVE: 1" in text
    assert "consistency checks: 1 of 1 PASS" in text


def test_reproduce_confirm_runs_both_streams(tmp_path):
    result = reproduce(tmp_path, preset="smoke", only=["toy"], streams=("main", "confirm"))
    assert [p.stream for p in result.papers] == ["main", "confirm"]
    assert "Across seed streams: paper claims:" in result.summary()
    with Store(store_path(tmp_path)) as store:
        assert store.streams() == ["main", "confirm"]


def test_stream_names_are_checked():
    assert check_stream("confirm") == "confirm"
    for bad in ("", "Confirm", "a b", "x" * 40, "../x"):
        with pytest.raises(ValueError, match="`stream`"):
            check_stream(bad)


def test_cli_stream_mistakes_are_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["run", "toy/values", "--preset", "smoke", "--out", str(tmp_path), "--stream", "Bad Name"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--stream" in err
    with pytest.raises(SystemExit) as exc:
        main(["reproduce", "--preset", "smoke", "--only", "toy", "--out", str(tmp_path), "--confirm",
              "--stream", "other"])
    assert exc.value.code == 2


_SCHEMA_1 = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE runs (
    run_id TEXT PRIMARY KEY, experiment TEXT NOT NULL, preset TEXT NOT NULL, params TEXT NOT NULL,
    package_version TEXT, git_commit TEXT, host TEXT, device TEXT, backend TEXT,
    started REAL NOT NULL, ended REAL, status TEXT NOT NULL,
    n_cells INTEGER, n_skipped INTEGER, n_done INTEGER, n_failed INTEGER, claims TEXT, environment TEXT);
CREATE TABLE cells (
    id INTEGER PRIMARY KEY, experiment TEXT NOT NULL, cell_key TEXT NOT NULL, replicate INTEGER NOT NULL,
    params TEXT NOT NULL, seed INTEGER NOT NULL, metrics TEXT, wall_time REAL, status TEXT NOT NULL,
    error TEXT, run_id TEXT, finished REAL NOT NULL, UNIQUE (experiment, cell_key, replicate));
CREATE TABLE artifacts (
    cell_id INTEGER NOT NULL REFERENCES cells(id) ON DELETE CASCADE, name TEXT NOT NULL, data BLOB NOT NULL,
    PRIMARY KEY (cell_id, name));
INSERT INTO meta VALUES ('app', 'collapselab'), ('schema', '1');
INSERT INTO runs (run_id, experiment, preset, params, started, ended, status, claims)
    VALUES ('r1', 'toy/values', 'smoke', '{}', 1.0, 2.0, 'finished', '[]');
INSERT INTO cells (id, experiment, cell_key, replicate, params, seed, metrics, wall_time, status, run_id, finished)
    VALUES (7, 'toy/values', 'k1', 0, '{"i": 0}', 11, '{"value": 1.5}', 0.1, 'done', 'r1', 2.0);
INSERT INTO artifacts VALUES (7, 'blob.txt', X'6869');
"""


def test_a_store_from_before_streams_is_upgraded_in_place(tmp_path):
    db = store_path(tmp_path)
    with sqlite3.connect(db) as conn:
        conn.executescript(_SCHEMA_1)
    with Store(db) as store:
        assert store.cell_status("toy/values") == {("k1", 0): "done"}  # old cells are the main stream
        assert store.cell_status("toy/values", "confirm") == {}
        assert store.artifacts("toy/values", [("k1", 0)]) == {"blob.txt": b"hi"}  # not cascaded away
        assert store.latest_run("toy/values")["run_id"] == "r1"
        assert store.frame("toy/values")["value"].tolist() == [1.5]
    with Store(db) as store:  # opening again: nothing left to upgrade
        assert dict(store.conn.execute("SELECT key, value FROM meta"))["schema"] == "2"
