"""The report: a small static site, and a single-file ``report.html``, of a results folder.

``write_site(out_dir)`` writes ``<out_dir>/site/``:

* ``index.html``: every known paper (those of the registered experiments) against its claims: the
  headline counts paper claims and consistency checks apart; for the latest run of each experiment, its
  main figure as a thumbnail (linked to its page) beside each claim's kind, source, declared test,
  PASS / FAIL / INCONCLUSIVE / ERROR and measured figure; an experiment with no run says *not run*;
* ``experiments/<paper>--<experiment>.html``: one page per experiment that has run: description, claims,
  figures (PNG shown, SVG linked), tables, parameters, the cells with their replicates and seeds, the
  environment, earlier runs;
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from collapselab.core.claims import STATUSES, ClaimOutcome, headline
from collapselab.core.experiment import Experiment, Paper
from collapselab.core.registry import all_experiments, all_papers
from collapselab.core.store import Store

STORE_NAME = "collapselab.sqlite"
NOT_RUN = "not run"
_SITE_MARKER = ".collapselab-site"
_MAX_ROWS = 200  # rows of a table or of the cells list shown on a page (the CSV has them all)

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1150px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.4}
h1{font-size:1.6em} h2{margin-top:1.8em;border-bottom:1px solid #ddd;padding-bottom:.2em} h3{margin-top:1.4em}
table{border-collapse:collapse;margin:.6em 0;font-size:.88em} td,th{border:1px solid #ddd;padding:.3em .6em;
text-align:left;vertical-align:top} th{background:#f4f4f4}
.PASS{background:#e3f6e3} .FAIL{background:#fbe0e0} .INCONCLUSIVE{background:#fff5d6}
.ERROR{background:#d9534f;color:#fff} img.thumb{max-width:180px;border:1px solid #ddd}
.NOTRUN{background:#f0f0f0;color:#666} .status{font-weight:bold;white-space:nowrap}
img{max-width:100%;border:1px solid #eee;margin:.4em 0} code,pre{background:#f6f6f6;font-size:.85em}
pre{padding:.6em;overflow-x:auto} .muted{color:#777;font-size:.85em} figure{margin:1em 0}
nav a{margin-right:1em} .warn{background:#fff5d6;padding:.4em .8em;border-left:4px solid #e0b000}
"""


def _e(x: Any) -> str:
    return html.escape(str(x), quote=True)


def page_slug(name: str) -> str:
    """File stem of an experiment's page: ``paper/experiment`` -> ``paper--experiment``."""
    return name.replace("/", "--")


@dataclass
class ExperimentEntry:
    """One experiment as the report sees it: registered and/or present in the store."""

    name: str
    experiment: Experiment | None
    run: dict[str, Any] | None = None  # latest finished run (a row of the store's ``runs``)
    runs: list[dict[str, Any]] = field(default_factory=list)  # every run, newest first
    dir: Path | None = None  # artifact folder of the latest run
    claims: list[dict[str, str]] = field(default_factory=list)
    cells: pd.DataFrame = field(default_factory=pd.DataFrame)

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


@dataclass
class PaperEntry:
    paper: Paper
    experiments: list[ExperimentEntry]

    def counts(self) -> dict[str, int]:
        out = {s: 0 for s in STATUSES}
        for en in self.experiments:
            for c in en.claims:
                out[c["status"]] = out.get(c["status"], 0) + 1
        out[NOT_RUN] = sum(not en.has_run for en in self.experiments)
        return out


def known_papers() -> list[Paper]:
    """Papers to report on: those the registry learnt from registered experiments (the framework itself
    knows no paper)."""
    return all_papers()


