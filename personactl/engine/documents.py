"""A knowledge group's documents: diffed against files, then synced by apply.

Documents are identified by file name inside their group. The state records,
per file name, the id personactl uploaded, its size and sha256 (the API
returns no hash) and the upload parameters. The diff (pure):

- a file no live document of its name holds: `create` (upload);
- a file whose recorded document is live with the same hash and parameters:
  nothing (older copies of the same name, left by an interrupted replace, are
  deleted); a document of its name personactl never recorded is adopted when
  its downloaded content has the same hash;
- a changed file (or one whose document FAILED): `replace`: upload the new one,
  wait until it is READY, then delete the old one, so the group is never without it;
- a live document personactl uploaded whose file left the manifest: `delete`;
- a live document personactl never uploaded (added in the Lab): drift, deleted
  only with --prune.

`DocumentSync` carries a group's changes out: uploads (a dropped upload is
looked up by file name before any retry: never a duplicate), waits for them
to leave UPLOADED/PROCESSING within the wait timeout, reporting progress,
deletes what they replace once READY, and records each step in the state.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from personactl.core.errors import OutcomeUnknown, PersonactlError
from personactl.engine import plan as p

PENDING = frozenset({"UPLOADED", "PROCESSING"})
REMOVED = "removed from the manifest"  # the reason of a delete that also leaves the state
FAILED = "FAILED"


class LocalFile(Protocol):
    """A file of the manifest (manifest.documents.LocalDocument)."""

    @property
    def filename(self) -> str: ...
    @property
    def path(self) -> str: ...
    @property
    def shown(self) -> str: ...
    @property
    def size(self) -> int: ...
    @property
    def sha256(self) -> str: ...


def human_size(size: int | None) -> str:
    """812 bytes, 12 KB, 1.5 MB: as plans show sizes (1 KB = 1024 bytes)."""
    if size is None:
        return "?"
    if size < 1024:
        return f"{size:,} bytes"
    if size < 1024 * 1024:
        return f"{round(size / 1024)} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def size_change(before: int | None, after: int | None) -> str:
    """`41 KB → 43 KB`; in bytes when the rounded sizes would look the same."""
    old, new = human_size(before), human_size(after)
    if old == new and before is not None and after is not None:
        return f"{before:,} → {after:,} bytes"
    return f"{old} → {new}"


@dataclass
class DocumentDiff:
    changes: list[p.DocumentChange] = field(default_factory=list)
    drift: list[p.FieldChange] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def acts(self) -> bool:
        """Whether any change sends a request (adopt and forget only update the state)."""
        return any(c.action in ("create", "replace", "delete") for c in self.changes)


def diff_documents(
    group: str,
    local: Sequence[LocalFile],
    live: list[dict[str, Any]],
    recorded: dict[str, dict[str, Any]],
    params: dict[str, int],
    *,
    prune: bool,
    hashes: dict[str, str] | None = None,
) -> DocumentDiff:
    """The changes that make the live documents of group `group` the files `local`.
    `recorded`: the state's documents; `hashes`: live id -> sha256 of documents
    personactl did not record, downloaded to see whether they can be adopted."""
    hashes = hashes or {}
    out = DocumentDiff()
    by_name: dict[str, list[dict[str, Any]]] = {}
    for doc in live:
        by_name.setdefault(str(doc.get("filename")), []).append(doc)
    wanted = {f.filename for f in local}
    for f in local:
        same = by_name.get(f.filename, [])
        rec = recorded.get(f.filename)
        current = next((d for d in same if rec and d.get("id") == rec.get("id")), None)
        adopted = False
        if current is None:
            current = next(
                (
                    d
                    for d in same
                    if hashes.get(str(d.get("id"))) == f.sha256 and d.get("status") != FAILED
                ),
                None,
            )
            adopted = current is not None
            rec = {"sha256": f.sha256, "params": params} if adopted else None
        others = [str(d["id"]) for d in same if current is None or d is not current]
        upload = functools.partial(_upload, f, params)

        if current is None:
            if same:
                before = same[0].get("fileSize")
                reason = "content differs from the live document, which personactl never uploaded"
                out.changes.append(upload("replace", reason, before_size=before, replaces=others))
            else:
                out.changes.append(upload("create", "new"))
            continue
        assert rec is not None
        before = rec.get("size", current.get("fileSize"))
        replaces = [str(current["id"]), *others]
        if current.get("status") == FAILED:
            why = current.get("errorMessage") or "no reason given"
            reason = f"its processing failed: {why}"
            out.changes.append(upload("replace", reason, before_size=before, replaces=replaces))
        elif rec.get("sha256") != f.sha256:
            reason = f"content changed: {size_change(before, f.size)}"
            out.changes.append(upload("replace", reason, before_size=before, replaces=replaces))
        elif (rec.get("params") or {}) != params:
            reason = "upload parameters changed"
            out.changes.append(upload("replace", reason, before_size=before, replaces=replaces))
        else:
            if adopted:
                out.changes.append(upload("adopt", "same content", replaces=[str(current["id"])]))
            if others:
                out.changes.append(
                    p.DocumentChange(
                        "delete",
                        f.filename,
                        f.shown,
                        reason=f"{len(others)} older cop{'y' if len(others) == 1 else 'ies'} "
                        "of the same name",
                        size=current.get("fileSize"),
                        replaces=others,
                        after=str(current["id"]),
                    )
                )
    recorded_ids = {str(r.get("id")) for r in recorded.values()}
    for name, docs in sorted(by_name.items()):
        if name in wanted:
            continue
        ours = [d for d in docs if str(d.get("id")) in recorded_ids]
        theirs = [d for d in docs if str(d.get("id")) not in recorded_ids]
        if ours:
            out.changes.append(
                p.DocumentChange(
                    "delete",
                    name,
                    name,
                    reason=REMOVED,
                    size=ours[0].get("fileSize"),
                    replaces=[str(d["id"]) for d in ours],
                )
            )
        for d in theirs:
            size = human_size(d.get("fileSize"))
            if prune:
                out.changes.append(
                    p.DocumentChange(
                        "delete",
                        name,
                        name,
                        reason="added outside personactl",
                        size=d.get("fileSize"),
                        replaces=[str(d["id"])],
                    )
                )
            else:
                out.drift.append(
                    p.FieldChange(
                        f'document "{name}"',
                        None,
                        f"added outside personactl ({size})",
                        p.Reason.DRIFT,
                    )
                )
                out.warnings.append(
                    f"KnowledgeGroup {group!r} holds document {name!r} ({d.get('id')}), which "
                    "personactl did not upload; run with --prune to delete it"
                )
    live_ids = {str(d.get("id")) for d in live}
    for name, rec in sorted(recorded.items()):
        if name not in wanted and str(rec.get("id")) not in live_ids:
            out.changes.append(p.DocumentChange("forget", name, name, reason="already gone"))
    return out


def _upload(
    f: LocalFile, params: dict[str, int], action: str, reason: str, **kw: Any
) -> p.DocumentChange:
    return p.DocumentChange(
        action, f.filename, f.shown, reason, f.path, f.size, f.sha256, params=params, **kw
    )


def document_line(change: p.DocumentChange) -> tuple[str, str]:
    """(symbol, text) of a document change as plans show it."""
    if change.action == "create":
        return "+", f'document "{change.shown}" ({human_size(change.size)})'
    if change.action == "replace":
        return "-/+", f'document "{change.shown}" ({change.reason})'
    return "-", f'document "{change.shown}" ({change.reason})'


# -- apply ------------------------------------------------------------------------------


class DocumentApi(Protocol):
    """The document calls apply needs; `anam.api.AnamApi` implements them over HTTP."""

    def documents(self, group_id: str) -> list[dict[str, Any]]: ...
    def upload_document(
        self, group_id: str, filename: str, content: bytes, params: dict[str, int]
    ) -> dict[str, Any]: ...
    def delete_document(self, ident: str) -> None: ...


# (project-relative path) -> the file's bytes
ReadFile = Callable[[str], bytes]
# One line of progress, e.g. 'KnowledgeGroup "router-manuals": 2 of 3 documents ready'
DocumentProgress = Callable[[str], None]
# Records a group's documents in the state: (file name -> record or None to drop it)
RecordDocuments = Callable[[dict[str, dict[str, Any] | None]], None]


@dataclass
class SyncOptions:
    read: ReadFile
    wait_timeout: float = 600.0
    progress: DocumentProgress | None = None
    poll: float = 0.05  # first pause between status reads; it grows to 2 s
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep


class DocumentSync:
    """Carries out one group's document changes (see the module's docstring)."""

    def __init__(
        self,
        api: DocumentApi,
        options: SyncOptions,
        group: str,
        group_id: str,
        record: RecordDocuments,
    ) -> None:
        self.api = api
        self.options = options
        self.group = group
        self.group_id = group_id
        self.record = record

    def run(self, changes: list[p.DocumentChange]) -> str:
        """What was done, in a few words; a PersonactlError says what failed."""
        import hashlib

        for c in changes:
            if c.action == "adopt":
                self.record({c.filename: _record(c, c.replaces[0])})
            elif c.action == "forget":
                self.record({c.filename: None})
        uploads = [c for c in changes if c.action in ("create", "replace")]
        contents: list[bytes] = []
        for c in uploads:  # every file is checked before anything is sent
            assert c.path is not None
            content = self.options.read(c.path)
            if "sha256:" + hashlib.sha256(content).hexdigest() != c.sha256:
                raise PersonactlError(
                    f"document {c.path!r} changed since the plan was made; plan again"
                )
            contents.append(content)
        sent: list[tuple[p.DocumentChange, str]] = []
        for c, content in zip(uploads, contents, strict=True):
            ident = self._upload(c, content)
            self.record({c.filename: _record(c, ident)})
            sent.append((c, ident))
        # Older copies of a file wait for its current copy (one a killed run left
        # processing) as a replace waits for its upload.
        current = [(c, c.after) for c in changes if c.action == "delete" and c.after]
        failures = self._wait(sent + current)
        for c, ident in sent:
            if ident not in failures:
                for old in c.replaces:
                    self.api.delete_document(old)
        for c in changes:
            if c.action == "delete" and not (c.after and c.after in failures):
                for old in c.replaces:
                    self.api.delete_document(old)
                if c.reason == REMOVED:
                    self.record({c.filename: None})
        if failures:
            raise PersonactlError("; ".join(failures.values()))
        counts = [
            (sum(c.action == a for c in changes), word)
            for a, word in (("create", "uploaded"), ("replace", "replaced"), ("delete", "deleted"))
        ]
        done = [f"{n} document{'s' if n != 1 else ''} {word}" for n, word in counts if n]
        return ", ".join(done)

    def _upload(self, c: p.DocumentChange, content: bytes) -> str:
        """Upload one file; a lost answer is looked up by file name before any retry."""
        for _ in range(3):
            try:
                return str(
                    self.api.upload_document(self.group_id, c.filename, content, c.params)["id"]
                )
            except OutcomeUnknown:
                known = set(c.replaces)
                found = [
                    d
                    for d in self.api.documents(self.group_id)
                    if d.get("filename") == c.filename and str(d.get("id")) not in known
                ]
                if len(found) > 1:
                    ids = ", ".join(str(d.get("id")) for d in found)
                    raise PersonactlError(
                        f"the upload of {c.shown!r} had an unknown outcome and {len(found)} "
                        f"documents now have its name ({ids})"
                    ) from None
                if found:  # it was stored: adopt it
                    return str(found[0]["id"])
        raise PersonactlError(f"the upload of {c.shown!r} stayed unknown after 3 tries")

    def _wait(self, sent: list[tuple[p.DocumentChange, str]]) -> dict[str, str]:
        """Until every upload has left UPLOADED/PROCESSING: id -> failure message."""
        if not sent:
            return {}
        opts = self.options
        names = {ident: c.shown for c, ident in sent}
        start = opts.clock()
        pause = opts.poll
        reported = -1
        while True:
            status = {str(d.get("id")): d for d in self.api.documents(self.group_id)}
            pending = [i for i in names if status.get(i, {}).get("status") in PENDING]
            ready = len(names) - len(pending)
            if opts.progress is not None and ready != reported:
                opts.progress(
                    f'KnowledgeGroup "{self.group}": {ready} of {len(names)} '
                    f"document{'s' if len(names) != 1 else ''} processed"
                )
                reported = ready
            if not pending:
                break
            waited = opts.clock() - start
            if waited >= opts.wait_timeout:
                shown = ", ".join(repr(names[i]) for i in pending)
                raise PersonactlError(
                    f"{shown} still processing after {opts.wait_timeout:g} s (--wait-timeout); "
                    "the old documents are kept and the next apply checks again"
                )
            opts.sleep(min(pause, opts.wait_timeout - waited))
            pause = min(pause * 1.5, 2.0)
        failures = {}
        for ident, shown in names.items():
            doc = status.get(ident)
            if doc is None:
                failures[ident] = f"document {shown!r} ({ident}) disappeared while processing"
            elif doc.get("status") == FAILED:
                why = doc.get("errorMessage") or "no reason given"
                failures[ident] = f"document {shown!r} failed processing: {why}"
        return failures


def _record(c: p.DocumentChange, ident: str) -> dict[str, Any]:
    return {"id": ident, "size": c.size, "sha256": c.sha256, "params": dict(c.params)}
