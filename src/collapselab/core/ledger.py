"""The claims ledger: every registered claim with its source, kind, declared test, declaration version and
history, beside its latest verdict on each seed stream in a results folder (``collapselab claims``;
``docs/claims.md`` is generated from it).

A claim run on two streams (``main`` and ``confirm``: ``collapselab reproduce --confirm``) has a *record
status*: the common verdict when both agree, ``DIFFER`` when they do not (a differing claim is reported as
such, never as either), except for a claim declared ``decided_by`` one stream (its design was set after a
look at the other's seeds): its record is that stream's verdict, and the headline counts it apart. A claim
declared to need the ``full`` preset (``scale``) and judged at another preset is *exploratory*: shown,
counted apart from the claims decided at that preset. A stored verdict judged under an earlier declaration
(another fingerprint) is not shown as the current claim's: that stream reads "not run" and says which version
it was.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from collapselab.core.claims import ClaimOutcome, headline
from collapselab.core.declarations import Lock, fingerprint, read_lock
from collapselab.core.registry import all_experiments
from collapselab.core.store import MAIN_STREAM, Store, check_stream, store_path

FIELDS = ("experiment", "id", "kind", "statement", "source", "test", "version", "restated", "history", "status",
          "agreement", "scale", "exploratory", "streams", "measured", "needs", "preset", "run_id")
DIFFER = "DIFFER"
NOT_RUN = "not run"


def record_status(statuses: list[str], decided: str | None = None) -> str:
    """The verdict of record of one claim over its streams' verdicts (``not run`` ones ignored): the common
    verdict when they agree, ``DIFFER`` when they do not, ``not run`` when none ran. ``decided``: the
    verdict of the stream the claim is declared ``decided_by``, which is the record once that stream ran."""
    if decided is not None and decided != NOT_RUN:
        return decided
    seen = [s for s in statuses if s != NOT_RUN]
    if not seen:
        return NOT_RUN
    return seen[0] if len(set(seen)) == 1 else DIFFER


def _stream_verdict(run: dict[str, Any] | None, claim_id: str, fingerprint: str) -> dict[str, Any]:
    stored = {c["id"]: c for c in json.loads(run["claims"] or "[]")} if run else {}
    got = stored.get(claim_id)
    if got is None:
        return {"status": NOT_RUN, "measured": "", "needs": "", "preset": "", "run_id": "", "version": 0}
    out = {"status": got.get("status", NOT_RUN), "measured": got.get("measured", ""),
           "needs": got.get("needs", ""), "preset": run["preset"], "run_id": run["run_id"],
           "version": int(got.get("version") or 0)}
    if got.get("fingerprint") and got["fingerprint"] != fingerprint:
        out.update(status=NOT_RUN, needs="", measured=f"the stored verdict ({got.get('status')}) was judged under "
                   f"an earlier declaration (v{out['version'] or '?'}); rerun to judge the current one")
    return out


def _folders(out_dir: str | Path | Sequence[str | Path] | None) -> list[Path]:
    if out_dir is None:
        return []
    return [Path(out_dir)] if isinstance(out_dir, (str, Path)) else [Path(d) for d in out_dir]


def _latest(stores: list[Store], experiment: str, preset: str | None, stream: str) -> dict[str, Any] | None:
    """The latest finished run of ``experiment`` on ``stream`` (at ``preset``) over every store."""
    runs = [r for s in stores if (r := s.latest_run(experiment, preset=preset, stream=stream)) is not None]
    return max(runs, key=lambda r: r["started"], default=None)


def ledger(out_dir: str | Path | Sequence[str | Path] | None = None, *, preset: str | None = None,
           streams: list[str] | None = None, lock: Lock | None = None) -> list[dict[str, Any]]:
    """One row per registered claim: the claim as declared (with ``version``, ``history`` and the
    ``restated`` label), and per seed stream (``streams``; default: every stream with a finished run in
    ``out_dir``, ``main`` first) the verdict of the experiment's latest finished run on it (at ``preset``
    when given). ``out_dir`` may name several results folders (say, a laptop's quick runs and a GPU
    machine's full runs copied back): each experiment's latest run per stream is then taken over all of
    them, by start time; a folder without a store adds nothing. ``status`` is the record status over the
    streams (:func:`record_status`); ``measured``, ``needs``, ``preset`` and ``run_id`` are those of the
    last stream that ran the claim."""
    lock = read_lock() if lock is None else lock
    for s in streams or []:
        check_stream(s)
    stores = [Store(db) for db in map(store_path, _folders(out_dir)) if db.exists()]
    rows = []
    try:
        found = sorted({s for st in stores for s in st.streams()}, key=lambda s: (s != MAIN_STREAM, s))
        names = streams or found or [MAIN_STREAM]
        for name, exp in all_experiments().items():
            runs = {s: _latest(stores, name, preset, s) for s in names}
            for claim in exp.claims:
                decl, fp = lock.get(exp, claim), fingerprint(exp, claim)
                per = {s: _stream_verdict(runs[s], claim.id, fp) for s in names}
                ran = [v for v in per.values() if v["status"] != NOT_RUN]
                last = ran[-1] if ran else next(iter(per.values()))
                statuses = [v["status"] for v in per.values()]
                decided = per[claim.decided_by]["status"] if claim.decided_by in per else None
                exploratory = claim.scale == "full" and bool(ran) and last["preset"] != "full"
                rows.append({
                    "experiment": name, "id": claim.id, "kind": claim.kind, "statement": claim.statement,
                    "source": claim.source, "test": claim.test, "version": decl.version,
                    "restated": decl.label() if decl.restatements else "",
                    "restated_after_look": decl.restated_after_look,
                    "history": [h.to_dict() for h in decl.history],
                    "status": record_status(statuses, decided),
                    "agreement": (f"decided by {claim.decided_by}" if decided not in (None, NOT_RUN)
                                  else _agreement(statuses)),
                    "scale": claim.scale, "exploratory": exploratory, "streams": per,
                    "measured": last["measured"], "needs": last["needs"], "preset": last["preset"],
                    "run_id": last["run_id"]})
    finally:
        for store in stores:
            store.close()
    return rows


def _agreement(statuses: list[str]) -> str:
    ran = [s for s in statuses if s != NOT_RUN]
    if len(ran) < 2:
        return "one stream" if ran else ""
    return "agree" if len(set(ran)) == 1 else "differ"


def stream_headline(rows: list[dict[str, Any]]) -> str:
    """The headline over ledger rows. With two or more streams: ``paper claims: N PASS on both streams, M
    FAIL on both, K differ, J INCONCLUSIVE on both ...``, claims judged on one stream only counted apart;
    with one stream, the split headline of :func:`collapselab.core.claims.headline`. Then the number of
    paper claims restated after a FAIL or INCONCLUSIVE, and the consistency checks."""
    judged = [r for r in rows if r["kind"] == "paper" and r["status"] != NOT_RUN]
    paper = [r for r in judged if not r.get("exploratory")]
    multi = [r for r in paper if r["agreement"] in ("agree", "differ")]
    restated = sum(bool(r.get("restated_after_look")) for r in rows if r["kind"] == "paper")
    n_exploratory = sum(bool(r.get("exploratory")) for r in judged)
    exploratory = (f"; {n_exploratory} more paper claim(s) declared to need the full preset (judged here as "
                   "exploratory, not counted)") if n_exploratory else ""
    if not multi:
        outcomes = [ClaimOutcome(r["id"], r["statement"], r["status"], r["measured"], kind=r["kind"])
                    for r in rows if r["status"] != NOT_RUN and not r.get("exploratory")]
        return (headline(outcomes) + exploratory
                + f"; paper claims restated after a FAIL or INCONCLUSIVE: {restated}")
    both = Counter(r["status"] for r in multi)
    parts = [f"{both['PASS']} PASS on both streams", f"{both['FAIL']} FAIL on both", f"{both[DIFFER]} differ",
             f"{both['INCONCLUSIVE']} INCONCLUSIVE on both"]
    if both["ERROR"]:
        parts.append(f"{both['ERROR']} ERROR")
    text = "paper claims: " + ", ".join(parts)
    decided = [r for r in paper if r["agreement"].startswith("decided by")]
    if decided:
        by = Counter(f"{r['status']} ({r['agreement']})" for r in decided)
        text += "; decided by one declared stream: " + ", ".join(f"{by[s]} {s}" for s in sorted(by))
    single = [r for r in paper if r["agreement"] == "one stream"]
    if single:
        one = Counter(r["status"] for r in single)
        text += "; on one stream only: " + ", ".join(f"{one[s]} {s}" for s in sorted(one))
    text += exploratory
    text += f"; restated after a FAIL or INCONCLUSIVE: {restated}"
    cons = [r for r in rows if r["kind"] == "consistency" and r["status"] != NOT_RUN]
    text += f"; consistency checks: {sum(r['status'] == 'PASS' for r in cons)} of {len(cons)} PASS"
    return text + (" on every stream" if any(r["agreement"] == "agree" for r in cons) else "")


def kind_label(row: dict[str, Any]) -> str:
    """``paper``/``consistency`` with what the declaration says of its scale and deciding stream:
    ``paper, decided at full (exploratory here)``, ``paper, decided by confirm``."""
    label = row["kind"]
    if row.get("scale", "quick") != "quick":
        label += f", decided at {row['scale']}" + (" (exploratory here)" if row.get("exploratory") else "")
    if row.get("agreement", "").startswith("decided by"):
        label += ", " + row["agreement"]
    return label


def _md(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def to_markdown(rows: list[dict[str, Any]], *, title: str = "Claims ledger") -> str:
    """The ledger as a Markdown document: the headline, then one table per experiment with each claim's
    version, its verdict per stream and the measured figure of the last stream."""
    names = list(dict.fromkeys(s for r in rows for s in r["streams"]))
    lines = [f"# {title}", "",
             "Generated by `collapselab claims --format md` from a results folder; do not edit by hand.", "",
             "A PASS means: the paper's statement, cited where the paper makes it (`source`), held up under "
             "the test declared before the run (`test`), on enough data to have judged it the other way. "
             "`paper` claims count in the headline; `consistency` checks (theory against simulation, "
             "identities, sanity bounds) are shown but never counted as reproducing a paper. INCONCLUSIVE "
             "says what would make the claim judgeable; ERROR is a check that crashed. Each stream is the same "
             "grid on independent seeds (`main`, then `confirm`); a claim whose streams disagree is DIFFER. "
             "`version` is the claim's declaration version; a restated claim says after which verdict "
             "(history: `collapselab claims --format json`).", "",
             f"**{stream_headline(rows)}**; {sum(r['status'] == NOT_RUN for r in rows)} claim(s) not run.", ""]
    by_exp: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_exp.setdefault(r["experiment"], []).append(r)
    for name, items in by_exp.items():
        preset = next((r["preset"] for r in items if r["preset"]), "")
        heads = " | ".join(names)
        lines += [f"## {name}" + (f" (preset {preset})" if preset else ""), "",
                  f"| claim | kind | version | {heads} | statement | source | test | measured |",
                  "|---|---|---|" + "---|" * len(names) + "---|---|---|---|"]
        for r in items:
            measured = r["measured"] + (f" -- {r['needs']}" if r["needs"] else "")
            verdicts = " | ".join(f"**{r['streams'][s]['status']}**" for s in names)
            version = r["restated"] or f"v{r['version']}"
            lines.append(f"| {_md(r['id'])} | {_md(kind_label(r))} | {_md(version)} | {verdicts} | "
                         f"{_md(r['statement'])} | {_md(r['source'])} | {_md(r['test'])} | {_md(measured)} |")
        lines.append("")
    return "\n".join(lines)


def preset_section(rows: list[dict[str, Any]], preset: str) -> str:
    """A Markdown section of the verdicts judged at ``preset`` (e.g. ``full`` beside the quick ledger): its
    headline over the claims that ran there, then one row per such claim with its verdict per stream."""
    ran = [r for r in rows if r["status"] != NOT_RUN]
    names = list(dict.fromkeys(s for r in ran for s in r["streams"]))
    lines = [f"## Verdicts at preset {preset}", ""]
    if not ran:
        return "\n".join(lines + [f"No claim has run at preset {preset}.", ""])
    lines += [f"**{stream_headline(ran)}** (the {len(ran)} claim(s) judged at {preset}).", "",
              f"| experiment | claim | kind | version | {' | '.join(names)} | measured |",
              "|---|---|---|---|" + "---|" * len(names) + "---|"]
    for r in ran:
        measured = r["measured"] + (f" -- {r['needs']}" if r["needs"] else "")
        verdicts = " | ".join(f"**{r['streams'][s]['status']}**" for s in names)
        lines.append(f"| {_md(r['experiment'])} | {_md(r['id'])} | {_md(kind_label(r))} | "
                     f"{_md(r['restated'] or 'v' + str(r['version']))} | {verdicts} | {_md(measured)} |")
    return "\n".join(lines + [""])

