"""The document diff of a knowledge group (engine.documents): pure, no HTTP."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from personactl.engine.documents import diff_documents, document_line, human_size, size_change

PARAMS = {"chunkSize": 1000, "chunkOverlap": 200}


@dataclass(frozen=True)
class File:
    filename: str
    path: str
    shown: str
    size: int
    sha256: str


def file(shown: str, size: int = 12 * 1024, sha: str = "sha256:aa") -> File:
    return File(shown.rsplit("/", 1)[-1], f"knowledge/{shown}", shown, size, sha)


def doc(ident: str, filename: str, size: int = 12 * 1024, status: str = "READY") -> dict[str, Any]:
    return {
        "id": ident,
        "filename": filename,
        "fileSize": size,
        "status": status,
        "errorMessage": "empty file" if status == "FAILED" else None,
    }


def rec(ident: str, size: int = 12 * 1024, sha: str = "sha256:aa") -> dict[str, Any]:
    return {"id": ident, "size": size, "sha256": sha, "params": PARAMS}


def lines(diff: Any) -> list[str]:
    return [" ".join(document_line(c)) for c in diff.changes if c.action != "adopt"]


def test_a_new_group_uploads_every_file() -> None:
    d = diff_documents(
        "g", [file("manual.md"), file("faq/returns.md")], [], {}, PARAMS, prune=False
    )
    assert lines(d) == ['+ document "manual.md" (12 KB)', '+ document "faq/returns.md" (12 KB)']
    assert [(c.action, c.path, c.params) for c in d.changes] == [
        ("create", "knowledge/manual.md", PARAMS),
        ("create", "knowledge/faq/returns.md", PARAMS),
    ]
    assert d.acts and not d.drift


def test_unchanged_files_need_nothing() -> None:
    d = diff_documents(
        "g",
        [file("manual.md")],
        [doc("d1", "manual.md")],
        {"manual.md": rec("d1")},
        PARAMS,
        prune=False,
    )
    assert d.changes == [] and not d.acts and d.drift == [] and d.warnings == []


def test_a_changed_file_replaces_its_document() -> None:
    d = diff_documents(
        "g",
        [file("manual.md", 43 * 1024, "sha256:bb")],
        [doc("d1", "manual.md", 41 * 1024)],
        {"manual.md": rec("d1", 41 * 1024)},
        PARAMS,
        prune=False,
    )
    assert lines(d) == ['-/+ document "manual.md" (content changed: 41 KB → 43 KB)']
    (c,) = d.changes
    assert (c.action, c.replaces, c.sha256, c.before_size) == (
        "replace",
        ["d1"],
        "sha256:bb",
        41 * 1024,
    )


def test_sizes_that_round_alike_are_shown_in_bytes() -> None:
    assert human_size(812) == "812 bytes"
    assert human_size(5 * 1024 * 1024 + 1) == "5.0 MB"
    assert size_change(1101, 1185) == "1,101 → 1,185 bytes"
    assert size_change(41 * 1024, 43 * 1024) == "41 KB → 43 KB"


def test_new_upload_parameters_replace_every_document() -> None:
    d = diff_documents(
        "g",
        [file("manual.md")],
        [doc("d1", "manual.md")],
        {"manual.md": rec("d1")},
        {"chunkSize": 500},
        prune=False,
    )
    assert lines(d) == ['-/+ document "manual.md" (upload parameters changed)']


def test_a_failed_document_is_uploaded_again() -> None:
    d = diff_documents(
        "g",
        [file("manual.md")],
        [doc("d1", "manual.md", status="FAILED")],
        {"manual.md": rec("d1")},
        PARAMS,
        prune=False,
    )
    assert lines(d) == ['-/+ document "manual.md" (its processing failed: empty file)']
    assert d.changes[0].replaces == ["d1"]


def test_a_file_removed_from_the_manifest_is_deleted() -> None:
    d = diff_documents(
        "g",
        [file("manual.md")],
        [doc("d1", "manual.md"), doc("d2", "old.md")],
        {"manual.md": rec("d1"), "old.md": rec("d2")},
        PARAMS,
        prune=False,
    )
    assert lines(d) == ['- document "old.md" (removed from the manifest)']
    assert d.changes[0].replaces == ["d2"]


def test_a_document_added_in_the_lab_is_drift_deleted_only_with_prune() -> None:
    live = [doc("d1", "manual.md"), doc("lab", "lab-notes.md", 3 * 1024)]
    d = diff_documents(
        "g", [file("manual.md")], live, {"manual.md": rec("d1")}, PARAMS, prune=False
    )
    assert d.changes == [] and not d.acts
    assert [(f.path, f.after) for f in d.drift] == [
        ('document "lab-notes.md"', "added outside personactl (3 KB)")
    ]
    assert d.warnings == [
        "KnowledgeGroup 'g' holds document 'lab-notes.md' (lab), which personactl did not "
        "upload; run with --prune to delete it"
    ]
    pruned = diff_documents(
        "g", [file("manual.md")], live, {"manual.md": rec("d1")}, PARAMS, prune=True
    )
    assert lines(pruned) == ['- document "lab-notes.md" (added outside personactl)']
    assert pruned.changes[0].replaces == ["lab"] and pruned.drift == []


def test_an_unrecorded_document_with_the_same_content_is_adopted() -> None:
    live = [doc("d1", "manual.md")]
    d = diff_documents(
        "g", [file("manual.md")], live, {}, PARAMS, prune=False, hashes={"d1": "sha256:aa"}
    )
    assert [(c.action, c.replaces) for c in d.changes] == [("adopt", ["d1"])]
    assert not d.acts  # nothing to send: apply only records it
    other = diff_documents(
        "g", [file("manual.md")], live, {}, PARAMS, prune=False, hashes={"d1": "sha256:zz"}
    )
    assert [(c.action, c.replaces) for c in other.changes] == [("replace", ["d1"])]


def test_older_copies_left_by_an_interrupted_replace_are_deleted() -> None:
    live = [doc("old", "manual.md"), doc("new", "manual.md")]
    d = diff_documents(
        "g", [file("manual.md")], live, {"manual.md": rec("new")}, PARAMS, prune=False
    )
    assert lines(d) == ['- document "manual.md" (1 older copy of the same name)']
    assert d.changes[0].replaces == ["old"]


def test_a_recorded_document_gone_everywhere_is_forgotten() -> None:
    d = diff_documents("g", [], [], {"old.md": rec("d9")}, PARAMS, prune=False)
    assert [(c.action, c.filename) for c in d.changes] == [("forget", "old.md")]
    assert not d.acts


# -- prune keeps a group a live tool still searches (usecases.documents) ------------------


def _group_delete(gid: str) -> Any:
    from personactl.engine import plan as p

    return p.ResourceChange("KnowledgeGroup", "manuals", "t-manuals", p.Action.DELETE, id=gid)


def test_prune_keeps_a_group_that_a_live_tool_still_searches() -> None:
    from personactl.anam.liveset import LiveSet
    from personactl.anam.resolve import Catalog
    from personactl.engine import plan as p
    from personactl.usecases.documents import keep_used_groups

    tool = {"id": "t1", "name": "lab-search", "config": {"documentFolderIds": ["g1"]}}
    live = LiveSet(catalog=Catalog(tools=[tool]))
    plan = p.Plan("emu", "anam", "http://x", True, ".personactl/emu.json", [_group_delete("g1")])
    keep_used_groups(plan, live)
    assert plan.changes == []
    assert plan.warnings == [
        "KnowledgeGroup 'manuals' (t-manuals) is still used by tool 'lab-search': not deleted"
    ]
    # The same tool deleted by this plan (it runs first): the group goes too.
    gone = p.ResourceChange("Tool", "lab-search", "lab-search", p.Action.DELETE, id="t1")
    plan = p.Plan(
        "emu", "anam", "http://x", True, ".personactl/emu.json", [gone, _group_delete("g1")]
    )
    keep_used_groups(plan, live)
    assert [c.kind for c in plan.changes] == ["Tool", "KnowledgeGroup"] and plan.warnings == []


class _Docs:
    """A group whose newest copy of manual.md goes through `statuses`, one per list."""

    def __init__(self, statuses: list[str]) -> None:
        self.statuses = statuses
        self.calls: list[tuple[str, str]] = []

    def documents(self, group_id: str) -> list[dict[str, Any]]:
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        self.calls.append(("list", status))
        return [doc("old", "manual.md"), doc("new", "manual.md", status=status)]

    def upload_document(self, *args: Any) -> dict[str, Any]:
        raise AssertionError("nothing is uploaded")

    def delete_document(self, ident: str) -> None:
        self.calls.append(("delete", ident))


def _sync_older_copies(api: _Docs) -> None:
    from personactl.engine.documents import DocumentSync, SyncOptions

    live = api.documents("g")
    api.calls.clear()
    d = diff_documents(
        "g", [file("manual.md")], live, {"manual.md": rec("new")}, PARAMS, prune=False
    )
    options = SyncOptions(read=lambda path: b"", sleep=lambda seconds: None)
    DocumentSync(api, options, "g", "gid", lambda docs: None).run(d.changes)


def test_older_copies_are_deleted_only_once_the_current_one_is_ready() -> None:
    # A run killed while the new copy processed: the next one must not delete the READY
    # older copy before the new one is READY too (the group is never without the file).
    api = _Docs(["PROCESSING", "PROCESSING", "READY"])
    _sync_older_copies(api)
    assert api.calls == [("list", "PROCESSING"), ("list", "READY"), ("delete", "old")]


def test_older_copies_are_kept_when_the_current_one_fails() -> None:
    import pytest

    from personactl.core.errors import PersonactlError

    api = _Docs(["PROCESSING", "FAILED"])
    with pytest.raises(PersonactlError, match="failed processing: empty file"):
        _sync_older_copies(api)
    assert ("delete", "old") not in api.calls
