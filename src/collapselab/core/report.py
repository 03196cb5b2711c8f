"""The report: a small static site, and a single-file ``report.html``, of a results folder.

``write_site(out_dir)`` writes ``<out_dir>/site/``:

* ``index.html``: a dashboard of every known paper (those of the registered experiments), built from the
  claims ledger (:func:`collapselab.core.ledger.ledger`): the headline on top, then per paper a verdict bar
  of its *paper* claims (segments PASS / FAIL / DIFFER / INCONCLUSIVE / ERROR / not run, counted by record
  status over the seed streams; with two streams a line gives each stream's counts), its consistency checks
  counted apart in a small line, and each claim on one line (id, kind, declaration version, the verdict on
  each stream as a coloured chip, the measured figure cut to one line) whose statement, source, test, full
  measurement, what an INCONCLUSIVE needs and history unfold (HTML ``<details>``: no script);
* ``experiments/<paper>--<experiment>.html``: one page per experiment that has run: description, claims
  (each stream's, when it ran on several), figures (PNG shown, SVG linked), tables, parameters, the cells
  with their replicates and seeds, the environment, earlier runs;
* ``experiments/<paper>--<experiment>/``: copies of the figures and tables the pages show.

Every link is relative and nothing is fetched from the network (no scripts, fonts or CDNs), so the site
works opened from disk (``file://``), copied elsewhere or archived. ``write_report(out_dir)`` writes the
same content as one self-contained ``report.html`` with the figures embedded (base64 PNG).
"""

from __future__ import annotations

import base64
import html
import json
import shutil
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from collapselab.core.claims import STATUSES
from collapselab.core.experiment import Experiment, Paper
from collapselab.core.ledger import DIFFER, kind_label, ledger, record_status, stream_headline
from collapselab.core.registry import all_experiments, all_papers
from collapselab.core.store import MAIN_STREAM, STORE_NAME, Store, store_path

