"""Claim declarations: fingerprints that see a changed margin, a record with history, the lock command."""

import dataclasses
import functools
import json

import pytest
import toy_experiments  # noqa: F401  (registers toy/*)

from collapselab.cli import main
from collapselab.core import Claim, Verdict
from collapselab.core.declarations import (
    HistoryEntry,
    Lock,
    LockError,
    add_new,
    check,
    fingerprint,
    read_lock,
    rejudged,
    restate,
    write_lock,
)
from collapselab.core.ledger import ledger
from collapselab.core.registry import get_experiment
from collapselab.core.runner import run_experiment

MARGIN = 0.05


def _check_literal(r):
    return Verdict.check(r.tables["summary"]["value"].mean() > 0.05, "x")


def _check_literal_moved(r):
    return Verdict.check(r.tables["summary"]["value"].mean() > 0.06, "x")


def _check_named(r):
    return Verdict.check(r.tables["summary"]["value"].mean() > MARGIN, "x")


def _gate(r, *, margin):
    return Verdict.check(r.tables["summary"]["value"].mean() > margin, "x")


def _with_claim(exp, claim):
    return dataclasses.replace(exp, claims=[claim])


@pytest.fixture
def toy():
    return get_experiment("toy/values")


def test_a_moved_margin_changes_the_fingerprint(toy):
    base = Claim("c", "s", _check_literal, source="Sec. 1", test="t")
    fp = fingerprint(toy, base)
    assert fingerprint(toy, dataclasses.replace(base)) == fp  # stable
    assert fingerprint(toy, dataclasses.replace(base, check=_check_literal_moved)) != fp  # literal margin
    part = functools.partial(_gate, margin=0.05)
    assert fingerprint(toy, dataclasses.replace(base, check=part)) != \
        fingerprint(toy, dataclasses.replace(base, check=functools.partial(_gate, margin=0.1)))
    for field, value in (("statement", "s2"), ("test", "t2"), ("source", "Sec. 2"), ("kind", "consistency")):
        assert fingerprint(toy, dataclasses.replace(base, **{field: value})) != fp, field
    # the preset it reads (seeds) and the experiment's version are part of the declaration
    more_seeds = dataclasses.replace(toy, presets={**toy.presets, "quick": {**toy.presets["quick"], "seeds": 9}})
    assert fingerprint(more_seeds, base) != fp
    assert fingerprint(dataclasses.replace(toy, version=toy.version + 1), base) != fp


def test_a_named_module_constant_is_part_of_the_declaration(toy, monkeypatch):
    claim = Claim("c", "s", _check_named)
    fp = fingerprint(toy, claim)
    monkeypatch.setitem(_check_named.__globals__, "MARGIN", 0.07)
    assert fingerprint(toy, claim) != fp


def test_check_finds_a_silent_restatement_and_restate_records_it(toy, tmp_path):
    exp = _with_claim(toy, Claim("c", "s", _check_literal, test="mean > 0.05"))
    lock = Lock()
    assert add_new(lock, [exp]) == ["toy/values:c"]
    assert check([exp], lock) == []
    moved = _with_claim(toy, Claim("c", "s", _check_literal_moved, test="mean > 0.06"))
    (drift,) = check([moved], lock)
    assert drift.what == "changed" and "collapselab lock --restate toy/values:c" in str(drift)
    new = restate(lock, moved, moved.claims[0], reason="margin 0.05 -> 0.06", verdict="FAIL", when="2026-12-01")
    assert new.version == 2 and check([moved], lock) == []
    assert new.label() == "v2, restated 2026-12-01 after v1 FAIL: margin 0.05 -> 0.06"
    assert new.restated_after_look
    with pytest.raises(LockError, match="did not change"):
        restate(lock, moved, moved.claims[0], reason="again", verdict="PASS")
    rejudged(lock, "toy/values:c", old="PASS", new="INCONCLUSIVE", reason="statistics", when="2026-12-02")
    path = write_lock(lock, tmp_path / "claims.lock")
    back = read_lock(path)
    assert back.claims == lock.claims
    assert back.claims["toy/values:c"].version == 2  # a re-judgement is history, not a version
    assert [h.event for h in back.claims["toy/values:c"].history] == ["restated", "rejudged"]
    assert check([toy], back)[0].what in ("new", "removed")


def test_history_entries_are_validated():
    with pytest.raises(LockError, match="reason"):
        HistoryEntry(1, "2026-12-01", "FAIL", " ")
    with pytest.raises(LockError, match="verdict"):
        HistoryEntry(1, "2026-12-01", "BAD", "why")
    with pytest.raises(ValueError):
        HistoryEntry(1, "yesterday", "FAIL", "why")


def test_malformed_record_is_a_clear_error(tmp_path):
    bad = tmp_path / "claims.lock"
    bad.write_text('{"claims": {"x:y": {"version": 1}}}')
    with pytest.raises(LockError, match="not a valid claims record"):
        read_lock(bad)
    assert read_lock(tmp_path / "absent.lock").claims == {}


def test_lock_command_checks_and_restates(tmp_path, capsys, monkeypatch):
    path = tmp_path / "claims.lock"
    with pytest.raises(SystemExit) as exc:
        main(["lock", "--path", str(path)])
    assert exc.value.code == 1 and "collapselab lock --add-new" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exc:
        main(["lock", "--path", str(path), "--add-new"])
    assert exc.value.code == 0
    data = json.loads(path.read_text())
    assert data["claims"]["toy/values:positive"]["version"] == 1
    with pytest.raises(SystemExit) as exc:
        main(["lock", "--path", str(path), "--restate", "toy/values:positive", "--reason", "x", "--verdict", "PASS"])
    assert exc.value.code == 2 and "did not change" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["lock", "--path", str(path), "--restate", "toy/values:nope", "--reason", "x", "--verdict", "PASS"])
    assert exc.value.code == 2


def test_ledger_hides_a_verdict_judged_under_an_earlier_declaration(tmp_path, toy, monkeypatch):
    run_experiment("toy/values", preset="smoke", out_dir=tmp_path)
    (row,) = [r for r in ledger(tmp_path) if r["experiment"] == "toy/values" and r["id"] == "positive"]
    assert row["status"] == "PASS"
    changed = _with_claim(toy, dataclasses.replace(toy.claims[0], test="a restated test"))
    monkeypatch.setattr("collapselab.core.ledger.all_experiments", lambda: {"toy/values": changed})
    (row,) = ledger(tmp_path)
    assert row["status"] == "not run" and "earlier declaration" in row["streams"]["main"]["measured"]
