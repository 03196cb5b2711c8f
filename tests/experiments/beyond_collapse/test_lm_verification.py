import json

import numpy as np
import pandas as pd
import pytest

from collapselab.core.params import ParamError, resolve_params
from collapselab.core.registry import get_experiment
from collapselab.core.testing import judge

EXP = "beyond-collapse/lm-verification"


def _per(selected: float, unselected: float, generator: float = 4.0, n: int = 6, noise: float = 0.01):
    """Per-seed test losses (nats/token) scattered by ``noise`` around the given means; six seeds by default
    (the exact sign-flip test needs >= 5 to reject one-sided at 0.05, >= 6 two-sided)."""
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


@pytest.mark.parametrize("claim", ["selection-beats-unselected", "unselected-collapses",
                                   "selection-avoids-collapse"])
def test_three_seeds_cannot_pass(claim):
    """The exact sign-flip test's floor: 3 seeds give a smallest one-sided p-value of 1/8, so effects of
    0.05-0.2 nats in every seed stay INCONCLUSIVE and ask for more seeds."""
    out = judge(EXP, claim, _per(3.95, 4.2, n=3))
    assert out.status == "INCONCLUSIVE" and "replicates" in out.needs


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


def test_overlap_f1_is_bag_of_tokens_f1():
    import torch

    from collapselab.experiments.beyond_collapse.lm_verification import overlap_f1

    ref = torch.tensor([[1, 2, 3, 4], [1, 2, 3, 4], [5, 5, 6, 7]])
    cand = torch.tensor([[4, 3, 2, 1], [9, 9, 9, 9], [5, 6, 6, 8]])  # same bag; nothing shared; 2 of 4 shared
    f1 = overlap_f1(cand, ref, vocab_size=10)
    assert f1.tolist() == [1.0, 0.0, 0.5]
    # the verifier prefers the candidate closer to the human text, whatever its likelihood
    assert int(torch.argmax(f1)) == 0
    with pytest.raises(ValueError, match="candidates"):
        overlap_f1(cand[:, :2], ref, vocab_size=10)
