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
It lives in `.personactl/cache/index`, with a `.gitignore` of its own, and is
written only for projects of MIN_FILES manifests or more: a small project is
read faster than its index. It is in marshal's format (a fifth of the time
JSON takes to read back), for this Python version only, and records the
project's globs, so a child process can survey the project before the parent
has read personactl.yaml (prescan.py); the parent uses that survey only when
the project's globs are the same.

`survey` sorts the files found against the entries: those to read again, and
what stands for each of the others; the loader takes it from here. This module
imports only the standard library's lightest parts: the prescan child runs it.
"""

from __future__ import annotations

import marshal
import os
import sys
import time

from personactl.manifest.globbing import stat_key

TYPE_CHECKING = False  # not typing's: prescan.py imports this before typing is
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

VERSION = 3
MIN_FILES = 50
RACY_NS = 2_000_000_000
CACHE_DIR = os.path.join(".personactl", "cache")
FILE_NAME = "index"
_FORMAT = (VERSION, *sys.version_info[:2])  # marshal's format may change between versions

# An entry, as stored: one string, tab-separated (a tenth of the time to read back that
# nested lists take): the stat key, then kind, name, document index, line and column of
# `metadata.name` for each resource the file declares.
Entry = str


def entry(st: os.stat_result, declared: list[list[Any]]) -> Entry | None:
    """The entry for a file with this stat; None when a value would not survive the
    format (a name holding a tab or a line break): such a file is read every time."""
    fields = [stat_key(st), *(str(v) for d in declared for v in d)]
    if any("\t" in f or "\n" in f for f in fields):
        return None
    return "\t".join(fields)


def racy(st: os.stat_result, now_ns: int) -> bool:
    return max(st.st_mtime_ns, st.st_ctime_ns) > now_ns - RACY_NS


def index_path(root: str | Path) -> str:
    return os.path.join(root, CACHE_DIR, FILE_NAME)


class Recorded:
    """The index as read: the globs it was made with, the entries by path relative to
    the root, and two views of them made when it was written: the file of each
    persona name (of files that declare one persona, the first of each name), and
    every other file that declares something (other kinds, several documents, a
    second file of a persona name). `stamp`: the index file's own stat key, which
    tells one writing of it from another."""

    def __init__(
        self,
        globs: list[str],
        files: dict[str, Any],
        personas: dict[str, str],
        others: list[str],
        stamp: str,
    ) -> None:
        self.globs = globs
        self.files = files
        self.personas = personas
        self.others = others
        self.stamp = stamp


EMPTY = Recorded([], {}, {}, [], "")


def load(root: str | Path, views: bool = True) -> Recorded | None:
    """The index of the project at `root`; None when missing or not ours. Each entry is
    checked where it is used (its stat key by `survey`, its shape by the loader).
    Without `views`, its personas and others are left unread (empty)."""
    try:
        with open(index_path(root), "rb") as f:
            stamp = stat_key(os.fstat(f.fileno()))
            sizes = f.readline(40).split()
            # (marshal.load on the file itself reads it a few bytes at a time: 10x slower)
            form, recorded_root, globs, files = marshal.loads(f.read(int(sizes[0])))
            if form != _FORMAT or recorded_root != str(root):
                return None
            personas, others = marshal.loads(f.read(int(sizes[1]))) if views else ({}, [])
        if not isinstance(globs, list) or not all(isinstance(g, str) for g in globs):
            return None
        if not isinstance(files, dict) or not isinstance(personas, dict):
            return None
        if not isinstance(others, list) or not all(type(rel) is str for rel in others):
            return None
        return Recorded(globs, files, personas, others, stamp)
    except (OSError, ValueError, TypeError, EOFError, IndexError):
        return None


def save(root: Path, globs: list[str], entries: dict[str, Entry]) -> None:
    """Write the index; a project that cannot be written to (read-only CI) goes without."""
    from pathlib import Path

    from personactl.core.files import atomic_write

    folder = root / CACHE_DIR
    files = dict(sorted(entries.items()))
    personas: dict[str, str] = {}
    others: list[str] = []
    for rel, raw in list(files.items()):
        fields = raw.split("\t")
        if not well_formed(fields[1:]):
            del files[rel]  # a damaged entry: its file is read again next time
        elif len(fields) == 6 and fields[1] == "Persona" and fields[2] not in personas:
            personas[fields[2]] = rel
        elif len(fields) > 1:
            others.append(rel)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        ignore = folder / ".gitignore"
        if not ignore.exists():
            ignore.write_text("# personactl's cache: never committed\n*\n", encoding="utf-8")
        # Two parts, their sizes first, so that the prescan child reads only the first.
        first = marshal.dumps((_FORMAT, str(root), list(globs), files))
        views = marshal.dumps((personas, others))
        data = b"%d %d\n" % (len(first), len(views)) + first + views
        atomic_write(Path(index_path(root)), data)
        (folder / "index.json").unlink(missing_ok=True)  # version 2's, not read any more
    except OSError:
        pass


class Survey:
    """The manifest files of a project against its index, as one writing of it (`stamp`)
    recorded them (paths relative to the root unless said otherwise). Plain data: a
    prescan child sends it whole."""

    def __init__(
        self,
        root: str,
        globs: list[str],
        stamp: str,
        count: int = 0,
        stale: dict[str, Entry | None] | None = None,
        gone: list[str] | None = None,
        named: dict[str, tuple[bool, Entry | None]] | None = None,
    ) -> None:
        self.root = root
        self.globs = globs
        self.stamp = stamp
        self.count = count  # manifest files found
        # Found, with no entry whose stat key is the file's (new, changed, or racy when
        # recorded): read again. Each with the entry recorded for it, if any.
        self.stale = stale if stale is not None else {}
        self.gone = gone if gone is not None else []  # recorded, no longer found
        # The files named on the command line, by absolute path: (found by the globs,
        # the entry recorded for it).
        self.named = named if named is not None else {}

    def dump(self) -> bytes:
        return marshal.dumps(
            (self.root, self.globs, self.stamp, self.count, self.stale, self.gone, self.named)
        )

    @classmethod
    def undump(cls, data: bytes) -> Survey:
        return cls(*marshal.loads(data))


def survey(root: str, recorded: Recorded, found: dict[str, str], named: list[str]) -> Survey:
    """Sort the files `found` (absolute path -> stat key) against the index."""
    files = recorded.files
    out = Survey(root, recorded.globs, recorded.stamp, len(found))
    stale = out.stale
    cut = len(root) + 1  # every path found is root/...
    entries = 0  # entries of files found
    for path, key in found.items():
        rel = path[cut:]
        raw = files.get(rel)
        if type(raw) is not str:
            stale[rel] = None
            continue
        entries += 1
        fresh = raw.startswith(key) and raw[len(key) : len(key) + 1] in ("", "\t")
        # (a count of fields here; each resource's shape where one is used: `well_formed`)
        if not fresh or raw.count("\t") % 5:
            stale[rel] = raw
    if len(files) > entries:
        prefix = root + os.sep
        out.gone = [rel for rel in files if prefix + rel not in found]
    for path in named:
        raw = files.get(path[cut:]) if path in found else None
        out.named[path] = (path in found, raw if type(raw) is str else None)
    return out


def well_formed(fields: list[str]) -> bool:
    """An entry's fields after the stat key: five a resource (kind, name, document
    index, line, column), numbers where numbers go."""
    if len(fields) % 5:
        return False
    return all(fields[i].isdigit() for j in range(0, len(fields), 5) for i in (j + 2, j + 3, j + 4))


def now_ns() -> int:
    return time.time_ns()
