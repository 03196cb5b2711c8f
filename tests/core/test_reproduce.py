"""``collapselab reproduce``: every experiment of the selected papers, resumed, then the report."""

from __future__ import annotations

import dataclasses

import pytest
import toy_experiments as toy  # registers toy/*

from collapselab.core import registry
from collapselab.core.registry import UnknownExperiment
from collapselab.core.reproduce import check_only, reproduce


def run_main(capsys, *args: str) -> tuple[int, str, str]:
    from collapselab.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(list(args))
    out = capsys.readouterr()
    return exit_.value.code, out.out, out.err


def test_reproduce_cli_runs_resumes_reports_and_summarises(capsys, tmp_path):
    out = str(tmp_path)
    code, stdout, err = run_main(capsys, "reproduce", "--preset", "smoke", "--only", "toy", "--out", out,
                                 "--workers", "1")
    assert code == 0, err
    assert "toy/values" in stdout and "toy/failing-claim" in stdout
    # the plain-language summary: totals, then one line per paper
    headline = ("paper claims: 1 PASS, 1 FAIL, 0 INCONCLUSIVE, 1 ERROR; consistency checks: 1 of 1 PASS")
    assert f"Reproduced 3 experiment(s) of 1 paper(s) at preset 'smoke': {headline}." in stdout
    assert f"Toy (toy): {headline}, over 3 experiment(s)." in stdout
    index = tmp_path / "site" / "index.html"
    assert index.is_file() and (tmp_path / "report.html").is_file()
    assert "toy--failing-claim.html" in index.read_text()
    # a second reproduction resumes: every cell comes from the store
    code, stdout, _ = run_main(capsys, "reproduce", "--preset", "smoke", "--only", "toy", "--out", out,
                               "--workers", "1", "--strict")
    assert code == 1  # --strict: the failing claim fails the command
    assert stdout.count("3 of 3 cells already in the store") == 3


def test_reproduce_user_errors(capsys, tmp_path):
    code, _, err = run_main(capsys, "reproduce", "--only", "toyy", "--out", str(tmp_path))
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "unknown paper 'toyy'" in err and "did you mean 'toy'" in err
    code, _, err = run_main(capsys, "reproduce", "--preset", "huge", "--out", str(tmp_path))
    assert code == 2 and "valid presets" in err
    assert not (tmp_path / "collapselab.sqlite").exists()  # nothing ran


def test_a_broken_experiment_does_not_stop_the_others(tmp_path, monkeypatch):
    def broken_cells(p):
        raise RuntimeError("cells() is broken")

    exp = registry.get_experiment("toy/failing-claim")
    monkeypatch.setitem(registry._EXPERIMENTS, "toy/failing-claim", dataclasses.replace(exp, cells=broken_cells))
    result = reproduce(tmp_path, preset="smoke", only=["toy"])
    (toy_paper,) = result.papers
    assert toy_paper.paper == toy.TOY
    assert [r.experiment for r in toy_paper.reports] == ["toy/broken-check", "toy/values"]
    assert "cells() is broken" in toy_paper.errors["toy/failing-claim"]
    assert "1 experiment(s) could not run: toy/failing-claim" in result.summary()
    assert result.site is not None and result.site.is_file()


def test_check_only():
    assert check_only(None) is None and check_only(["toy", "toy"]) == ["toy"]
    with pytest.raises(UnknownExperiment, match="valid papers"):
        check_only(["nope"])
