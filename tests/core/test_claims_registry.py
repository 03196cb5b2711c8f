import pandas as pd
import pytest
import toy_experiments as toy
from pydantic import ValidationError

from collapselab.core import Claim, Experiment, Results, Verdict, evaluate_claims, get_experiment
from collapselab.core.claims import summarize
from collapselab.core.registry import UnknownExperiment, register


def test_verdict_and_evaluation():
    frame = pd.DataFrame({"v": [1.0, 2.0]})
    claims = [Claim("a", "positive", lambda r: Verdict.check(r.frame.v.min() > 0, "min 1")),
              Claim("b", "negative", lambda r: Verdict.check(r.frame.v.max() < 0, "max 2")),
              Claim("c", "broken", lambda r: r.frame.nope),
              Claim("d", "unsure", lambda r: Verdict.inconclusive("too few points"))]
    out = evaluate_claims(claims, Results(frame, None))
    assert [o.status for o in out] == ["PASS", "FAIL", "INCONCLUSIVE", "INCONCLUSIVE"]
    assert "check raised" in out[2].measured
    assert summarize(out) == {"PASS": 1, "FAIL": 1, "INCONCLUSIVE": 2}
    empty = evaluate_claims(claims[:1], Results(pd.DataFrame(), None))
    assert empty[0].status == "INCONCLUSIVE"
    with pytest.raises(ValueError, match="status"):
        Verdict("MAYBE", "x")


def test_registry_lookup_and_errors():
    assert get_experiment("toy/values").paper.slug == "toy"
    with pytest.raises(UnknownExperiment, match="did you mean 'toy/values'"):
        get_experiment("toy/value")
    with pytest.raises(UnknownExperiment, match="is a paper; its experiments"):
        get_experiment("toy")
    with pytest.raises(KeyError, match="duplicate"):
        register(Experiment(**{**get_experiment("toy/values").__dict__, "description": "other"}))


def test_experiment_declaration_is_checked():
    base = dict(paper=toy.TOY, description="d", params=toy.ToyParams, presets=toy.PRESETS, cells=toy.cells,
                run_cell=toy.run_cell, analyze=toy.analyze)
    with pytest.raises(ValueError, match="must be 'toy/<experiment>'"):
        Experiment(name="other/x", **base)
    with pytest.raises(ValueError, match="lacks presets"):
        Experiment(name="toy/x", **{**base, "presets": {"smoke": {}}})
    with pytest.raises(ValidationError, match="n_cells"):
        Experiment(name="toy/x", **{**base, "presets": {**toy.PRESETS, "quick": {"n_cells": 0}}})
