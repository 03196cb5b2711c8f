"""The report site: content checks, then a real headless Chromium opening it from disk.

The browser is driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``: JSON messages
separated by NUL bytes on file descriptors 3 and 4), so the test needs no Python dependency beyond the
standard library and no network port. It skips, saying why, when Debian's ``chromium`` is not installed.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import toy_experiments  # noqa: F401  (registers toy/*)

from collapselab.core.report import write_report, write_site
from collapselab.core.runner import run_experiment

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run"]


def find_chromium() -> str | None:
    for candidate in (os.environ.get("CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"),
                      shutil.which("chromium-browser")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("results")
    run_experiment("toy/values", preset="smoke", out_dir=out)
    run_experiment("toy/values", preset="quick", out_dir=out)  # two runs: the page shows the latest
    run_experiment("toy/values", preset="quick", out_dir=out, stream="confirm")  # a second seed stream
    run_experiment("toy/broken-check", preset="smoke", out_dir=out)  # ERROR, on main only
    return out


def _section(text: str, slug: str) -> str:
    """The index's section of one paper."""
    start = text.index(f"<h2 id='{slug}'>")
    end = text.find("<section>", start)
    return text[start:end if end > 0 else len(text)]


def _claim_block(section: str, claim_id: str) -> str:
    """The ``<details>`` element of one claim's line (nested ``<details>``, a traceback, included)."""
    at = section.index(f"<span class='cid' title='{claim_id}'>")
    start = section.rindex("<details", 0, at)
    depth, pos = 0, start
    for m in re.finditer(r"<details|</details>", section[start:]):
        depth += 1 if m.group() == "<details" else -1
        if depth == 0:
            pos = start + m.end()
            break
    return section[start:pos]


def test_index_lists_every_registered_paper_and_not_run(site):
    index = write_site(site)
    text = index.read_text()
    assert index == site / "site" / "index.html"
    from collapselab.core.report import known_papers

    for paper in known_papers():  # every paper, run or not
        assert f"id='{paper.slug}'" in text, paper.slug
    assert "toy/failing-claim" in text and "not run" in text  # registered, never run
    assert "experiments/toy--values.html" in text and "mean value" in text and "PASS" in text
    page = (site / "site" / "experiments" / "toy--values.html").read_text()
    for needle in ("values.png", "values.svg", "summary", "seeds", "Environment", "All runs", "quick",
                   "n_cells"):
        assert needle in page, needle
    assert (site / "site" / "experiments" / "toy--values" / "figures" / "values.png").stat().st_size > 0
    for html_file in (site / "site").rglob("*.html"):  # no network: nothing but relative links
        body = html_file.read_text()
        assert "http://" not in body and "https://" not in body and "<script" not in body, html_file


def test_index_bars_count_paper_claims_only(site):
    """The toy paper: positive PASS on both streams, negative not run, crashes ERROR on main only (paper
    claims); finite PASS (a consistency check, counted apart, never in the bar)."""
    section = _section(write_site(site).read_text(), "toy")
    bar = re.search(r"<div class='bar'[^>]*>(.*?)</div>", section).group(1)
    segments = {status: int(n) for n, status in re.findall(r"title='(\d+) ([^']+)'", bar)}
    assert segments == {"PASS": 1, "ERROR": 1, "not run": 1}, segments
    assert "consistency checks (not counted above): 1 of 1 PASS" in section
    assert "<b>main</b>: 1 PASS, 1 ERROR, 1 not run" in section  # both streams' counts
    assert "<b>confirm</b>: 1 PASS, 2 not run" in section


def test_index_one_line_per_claim_with_each_streams_verdict(site):
    section = _section(write_site(site).read_text(), "toy")
    assert section.count("<details class='claim") == 4  # positive, finite, negative, crashes
    chips = r"<span class='chip (\w+)' title='(\w+) stream'>"
    for claim_id, want in (("positive", [("PASS", "main"), ("PASS", "confirm")]),
                           ("finite", [("PASS", "main"), ("PASS", "confirm")]),
                           ("crashes", [("ERROR", "main"), ("NOTRUN", "confirm")]),
                           ("negative", [("NOTRUN", "main"), ("NOTRUN", "confirm")])):
        block = _claim_block(section, claim_id)
        summary = block[block.index("<summary"):block.index("</summary>")]
        assert re.findall(chips, summary) == want, (claim_id, summary)
    summary = _claim_block(section, "positive").split("</summary>")[0]
    assert "mean value" in summary and "<span class='ver'>v1</span>" in summary  # one-line measured, version
    assert "The mean is positive" not in summary  # the statement unfolds, it is not on the line


