"""The CLI around claims: whole names when piped, JSON, the ledger, redraw, --dry-run, ERROR and --strict,
non-finite parameters, and Ctrl-C (a real SIGINT to a running sweep)."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import toy_experiments  # noqa: F401  (registers toy/*)
from test_cli import _env, cli, run_main


@pytest.mark.slow
def test_list_piped_prints_whole_names_and_json():
    res = cli("list", check=True)  # stdout is a pipe here
    lines = [ln.split("\t") for ln in res.stdout.splitlines()]
    assert ["toy/values", "toy", "1+1"] == lines[[ln[0] for ln in lines].index("toy/values")][:3]
    rows = json.loads(cli("list", "--json", check=True).stdout)
    toy = next(r for r in rows if r["experiment"] == "toy/values")
    assert toy["paper_claims"] == 1 and toy["consistency_checks"] == 1


def test_non_finite_parameter_is_a_one_line_error(capsys):
    code, _, err = run_main(capsys, "run", "toy/values", "--set", "sleep=inf", "--preset", "smoke")
    assert code == 2 and "'sleep'" in err and "finite" in err and len(err.strip().splitlines()) == 1
    for value in ("nan", "-inf"):  # refused by the schema's bound or by the finiteness rule: one line
        code, _, err = run_main(capsys, "run", "toy/values", "--set", f"sleep={value}", "--preset", "smoke")
        assert code == 2 and "'sleep'" in err and len(err.strip().splitlines()) == 1


def test_show_prints_source_kind_and_test(capsys):
    code, out, _ = run_main(capsys, "show", "toy/values")
    assert code == 0 and "consistency" in out and "Sec. 1" in out and "sign of the mean" in out


def test_error_status_is_shown_and_strict_exits_1(capsys, tmp_path):
    code, out, _ = run_main(capsys, "run", "toy/broken-check", "--preset", "smoke", "--out", str(tmp_path),
                            "--workers", "1", "--strict")
    assert code == 1 and "ERROR" in out and "KeyError" in out and "no-such-table" in out
    claims = json.loads(next((tmp_path / "toy" / "broken-check").glob("*/claims.json")).read_text())
    assert claims[0]["status"] == "ERROR" and "Traceback" in claims[0]["error"]


def test_claims_ledger_and_redraw(capsys, tmp_path):
    out = str(tmp_path)
    code, _, err = run_main(capsys, "run", "toy/values", "--preset", "smoke", "--out", out, "--workers", "1")
    assert code == 0, err
    code, text, _ = run_main(capsys, "claims", "--out", out, "--json")
    rows = {(r["experiment"], r["id"]): r for r in json.loads(text)}
    assert rows[("toy/values", "positive")]["status"] == "PASS"
    assert rows[("toy/values", "finite")]["kind"] == "consistency"
    assert rows[("toy/failing-claim", "negative")]["status"] == "not run"
    code, md, _ = run_main(capsys, "claims", "--out", out, "--format", "md")
    assert code == 0 and "## toy/values (preset smoke)" in md and "consistency checks: 1 of 1 PASS" in md
    code, _, err = run_main(capsys, "claims", "--out", out, "--format", "xml")
    assert code == 2 and "--format" in err
    run_dir = next((tmp_path / "toy" / "values").iterdir())
    png = run_dir / "figures" / "values.png"
    png.unlink()
    code, text, _ = run_main(capsys, "plot", "toy/values", "--out", out)
    assert code == 0 and png.is_file() and "redrew 2 file(s)" in text
    code, _, err = run_main(capsys, "plot", "toy/values", "--out", str(tmp_path / "empty"))
    assert code == 2


def test_dry_run_plans_without_running(capsys, tmp_path):
    out = str(tmp_path)
    code, text, _ = run_main(capsys, "run", "toy/values", "--preset", "smoke", "--out", out, "--dry-run")
    assert code == 0 and "unknown" in text and not (tmp_path / "collapselab.sqlite").exists()
    run_main(capsys, "run", "toy/values", "--preset", "smoke", "--out", out, "--workers", "1")
    code, text, _ = run_main(capsys, "run", "toy/values", "--preset", "quick", "--out", out, "--dry-run",
                             "--workers", "1")
    assert code == 0 and "3 stored cell(s) on cpu" in text and "forecast total on 1 worker(s)" in text
    assert "unknown" not in text
    code, text, _ = run_main(capsys, "reproduce", "--preset", "full", "--only", "toy", "--out", out,
                             "--dry-run")
    assert code == 0 and "toy/values" in text and "toy/failing-claim" in text
    code, text, _ = run_main(capsys, "run", "toy/values", "--preset", "smoke", "--set", "scale=4", "--out", out,
                             "--dry-run")  # no stored cell has these parameters and toy declares no cost
    assert code == 0 and "1 experiment run(s) scaled from cells of other parameters, not a forecast" in text


def test_dry_run_of_confirm_shows_both_streams_and_their_totals(capsys, tmp_path):
    """--confirm plans the main and the confirm stream; the total line gives both streams' sum and each."""
    import re

    out = str(tmp_path)
    run_main(capsys, "run", "toy/values", "--preset", "smoke", "--out", out, "--workers", "1")
    code, text, _ = run_main(capsys, "reproduce", "--preset", "smoke", "--only", "toy", "--confirm", "--out", out,
                             "--dry-run", "--workers", "2")
    assert code == 0, text
    rows = [ln for ln in text.splitlines() if "toy/values" in ln]
    assert len(rows) == 2 and "main" in rows[0] and "confirm" in rows[1]
    assert re.search(r"toy/values\s*│\s*main\s*│\s*cpu\s*│\s*3\s*│\s*3\s*│\s*0\s*│\s*0 s", rows[0])
    total = next(ln for ln in text.splitlines() if ln.startswith("forecast total on 2 worker(s)"))
    assert "(main " in total and ", confirm " in total
    assert "plus 4 experiment run(s) of unknown cost" in total  # failing-claim and broken-check: 2 streams each
    code, text, err = run_main(capsys, "run", "toy/values", "--preset", "smoke", "--out", out, "--dry-run",
                               "--device", "cuda")  # a forecast for cuda needs no GPU on this machine
    assert code == 0, err
    assert "forecast total on" in text