def collect(out_dir: str | Path) -> list[PaperEntry]:
    """Every known paper with its experiments (registered or stored) and their latest finished runs."""
    out_dir = Path(out_dir)
    registry = all_experiments()
    papers = {p.slug: PaperEntry(p, []) for p in known_papers()}
    entries = {name: ExperimentEntry(name, exp) for name, exp in registry.items()}
    db = out_dir / STORE_NAME
    if db.exists():
        with Store(db) as store:
            runs = store.runs()
            for name in sorted(set(runs["experiment"]) if not runs.empty else ()):
                en = entries.setdefault(name, ExperimentEntry(name, registry.get(name)))
                en.runs = runs[runs["experiment"] == name].iloc[::-1].to_dict("records")
                en.run = store.latest_run(name)
                if en.run is None:
                    continue
                en.dir = out_dir / name / en.run["run_id"]
                en.claims = json.loads(en.run["claims"] or "[]")
                en.cells = _run_cells(store, en)
    for name, en in sorted(entries.items()):
        slug = name.split("/", 1)[0]
        if slug not in papers:
            paper = en.experiment.paper if en.experiment else Paper(slug, slug, "?")
            papers[slug] = PaperEntry(paper, [])
        papers[slug].experiments.append(en)
    return list(papers.values())


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
    return store.frame(en.name, keys, include_failed=True)


# --------------------------------------------------------------------------------------------- html
def _page(title: str, body: str, *, up: str = "") -> str:
    nav = f"<nav><a href='{up}index.html'>index</a></nav>" if up else ""
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'><title>{_e(title)}</title>"
            f"<style>{_CSS}</style></head><body>{nav}{body}"
            f"<p class='muted'>Generated by collapselab on {time.strftime('%Y-%m-%d %H:%M:%S')}.</p>"
            f"</body></html>")


def _status_cell(status: str) -> str:
    cls = "NOTRUN" if status == NOT_RUN else status
    return f"<td class='status {_e(cls)}'>{_e(status)}</td>"


_CLAIM_HEAD = "".join(f"<th>{h}</th>" for h in ("claim", "kind", "statement", "source", "test", "status", "measured"))


def _claim_cells(c: dict) -> str:
    """kind, statement, source, test, status and measured (with what an INCONCLUSIVE needs, the traceback
    of an ERROR) of one stored claim outcome."""
    measured = _e(c.get("measured", ""))
    if c.get("needs"):
        measured += f"<br><i>{_e(c['needs'])}</i>"
    if c.get("error"):
        measured += f"<details><summary>traceback</summary><pre>{_e(c['error'])}</pre></details>"
    return (f"<td>{_e(c.get('kind', ''))}</td><td>{_e(c['statement'])}</td><td>{_e(c.get('source', ''))}</td>"
            f"<td class='muted'>{_e(c.get('test', ''))}</td>{_status_cell(c['status'])}<td>{measured}</td>")


def _claims_table(claims: list[dict]) -> str:
    if not claims:
        return "<p class='muted'>No claims evaluated.</p>"
    rows = "".join(f"<tr class='{_e(c['status'])}'><td>{_e(c['id'])}</td>{_claim_cells(c)}</tr>" for c in claims)
    return f"<table><tr>{_CLAIM_HEAD}</tr>{rows}</table>"


def _counts_text(counts: dict[str, int]) -> str:
    parts = [f"{counts.get(s, 0)} {s}" for s in STATUSES]
    if counts.get(NOT_RUN):
        parts.append(f"{counts[NOT_RUN]} experiment(s) not run")
    return ", ".join(parts)


def _when(ts: Any) -> str:
    try:
        return time.strftime("%Y-%m-%d %H:%M", time.localtime(float(ts)))
    except (TypeError, ValueError):
        return "?"


