"""The project's small JSON records (``claims.lock``, ``cell_rates.json``): read one object, write it atomically."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def read_object(path: Path, error: type[Exception], what: str) -> dict[str, Any] | None:
    """The JSON object stored at ``path``; None when there is no such file. A file that cannot be read, is
    not JSON or holds something other than an object raises ``error`` naming ``path`` and ``what`` it
    should have been."""
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise error(f"{path} is not a readable {what} ({exc})") from None
    if not isinstance(data, dict):
        raise error(f"{path} is not a {what} (a JSON object)")
    return data


def write_atomic(path: Path, data: Any) -> Path:
    """Write ``data`` as indented JSON (one space, non-ASCII kept) through a temporary file beside ``path``
    and a rename, so that a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    tmp.replace(path)
    return path
