import json
import sqlite3

import pytest
import toy_experiments  # noqa: F401  (registers toy/*)

from collapselab.core.environment import cpu_description
from collapselab.core.runner import run_experiment, store_path
from collapselab.core.store import CellRecord, Store, StoreError


def test_run_writes_artifacts_and_resumes(tmp_path):
    first = run_experiment("toy/values", preset="quick", out_dir=tmp_path)
    assert first.counts == {"total": 12, "skipped": 0, "done": 12, "failed": 0}
    assert [c.status for c in first.claims] == ["PASS", "PASS"]
    art = first.artifact_dir
    for rel in ("figures/values.png", "figures/values.svg", "tables/summary.csv", "claims.json",
                "params.json", "toy_blob.txt"):
        assert (art / rel).is_file(), rel
    second = run_experiment("toy/values", preset="quick", out_dir=tmp_path)
    assert second.counts["skipped"] == 12 and second.counts["done"] == 0
    assert second.frame.sort_values("cell_key")["value"].tolist() == \
        first.frame.sort_values("cell_key")["value"].tolist()
    # a bigger grid reuses the cells it shares with the first run
    third = run_experiment("toy/values", preset="quick", overrides=["n_cells=8"], out_dir=tmp_path)
    assert third.counts == {"total": 16, "skipped": 12, "done": 4, "failed": 0}


@pytest.mark.slow
def test_seeds_are_deterministic_across_folders(tmp_path):
    a = run_experiment("toy/values", out_dir=tmp_path / "a")
    b = run_experiment("toy/values", out_dir=tmp_path / "b", workers=2)
    key = ["cell_key", "replicate"]
    fa, fb = a.frame.sort_values(key), b.frame.sort_values(key)
    assert fa["seed"].tolist() == fb["seed"].tolist() and fa["value"].tolist() == fb["value"].tolist()
    assert fa["seed"].nunique() == len(fa)


def test_failed_cells_keep_traceback_and_retry(tmp_path):
    rep = run_experiment("toy/values", overrides=["fail_at=1"], out_dir=tmp_path)
    assert rep.counts["failed"] == 1 and rep.counts["done"] == 2
    assert "told to fail" in rep.failures[0][2] and "Traceback" in rep.failures[0][2]
    again = run_experiment("toy/values", overrides=["fail_at=1"], out_dir=tmp_path)
    assert again.counts["skipped"] == 3  # failures are not rerun by default
    retry = run_experiment("toy/values", overrides=["fail_at=1"], out_dir=tmp_path, retry_failed=True)
    assert retry.counts["done"] == 0 and retry.counts["failed"] == 1
    with Store(store_path(tmp_path)) as s:
        assert len(s.failures("toy/values")) == 1  # replaced, not duplicated


def test_runs_are_recorded(tmp_path):
    run_experiment("toy/values", out_dir=tmp_path)
    with Store(store_path(tmp_path)) as s:
        runs = s.runs("toy/values")
        assert len(runs) == 1 and runs.loc[0, "status"] == "finished"
        for col in ("params", "package_version", "host", "device", "started", "ended", "claims"):
            assert runs.loc[0, col] is not None
        assert s.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        env = json.loads(runs.loc[0, "environment"])
        assert env["cpu"] and int(env["cpu_count"]) >= 1 and env["torch_cpu_kernels"]


