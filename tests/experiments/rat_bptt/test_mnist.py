"""rat-bptt/mnist: registration and a smoke run (its claims are rat-bptt/digits' checks, tested there)."""

import pytest

from collapselab.core import get_experiment


def test_registered_with_all_presets():
    for name in ["rat-bptt/digits", "rat-bptt/mnist", "rat-bptt/boost", "rat-bptt/gradient-variance",
                 "rat-bptt/vs-tbptt"]:
        exp = get_experiment(name)
        assert set(exp.presets) == {"smoke", "quick", "full"} and exp.uses_device
        assert all(c.source and c.test for c in exp.claims)
    assert get_experiment("rat-bptt/mnist").presets["full"]["dataset"] == "cifar10"


def test_cifar_without_data_dir_is_a_clear_error():
    from collapselab.experiments.rat_bptt._common import load_data

    with pytest.raises(ValueError, match="data_dir"):
        load_data("cifar10", None, 0.2, False)


@pytest.mark.slow
def test_mnist_smoke(tmp_path):
    from collapselab.core.runner import run_experiment
    from collapselab.distill import DistilledSet

    rep = run_experiment("rat-bptt/mnist", preset="smoke", out_dir=tmp_path)
    assert rep.counts["failed"] == 0, rep.failures
    assert rep.analysis_error is None, rep.analysis_error
    ds = DistilledSet.load(rep.artifact_dir / "distilled_rat_bptt_ipc1.npz")
    assert ds.x.shape == (10, 1, 28, 28) and ds.metadata["method"] == "rat_bptt"
