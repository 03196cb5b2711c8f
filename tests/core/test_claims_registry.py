import pandas as pd
import pytest
import toy_experiments as toy
from pydantic import ValidationError

from collapselab.core import Claim, Experiment, Results, Verdict, evaluate_claims, get_experiment
from collapselab.core.claims import ClaimOutcome, headline, summarize
from collapselab.core.registry import UnknownExperiment, register


def test_verdict_and_evaluation():
    frame = pd.DataFrame({"v": [1.0, 2.0]})
    claims = [Claim("a", "positive", lambda r: Verdict.check(r.frame.v.min() > 0, "min 1"), source="Sec. 1",
                    test="min > 0"),
              Claim("b", "negative", lambda r: Verdict.check(r.frame.v.max() < 0, "max 2"), kind="consistency"),
              Claim("c", "broken", lambda r: r.frame.nope),
              Claim("d", "unsure", lambda r: Verdict.inconclusive("too few points", "needs >= 20 seeds")),
              Claim("e", "not a verdict", lambda r: "PASS")]
    out = evaluate_claims(claims, Results(frame, None))
    assert [o.status for o in out] == ["PASS", "FAIL", "ERROR", "INCONCLUSIVE", "ERROR"]
    assert "check raised" in out[2].measured and "AttributeError" in out[2].error and "Traceback" in out[2].error
    assert out[3].needs == "needs >= 20 seeds" and "not Verdict" in out[4].measured
    assert (out[0].source, out[0].kind, out[0].test, out[1].kind) == ("Sec. 1", "paper", "min > 0", "consistency")
    assert summarize(out) == {"PASS": 1, "FAIL": 1, "INCONCLUSIVE": 1, "ERROR": 2}
    assert headline(out) == ("paper claims: 1 PASS, 0 FAIL, 1 INCONCLUSIVE, 2 ERROR; "
                             "consistency checks: 0 of 1 PASS (1 FAIL)")
    empty = evaluate_claims(claims[:1], Results(pd.DataFrame(), None))
    assert empty[0].status == "INCONCLUSIVE" and empty[0].needs
    with pytest.raises(ValueError, match="status"):
        Verdict("MAYBE", "x")
    with pytest.raises(ValueError, match="needs"):
        Verdict.inconclusive("too few points", "")
    with pytest.raises(ValueError, match="kind"):
        Claim("x", "y", lambda r: None, kind="vibes")


def test_outcome_round_trips_and_reads_older_stores():
    o = ClaimOutcome("a", "s", "PASS", "m", "Sec. 2", "consistency", "t", "", "")
    assert ClaimOutcome.from_dict(o.to_dict()) == o
    old = ClaimOutcome.from_dict({"id": "a", "statement": "s", "status": "FAIL", "measured": "m"})
    assert old.kind == "paper" and old.source == ""


def test_verdict_of_a_stats_decision():
    from collapselab import stats

    d = stats.beats(stats.paired_difference([3.0, 4, 5, 6, 7], [1.0, 1, 2, 2, 3]), resolution=1.0)
    v = Verdict.of(d, prefix="A - B = ")
    assert v.status == "PASS" and v.measured.startswith("A - B = ")


def test_cell_context_named_substreams():
    from collapselab.core import CellContext

    ctx = CellContext(seed=7)
    a, b = ctx.generator("data").random(3), ctx.generator("data").random(3)
    assert (a == b).all()  # stable
    assert not (ctx.generator("data", 1).random(3) == a).any()  # another index, another stream
    assert not (ctx.generator("init").random(3) == a).any()
    assert not (CellContext(seed=8).generator("data").random(3) == a).any()
    g1, g2 = ctx.torch_generator("init", 0), ctx.torch_generator("init", 0)
    import torch

    assert torch.equal(torch.rand(3, generator=g1), torch.rand(3, generator=g2))
    assert ctx.torch_generator(device="cpu").initial_seed() == 7  # no name: the cell seed itself
    with pytest.raises(ValueError, match="name"):
        ctx.generator("")


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


def test_verdict_all_of_a_conjunction():
    from collapselab.stats import Decision

    p, f = Decision("PASS", "ok"), Decision("FAIL", "bad")
    assert Verdict.all_of([("a", p), ("b", p)], head="x: ").status == "PASS"
    many = Verdict.all_of([(str(i), p) for i in range(5)] + [("z", f)])
    assert many.status == "FAIL" and many.measured.startswith("5/6 parts PASS; z: FAIL bad")


def test_verdict_all_of_lists_every_undecided_need_and_takes_verdicts():
    from collapselab.stats import Decision

    p, i = Decision("PASS", "ok"), Decision("INCONCLUSIVE", "wide", "needs ~2x")
    v = Verdict.all_of([("a", p), ("b", i), ("c", Decision("INCONCLUSIVE", "far", "needs ~9x"))])
    assert v.status == "INCONCLUSIVE" and v.measured == "b: INCONCLUSIVE wide; c: INCONCLUSIVE far; a: PASS ok"
    assert v.needs == "b: needs ~2x; c: needs ~9x"  # every undecided part's needs, not the first only
    assert Verdict.all_of([("a", i), ("b", Decision("FAIL", "bad"))]).status == "FAIL"
    headed = Verdict.all_of([("a", p)], head="gap; ")
    assert headed.status == "PASS" and headed.measured == "gap; a: ok" and headed.needs == ""
    empty = Verdict.all_of([], empty_needs="needs the grid")
    assert empty.status == "INCONCLUSIVE" and empty.needs == "needs the grid"
    with pytest.raises(ValueError, match="empty_needs"):
        Verdict.all_of([])
    # verdicts combine as decisions do (nested conjunctions); an undecided verdict keeps its needs
    nested = Verdict.all_of([("x", Verdict.check(True, "fine")), ("y", Verdict.inconclusive("open", "needs k"))])
    assert nested.status == "INCONCLUSIVE" and nested.needs == "y: needs k"
    assert Verdict.all_of([("x", Verdict.check(False, "no")), ("y", p)]).status == "FAIL"
    with pytest.raises(ValueError, match="not PASS, FAIL or INCONCLUSIVE"):
        Verdict.all_of([("x", Verdict("ERROR", "boom"))])