def test_cpu_description_reads_the_model_name(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 9B14\n")
    assert cpu_description(info)["cpu"] == "AMD EPYC 9B14"
    assert cpu_description(tmp_path / "absent")["cpu"]  # falls back to the platform's name


def test_foreign_and_corrupt_files_are_left_untouched(tmp_path):
    junk = tmp_path / "junk" / "collapselab.sqlite"
    junk.parent.mkdir()
    junk.write_bytes(b"this is not a database at all" * 10)
    before = junk.read_bytes()
    with pytest.raises(StoreError, match="not an SQLite database"):
        Store(junk)
    assert junk.read_bytes() == before
    foreign = tmp_path / "foreign" / "collapselab.sqlite"
    foreign.parent.mkdir()
    con = sqlite3.connect(foreign)
    con.execute("CREATE TABLE users (id INTEGER)")
    con.commit()
    con.close()
    before = foreign.read_bytes()
    with pytest.raises(StoreError, match="not a collapselab store"):
        Store(foreign)
    assert foreign.read_bytes() == before


def test_a_figure_that_cannot_be_drawn_costs_nothing_else(tmp_path):
    rep = run_experiment("toy/values", overrides=["bad_figure=true"], out_dir=tmp_path)
    assert rep.analysis_error and "figure 'broken' could not be saved" in rep.analysis_error
    assert (rep.artifact_dir / "figures" / "values.png").is_file()
    assert (rep.artifact_dir / "claims.json").is_file() and [c.status for c in rep.claims] == ["PASS", "PASS"]


@pytest.mark.slow
def test_a_shared_worker_pool_keeps_its_processes_and_the_numbers(tmp_path):
    from collapselab.core.sweep import WorkerPool

    fresh = run_experiment("toy/values", out_dir=tmp_path / "fresh", workers=2)
    with WorkerPool(2) as pool:
        a = run_experiment("toy/values", out_dir=tmp_path / "a", workers=2, pool=pool)
        b = run_experiment("toy/values", preset="quick", out_dir=tmp_path / "b", workers=2, pool=pool)
        with pytest.raises(ValueError, match="pool"):
            run_experiment("toy/values", out_dir=tmp_path / "c", workers=3, pool=pool)
    key = ["cell_key", "replicate"]
    assert a.frame.sort_values(key)["value"].tolist() == fresh.frame.sort_values(key)["value"].tolist()
    # the second experiment ran in the first one's worker processes (no new spawn and import)
    assert set(b.frame["pid"]) <= set(a.frame["pid"]) and len(set(a.frame["pid"])) <= 2
    with pytest.raises(ValueError, match="workers"):
        WorkerPool(1)


@pytest.mark.slow
def test_a_shared_pool_stopped_midway_starts_new_workers_next_time():
    from collapselab.core.registry import get_experiment
    from collapselab.core.runner import plan
    from collapselab.core.sweep import WorkerPool, run_local

    exp = get_experiment("toy/values")
    tasks = plan(exp, exp.params(), "cpu")
    with WorkerPool(2) as pool:
        stream = run_local(tasks, 2, pool)
        first = next(stream)
        stream.close()  # the consumer stops (as on Ctrl-C): the workers are stopped, not waited for
        assert pool._executor is None
        again = list(run_local(tasks, 2, pool))
    assert first.status == "done" and [r.status for r in again] == ["done"] * len(tasks)
    assert first.metrics["pid"] not in {r.metrics["pid"] for r in again}


def test_a_runs_frame_follows_the_plan_not_the_order_cells_finished(tmp_path):
    """Workers finish cells in any order; the frame an analysis reads is in the planned order, so a
    bootstrap over its rows or a groupby in order of appearance gives the same numbers on every run."""
    planned = [("b", 0), ("a", 0), ("b", 1), ("a", 1)]
    with Store(tmp_path / "s.sqlite") as store:
        store.start_run("r", "toy/values", "smoke", {}, info={})
        for key, rep in [("a", 1), ("b", 1), ("a", 0), ("b", 0), ("c", 0)]:  # as the workers happened to finish
            store.put_cell(CellRecord("toy/values", key, rep, {"k": key}, 7, "done", {"v": rep}, 0.1), "r")
        frame = store.frame("toy/values", iter(planned))
        assert list(zip(frame["cell_key"], frame["replicate"])) == planned
        assert list(zip(*store.frame("toy/values")[["cell_key", "replicate"]].T.values)) == [
            ("a", 1), ("b", 1), ("a", 0), ("b", 0), ("c", 0)]  # no keys: every cell, as stored