def test_calibrate_prints_rates_and_writes_only_when_asked(capsys, tmp_path, monkeypatch):
    import dataclasses

    from collapselab.core import costs, registry

    exp = registry.get_experiment("toy/values")
    monkeypatch.setitem(registry._EXPERIMENTS, "toy/values", dataclasses.replace(exp, cell_cost=lambda c: 1.0))
    monkeypatch.setattr(costs, "RATES_PATH", tmp_path / "package.json")  # never the real package file
    out = str(tmp_path / "res")
    code, _, err = run_main(capsys, "calibrate", "--out", out)
    assert code == 2 and "no results store" in err
    run_main(capsys, "run", "toy/values", "--preset", "smoke", "--out", out, "--workers", "1")
    code, text, err = run_main(capsys, "calibrate", "--out", out)
    assert code == 0, err
    assert "toy/values" in text and "smoke/main" in text and "not calibrated" in text
    assert "toy/failing-claim (no declared cell_cost)" in text
    assert not (tmp_path / "package.json").exists()
    mine = tmp_path / "mine.json"
    code, text, err = run_main(capsys, "calibrate", "--out", out, "--write", "--to", str(mine))
    assert code == 0 and "toy/values" in json.loads(mine.read_text())["experiments"], err
    code, _, err = run_main(capsys, "calibrate", "--out", out, "--write", "--to", str(mine))
    assert code == 2 and "--force" in err
    code, _, err = run_main(capsys, "calibrate", "--out", out, "--write")
    assert code == 0 and (tmp_path / "package.json").exists(), err
    code, text, _ = run_main(capsys, "run", "toy/values", "--preset", "quick", "--out", str(tmp_path / "new"),
                             "--dry-run")
    assert "declared rate (calibrated" in text


def test_estimate_scales_by_declared_cost(tmp_path):
    import dataclasses

    from collapselab.core import registry
    from collapselab.core.estimate import estimate
    from collapselab.core.runner import run_experiment

    run_experiment("toy/values", preset="smoke", out_dir=tmp_path)  # 3 cells of scale 1
    plain = estimate("toy/values", preset="smoke", out_dir=tmp_path, overrides=["scale=4"])
    exp = registry.get_experiment("toy/values")
    costly = dataclasses.replace(exp, cell_cost=lambda c: c["scale"])
    registry._EXPERIMENTS["toy/values"] = costly
    try:
        scaled = estimate("toy/values", preset="smoke", out_dir=tmp_path, overrides=["scale=4"])
    finally:
        registry._EXPERIMENTS["toy/values"] = exp
    assert plain.missing == scaled.missing == 3 and scaled.seconds == pytest.approx(4 * plain.seconds)
    assert "not a forecast" in plain.basis and "not a forecast" not in scaled.basis
    same = estimate("toy/values", preset="smoke", out_dir=tmp_path, seeds=2)  # new replicates of stored cells
    assert same.missing == 3 and "not a forecast" not in same.basis


@pytest.mark.slow
def test_ctrl_c_cancels_pending_cells_at_once(tmp_path):
    """Judged on the store's state, not on wall time (a loaded machine is slow, not wrong): after Ctrl-C at
    most the cells already running (one per worker) may still land; the 56+ pending ones never run."""
    args = [sys.executable, "-m", "collapselab", "run", "toy/values", "--preset", "quick", "--set", "sleep=3", "--set",
            "n_cells=30", "--workers", "2", "--out", str(tmp_path)]
    proc = subprocess.Popen(args, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    db = tmp_path / "collapselab.sqlite"
    import sqlite3

    def stored() -> int:
        try:
            with sqlite3.connect(db) as con:
                return con.execute("SELECT COUNT(*) FROM cells").fetchone()[0]
        except sqlite3.OperationalError:  # not created yet, or busy
            return -1

    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None and stored() < 2:  # until some cells are stored
        time.sleep(0.2)
    assert proc.poll() is None, "the run ended before it could be interrupted"
    os.killpg(proc.pid, signal.SIGINT)  # as a terminal's Ctrl-C: the whole process group
    at_signal = stored()  # >= 2 (counted before the signal); a cell landing since is one of those in flight
    try:
        out, err = proc.communicate(timeout=300)  # a guard against a hang, not a timing assertion
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        raise AssertionError("the run did not stop after Ctrl-C") from None
    assert proc.returncode == 130, err
    assert stored() <= at_signal + 2, (at_signal, stored())  # pending cells were cancelled, not waited for
    assert "finished cell(s) of this run saved" in err and "Traceback" not in err, (err, out)