NOT_RUN = "not run"
#: the record statuses a verdict bar shows, in its order
BAR_STATUSES = ("PASS", "FAIL", DIFFER, "INCONCLUSIVE", "ERROR", NOT_RUN)
_SITE_MARKER = ".collapselab-site"
_MAX_ROWS = 200  # rows of a table or of the cells list shown on a page (the CSV has them all)
_ONE_LINE = 200  # characters of the measured figure on a claim's line (the full text unfolds)

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1180px;margin:1.5em auto;
padding:0 1em;color:#222;line-height:1.4}
h1{font-size:1.5em;margin-bottom:.3em} h2{margin-top:1.6em;border-bottom:1px solid #ddd;padding-bottom:.2em}
h3{margin-top:1.4em} a{color:#1a55a8}
table{border-collapse:collapse;margin:.6em 0;font-size:.88em} td,th{border:1px solid #ddd;padding:.3em .6em;
text-align:left;vertical-align:top} th{background:#f4f4f4}
.PASS{background:#e3f6e3} .FAIL{background:#fbe0e0} .INCONCLUSIVE{background:#fff5d6} .DIFFER{background:#ece2f8}
.ERROR{background:#d9534f;color:#fff} .NOTRUN{background:#f0f0f0;color:#666} .status{font-weight:bold;
white-space:nowrap}
img{max-width:100%;border:1px solid #eee;margin:.4em 0} code,pre{background:#f6f6f6;font-size:.85em}
pre{padding:.6em;overflow-x:auto;white-space:pre-wrap} .muted{color:#666;font-size:.85em} figure{margin:1em 0}
nav a{margin-right:1em} .warn{background:#fff5d6;padding:.4em .8em;border-left:4px solid #e0b000}
.headline{font-size:1.05em;background:#f5f7fa;border-left:4px solid #1a55a8;padding:.5em .8em;margin:.6em 0}
.chip{display:inline-block;min-width:6.6em;text-align:center;border-radius:.8em;padding:.05em .5em;
font-size:.78em;font-weight:600;white-space:nowrap;box-sizing:border-box}
.chip.PASS{background:#cdebd3;color:#14532d} .chip.FAIL{background:#f6cfcd;color:#8b1a1a}
.chip.INCONCLUSIVE{background:#fde9a9;color:#6b4e00} .chip.DIFFER{background:#dccaf3;color:#4a2385}
.chip.ERROR{background:#b52d2a;color:#fff} .chip.NOTRUN{background:#e9e9e9;color:#666;font-weight:400}
.bar{display:flex;height:1.5em;border-radius:.3em;overflow:hidden;background:#eee;margin:.4em 0 .2em;
max-width:760px}
.bar span{display:block;color:#fff;font-size:.78em;line-height:1.9em;text-align:center;white-space:nowrap;
overflow:hidden;text-overflow:ellipsis;min-width:1.4em;font-weight:600;
padding:0 .2em}
.bar .PASS{background:#3b9a5b} .bar .FAIL{background:#d04a45} .bar .DIFFER{background:#8360c3}
.bar .INCONCLUSIVE{background:#e3b21b;color:#3a2c00} .bar .ERROR{background:#7b1d1d}
.bar .NOTRUN{background:#cfcfcf;color:#444} .bar .none{background:none;color:#777;font-weight:400}
.counts{font-size:.85em;color:#444;margin:.1em 0} .counts b{font-weight:600}
.overview{display:grid;grid-template-columns:minmax(8em,16em) minmax(0,1fr);gap:.15em 1em;align-items:center;
margin:.8em 0}
.overview .bar{margin:0}
.exp{display:flex;gap:1em;align-items:flex-start;margin:.9em 0 .3em;padding-top:.5em;border-top:1px solid #eee}
.exp .claims{flex:1;min-width:0} .exp img.thumb{width:150px;margin:0;border:1px solid #ddd;flex:none}
.exphead{font-size:.95em;margin-bottom:.25em} .exphead a{font-weight:600}
.tag{display:inline-block;font-size:.72em;border-radius:.3em;padding:0 .4em;background:#eee;color:#555;
margin-left:.3em;white-space:nowrap}
.tag.smoke{background:#fff0c2;color:#6b4e00}
.claims{--chips:7.4em}
.row{display:grid;grid-template-columns:1.1em 12em 6.4em 12.5em var(--chips) minmax(0,1fr);gap:.6em;
align-items:center;font-size:.9em;padding:.18em .3em}
.row>*{min-width:0;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.row.head{color:#777;border-bottom:1px solid #e5e5e5;padding-left:.3em}
.row.head>span:not(.chips){font-size:.85em;font-weight:400;color:#777}
.chip.hd{background:none;color:#777;font-weight:400}
details.claim>summary{list-style:none;cursor:pointer;border-radius:.3em}
details.claim>summary::-webkit-details-marker{display:none}
details.claim>summary:hover{background:#f3f6fa}
details.claim>summary::before{content:"\\25B8";color:#999}
details.claim[open]>summary::before{content:"\\25BE"}
details.claim.differ>summary{box-shadow:inset 3px 0 0 #8360c3}
.cid{font-weight:600} .consistency .cid{font-weight:400;color:#555} .kind{color:#666;font-size:.9em}
.chips{display:flex;gap:.3em}
.ver{font-size:.82em;color:#555} .ver .restated{background:#fff0c2;color:#6b4e00;border-radius:.3em;padding:0 .3em}
.ver .restated.plain{background:#eee;color:#555}
.meas{color:#333;font-variant-numeric:tabular-nums}
.detail{margin:.2em 0 .8em 1.7em;padding:.5em .8em;background:#fafafa;border-left:3px solid #ddd;font-size:.88em}
.detail dl{display:grid;grid-template-columns:8em minmax(0,1fr);gap:.25em .8em;margin:0}
.detail dt{color:#666} .detail dd{margin:0;overflow-wrap:anywhere}
.detail ul{margin:.1em 0;padding-left:1.2em}
@media (max-width:900px){
.row{grid-template-columns:1.1em 9.5em 12.5em var(--chips)} .row .kind{display:none}
.row .meas{grid-column:2/-1;white-space:normal;display:-webkit-box;-webkit-line-clamp:2;-webkit-box-orient:vertical}
.row.head .meas{display:none}
.exp img.thumb{display:none}
}
@media (max-width:600px){.overview{grid-template-columns:minmax(0,1fr)} .overview .bar{margin-bottom:.5em}}
"""


def _e(x: Any) -> str:
    return html.escape(str(x), quote=True)


def page_slug(name: str) -> str:
    """File stem of an experiment's page: ``paper/experiment`` -> ``paper--experiment``."""
    return name.replace("/", "--")


@dataclass
class ExperimentEntry:
    """One experiment as the report sees it: registered and/or present in the store.

    ``run`` is the latest finished run on the ``main`` stream (on another stream when main never ran): the
    page's figures, tables and cells are that run's. ``stream_runs`` holds the latest finished run of every
    stream, ``rows`` the ledger rows of its claims (one per claim, with the verdict on each stream)."""

    name: str
    experiment: Experiment | None
    run: dict[str, Any] | None = None  # latest finished run (a row of the store's ``runs``)
    runs: list[dict[str, Any]] = field(default_factory=list)  # every run, newest first
    dir: Path | None = None  # artifact folder of the latest run
    claims: list[dict[str, str]] = field(default_factory=list)
    cells: pd.DataFrame = field(default_factory=pd.DataFrame)
    stream_runs: dict[str, dict[str, Any]] = field(default_factory=dict)
    rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def has_run(self) -> bool:
        return self.run is not None

    def files(self, sub: str, pattern: str) -> list[Path]:
        if self.dir is None or not (self.dir / sub).is_dir():
            return []
        return sorted((self.dir / sub).glob(pattern))

    def main_png(self) -> Path | None:
        """The experiment's declared main figure of the latest run, else its first figure."""
        pngs = self.files("figures", "*.png")
        main = self.experiment.main_figure if self.experiment else ""
        chosen = [p for p in pngs if p.stem == main] or pngs
        return chosen[0] if chosen else None

    def stream_claims(self, stream: str) -> list[dict[str, Any]]:
        """The stored claim outcomes of the latest run on ``stream`` (empty when it never ran)."""
        run = self.stream_runs.get(stream)
        return json.loads(run["claims"] or "[]") if run else []


@dataclass
class PaperEntry:
    paper: Paper
    experiments: list[ExperimentEntry]

    def rows(self, kind: str | None = None) -> list[dict[str, Any]]:
        """The ledger rows of the paper's claims (of ``kind``: ``paper`` or ``consistency``)."""
        return [r for en in self.experiments for r in en.rows if kind is None or r["kind"] == kind]

    def counts(self, kind: str = "paper", stream: str | None = None) -> dict[str, int]:
        """Claims of ``kind`` per record status (:data:`BAR_STATUSES`); per verdict on ``stream`` when
        given."""
        got = Counter(r["status"] if stream is None else r["streams"].get(stream, {}).get("status", NOT_RUN)
                      for r in self.rows(kind))
        return {s: got.get(s, 0) for s in BAR_STATUSES}


def known_papers() -> list[Paper]:
    """Papers to report on: those the registry learnt from registered experiments (the framework itself
    knows no paper)."""
    return all_papers()


def collect(out_dir: str | Path) -> list[PaperEntry]:
    """Every known paper with its experiments (registered or stored), their latest finished runs per seed
    stream and the ledger rows of their claims."""
    out_dir = Path(out_dir)
    registry = all_experiments()
    papers = {p.slug: PaperEntry(p, []) for p in known_papers()}
    entries = {name: ExperimentEntry(name, exp) for name, exp in registry.items()}
    db = store_path(out_dir)
    streams = [MAIN_STREAM]
    if db.exists():
        with Store(db) as store:
            streams = store.streams() or streams
            runs = store.runs()
            for name in sorted(set(runs["experiment"]) if not runs.empty else ()):
                en = entries.setdefault(name, ExperimentEntry(name, registry.get(name)))
                en.runs = runs[runs["experiment"] == name].iloc[::-1].to_dict("records")
                _attach_runs(store, en, out_dir)
    by_exp: dict[str, list[dict[str, Any]]] = {}
    for row in ledger(out_dir, streams=streams):
        by_exp.setdefault(row["experiment"], []).append(row)
    for name, en in sorted(entries.items()):
        en.rows = by_exp.get(name) or _stored_rows(en, streams)
        slug = name.split("/", 1)[0]
        if slug not in papers:
            paper = en.experiment.paper if en.experiment else Paper(slug, slug, "?")
            papers[slug] = PaperEntry(paper, [])
        papers[slug].experiments.append(en)
    return list(papers.values())


def _attach_runs(store: Store, en: ExperimentEntry, out_dir: Path) -> None:
    """The latest finished run of each stream; the page's run is main's (else the first stream's)."""
    for s in store.streams(en.name):
        run = store.latest_run(en.name, stream=s)
        if run is not None:
            en.stream_runs[s] = run
    en.run = next(iter(en.stream_runs.values()), None)  # store.streams lists main first
    if en.run is None:
        return
    en.dir = out_dir / en.name / en.run["run_id"]
    en.claims = json.loads(en.run["claims"] or "[]")
    en.cells = _run_cells(store, en)


def _stored_rows(en: ExperimentEntry, streams: list[str]) -> list[dict[str, Any]]:
    """Ledger-like rows for an experiment the registry does not know (its claims as stored)."""
    rows: dict[str, dict[str, Any]] = {}
    for s in streams:
        for c in en.stream_claims(s):
            row = rows.setdefault(c["id"], {
                "experiment": en.name, "id": c["id"], "kind": c.get("kind") or "paper",
                "statement": c.get("statement", ""), "source": c.get("source", ""), "test": c.get("test", ""),
                "version": int(c.get("version") or 1), "restated": "", "history": [],
                "streams": {t: {"status": NOT_RUN, "measured": "", "needs": ""} for t in streams}})
            row["streams"][s] = {"status": c["status"], "measured": c.get("measured", ""),
                                 "needs": c.get("needs", ""), "preset": en.stream_runs[s]["preset"],
                                 "run_id": en.stream_runs[s]["run_id"]}
    for row in rows.values():
        statuses = [v["status"] for v in row["streams"].values()]
        ran = [v for v in row["streams"].values() if v["status"] != NOT_RUN]
        row.update(status=record_status(statuses), measured=ran[-1]["measured"] if ran else "",
                   needs=ran[-1]["needs"] if ran else "",
                   agreement=("agree" if len({v["status"] for v in ran}) == 1 else "differ") if len(ran) > 1
                   else ("one stream" if ran else ""))
    return list(rows.values())


def _run_cells(store: Store, en: ExperimentEntry) -> pd.DataFrame:
    """The cells (with replicate and seed) of the latest run: its grid when the experiment is registered."""
    keys = None
    if en.experiment is not None:
        from collapselab.core.runner import plan

        try:
            params = en.experiment.params.model_validate(json.loads(en.run["params"]))
            keys = [(t.cell_key, t.replicate) for t in plan(en.experiment, params, "cpu")]
        except Exception:  # params of an older schema: show every stored cell
            keys = None
    return store.frame(en.name, keys, include_failed=True, stream=en.run.get("stream") or MAIN_STREAM)


# --------------------------------------------------------------------------------------------- html
def _page(title: str, body: str, *, up: str = "") -> str:
    nav = f"<nav><a href='{up}index.html'>index</a></nav>" if up else ""
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'><title>{_e(title)}</title>"
            f"<style>{_CSS}</style></head><body>{nav}{body}"
            f"<p class='muted'>Generated by collapselab on {time.strftime('%Y-%m-%d %H:%M:%S')}.</p>"
            f"</body></html>")


def _cls(status: str) -> str:
    return "NOTRUN" if status == NOT_RUN else status


def _chip(status: str, title: str = "") -> str:
    tip = f" title='{_e(title)}'" if title else ""
    return f"<span class='chip {_e(_cls(status))}'{tip}>{_e(status)}</span>"


def _one_line(text: str, limit: int = _ONE_LINE) -> str:
    """``text`` on one line, cut at ``limit`` characters with an ellipsis (CSS cuts it to the width)."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[:limit - 1].rstrip() + "\u2026"


def _bar(counts: dict[str, int]) -> str:
    """A verdict bar: one segment per status, its width the share of the claims; labelled with the count
    (and the status where the segment is wide enough)."""
    total = sum(counts.values())
    if not total:
        return "<div class='bar'><span class='none'>no paper claims</span></div>"
    segs = []
    for s in BAR_STATUSES:
        n = counts.get(s, 0)
        if n:
            label = f"{n} {s}" if n / total >= 0.25 else str(n)
            segs.append(f"<span class='{_cls(s)}' style='flex:{n}' title='{n} {_e(s)}'>{_e(label)}</span>")
    return f"<div class='bar' role='img' aria-label='{_e(_counts_text(counts))}'>{''.join(segs)}</div>"


def _counts_text(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {s}" for s, n in counts.items() if n) or "none"


_SHORT = {"INCONCLUSIVE": "INCONCL."}


def _version(row: dict[str, Any]) -> str:
    """``v1``, or a badge ``v2 restated after FAIL`` whose tooltip is the full label (date and reason)."""
    restated = [h for h in row.get("history") or [] if h.get("event", "restated") == "restated"]
    if not restated:
        return f"<span class='ver'>v{_e(row.get('version', 1))}</span>"
    verdict = restated[-1].get("verdict", "")
    look = "" if verdict in ("FAIL", "INCONCLUSIVE") else " plain"
    return (f"<span class='ver' title='{_e(row.get('restated') or '')}'><span class='restated{look}'>"
            f"v{_e(row.get('version', ''))} restated after {_e(_SHORT.get(verdict, verdict))}</span></span>")


def _history(row: dict[str, Any]) -> str:
    items = []
    for h in row.get("history") or []:
        if h.get("event") == "rejudged":
            what = f"v{h['version']} re-judged {h['replaced']}: {h['verdict']} \u2192 {h.get('new_verdict', '')}"
        else:
            what = f"v{h['version']} replaced {h['replaced']} (verdict then: {h['verdict']})"
        items.append(f"<li>{_e(what)}: {_e(h.get('reason', ''))}</li>")
    return f"<ul>{''.join(items)}</ul>" if items else ""


def _claim_detail(row: dict[str, Any], streams: list[str], errors: dict[str, str]) -> str:
    """What unfolds under a claim's line: statement, source, test, each stream's measurement, needs and
    traceback, the declaration version and history."""
    items = [("statement", _e(row["statement"])), ("kind", _e(kind_label(row))), ("source", _e(row.get("source", ""))),
             ("test", _e(row.get("test", "")))]
    for s in streams:
        v = row["streams"].get(s, {"status": NOT_RUN})
        text = _chip(v["status"]) + " " + _e(v.get("measured", ""))
        if v.get("needs"):
            text += f"<br><i>{_e(v['needs'])}</i>"
        if v.get("preset"):
            text += f" <span class='muted'>(preset {_e(v['preset'])}, run {_e(v.get('run_id', ''))})</span>"
        if errors.get(s):
            text += f"<details><summary>traceback</summary><pre>{_e(errors[s])}</pre></details>"
        items.append((f"measured ({s})" if len(streams) > 1 else "measured", text))
    items.append(("version", _e(row.get("restated") or f"v{row.get('version', 1)}") + _history(row)))
    return "<div class='detail'><dl>" + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in items if v) + "</dl></div>"


def _claim_line(row: dict[str, Any], streams: list[str], errors: dict[str, str]) -> str:
    """One claim as one line (id, kind, version, a chip per stream, the measured figure), its detail
    inside the same ``<details>``."""
    chips = "".join(_chip(row["streams"].get(s, {}).get("status", NOT_RUN), f"{s} stream") for s in streams)
    measured = row.get("measured") or ""
    if row.get("needs") and row["status"] == "INCONCLUSIVE":
        measured += f" \u2014 {row['needs']}"
    meas = (f"<span class='meas' title='{_e(_one_line(measured, 2000))}'>{_e(_one_line(measured))}</span>"
            if measured else "")
    classes = f"claim {_e(row['kind'])}" + (" differ" if row["status"] == DIFFER else "")
    return (f"<details class='{classes}'><summary class='row'><span class='cid' title='{_e(row['id'])}'>"
            f"{_e(row['id'])}</span><span class='kind'>{_e(row['kind'])}</span>{_version(row)}"
            f"<span class='chips'>{chips}</span>{meas}</summary>{_claim_detail(row, streams, errors)}</details>")


def _rows_head(streams: list[str]) -> str:
    heads = "".join(f"<span class='chip hd'>{_e(s)}</span>" for s in streams)
    return (f"<div class='row head'><span></span><span class='cid'>claim</span><span class='kind'>kind</span>"
            f"<span class='ver'>version</span><span class='chips'>{heads}</span><span class='meas'>measured</span>"
            f"</div>")


def _experiment_block(en: ExperimentEntry, streams: list[str], *, link: Any, thumb: Any) -> str:
    if en.has_run:
        run = en.run
        tags = "".join(f"<span class='tag{' smoke' if r['preset'] == 'smoke' else ''}'>{_e(s)}: "
                       f"{_e(r['preset'])}, {_e(_when(r['started']))}</span>" for s, r in en.stream_runs.items())
        head = f"<a href='{link(en)}'>{_e(en.name)}</a>{tags}"
        if run["preset"] == "smoke":
            head += " <span class='muted'>(smoke: a test of the code, not a verdict)</span>"
        src = thumb(en) if thumb else None
        img = (f"<a href='{link(en)}'><img class='thumb' alt='main figure of {_e(en.name)}' src='{src}'></a>"
               if src else "")
    else:
        head = (f"<b>{_e(en.name)}</b> {_chip(NOT_RUN)} <span class='muted'>run it: "
                f"<code>collapselab run {_e(en.name)}</code></span>")
        img = ""
    return (f"<div class='exp'><div class='claims'{_chips_width(streams)}><div class='exphead'>{head}</div>"
            f"{_claim_lines(en, streams)}</div>{img}</div>")


def _chips_width(streams: list[str]) -> str:
    return f" style='--chips:{7.1 * len(streams) + 0.3:.1f}em'"


def _claim_lines(en: ExperimentEntry, streams: list[str], *, unfold: bool = False) -> str:
    """The header and one line per claim of ``en`` (unfolded on the experiment's page)."""
    if not en.rows:
        status = f" (status {_e(en.run['status'])})" if en.run else ""
        return f"<p class='muted'>no claims evaluated{status}</p>"
    errors = {s: {c["id"]: c.get("error", "") for c in en.stream_claims(s)} for s in streams}
    lines = "".join(_claim_line(r, streams, {s: errors[s].get(r["id"], "") for s in streams}) for r in en.rows)
    if unfold:
        lines = lines.replace("<details class='claim", "<details open class='claim")
    return _rows_head(streams) + lines


def _paper_counts(p: PaperEntry, streams: list[str]) -> str:
    """The small lines under a paper's bar: paper claims per stream (with two or more streams), then the
    consistency checks, counted apart."""
    lines = []
    paper = p.counts("paper")
    if len(streams) > 1 and sum(paper.values()):
        per = " &middot; ".join(f"<b>{_e(s)}</b>: {_e(_counts_text(p.counts('paper', s)))}" for s in streams)
        lines.append(f"<p class='counts'>paper claims per stream: {per}</p>")
    checks = p.counts("consistency")
    n = sum(checks.values())
    if n:
        rest = {s: k for s, k in checks.items() if s != "PASS"}
        lines.append(f"<p class='counts muted'>consistency checks (not counted above): {checks['PASS']} of {n} "
                     f"PASS{f' ({_e(_counts_text(rest))})' if any(rest.values()) else ''}</p>")
    return "".join(lines)


def _paper_section(p: PaperEntry, streams: list[str], *, link: Any, thumb: Any) -> str:
    counts = p.counts("paper")
    parts = [f"<h2 id='{_e(p.paper.slug)}'>{_e(p.paper.title)}</h2>"
             f"<p class='muted'>arXiv {_e(p.paper.arxiv)} &middot; <code>{_e(p.paper.slug)}</code> &middot; "
             f"paper claims: {_e(_counts_text(counts))}</p>", _bar(counts), _paper_counts(p, streams)]
    if not p.experiments:
        parts.append(f"<p class='muted'>no experiment registered {_chip(NOT_RUN)}</p>")
    parts += [_experiment_block(en, streams, link=link, thumb=thumb) for en in p.experiments]
    return "<section>" + "".join(parts) + "</section>"


_READ_ME = ("<details class='muted'><summary>How to read this page</summary><p>A PASS means: the paper's "
            "statement, cited where the paper makes it, held up under the test declared beside it, on enough "
            "data to have judged it the other way. Bars count <i>paper</i> claims by their record status; "
            "<i>consistency</i> checks (theory against simulation, identities, sanity bounds) are counted "
            "apart and never as reproducing a paper. A seed stream is the same grid on independent seeds "
            "(<code>main</code>, then <code>confirm</code>); a claim whose streams disagree is DIFFER, never "
            "either verdict. The version is the claim's declaration version; a badge says it was restated "
            "after a verdict (hover for the date and reason). Click a claim for its statement, source, test, "
            "full measurement and history; the experiment's page has its figures, tables and cells.</p>"
            "</details>")


def _index_html(papers: list[PaperEntry], *, link: Any, thumb: Any = None) -> str:
    streams = list(dict.fromkeys(s for p in papers for r in p.rows() for s in r["streams"])) or [MAIN_STREAM]
    rows = [r for p in papers for r in p.rows()]
    not_run = sum(not en.has_run for p in papers for en in p.experiments)
    parts = ["<h1>collapselab: papers and their claims</h1>",
             f"<p class='headline'><b>{_e(stream_headline(rows))}</b></p>",
             f"<p class='muted'>streams: {_e(', '.join(streams))} &middot; {len(rows)} claims in "
             f"{sum(len(p.experiments) for p in papers)} experiments ({not_run} not run) &middot; "
             + " ".join(_chip(s) for s in BAR_STATUSES) + "</p>", _READ_ME, "<div class='overview'>"]
    for p in papers:
        parts.append(f"<a href='#{_e(p.paper.slug)}'>{_e(p.paper.short or p.paper.title)}</a>"
                     + _bar(p.counts("paper")))
    parts.append("</div>")
    parts += [_paper_section(p, streams, link=link, thumb=thumb) for p in papers]
    return "".join(parts)


# ------------------------------------------------------------------------------------ experiment pages
def _when(ts: Any) -> str:
    try:
        return time.strftime("%Y-%m-%d %H:%M", time.localtime(float(ts)))
    except (TypeError, ValueError):
        return "?"


def _table_html(frame: pd.DataFrame) -> str:
    shown = frame.head(_MAX_ROWS)
    more = (f"<p class='muted'>showing {_MAX_ROWS} of {len(frame)} rows</p>" if len(frame) > _MAX_ROWS else "")
    return shown.to_html(index=False, escape=True, border=0, na_rep="", float_format=lambda v: f"{v:.6g}") + more


def _experiment_body(en: ExperimentEntry, *, figure_src: Any, table_src: Any | None) -> str:
    run, exp = en.run, en.experiment
    params = json.loads(run["params"])
    env = json.loads(run["environment"] or "{}")
    parts = [f"<h1>{_e(en.name)}</h1>"]
    if exp is not None:
        parts.append(f"<p><i>{_e(exp.paper.title)}</i> (arXiv {_e(exp.paper.arxiv)})</p>"
                     f"<p>{_e(exp.description)}</p>")
    if run["preset"] == "smoke":
        parts.append("<p class='warn'>This run used the <code>smoke</code> preset (seconds, for tests): "
                     "its claims are not meant to be judged from it; see <code>--preset quick</code>.</p>")
    parts.append(f"<p class='muted'>run <code>{_e(run['run_id'])}</code>, stream <code>"
                 f"{_e(run.get('stream') or MAIN_STREAM)}</code>, preset <code>{_e(run['preset'])}"
                 f"</code>, status {_e(run['status'])}, {_e(_when(run['started']))} to {_e(_when(run['ended']))}"
                 f"; {_e(run['n_cells'])} cells ({_e(run['n_skipped'])} reused from the store, "
                 f"{_e(run['n_done'])} run, {_e(run['n_failed'])} failed)</p>")
    parts.append("<h2>Claims</h2>" + _page_claims(en))
    error = en.dir / "analysis_error.txt" if en.dir else None
    if error is not None and error.is_file():
        parts.append(f"<h3>Analysis failed</h3><pre>{_e(error.read_text())}</pre>")
    pngs = en.files("figures", "*.png")
    parts.append("<h2>Figures</h2>" + (f"<p class='muted'>of the <code>{_e(run.get('stream') or MAIN_STREAM)}"
                                       f"</code> stream's run; tables and cells below too</p>"
                                       if len(en.stream_runs) > 1 else ""))
    if not pngs:
        parts.append("<p class='muted'>No figures.</p>")
    for png in pngs:
        svg = png.with_suffix(".svg")
        svg_link = f" &middot; <a href='{figure_src(svg)}'>SVG</a>" if svg.is_file() and table_src else ""
        parts.append(f"<figure><img alt='{_e(png.stem)}' src='{figure_src(png)}'>"
                     f"<figcaption class='muted'>{_e(png.stem)}{svg_link}</figcaption></figure>")
    csvs = en.files("tables", "*.csv")
    if csvs:
        parts.append("<h2>Tables</h2>")
    for csv in csvs:
        try:
            body = _table_html(pd.read_csv(csv))
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError):
            body = f"<pre>{_e(csv.read_text(errors='replace'))}</pre>"
        link = f" (<a href='{table_src(csv)}'>CSV</a>)" if table_src else ""
        parts.append(f"<h3>{_e(csv.stem)}{link}</h3>{body}")
    parts.append("<h2>Parameters</h2>" + _table_html(pd.DataFrame(
        [{"parameter": k, "value": json.dumps(v)} for k, v in params.items()])))
    parts.append(f"<h2>Cells, replicates and seeds</h2><p>{_e(params.get('seeds'))} replicate(s) per cell; each "
                 f"(cell, replicate) is seeded from sha256(experiment, cell, replicate), so a rerun is "
                 f"bit-identical.</p>")
    cells = en.cells
    if not cells.empty:
        metric_cols = [c for c in cells.columns if c not in ("cell_key",)]
        simple = [c for c in metric_cols if cells[c].map(lambda v: not isinstance(v, (list, dict))).all()]
        parts.append(f"<details><summary>{len(cells)} (cell, replicate) rows</summary>"
                     f"{_table_html(cells[simple])}</details>")
    info = {"host": run["host"], "device": run["device"], "backend": run["backend"],
            "git commit": run["git_commit"], "collapselab": run["package_version"], **env}
    parts.append("<h2>Environment</h2>" + _table_html(pd.DataFrame(
        [{"what": k, "value": v} for k, v in info.items()])))
    extra = [f for f in sorted(en.dir.iterdir()) if f.is_file()] if en.dir and en.dir.is_dir() else []
    if extra:
        parts.append("<h2>Files of the run</h2><p class='muted'>in the results folder, "
                     f"<code>{_e(en.dir)}</code>: " + ", ".join(_e(f.name) for f in extra) + "</p>")
    if len(en.runs) > 1:
        rows = "".join(
            f"<tr><td><code>{_e(r['run_id'])}</code></td><td>{_e(r.get('stream') or MAIN_STREAM)}</td>"
            f"<td>{_e(r['preset'])}</td><td>{_e(r['status'])}</td>"
            f"<td>{_e(_when(r['started']))}</td><td>{_e(_claim_counts(r.get('claims')))}</td></tr>"
            for r in en.runs)
        parts.append("<h2>All runs</h2><table><tr><th>run</th><th>stream</th><th>preset</th><th>status</th>"
                     f"<th>started</th><th>claims</th></tr>{rows}</table>")
    return "".join(parts)


def _page_claims(en: ExperimentEntry) -> str:
    """The page's claims: for each stream its latest run, then every claim unfolded (statement, source,
    test, each stream's verdict and measurement, version and history)."""
    streams = list(en.stream_runs) or [MAIN_STREAM]
    runs = "; ".join(f"<code>{_e(s)}</code>: run <code>{_e(r['run_id'])}</code>, preset <code>{_e(r['preset'])}"
                     f"</code>, {_e(_when(r['started']))}" for s, r in en.stream_runs.items())
    note = (" A claim whose streams disagree is DIFFER (marked on the left)." if len(streams) > 1 else "")
    return (f"<p class='muted'>Latest run per seed stream: {runs}.{note}</p>"
            f"<div class='claims'{_chips_width(streams)}>{_claim_lines(en, streams, unfold=True)}</div>")


def _claim_counts(claims_json: Any) -> str:
    try:
        claims = json.loads(claims_json or "[]")
    except (TypeError, ValueError):
        return ""
    return ", ".join(f"{sum(c['status'] == s for c in claims)} {s}" for s in STATUSES)


# -------------------------------------------------------------------------------------------- write
def _require_store(out_dir: Path) -> None:
    if not store_path(out_dir).exists():
        raise FileNotFoundError(f"no results in {out_dir} (no {STORE_NAME}); run an experiment first")


def write_site(out_dir: str | Path, site_dir: str | Path | None = None) -> Path:
    """Write the static site (default ``<out_dir>/site``) and return the path of its ``index.html``."""
    out_dir = Path(out_dir)
    _require_store(out_dir)
    site = Path(site_dir) if site_dir else out_dir / "site"
    papers = collect(out_dir)
    pages, marker = site / "experiments", site / _SITE_MARKER
    if pages.exists():
        if not marker.exists():
            raise FileExistsError(f"{pages} exists and was not written by collapselab; left untouched: "
                                  f"choose another site folder")
        shutil.rmtree(pages)  # pages of the previous report; rewritten from the store below
    pages.mkdir(parents=True)
    marker.write_text("written by collapselab report; the experiments/ folder is rewritten on each report\n")
    for p in papers:
        for en in p.experiments:
            if not en.has_run:
                continue
            slug = page_slug(en.name)
            assets = pages / slug

            def copy(src: Path, _assets: Path = assets, _slug: str = slug) -> str:
                dest = _assets / src.parent.name / src.name
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dest)
                return f"{_e(_slug)}/{_e(src.parent.name)}/{_e(src.name)}"

            body = _experiment_body(en, figure_src=copy, table_src=copy)
            (pages / f"{slug}.html").write_text(_page(en.name, body, up="../"), encoding="utf-8")
    def thumb(en: ExperimentEntry) -> str | None:
        png = en.main_png()
        return f"experiments/{_e(page_slug(en.name))}/figures/{_e(png.name)}" if png else None

    index = site / "index.html"
    index.write_text(_page("collapselab report", _index_html(
        papers, link=lambda en: f"experiments/{_e(page_slug(en.name))}.html", thumb=thumb)), encoding="utf-8")
    return index


def _embed(png: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(png.read_bytes()).decode()


def render(papers: list[PaperEntry]) -> str:
    """The single-file report: the index, then every experiment's page, figures embedded."""
    def thumb(en: ExperimentEntry) -> str | None:
        png = en.main_png()
        return _embed(png) if png else None

    body = [_index_html(papers, link=lambda en: f"#{_e(page_slug(en.name))}", thumb=thumb)]
    for p in papers:
        for en in p.experiments:
            if en.has_run:
                body.append(f"<section id='{_e(page_slug(en.name))}'><hr>"
                            + _experiment_body(en, figure_src=_embed, table_src=None) + "</section>")
    return _page("collapselab report", "".join(body))


def write_report(out_dir: str | Path, path: str | Path | None = None) -> Path:
    """Write the self-contained ``report.html`` (default: inside ``out_dir``) and return its path."""
    out_dir = Path(out_dir)
    _require_store(out_dir)
    target = Path(path) if path else out_dir / "report.html"
    target.write_text(render(collect(out_dir)), encoding="utf-8")
    return target
