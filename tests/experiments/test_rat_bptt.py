"""Smoke runs of the rat-bptt experiments: every cell finishes, metrics are sane, artifacts load."""

import math

import pytest

from collapselab.core import get_experiment
from collapselab.core.claims import STATUSES
from collapselab.core.runner import run_experiment
from collapselab.distill import DistilledSet

NAMES = ["rat-bptt/digits", "rat-bptt/mnist", "rat-bptt/boost", "rat-bptt/gradient-variance"]


def _run(name, tmp_path):
    rep = run_experiment(name, preset="smoke", out_dir=tmp_path)
    assert rep.counts["failed"] == 0, rep.failures
    assert rep.analysis_error is None, rep.analysis_error
    assert {c.status for c in rep.claims} <= set(STATUSES)
    return rep


def _artifacts(rep):
    files = sorted(rep.artifact_dir.glob("distilled_*.npz"))
    assert files
    for f in files:
        ds = DistilledSet.load(f)
        assert ds.x.ndim == 4 and len(ds) == len(ds.y)
    return {f.name for f in files}


def test_digits_smoke(tmp_path):
    rep = _run("rat-bptt/digits", tmp_path)
    f = rep.frame
    assert set(f["method"]) == {"rat_bptt", "tbptt", "bptt", "random", "full"}
    assert f["acc"].between(0, 1).all()
    dist = f[f.method.isin(["rat_bptt", "tbptt", "bptt"])]
    assert (dist["graph_mb"] > 0).all() and (dist["s_per_step"] > 0).all()
    mem = dist.set_index("method")["graph_mb"]
    assert mem["bptt"] > mem["rat_bptt"] == pytest.approx(mem["tbptt"])  # same window M
    names = _artifacts(rep)
    assert {"distilled_rat_bptt_ipc1.npz", "distilled_random_ipc1.npz"} <= names


def test_mnist_smoke(tmp_path):
    rep = _run("rat-bptt/mnist", tmp_path)
    assert rep.frame["acc"].between(0, 1).all()
    ds = DistilledSet.load(rep.artifact_dir / "distilled_rat_bptt_ipc1.npz")
    assert ds.x.shape == (10, 1, 28, 28) and ds.metadata["method"] == "rat_bptt"


def test_boost_smoke(tmp_path):
    rep = _run("rat-bptt/boost", tmp_path)
    assert set(rep.frame["kind"]) == {"boost", "oneshot"}
    for accs in rep.frame["accs"]:
        assert len(accs) == 2 and all(0 <= a <= 1 for a in accs)
    assert "distilled_boost_ipc2.npz" in _artifacts(rep)


def test_gradient_variance_smoke(tmp_path):
    rep = _run("rat-bptt/gradient-variance", tmp_path)
    for _, r in rep.frame.iterrows():
        assert len(r["norms"]) == 3 and all(math.isfinite(v) and v >= 0 for v in r["norms"])
        assert len(r["rel_var"]) == 2 and all(v >= 0 for v in r["rel_var"])


def test_registered_with_all_presets():
    for name in NAMES:
        exp = get_experiment(name)
        assert set(exp.presets) == {"smoke", "quick", "full"} and exp.uses_device
    assert get_experiment("rat-bptt/digits").presets["full"]["dataset"] == "cifar10"


def test_cifar_without_data_dir_is_a_clear_error():
    from collapselab.experiments.rat_bptt import _data

    with pytest.raises(ValueError, match="data_dir"):
        _data("cifar10", None, 0.2, False)
