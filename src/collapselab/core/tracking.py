"""Experiment tracking: log each finished run to MLflow (optional extra ``collapselab[tracking]``).

What one collapselab run becomes in MLflow (one MLflow experiment per collapselab experiment, one MLflow
run per collapselab run, named by its run id):

* **params**: the validated parameters (lists as JSON text) plus ``preset``;
* **tags**: ``collapselab.experiment``, ``.paper``, ``.preset``, ``.run_id``, ``.git_commit``, and for
  every claim ``claim.<id>`` = PASS/FAIL/INCONCLUSIVE and ``claim.<id>.measured`` = the measured figure;
* **metrics**: every numeric metric of every (cell, replicate) as ``cell/<metric>`` with
  ``step`` = the row of ``cells.csv`` (the cell's parameters, replicate and seed), the run's counts
  (``cells/total``, ``cells/skipped``, ``cells/done``, ``cells/failed``) and the claim counts
  (``claims/PASS``, ``claims/FAIL``, ``claims/INCONCLUSIVE``);
* **artifacts**: the run's artifact folder (figures PNG/SVG, tables CSV, ``claims.json``,
  ``params.json``, cell files) and ``cells.csv``.

The default tracking URI is a local store under the results folder, :func:`default_tracking_uri`
(``sqlite:///<out>/mlruns/mlflow.db``, artifacts in ``<out>/mlruns/artifacts``): MLflow 3 keeps its
plain-folder store in maintenance mode, so the local default is its SQLite store, which needs no server.
Any other URI (``http://host:5000``, ``databricks``, ...) is passed to MLflow as is.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

TRACKERS = ("mlflow",)
_BATCH = 1000  # MLflow accepts at most 1000 metrics per log_batch call
_PARAM_MAX = 6000  # MLflow's limit on a param value's length


class TrackingError(RuntimeError):
    """Tracking cannot be used (the extra is missing, or the tracking server refused)."""


def require_mlflow():
    """Import mlflow or raise :class:`TrackingError` saying how to install it."""
    try:
        import mlflow
    except ImportError:
        raise TrackingError("--track mlflow needs the 'tracking' extra: pip install 'collapselab[tracking]'") \
            from None
    return mlflow


def default_tracking_uri(out_dir: str | Path) -> str:
    """The local MLflow store of a results folder: ``sqlite:///<out>/mlruns/mlflow.db``."""
    folder = Path(out_dir).resolve() / "mlruns"
    return f"sqlite:///{folder / 'mlflow.db'}"


def _default_artifact_root(uri: str) -> str | None:
    """For the default local store, artifacts go next to the database (``<out>/mlruns/artifacts``)."""
    if uri.startswith("sqlite:///"):
        return (Path(uri[len("sqlite:///"):]).parent / "artifacts").as_uri()
    return None