def test_index_claim_detail_unfolds_inside_details(site):
    section = _section(write_site(site).read_text(), "toy")
    block = _claim_block(section, "positive")
    detail = block.split("</summary>", 1)[1]
    for needle in ("The mean is positive", "Sec. 1", "sign of the mean of the per-cell means",
                   "measured (main)", "measured (confirm)", "mean value"):
        assert needle in detail, needle
    crashes = _claim_block(section, "crashes").split("</summary>", 1)[1]
    assert "<summary>traceback</summary>" in crashes and "no-such-table" in crashes


def test_index_measured_figure_is_cut_to_one_line():
    from collapselab.core.report import _one_line

    assert _one_line("a  b\n c") == "a b c"
    cut = _one_line("x" * 500, limit=50)
    assert len(cut) == 50 and cut.endswith("\u2026")


def test_restated_claim_shows_a_badge_with_the_label(site, tmp_path, monkeypatch):
    from collapselab.core import declarations
    from collapselab.core.registry import all_experiments

    exp = all_experiments()["toy/values"]
    claim = next(c for c in exp.claims if c.id == "positive")
    lock = {"schema": 1, "claims": {"toy/values:positive": {
        "version": 2, "fingerprint": declarations.fingerprint(exp, claim),
        "history": [{"version": 1, "replaced": "2026-11-02", "verdict": "FAIL", "reason": "sign was flipped"}]}}}
    (tmp_path / "claims.lock").write_text(json.dumps(lock))
    monkeypatch.setattr(declarations, "LOCK_PATH", tmp_path / "claims.lock")
    text = write_site(site, tmp_path / "site").read_text()
    block = _claim_block(_section(text, "toy"), "positive")
    assert "v2 restated after FAIL" in block.split("</summary>")[0]
    assert "v2, restated 2026-11-02 after v1 FAIL: sign was flipped" in block  # tooltip and detail
    assert "restated after a FAIL or INCONCLUSIVE: 1;" in text  # the headline counts it


def test_experiment_page_shows_each_streams_claims(site):
    write_site(site)
    page = (site / "site" / "experiments" / "toy--values.html").read_text()
    assert "<code>main</code>: run" in page and "<code>confirm</code>: run" in page
    assert "measured (main)" in page and "measured (confirm)" in page
    assert "<details open class='claim" in page  # the page shows the detail unfolded
    assert "<th>stream</th>" in page  # every run, with its stream


def test_single_file_report_embeds_figures(site):
    text = write_report(site).read_text()
    assert "data:image/png;base64," in text and "toy/values" in text and "not run" in text


def test_report_without_store_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no results"):
        write_site(tmp_path)


def _above_nine(fd: int) -> int:
    high = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
    os.close(fd)
    return high


