"""Every ```python code block of ``docs/*.md`` and ``README.md`` runs, each file in a fresh folder.

The blocks of one file run in order in one namespace (a later block may use what an earlier one
defined), with a temporary directory as the working directory. A block that cannot run here (it needs a
GPU, a Ray cluster or the user's own files) is fenced as ```` ```python no-run: <reason> ````; the
reason is required, and such blocks must stay rare. A failure names the file, the block and its line.
"""

from __future__ import annotations

import re
import traceback
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FENCE = re.compile(r"^```python(?P<info>[^\n]*)\n(?P<code>.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
NO_RUN = "no-run"


def doc_files() -> list[Path]:
    return sorted((ROOT / "docs").glob("*.md")) + [p for p in (ROOT / "README.md",) if p.exists()]


def blocks(path: Path) -> list[tuple[int, str, str]]:
    """(line of the opening fence, info string after ``python``, code) of each python block."""
    text = path.read_text(encoding="utf-8")
    return [(text.count("\n", 0, m.start()) + 1, m.group("info").strip(), m.group("code"))
            for m in FENCE.finditer(text)]


def _runnable(path: Path) -> list[tuple[int, str, str]]:
    return [b for b in blocks(path) if not b[1].startswith(NO_RUN)]


FILES = [p for p in doc_files() if _runnable(p)]


def test_fence_parser():
    sample = "x\n```python\na = 1\n```\n```python no-run: needs a GPU\nb = 2\n```\n```bash\nls\n```\n"
    path = Path(__file__).parent / "_sample_doc.md"
    try:
        path.write_text(sample)
        assert blocks(path) == [(2, "", "a = 1\n"), (5, "no-run: needs a GPU", "b = 2\n")]
    finally:
        path.unlink()


def test_no_run_blocks_say_why_and_are_rare():
    every = [(p, line, info) for p in doc_files() for line, info, _ in blocks(p)]
    skipped = [(p, line, info) for p, line, info in every if info.startswith(NO_RUN)]
    for p, line, info in skipped:
        reason = info[len(NO_RUN):].lstrip(":").strip()
        assert reason, f"{p.relative_to(ROOT)}:{line}: a ```python no-run block must say why (no-run: reason)"
    assert len(skipped) <= max(2, len(every) // 5), f"too many no-run blocks: {skipped}"


@pytest.mark.parametrize("path", FILES, ids=[p.relative_to(ROOT).as_posix() for p in FILES])
@pytest.mark.slow
def test_doc_examples_run(path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": f"docs_{path.stem.replace('-', '_')}"}
    for k, (line, _, code) in enumerate(_runnable(path), start=1):
        try:
            exec(compile(code, f"{path.relative_to(ROOT)}:block{k}@line{line}", "exec"), namespace)
        except Exception:
            pytest.fail(f"{path.relative_to(ROOT)}: python block {k} (fence at line {line}) failed:\n"
                        f"{code}\n{traceback.format_exc(limit=-3)}", pytrace=False)


def test_index_links_every_paper_page():
    """docs/index.md links every paper (by slug) and every docs page that exists."""
    index = (ROOT / "docs" / "index.md").read_text(encoding="utf-8")
    links = set(re.findall(r"\]\(([^)#]+\.md)\)", index))
    pages = {p.name for p in (ROOT / "docs").glob("*.md")} - {"index.md"}
    assert pages <= links, f"docs pages missing from docs/index.md: {sorted(pages - links)}"
    from collapselab.experiments._papers import ALL_PAPERS

    assert {f"{p.slug}.md" for p in ALL_PAPERS} <= links
