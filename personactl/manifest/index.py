"""The project index: which kinds and names each manifest file declares.

`validate FILE` reports on FILE only, but checks its references (tools, and any
kind named by `metadata.name`) and duplicate names against the whole project.
Parsing every other manifest for that would make a pre-commit hook as slow as
the project is big, so the kinds and names of each file are kept here, keyed
by its path and its `stat` (size, mtime, ctime, inode): a file whose stat
changed, a new file, a renamed one, is read again; a removed one is dropped.

It is a cache, never trusted blindly: a file of another version, another root
or the wrong shape is ignored whole; a file that did not load cleanly is never
recorded (it is read every time, so its errors and the names it may define
stay right); nor is one changed in the last RACY_NS, as a second change within
the file system's timestamp granularity could go unseen (git's "racy clean").
It lives in `.personactl/cache/index.json`, with a `.gitignore` of its own, and
is written only for projects of MIN_FILES manifests or more: a small project
is read faster than its index.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

VERSION = 2
MIN_FILES = 50
RACY_NS = 2_000_000_000
CACHE_DIR = Path(".personactl") / "cache"

# An entry, as stored: one string, tab-separated (a tenth of the time to read back that
# nested lists take): the stat key, then kind, name, document index, line and column of
# `metadata.name` for each resource the file declares.
Entry = str


def stat_key(st: os.stat_result) -> str:
    """What a file's content cannot change without changing: size, mtime, ctime, inode."""
    return f"{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}:{st.st_ino}"


def entry(st: os.stat_result, declared: list[list[Any]]) -> Entry | None:
    """The entry for a file with this stat; None when a value would not survive the
    format (a name holding a tab or a line break): such a file is read every time."""
    fields = [stat_key(st), *(str(v) for d in declared for v in d)]
    if any("\t" in f or "\n" in f for f in fields):
        return None
    return "\t".join(fields)


def racy(st: os.stat_result, now_ns: int) -> bool:
    return max(st.st_mtime_ns, st.st_ctime_ns) > now_ns - RACY_NS


def index_path(root: Path) -> Path:
    return root / CACHE_DIR / "index.json"


def load(root: Path) -> dict[str, Entry]:
    """The entries by path relative to the root; empty when missing or not ours. Each
    entry is checked where it is used (`fresh`, and the loader's stand-ins)."""
    try:
        data = json.loads(index_path(root).read_text(encoding="utf-8"))
        if data.get("version") != VERSION or data.get("root") != str(root):
            return {}
        files = data["files"]
        return files if isinstance(files, dict) else {}
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return {}


def save(root: Path, entries: dict[str, Entry]) -> None:
    """Write the index; a project that cannot be written to (read-only CI) goes without."""
    from personactl.core.files import atomic_write

    folder = root / CACHE_DIR
    data = {
        "version": VERSION,
        "root": str(root),
        "files": dict(sorted(entries.items())),
    }
    try:
        folder.mkdir(parents=True, exist_ok=True)
        ignore = folder / ".gitignore"
        if not ignore.exists():
            ignore.write_text("# personactl's cache: never committed\n*\n", encoding="utf-8")
        text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
        atomic_write(index_path(root), text)
    except OSError:
        pass


def now_ns() -> int:
    return time.time_ns()
