"""End-to-end CLI runs in subprocesses (local backend, a local Ray instance, SIGKILL mid-sweep)."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import toy_experiments  # noqa: F401  (registers toy/* in this process)

HERE = Path(__file__).parent


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE), env.get("PYTHONPATH", "")]))
    env["COLLAPSELAB_EXPERIMENTS"] = "toy_experiments"
    env["COLUMNS"] = "200"
    return env


def cli(*args: str, check: bool = False) -> subprocess.CompletedProcess:
    res = subprocess.run([sys.executable, "-m", "collapselab", *args], capture_output=True, text=True,
                         env=_env(), timeout=300)
    if check and res.returncode != 0:
        raise AssertionError(f"exit {res.returncode}\n{res.stdout}\n{res.stderr}")
    return res


def test_version_list_show(capsys):
    assert "collapselab" in cli("--version", check=True).stdout
    code, out, _ = run_main(capsys, "list")
    assert code == 0 and "toy/values" in out
    code, out, _ = run_main(capsys, "show", "toy/values")
    assert code == 0 and "n_cells" in out and "positive" in out


def run_main(capsys, *args: str) -> tuple[int, str, str]:
    """The CLI in-process (same code path as the console script), returning (status, stdout, stderr)."""
    from collapselab.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(list(args))
    out = capsys.readouterr()
    return exit_.value.code, out.out, out.err


@pytest.mark.parametrize("args, needle", [
    (["run", "toy/values", "--set", "n_cel=3"], "did you mean 'n_cells'"),
    (["run", "toy/values", "--set", "scale=-1"], "'scale'"),
    (["run", "toy/values", "--set", "scale"], "key=value"),
    (["run", "toy/valu"], "unknown experiment"),
    (["run", "toy/values", "--preset", "huge"], "valid presets"),
    (["run", "toy/values", "--backend", "slurm"], "--backend"),
    (["run", "toy/values", "--device", "cuda:0"], "cuda"),
    (["run", "toy/values", "--frobnicate"], "No such option"),
    (["report", "--out", "/nonexistent/dir"], "no results"),
])
def test_user_errors_exit_2_with_one_line(capsys, args, needle):
    code, out, err = run_main(capsys, *args)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], err
    assert "Traceback" not in err + out


@pytest.mark.slow
def test_user_error_in_a_real_process_has_no_traceback():
    res = cli("run", "toy/values", "--set", "n_cel=3")
    assert res.returncode == 2 and res.stderr.count("\n") == 1 and "Traceback" not in res.stderr


def test_corrupt_store_exit_2_and_untouched(capsys, tmp_path):
    (tmp_path / "collapselab.sqlite").write_bytes(b"garbage" * 100)
    code, _, err = run_main(capsys, "run", "toy/values", "--preset", "smoke", "--out", str(tmp_path))
    assert code == 2 and "left untouched" in err
    assert (tmp_path / "collapselab.sqlite").read_bytes() == b"garbage" * 100


@pytest.mark.slow
def test_run_strict_report_local(capsys, tmp_path):
    out = str(tmp_path)
    code, stdout, _ = run_main(capsys, "run", "toy/values", "--preset", "smoke", "--out", out, "--workers", "1",
                               "--strict")
    assert code == 0 and "PASS" in stdout and "positive" in stdout
    code, stdout, _ = run_main(capsys, "run", "toy/values", "--preset", "smoke", "--out", out)
    assert code == 0 and "3 of 3 cells already in the store" in stdout
    code, stdout, _ = run_main(capsys, "run", "toy/failing-claim", "--preset", "smoke", "--out", out, "--strict")
    assert code == 1 and "FAIL" in stdout
    code, stdout, _ = run_main(capsys, "report", "--out", out)
    html = (tmp_path / "report.html").read_text()
    assert code == 0 and "report.html" in stdout and "toy/values" in html and "data:image/png;base64" in html
    index = (tmp_path / "site" / "index.html").read_text()  # the static site (tested in a browser elsewhere)
    assert "index.html" in stdout and "experiments/toy--values.html" in index
    assert (tmp_path / "site" / "experiments" / "toy--failing-claim.html").is_file()
    claims = json.loads(next((tmp_path / "toy" / "values").glob("*/claims.json")).read_text())
    assert claims[0]["status"] == "PASS" and {"id", "statement", "status", "measured", "source", "kind", "test",
                                              "needs", "error", "version", "fingerprint"} == set(claims[0])
    assert claims[0]["version"] == 1 and len(claims[0]["fingerprint"]) == 16  # judged under this declaration


@pytest.mark.slow
def test_run_in_a_real_process_local_backend(tmp_path):
    res = cli("run", "toy/values", "--preset", "smoke", "--workers", "2", "--out", str(tmp_path), check=True)
    assert "3 run, 0 failed" in res.stdout and "PASS" in res.stdout


@pytest.mark.slow
def test_run_on_local_ray(tmp_path):
    pytest.importorskip("ray")
    res = cli("run", "toy/values", "--preset", "quick", "--backend", "ray", "--workers", "2",
              "--out", str(tmp_path), check=True)
    assert "12 run, 0 failed" in res.stdout and "PASS" in res.stdout
    con = sqlite3.connect(tmp_path / "collapselab.sqlite")
    pids = {json.loads(m)["pid"] for (m,) in con.execute("SELECT metrics FROM cells")}
    assert len(pids) >= 1 and os.getpid() not in pids  # ran in Ray workers, not in the test process


def _done(db: Path) -> list[tuple]:
    if not db.exists():
        return []
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        rows = con.execute("SELECT cell_key, replicate, id, finished FROM cells WHERE status='done'").fetchall()
        con.close()
        return rows
    except sqlite3.OperationalError:
        return []


@pytest.mark.slow
def test_sigkill_mid_sweep_loses_and_duplicates_nothing(tmp_path):
    args = [sys.executable, "-m", "collapselab", "run", "toy/values", "--preset", "smoke", "--set", "n_cells=24",
            "--set", "sleep=0.25", "--workers", "1", "--out", str(tmp_path)]
    proc = subprocess.Popen(args, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    db = tmp_path / "collapselab.sqlite"
    deadline = time.time() + 120
    while len(_done(db)) < 4 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # for real: no cleanup, no atexit
    proc.wait()
    before = sorted(_done(db))
    assert 4 <= len(before) < 24, len(before)
    res = subprocess.run(args, env=_env(), capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert f"{len(before)} of 24 cells already in the store" in res.stdout
    after = sorted(_done(db))
    assert len(after) == 24 and len({(k, r) for k, r, *_ in after}) == 24
    assert set(before) <= set(after)  # the cells finished before the kill were kept as they were
