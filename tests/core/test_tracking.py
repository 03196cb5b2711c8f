"""``--track mlflow``: a run logged to a real local MLflow store, read back with the MLflow client."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import toy_experiments  # noqa: F401  (registers toy/*)

from collapselab.core.runner import run_experiment
from collapselab.core.tracking import TrackingError, default_tracking_uri, make_tracker


@pytest.fixture
def mlflow():
    return pytest.importorskip("mlflow", reason="mlflow is not installed (pip install 'collapselab[tracking]')")


@pytest.mark.slow
def test_run_is_logged_and_read_back(mlflow, tmp_path, capsys):
    from collapselab.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["run", "toy/values", "--preset", "smoke", "--workers", "1", "--out", str(tmp_path),
              "--set", "fail_at=2", "--track", "mlflow"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "tracked 1 run(s) in MLflow" in out

    from mlflow.tracking import MlflowClient

    uri = default_tracking_uri(tmp_path)
    assert uri.startswith("sqlite:///") and (tmp_path / "mlruns" / "mlflow.db").is_file()
    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name("toy/values")
    runs = client.search_runs([exp.experiment_id])
    assert len(runs) == 1
    run = runs[0]
    assert run.info.status == "FINISHED"
    assert run.data.params["n_cells"] == "3" and run.data.params["fail_at"] == "[2]"
    assert run.data.params["preset"] == "smoke"
    assert run.data.tags["claim.positive"] == "PASS" and "mean value" in run.data.tags["claim.positive.measured"]
    assert run.data.tags["collapselab.experiment"] == "toy/values"
    assert run.data.metrics["claims/PASS"] == 2 and run.data.metrics["cells/failed"] == 1
    history = client.get_metric_history(run.info.run_id, "cell/value")  # one value per finished cell
    assert sorted(m.step for m in history) == [0, 1]
    assert all(0.5 < m.value < 1.5 for m in history)
    assert "cell/i" not in run.data.metrics  # cell parameters are not metrics (they are in cells.csv)
    local = client.download_artifacts(run.info.run_id, "", str(tmp_path / "download"))
    names = {p.relative_to(local).as_posix() for p in Path(local).rglob("*") if p.is_file()}
    assert {"figures/values.png", "figures/values.svg", "tables/summary.csv", "claims.json", "params.json",
            "cells.csv", "toy_blob.txt"} <= names

    # the API hook: a second run (two new cells) joins the same MLflow experiment, named by its run id
    tracker = make_tracker("mlflow", tmp_path)
    second = run_experiment("toy/values", out_dir=tmp_path, overrides=["n_cells=4"], on_report=tracker)
    assert list(tracker.logged) == [second.run_id]
    names = {r.info.run_name for r in client.search_runs([exp.experiment_id])}
    assert names == {run.info.run_name, second.run_id}
    new = client.get_run(tracker.logged[second.run_id])
    assert new.data.metrics["cells/skipped"] == 2 and new.data.metrics["cells/done"] == 2


def test_tracking_option_errors(tmp_path):
    with pytest.raises(TrackingError, match="--track must be one of"):
        make_tracker("wandb", tmp_path)
    with pytest.raises(TrackingError, match="needs --track"):
        make_tracker(None, tmp_path, "sqlite:///x.db")
    assert make_tracker(None, tmp_path) is None


def test_missing_extra_is_a_one_line_error(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "mlflow", None)  # as if mlflow were not installed
    from collapselab.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["run", "toy/values", "--preset", "smoke", "--out", str(tmp_path), "--track", "mlflow"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "collapselab[tracking]" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "collapselab.sqlite").exists()  # refused before any work