def _index_html(papers: list[PaperEntry], *, link: Any, thumb: Any = None) -> str:
    total = {s: 0 for s in (*STATUSES, NOT_RUN)}
    for p in papers:
        for k, v in p.counts().items():
            total[k] = total.get(k, 0) + v
    outcomes = [ClaimOutcome.from_dict(c) for p in papers for en in p.experiments for c in en.claims]
    parts = ["<h1>collapselab: papers and their claims</h1>",
             f"<p><b>{_e(headline(outcomes))}</b>.</p>"
             "<p>A PASS means: the paper's statement, cited where the paper makes it, held up under the test "
             "declared beside it, on enough data to have judged it the other way. Paper claims count; "
             "consistency checks (theory against simulation, identities, sanity bounds) are shown but never "
             "counted as reproducing a paper. Each row is a claim of the latest run of an experiment; the "
             f"measured figure is what that run found. All statuses: {_e(_counts_text(total))}.</p>",
             "<table><tr><th>paper</th><th>arXiv</th><th>experiments</th>"
             + "".join(f"<th>{s}</th>" for s in STATUSES) + f"<th>{NOT_RUN}</th></tr>"]
    for p in papers:
        c = p.counts()
        parts.append(f"<tr><td><a href='#{_e(p.paper.slug)}'>{_e(p.paper.short or p.paper.title)}</a></td>"
                     f"<td>{_e(p.paper.arxiv)}</td><td>{len(p.experiments)}</td>"
                     + "".join(f"<td>{c.get(s, 0)}</td>" for s in STATUSES) + f"<td>{c[NOT_RUN]}</td></tr>")
    parts.append("</table>")
    for p in papers:
        parts.append(f"<h2 id='{_e(p.paper.slug)}'>{_e(p.paper.title)}</h2>"
                     f"<p class='muted'>arXiv {_e(p.paper.arxiv)} &middot; slug <code>{_e(p.paper.slug)}</code>"
                     f" &middot; {_e(_counts_text(p.counts()))}</p>")
        if not p.experiments:
            parts.append(f"<table><tr class='NOTRUN'><td>no experiment registered</td>"
                         f"{_status_cell(NOT_RUN)}</tr></table>")
            continue
        rows = []
        for en in p.experiments:
            if not en.has_run:
                rows.append(f"<tr><td>{_e(en.name)}</td><td></td><td colspan='2' class='muted'>"
                            f"run it: <code>collapselab run {_e(en.name)}</code></td>{_status_cell(NOT_RUN)}"
                            f"<td></td></tr>")
                continue
            run = en.run
            src = thumb(en) if thumb else None
            img = (f"<br><a href='{link(en)}'><img class='thumb' alt='main figure of {_e(en.name)}' "
                   f"src='{src}'></a>" if src else "")
            head = (f"<td rowspan='{max(len(en.claims), 1)}'><a href='{link(en)}'>{_e(en.name)}</a><br>"
                    f"<span class='muted'>{_e(_when(run['started']))}</span>{img}</td>"
                    f"<td rowspan='{max(len(en.claims), 1)}'>{_e(run['preset'])}</td>")
            if not en.claims:
                rows.append(f"<tr>{head}<td colspan='7' class='muted'>no claims evaluated "
                            f"(status {_e(run['status'])})</td></tr>")
            for i, c in enumerate(en.claims):
                rows.append(f"<tr>{head if i == 0 else ''}<td>{_e(c['id'])}</td>{_claim_cells(c)}</tr>")
        parts.append(f"<table><tr><th>experiment</th><th>preset</th>{_CLAIM_HEAD}</tr>" + "".join(rows)
                     + "</table>")
    return "".join(parts)


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
    parts.append(f"<p class='muted'>run <code>{_e(run['run_id'])}</code>, preset <code>{_e(run['preset'])}"
                 f"</code>, status {_e(run['status'])}, {_e(_when(run['started']))} to {_e(_when(run['ended']))}"
                 f"; {_e(run['n_cells'])} cells ({_e(run['n_skipped'])} reused from the store, "
                 f"{_e(run['n_done'])} run, {_e(run['n_failed'])} failed)</p>")
    parts.append("<h2>Claims</h2>" + _claims_table(en.claims))
    error = en.dir / "analysis_error.txt" if en.dir else None
    if error is not None and error.is_file():
        parts.append(f"<h3>Analysis failed</h3><pre>{_e(error.read_text())}</pre>")
    pngs = en.files("figures", "*.png")
    parts.append("<h2>Figures</h2>")
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
            f"<tr><td><code>{_e(r['run_id'])}</code></td><td>{_e(r['preset'])}</td><td>{_e(r['status'])}</td>"
            f"<td>{_e(_when(r['started']))}</td><td>{_e(_claim_counts(r.get('claims')))}</td></tr>"
            for r in en.runs)
        parts.append("<h2>All runs</h2><table><tr><th>run</th><th>preset</th><th>status</th><th>started</th>"
                     f"<th>claims</th></tr>{rows}</table>")
    return "".join(parts)


def _claim_counts(claims_json: Any) -> str:
    try:
        claims = json.loads(claims_json or "[]")
    except (TypeError, ValueError):
        return ""
    return ", ".join(f"{sum(c['status'] == s for c in claims)} {s}" for s in STATUSES)


# -------------------------------------------------------------------------------------------- write
def _require_store(out_dir: Path) -> None:
    if not (out_dir / STORE_NAME).exists():
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
