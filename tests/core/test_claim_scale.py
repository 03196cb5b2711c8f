"""A claim's declared scale (the preset that decides it) and deciding stream, in the ledger and headline."""

from __future__ import annotations

import dataclasses

import pytest
import toy_experiments  # noqa: F401  (registers toy/*)

from collapselab.core import Claim, Verdict
from collapselab.core import ledger as ledger_module
from collapselab.core.declarations import declaration, fingerprint
from collapselab.core.ledger import DIFFER, kind_label, ledger, record_status, stream_headline
from collapselab.core.registry import get_experiment
from collapselab.core.runner import run_experiment


def _always(r) -> Verdict:
    return Verdict.check(True, "ok")


def test_claim_checks_its_scale_and_stream():
    with pytest.raises(ValueError, match="`scale`"):
        Claim("x", "s", _always, scale="paper")
    with pytest.raises(ValueError, match="`decided_by`"):
        Claim("x", "s", _always, decided_by="main stream!")


def test_declaring_scale_or_stream_changes_only_that_fingerprint():
    exp = get_experiment("toy/values")
    claim = exp.claims[0]
    assert "scale" not in declaration(exp, claim) and "decided_by" not in declaration(exp, claim)
    full = dataclasses.replace(claim, scale="full")
    confirm = dataclasses.replace(claim, decided_by="confirm")
    assert declaration(exp, full)["scale"] == "full"
    assert len({fingerprint(exp, claim), fingerprint(exp, full), fingerprint(exp, confirm)}) == 3


def test_the_declared_stream_is_the_record_once_it_ran():
    assert record_status(["FAIL", "PASS"], decided="PASS") == "PASS"
    assert record_status(["FAIL", "not run"], decided="not run") == "FAIL"  # not yet decided: as before
    assert record_status(["FAIL", "PASS"]) == DIFFER


def _row(status, agreement, *, exploratory=False, kind="paper"):
    return {"kind": kind, "status": status, "agreement": agreement, "id": "x", "statement": "", "measured": "",
            "restated_after_look": False, "exploratory": exploratory, "scale": "full" if exploratory else "quick"}


def test_headline_counts_decided_and_exploratory_claims_apart():
    rows = [_row("PASS", "agree"), _row("FAIL", "agree"), _row("PASS", "decided by confirm"),
            _row("INCONCLUSIVE", "agree", exploratory=True), _row("FAIL", "agree", exploratory=True)]
    text = stream_headline(rows)
    assert text.startswith("paper claims: 1 PASS on both streams, 1 FAIL on both, 0 differ")
    assert "decided by one declared stream: 1 PASS (decided by confirm)" in text
    assert "2 more paper claim(s) declared to need the full preset" in text
    assert kind_label(rows[3]) == "paper, decided at full (exploratory here)"
    assert kind_label(rows[2]) == "paper, decided by confirm"


def test_ledger_reads_scale_and_deciding_stream(tmp_path, monkeypatch):
    run_experiment("toy/values", preset="quick", out_dir=tmp_path)
    run_experiment("toy/values", preset="quick", out_dir=tmp_path, stream="confirm")
    exp = get_experiment("toy/values")
    positive, finite = exp.claims
    declared = dataclasses.replace(exp, claims=[dataclasses.replace(positive, decided_by="confirm"),
                                                dataclasses.replace(finite, scale="full")])
    monkeypatch.setattr(ledger_module, "all_experiments", lambda: {exp.name: declared})
    # the stored verdicts were judged under the undeclared fingerprints: rerun to judge the declared ones
    rows = {r["id"]: r for r in ledger(tmp_path)}
    assert rows["positive"]["status"] == "not run"
    monkeypatch.setattr("collapselab.core.runner.get_experiment", lambda name: declared)
    run_experiment("toy/values", preset="quick", out_dir=tmp_path)
    run_experiment("toy/values", preset="quick", out_dir=tmp_path, stream="confirm")
    rows = {r["id"]: r for r in ledger(tmp_path)}
    assert rows["positive"]["status"] == "PASS" and rows["positive"]["agreement"] == "decided by confirm"
    assert rows["finite"]["exploratory"] and rows["finite"]["scale"] == "full"


def test_claims_md_has_a_section_per_further_preset(tmp_path, capsys):
    from test_cli import run_main

    run_experiment("toy/values", preset="smoke", out_dir=tmp_path)
    run_experiment("toy/values", preset="quick", out_dir=tmp_path)
    code, md, _ = run_main(capsys, "claims", "--out", str(tmp_path), "--preset", "smoke", "--preset", "quick",
                           "--format", "md")
    assert code == 0 and "## toy/values (preset smoke)" in md and "## Verdicts at preset quick" in md
    section = md.split("## Verdicts at preset quick")[1]
    assert "| toy/values | positive | paper |" in section and "toy/failing-claim" not in section
    code, _, err = run_main(capsys, "claims", "--out", str(tmp_path), "--preset", "smoke", "--preset", "quick")
    assert code == 2 and "--format md" in err
