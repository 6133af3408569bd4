"""A KnowledgeGroup's documents: the files its `spec.documents` entries name.

Each entry is a file or a glob (`*`, `**`, `?`) relative to the manifest. The
checks (`validate`, offline): the entry names at least one file, every file
stays inside the project, is a regular file of a type the API takes (PDF,
TXT, MD, DOCX, CSV) and at most 50 MB, and no two documents of a group share
a file name (the API identifies them by it). Each problem names the entry's
file:line:col. `local_documents` adds each file's size and sha256 (the API
returns no hash), which the plan compares with the state.
"""

from __future__ import annotations

import glob
import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from personactl.core.errors import Diagnostic, Location
from personactl.manifest.model import Resource

SUPPORTED_TYPES = (".pdf", ".txt", ".md", ".docx", ".csv")
MAX_DOCUMENT_BYTES = 50 * 1024 * 1024  # the API's limit per file
_GLOB_CHARS = frozenset("*?[")


@dataclass(frozen=True)
class DocumentFile:
    """One file of a group: its name in the group, its path (relative to the project
    root, `/`-separated) and the path shown in plans (relative to the folder the group's
    files share, e.g. `faq/returns.md`)."""

    filename: str
    path: str
    shown: str
    absolute: Path


@dataclass(frozen=True)
class LocalDocument:
    filename: str
    path: str
    shown: str
    size: int
    sha256: str


def _kind_of(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _matches(base: Path, entry: str) -> list[Path]:
    """The paths an entry names (a glob's matches sorted), unresolved."""
    if not (_GLOB_CHARS & set(entry)):
        return [Path(os.path.abspath(base / entry))]
    pattern = os.path.join(glob.escape(str(base)), entry)
    found = glob.glob(pattern, recursive=True)
    return sorted(Path(os.path.abspath(p)) for p in found if not os.path.isdir(p))


def document_files(res: Resource, root: Path) -> tuple[list[DocumentFile], list[Diagnostic]]:
    """The files of a KnowledgeGroup manifest, and what is wrong with its entries."""
    entries = res.spec.get("documents")
    if not isinstance(entries, list):
        return [], []
    base = Path(os.path.abspath(Path(res.path).parent))
    real_root = Path(os.path.realpath(root))
    files: list[tuple[Path, Path, Location]] = []  # (as named, real, entry's location)
    diags: list[Diagnostic] = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, str) or not entry:
            continue  # the schema reports it
        at = res.loc(("spec", "documents", i))
        is_glob = bool(_GLOB_CHARS & set(entry))
        paths = _matches(base, entry)
        if not is_glob and not Path(os.path.realpath(paths[0])).is_relative_to(real_root):
            diags.append(Diagnostic.at(at, _outside(entry, paths[0], real_root), "document-file"))
            continue
        if not paths or (not is_glob and not os.path.lexists(paths[0])):
            what = "matches no file" if is_glob else "not found"
            diags.append(
                Diagnostic.at(
                    at,
                    f"document {entry!r} {what} (relative to {os.path.relpath(base) or '.'}); "
                    "fix the path or remove the entry",
                    "document-missing",
                )
            )
            continue
        for path in paths:
            real = Path(os.path.realpath(path))
            problem = _problem(entry, path, real, real_root)
            if problem:
                diags.append(Diagnostic.at(at, problem, "document-file"))
            else:
                files.append((path, real, at))
    out: list[DocumentFile] = []
    by_name: dict[str, tuple[str, Location]] = {}
    seen: set[Path] = set()
    for path, real, at in files:
        if real in seen:
            continue  # named twice (a file and a glob over it): one document
        seen.add(real)
        rel = real.relative_to(real_root).as_posix()
        name = path.name
        if name in by_name:
            other, where = by_name[name]
            diags.append(
                Diagnostic.at(
                    at,
                    f"documents {other!r} and {rel!r} share the file name {name!r} (from "
                    f"{where.path}:{where.line}:{where.column}); a group identifies its documents "
                    "by file name: rename one",
                    "document-duplicate",
                )
            )
            continue
        by_name[name] = (rel, at)
        out.append(DocumentFile(name, rel, rel, real))
    return _shown(out), diags


def _problem(entry: str, path: Path, real: Path, root: Path) -> str | None:
    shown = os.path.relpath(path)
    if not real.is_relative_to(root):
        return _outside(entry, path, root)
    try:
        st = os.stat(real)
    except OSError as exc:
        return f"document {entry!r} ({shown}) cannot be read ({exc.strerror}); fix the path"
    if not stat.S_ISREG(st.st_mode):
        return f"document {entry!r} ({shown}) is {_kind_of(st.st_mode)}; point it at a file"
    if path.suffix.lower() not in SUPPORTED_TYPES:
        return (
            f"document {shown!r} is of a type the API does not take ({path.suffix or 'none'}); "
            "use PDF, TXT, MD, DOCX or CSV"
        )
    if st.st_size > MAX_DOCUMENT_BYTES:
        return (
            f"document {shown!r} is {st.st_size:,} bytes, over the API's 50 MB limit; "
            "split or shrink it"
        )
    return None


def _outside(entry: str, path: Path, root: Path) -> str:
    return (
        f"document {entry!r} ({os.path.relpath(path)}) is outside the project "
        f"({os.path.relpath(root) or '.'}); keep documents inside the project"
    )


def _shown(files: list[DocumentFile]) -> list[DocumentFile]:
    """The same files, shown relative to the folder they all share."""
    if not files:
        return files
    parents = [PurePosixPath(f.path).parent.parts for f in files]
    common: list[str] = []
    for parts in zip(*parents, strict=False):
        if len(set(parts)) != 1:
            break
        common.append(parts[0])
    n = len(common)
    return [
        DocumentFile(
            f.filename,
            f.path,
            PurePosixPath(*PurePosixPath(f.path).parts[n:]).as_posix(),
            f.absolute,
        )
        for f in files
    ]


def sha256_of(path: Path) -> tuple[int, str]:
    """The size and `sha256:<hex>` of a file, read in blocks."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
            size += len(block)
    return size, "sha256:" + digest.hexdigest()


def local_documents(res: Resource, root: Path) -> list[LocalDocument]:
    """The files of a group with their sizes and hashes (validate reported any problem)."""
    files, _ = document_files(res, root)
    out = []
    for f in files:
        size, digest = sha256_of(f.absolute)
        out.append(LocalDocument(f.filename, f.path, f.shown, size, digest))
    return out