def _param_value(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= _PARAM_MAX else text[: _PARAM_MAX - 3] + "..."


def _metric_name(name: str) -> str:
    """MLflow metric names: alphanumerics, ``_ - . / space``; anything else becomes ``_``."""
    return "".join(ch if ch.isalnum() or ch in "_-./ " else "_" for ch in str(name))


def numeric_columns(frame: pd.DataFrame, exclude: set[str]) -> list[str]:
    """Columns of the results frame holding numeric scalars (bools count as 0/1)."""
    out = []
    for col in frame.columns:
        if col in exclude:
            continue
        values = frame[col].dropna()
        if len(values) and all(isinstance(v, (int, float, bool)) and not isinstance(v, str) for v in values):
            out.append(col)
    return out


class MlflowTracker:
    """Log finished runs to MLflow; call it with a :class:`~collapselab.core.runner.RunReport`.

    ``uri`` defaults to :func:`default_tracking_uri` of ``out_dir``. Pass an instance as
    ``run_experiment(..., on_report=tracker)``; :attr:`logged` maps collapselab run ids to MLflow run ids.
    """

    def __init__(self, out_dir: str | Path = "results", uri: str | None = None):
        self.mlflow = require_mlflow()
        self.uri = uri or default_tracking_uri(out_dir)
        if self.uri.startswith("sqlite:///"):
            Path(self.uri[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
        self.logged: dict[str, str] = {}
        self._client = None

    @property
    def client(self):
        if self._client is None:
            from mlflow.tracking import MlflowClient

            try:
                self._client = MlflowClient(tracking_uri=self.uri)
            except Exception as exc:
                raise TrackingError(f"cannot open MLflow tracking URI {self.uri!r}: {exc}") from None
        return self._client

    def _experiment_id(self, name: str) -> str:
        found = self.client.get_experiment_by_name(name)
        if found is not None:
            return found.experiment_id
        return self.client.create_experiment(name, artifact_location=_default_artifact_root(self.uri))

    def __call__(self, report) -> str:
        """Log one run; returns the MLflow run id."""
        try:
            return self._log(report)
        except TrackingError:
            raise
        except Exception as exc:
            raise TrackingError(f"MLflow logging to {self.uri!r} failed: {type(exc).__name__}: {exc}") from None

    def _log(self, report) -> str:
        from mlflow.entities import Param, RunTag

        from collapselab.core.environment import git_commit

        params = report.params.model_dump(mode="json")
        paper = report.experiment.split("/", 1)[0]
        commit = git_commit()
        tags = {"collapselab.experiment": report.experiment, "collapselab.paper": paper,
                "collapselab.preset": report.preset, "collapselab.run_id": report.run_id}
        if commit:
            tags["collapselab.git_commit"] = commit
        for c in report.claims:
            tags[f"claim.{c.id}"] = c.status
            tags[f"claim.{c.id}.measured"] = _param_value(c.measured)
        run = self.client.create_run(self._experiment_id(report.experiment), run_name=report.run_id,
                                     tags=tags)
        run_id = run.info.run_id
        try:
            param_list = [Param(k, _param_value(v)) for k, v in sorted(params.items())]
            param_list.append(Param("preset", report.preset))
            metrics = self._metrics(report)
            for i in range(0, max(len(metrics), 1), _BATCH):
                self.client.log_batch(run_id, metrics=metrics[i:i + _BATCH],
                                      params=param_list if i == 0 else [], tags=[])
            self.client.log_batch(run_id, tags=[RunTag("collapselab.cells", str(len(report.frame)))])
            if report.artifact_dir.exists():
                self.client.log_artifacts(run_id, str(report.artifact_dir))
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "cells.csv"
                _cells_frame(report.frame).to_csv(path, index_label="step")
                self.client.log_artifact(run_id, str(path))
            status = "FINISHED" if not report.analysis_error else "FAILED"
        except Exception:
            self.client.set_terminated(run_id, status="FAILED")
            raise
        self.client.set_terminated(run_id, status=status)
        self.logged[report.run_id] = run_id
        return run_id

    def _metrics(self, report) -> list:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        out = [Metric(f"cells/{k}", float(v), now, 0) for k, v in report.counts.items()]
        for status in ("PASS", "FAIL", "INCONCLUSIVE"):
            out.append(Metric(f"claims/{status}", float(sum(c.status == status for c in report.claims)), now, 0))
        frame = _cells_frame(report.frame)
        for col in numeric_columns(frame, exclude={"seed", "replicate"} | _cell_param_columns(report)):
            name = f"cell/{_metric_name(col)}"
            for step, value in enumerate(frame[col].tolist()):
                if value is None or (isinstance(value, float) and math.isnan(value)):
                    continue
                out.append(Metric(name, float(value), now, step))
        return out


def _cell_param_columns(report) -> set[str]:
    """Columns that are cell parameters (logged in cells.csv, not as metrics)."""
    from collapselab.core.registry import all_experiments

    exp = all_experiments().get(report.experiment)
    if exp is None or report.frame.empty:
        return set()
    try:
        return {k for cell in exp.cells(report.params) for k in cell}
    except Exception:  # a cells() that cannot be re-evaluated just logs every numeric column
        return set()


def _cells_frame(frame: pd.DataFrame) -> pd.DataFrame:
    if frame.empty:
        return frame
    keys = [c for c in ("cell_key", "replicate") if c in frame.columns]
    return frame.sort_values(keys).reset_index(drop=True) if keys else frame.reset_index(drop=True)


def make_tracker(track: str | None, out_dir: str | Path, uri: str | None = None):
    """The tracker named by ``--track`` (``None`` for no tracking)."""
    if track is None:
        if uri:
            raise TrackingError("--tracking-uri needs --track mlflow")
        return None
    if track not in TRACKERS:
        raise TrackingError(f"--track must be one of {', '.join(TRACKERS)}, got {track!r}")
    if os.environ.get("MLFLOW_TRACKING_URI") and uri is None:
        uri = os.environ["MLFLOW_TRACKING_URI"]
    return MlflowTracker(out_dir, uri)
