"""A self-contained static HTML report of the latest run of every experiment in a results folder.

Figures are embedded (base64 PNG), so ``report.html`` can be opened from disk, mailed or archived.
"""

from __future__ import annotations

import base64
import html
import json
import time
from pathlib import Path
from typing import Any

from collapselab.core.registry import all_experiments
from collapselab.core.store import Store

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1100px;margin:2em auto;
padding:0 1em;color:#222}
h1{font-size:1.6em} h2{margin-top:2em;border-bottom:1px solid #ddd;padding-bottom:.2em}
table{border-collapse:collapse;margin:.6em 0;font-size:.9em} td,th{border:1px solid #ddd;padding:.3em .6em;
text-align:left;vertical-align:top}
.PASS{background:#e3f6e3} .FAIL{background:#fbe0e0} .INCONCLUSIVE{background:#fff5d6}
img{max-width:100%;border:1px solid #eee;margin:.4em 0} code,pre{background:#f6f6f6;font-size:.85em}
pre{padding:.6em;overflow-x:auto} .muted{color:#777;font-size:.85em}
"""


def _e(x: Any) -> str:
    return html.escape(str(x))


def _claims_table(claims: list[dict]) -> str:
    if not claims:
        return "<p class='muted'>No claims evaluated.</p>"
    rows = "".join(f"<tr class='{_e(c['status'])}'><td>{_e(c['id'])}</td><td>{_e(c['statement'])}</td>"
                   f"<td><b>{_e(c['status'])}</b></td><td>{_e(c['measured'])}</td></tr>" for c in claims)
    return f"<table><tr><th>claim</th><th>statement</th><th>status</th><th>measured</th></tr>{rows}</table>"


def collect(out_dir: Path) -> list[dict[str, Any]]:
    """The latest finished run of each experiment in ``out_dir``'s store, with its artifacts."""
    registry = all_experiments()
    entries = []
    with Store(out_dir / "collapselab.sqlite") as store:
        runs = store.runs()
        if runs.empty:
            return []
        for name in sorted(runs["experiment"].unique()):
            run = store.latest_run(name)
            if run is None:
                continue
            exp = registry.get(name)
            art = out_dir / name / run["run_id"]
            entries.append({"name": name, "run": run, "experiment": exp, "dir": art,
                            "figures": sorted((art / "figures").glob("*.png")) if art.exists() else [],
                            "tables": sorted((art / "tables").glob("*.csv")) if art.exists() else [],
                            "claims": json.loads(run["claims"] or "[]")})
    return entries


def render(entries: list[dict[str, Any]]) -> str:
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>collapselab report</title>"
             f"<style>{_CSS}</style></head><body><h1>collapselab report</h1>"
             f"<p class='muted'>Generated {time.strftime('%Y-%m-%d %H:%M:%S')}; latest run of each "
             f"experiment.</p>"]
    summary = "".join(
        f"<tr><td><a href='#{_e(en['name'])}'>{_e(en['name'])}</a></td>"
        + "".join(f"<td>{sum(c['status'] == s for c in en['claims'])}</td>" for s in ("PASS", "FAIL",
                                                                                    "INCONCLUSIVE"))
        + "</tr>" for en in entries)
    parts.append(f"<table><tr><th>experiment</th><th>PASS</th><th>FAIL</th><th>INCONCLUSIVE</th></tr>"
                 f"{summary}</table>")
    for en in entries:
        run, exp = en["run"], en["experiment"]
        params = json.loads(run["params"])
        env = json.loads(run["environment"] or "{}")
        parts.append(f"<h2 id='{_e(en['name'])}'>{_e(en['name'])}</h2>")
        if exp is not None:
            parts.append(f"<p><i>{_e(exp.paper.title)}</i> (arXiv {_e(exp.paper.arxiv)})</p>"
                         f"<p>{_e(exp.description)}</p>")
        parts.append(_claims_table(en["claims"]))
        for png in en["figures"]:
            data = base64.b64encode(png.read_bytes()).decode()
            parts.append(f"<figure><img alt='{_e(png.stem)}' src='data:image/png;base64,{data}'>"
                         f"<figcaption class='muted'>{_e(png.stem)}</figcaption></figure>")
        for csv in en["tables"]:
            parts.append(f"<details><summary>table {_e(csv.stem)}</summary><pre>{_e(csv.read_text())}</pre>"
                         f"</details>")
        parts.append(
            f"<details><summary>parameters, seeds and environment</summary>"
            f"<p>run <code>{_e(run['run_id'])}</code>, preset <code>{_e(run['preset'])}</code>, "
            f"{_e(run['n_cells'])} cells ({_e(run['n_skipped'])} reused from the store), "
            f"{_e(params.get('seeds'))} replicate(s) per cell, each seeded from sha256(experiment, cell, "
            f"replicate), "
            f"backend {_e(run['backend'])}, device {_e(run['device'])}, host {_e(run['host'])}, "
            f"git {_e(run['git_commit'])}</p>"
            f"<pre>{_e(json.dumps(params, indent=2))}</pre><pre>{_e(json.dumps(env, indent=2))}</pre></details>")
    parts.append("</body></html>")
    return "".join(parts)


def write_report(out_dir: str | Path, path: str | Path | None = None) -> Path:
    """Write ``report.html`` (default: inside ``out_dir``) and return its path."""
    out_dir = Path(out_dir)
    if not (out_dir / "collapselab.sqlite").exists():
        raise FileNotFoundError(f"no results in {out_dir} (no collapselab.sqlite); run an experiment first")
    target = Path(path) if path else out_dir / "report.html"
    target.write_text(render(collect(out_dir)), encoding="utf-8")
    return target