class Browser:
    """Headless Chromium driven by the DevTools protocol over ``--remote-debugging-pipe``."""

    def __init__(self, binary: str, profile: str):
        to_chrome_r, self._w = os.pipe()
        self._r, from_chrome_w = os.pipe()
        # move the child's ends above 9, so that redirecting them onto 3 and 4 cannot clobber one another
        to_chrome_r, from_chrome_w = (_above_nine(fd) for fd in (to_chrome_r, from_chrome_w))
        # bash puts the pipe ends on the descriptors Chromium expects: 3 (commands), 4 (replies)
        self.proc = subprocess.Popen(
            ["/bin/bash", "-c", f'exec "$@" 3<&{to_chrome_r} 4>&{from_chrome_w}', "bash", binary, *CHROMIUM_FLAGS,
             f"--user-data-dir={profile}", "--remote-debugging-pipe", "about:blank"],
            pass_fds=(to_chrome_r, from_chrome_w), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            start_new_session=True)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._buf, self._id, self.session = b"", 0, None

    def send(self, method: str, params: dict | None = None, *, session: bool = True) -> dict:
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        os.write(self._w, json.dumps(msg).encode() + b"\0")
        while True:
            while b"\0" not in self._buf:
                chunk = os.read(self._r, 1 << 16)
                if not chunk:
                    raise RuntimeError(f"chromium closed the pipe: {self.proc.stderr.read().decode()[-2000:]}")
                self._buf += chunk
            raw, self._buf = self._buf.split(b"\0", 1)
            reply = json.loads(raw)
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]

    def open(self, url: str) -> None:
        target = self.send("Target.createTarget", {"url": url}, session=False)["targetId"]
        self.session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True},
                                 session=False)["sessionId"]

    def eval(self, expression: str):
        res = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in res:
            raise RuntimeError(f"{expression}: {res['exceptionDetails']}")
        return res["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 30.0):
        deadline = time.time() + timeout
        while time.time() < deadline:
            value = self.eval(expression)
            if value:
                return value
            time.sleep(0.05)
        raise TimeoutError(expression)

    def close(self) -> None:
        try:
            self.send("Browser.close", session=False)
            self.proc.wait(timeout=10)
        except Exception:
            pass
        finally:
            if self.proc.poll() is None:
                os.killpg(self.proc.pid, signal.SIGKILL)  # the browser we started, and its children
                self.proc.wait()
            os.close(self._w)
            os.close(self._r)


@pytest.fixture
def browser():
    binary = find_chromium()
    if binary is None:
        pytest.skip("chromium is not installed (Debian: apt-get install chromium; .ci/run installs it)")
    with tempfile.TemporaryDirectory() as profile:
        b = Browser(binary, profile)
        try:
            yield b
        finally:
            b.close()


@pytest.mark.slow
def test_site_in_headless_chromium(site, browser, tmp_path):
    index = write_site(site)
    browser.open(index.as_uri())
    browser.wait_for("document.readyState === 'complete' && location.href.endsWith('index.html')")
    assert "toy/values" in browser.eval("document.body.innerText")
    assert "not run" in browser.eval("document.body.innerText")
    _check_index_layout(browser)
    href = browser.eval("document.querySelector(\"a[href$='toy--values.html']\").href")
    assert href.startswith("file://")
    browser.eval("document.querySelector(\"a[href$='toy--values.html']\").click()")  # follow the link
    browser.wait_for("location.href.endsWith('toy--values.html') && document.readyState === 'complete'")
    images = browser.wait_for(
        "(() => { const i = Array.from(document.images);"
        " return i.length && i.every(x => x.complete) ? i.map(x => [x.src, x.naturalWidth]) : null; })()")
    assert images and all(width > 0 for _, width in images), images
    resources = browser.eval("performance.getEntriesByType('resource').map(r => r.name)")
    assert all(r.startswith("file://") for r in resources), resources  # nothing from the network
    browser.eval("document.images[0].scrollIntoView()")  # the screenshot shows a figure
    shot = _screenshot(browser, "experiment_page.png")
    (tmp_path / "experiment_page.png").write_bytes(shot)
    assert shot[:8] == b"\x89PNG\r\n\x1a\n" and len(shot) > 5000


def _screenshot(browser: Browser, name: str) -> bytes:
    shot = base64.b64decode(browser.send("Page.captureScreenshot", {"format": "png"})["data"])
    screenshots = os.environ.get("COLLAPSELAB_SCREENSHOTS")  # kept for a human to look at
    if screenshots:
        Path(screenshots).mkdir(parents=True, exist_ok=True)
        (Path(screenshots) / name).write_bytes(shot)
    return shot


def _check_index_layout(browser: Browser) -> None:
    """At 1400 and 800 px: nothing wider than the window, each claim on one line at 1400 (two at most at
    800, where the measured figure moves under the chips), and a click on a claim unfolds its detail."""
    lines = ("Array.from(document.querySelectorAll('details.claim > summary'))"
             ".map(s => s.getBoundingClientRect().height)")
    for width in (1400, 800):
        browser.send("Emulation.setDeviceMetricsOverride",
                     {"width": width, "height": 1600, "deviceScaleFactor": 1, "mobile": False})
        assert browser.eval("document.documentElement.scrollWidth") <= width, width
        heights = browser.eval(lines)
        row = browser.eval("document.querySelector('.row.head').getBoundingClientRect().height")
        assert heights and max(heights) < (1.8 if width == 1400 else 3.2) * row, (width, heights, row)
        assert _screenshot(browser, f"index_{width}.png")[:8] == b"\x89PNG\r\n\x1a\n"
    first = "document.querySelector(\"details.claim\")"
    assert browser.eval(f"{first}.open") is False
    browser.eval(f"{first}.querySelector('summary').click()")
    assert browser.eval(f"{first}.open") is True
    assert browser.eval(f"{first}.querySelector('.detail').getBoundingClientRect().height") > 0
    browser.send("Emulation.clearDeviceMetricsOverride")


def test_site_never_deletes_a_folder_it_did_not_write(site, tmp_path):
    mine = tmp_path / "mine"
    (mine / "experiments").mkdir(parents=True)
    (mine / "experiments" / "keep.txt").write_text("precious")
    with pytest.raises(FileExistsError, match="left untouched"):
        write_site(site, mine)
    assert (mine / "experiments" / "keep.txt").read_text() == "precious"
    again = write_site(site, tmp_path / "fresh")  # a site folder it wrote is rewritten in place
    assert write_site(site, tmp_path / "fresh") == again and again.is_file()
