import json

import numpy as np
import pandas as pd
import pytest

from collapselab.core.params import ParamError, resolve_params
from collapselab.core.registry import get_experiment
from collapselab.core.testing import judge

EXP = "beyond-collapse/lm-verification"


def _per(selected: float, unselected: float, generator: float = 4.0, n: int = 4, noise: float = 0.003):
    rng = np.random.default_rng(0)
    e = noise * rng.standard_normal((3, n))
    per = pd.DataFrame({"replicate": range(n), "human_loss": 3.9, "generator_loss": generator + e[0],
                        "selected_loss": selected + e[1], "unselected_loss": unselected + e[2]})
    return {"per_replicate": per}


@pytest.mark.parametrize(("sel", "unsel", "status"), [(4.0, 4.2, "PASS"), (4.2, 4.2, "FAIL"), (4.3, 4.2, "FAIL")])
def test_selection_beats_unselected(sel, unsel, status):
    assert judge(EXP, "selection-beats-unselected", _per(sel, unsel)).status == status


def test_selection_beats_unselected_inconclusive_when_noisy():
    assert judge(EXP, "selection-beats-unselected", _per(4.0, 4.05, noise=0.2)).status == "INCONCLUSIVE"


@pytest.mark.parametrize(("unsel", "status"), [(4.2, "PASS"), (4.0, "FAIL")])
def test_unselected_collapses(unsel, status):
    assert judge(EXP, "unselected-collapses", _per(4.0, unsel)).status == status


@pytest.mark.parametrize(("sel", "noise", "status"), [(3.95, 0.003, "PASS"), (4.1, 0.003, "FAIL"),
                                                      (4.0, 0.2, "INCONCLUSIVE")])
def test_selection_avoids_collapse(sel, noise, status):
    assert judge(EXP, "selection-avoids-collapse", _per(sel, 4.2, noise=noise)).status == status


def test_bad_model_and_corpus_are_param_errors(tmp_path):
    exp = get_experiment(EXP)
    with pytest.raises(ParamError, match="not a local model folder"):
        resolve_params(exp.params, exp.presets, "smoke", [f"model={tmp_path / 'none'}"])
    d = tmp_path / "ckpt"
    d.mkdir()
    (d / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    (d / "pytorch_model.bin").write_bytes(b"pickle")
    with pytest.raises(ParamError, match="pytorch_model.bin"):
        resolve_params(exp.params, exp.presets, "smoke", [f"model={d}"])
    with pytest.raises(ParamError, match="does not exist"):
        resolve_params(exp.params, exp.presets, "smoke", [f"corpus={tmp_path / 'c.txt'}"])


@pytest.mark.slow
def test_smoke_run_end_to_end(tmp_path):
    from collapselab.core.runner import run_experiment

    rep = run_experiment(EXP, preset="smoke", out_dir=tmp_path)
    assert not rep.failures and {c.status for c in rep.claims} <= {"PASS", "FAIL", "INCONCLUSIVE"}
