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
    return out


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
    shot = base64.b64decode(browser.send("Page.captureScreenshot", {"format": "png"})["data"])
    (tmp_path / "experiment_page.png").write_bytes(shot)
    assert shot[:8] == b"\x89PNG\r\n\x1a\n" and len(shot) > 5000
    screenshots = os.environ.get("COLLAPSELAB_SCREENSHOTS")  # keep it for a human to look at
    if screenshots:
        Path(screenshots).mkdir(parents=True, exist_ok=True)
        (Path(screenshots) / "experiment_page.png").write_bytes(shot)


def test_site_never_deletes_a_folder_it_did_not_write(site, tmp_path):
    mine = tmp_path / "mine"
    (mine / "experiments").mkdir(parents=True)
    (mine / "experiments" / "keep.txt").write_text("precious")
    with pytest.raises(FileExistsError, match="left untouched"):
        write_site(site, mine)
    assert (mine / "experiments" / "keep.txt").read_text() == "precious"
    again = write_site(site, tmp_path / "fresh")  # a site folder it wrote is rewritten in place
    assert write_site(site, tmp_path / "fresh") == again and again.is_file()
