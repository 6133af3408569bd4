"""KnowledgeGroup manifests end to end over real HTTP against the emulator: the
example's group `router-manuals` (three Markdown files) searched by the SERVER_RAG
tool `search-manuals` on the support persona.

Create, no change, a document edited, removed, added in the "Lab" (drift, pruned),
import back to no change, a document that FAILS processing (its users not applied),
an upload whose answer is dropped (never a duplicate), and SIGKILL while documents
process (the next run converges).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from cli_support import EXAMPLE_LLM_KEY
from e2e_support import KEY, TOKEN, Emulator, edit, emulator, make_project, pc, spawn_pc

from personactl.emulator.errors import DropConnection
from personactl.engine.state import load_state

GROUP = "t-router-manuals"
FILES = {"router-x2-manual.md", "returns.md", "wifi.md"}


def groups(emu: Emulator) -> list[dict[str, Any]]:
    with emu.client() as c:
        return list(c.get("/v1/knowledge/groups").json())


def documents(emu: Emulator, group_id: str) -> list[dict[str, Any]]:
    with emu.client() as c:
        return list(c.get(f"/v1/knowledge/groups/{group_id}/documents").json())


def the_group(emu: Emulator) -> dict[str, Any]:
    (group,) = [g for g in groups(emu) if g["name"] == GROUP]
    return group


def uploads(emu: Emulator) -> list[Any]:
    return [
        r.body["multipart"]
        for r in emu.writes()
        if r.method == "POST" and r.path.endswith("/documents")
    ]


def state(project: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((project / ".personactl" / "emu.json").read_text())
    return doc


def entry(project: Path, kind: str, name: str) -> dict[str, Any]:
    (found,) = [e for e in state(project)["resources"] if (e["kind"], e["name"]) == (kind, name)]
    return found


def sha(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def emu(tmp_path: Path) -> Iterator[Emulator]:
    with emulator(tmp_path / "data", processing_ms=20) as e:
        yield e


@pytest.fixture
def project(tmp_path: Path, emu: Emulator) -> Path:
    return make_project(tmp_path / "proj", emu.url)


def test_create_no_change_edit_remove_drift_and_prune(project: Path, emu: Emulator) -> None:
    knowledge = project / "knowledge"
    # A SERVER_RAG tool names the group by its manifest name; a typo gets a did-you-mean.
    tool_file = project / "tools" / "manuals.yaml"
    edit(tool_file, "documentFolders: [router-manuals]", "documentFolders: [router-manual]")
    r = pc(project, "plan")
    assert (r.code, r.err) == (
        1,
        "error: tools/manuals.yaml:10:23: knowledge folder 'router-manual' is neither a "
        "KnowledgeGroup manifest nor a live knowledge group (did you mean 'router-manuals'?); "
        "see `personactl catalog knowledge`\n",
    )
    edit(tool_file, "documentFolders: [router-manual]", "documentFolders: [router-manuals]")
    r = pc(project, "apply", "--auto-approve")
    assert r.code == 0, r.err
    assert "[2/10] knowledgegroup 'router-manuals': created; 3 documents uploaded" in r.err
    assert 'KnowledgeGroup "router-manuals": 3 of 3 documents processed' in r.err
    group = the_group(emu)
    docs = documents(emu, group["id"])
    assert {d["filename"] for d in docs} == FILES
    assert {d["status"] for d in docs} == {"READY"}
    # One multipart upload per file: the file and the manifest's upload parameters.
    sent = uploads(emu)
    assert len(sent) == 3
    assert {part["filename"] for body in sent for part in body if part["name"] == "file"} == FILES
    for body in sent:
        assert [p["name"] for p in body] == ["chunkSize", "chunkOverlap", "file"]
        assert [p.get("value") for p in body[:2]] == ["1000", "200"]
    # The tool searches the group created moments before.
    (tool,) = [t for t in emu.tools() if t["name"] == "t-search-manuals"]
    assert tool["config"]["documentFolderIds"] == [group["id"]]
    recorded = entry(project, "KnowledgeGroup", "router-manuals")
    assert recorded["id"] == group["id"]
    wifi = knowledge / "faq" / "wifi.md"
    assert recorded["documents"]["wifi.md"] == {
        "id": next(d["id"] for d in docs if d["filename"] == "wifi.md"),
        "size": wifi.stat().st_size,
        "sha256": sha(wifi),
        "params": {"chunkSize": 1000, "chunkOverlap": 200},
    }

    # No change: a plan reads the group's documents and sends nothing.
    emu.reset_log()
    r = pc(project, "plan", "--detailed-exitcode")
    assert r.code == 0, r.out + r.err
    assert "No changes." in r.out
    assert [x.path.split("?")[0] for x in emu.log if "knowledge" in x.path] == [
        "/v1/knowledge/groups",
        f"/v1/knowledge/groups/{group['id']}/documents",
    ]

    # An edited file: replaced (upload, READY, then the old one deleted), nothing else.
    old_wifi = recorded["documents"]["wifi.md"]["id"]
    before = wifi.stat().st_size
    wifi.write_text(wifi.read_text() + "- Guest network: Settings > Wi-Fi > Guest.\n")
    r = pc(project, "plan")
    assert (
        f'      -/+ document "faq/wifi.md" (content changed: {before:,} bytes → '
        f"{wifi.stat().st_size:,} bytes)\n" in r.out
    )
    assert "Plan: 0 to create, 1 to update, 0 to delete, 9 unchanged." in r.out
    # A saved plan holds the file's hash: it is refused once the file changed again.
    assert pc(project, "plan", "--out", "plan.json").code == 0
    saved = json.loads((project / "plan.json").read_text())
    (group_change,) = [c for c in saved["changes"] if c["kind"] == "KnowledgeGroup"]
    assert [(d["action"], d["path"], d["sha256"]) for d in group_change["documents"]] == [
        ("replace", "knowledge/faq/wifi.md", sha(wifi))
    ]
    wifi.write_text(wifi.read_text() + "- Mesh: pair an X2 Extender with the WPS button.\n")
    emu.reset_log()
    r = pc(project, "apply", "plan.json")
    assert (r.code, r.err) == (
        1,
        "error: the saved plan is stale and was not applied: KnowledgeGroup 'router-manuals': "
        "document 'knowledge/faq/wifi.md' changed since the plan was made; run `personactl "
        "plan --out FILE` again\n",
    )
    assert emu.writes() == []
    emu.reset_log()
    r = pc(project, "apply", "--auto-approve")
    assert r.code == 0, r.err
    writes = [(w.method, w.path) for w in emu.writes()]
    assert writes == [
        ("POST", f"/v1/knowledge/groups/{group['id']}/documents"),
        ("DELETE", f"/v1/knowledge/documents/{old_wifi}"),
    ]
    docs = documents(emu, group["id"])
    assert sorted(d["filename"] for d in docs) == sorted(FILES)
    assert old_wifi not in {d["id"] for d in docs}
    assert pc(project, "plan", "--detailed-exitcode").code == 0

    # A file removed from the manifest: its document is deleted.
    manifest = project / "knowledge-groups" / "router-manuals.yaml"
    edit(manifest, "../knowledge/faq/*.md", "../knowledge/faq/wifi.md")
    r = pc(project, "plan")
    assert '      - document "returns.md" (removed from the manifest)\n' in r.out
    r = pc(project, "apply", "--auto-approve")
    assert r.code == 0, r.err
    assert {d["filename"] for d in documents(emu, group["id"])} == FILES - {"returns.md"}
    assert "returns.md" not in entry(project, "KnowledgeGroup", "router-manuals")["documents"]

    # A document added in the Lab: drift, left alone; deleted with --prune only.
    with emu.client() as c:
        added = c.post(
            f"/v1/knowledge/groups/{group['id']}/documents",
            files={"file": ("lab-notes.md", b"# Notes from the Lab\n")},
        )
    assert added.status_code == 201
    r = pc(project, "plan", "--detailed-exitcode")
    assert r.code == 0, r.out + r.err
    assert (
        '  ~ knowledgegroup "router-manuals": document "lab-notes.md" added outside '
        "personactl (21 bytes)\n" in r.out
    )
    assert (
        "Warning: KnowledgeGroup 'router-manuals' holds document 'lab-notes.md' "
        f"({added.json()['id']}), which personactl did not upload; run with --prune to "
        "delete it" in r.err
    )
    assert pc(project, "apply", "--auto-approve").code == 0
    assert "lab-notes.md" in {d["filename"] for d in documents(emu, group["id"])}
    r = pc(project, "plan", "--prune")
    assert '      - document "lab-notes.md" (added outside personactl)\n' in r.out
    emu.reset_log()
    r = pc(project, "apply", "--auto-approve", "--prune")
    assert r.code == 0, r.err
    assert [(w.method, w.path) for w in emu.writes()] == [
        ("DELETE", f"/v1/knowledge/documents/{added.json()['id']}")
    ]
    assert pc(project, "plan", "--detailed-exitcode", "--prune").code == 0

    # Import: the group and its documents back from the live side, to no change.
    imported = project.parent / "imported"
    imported.mkdir()
    config = yaml.safe_load((project / "personactl.yaml").read_text())
    config["spec"].pop("manifests")
    config["spec"]["environments"] = {"emu": config["spec"]["environments"]["emu"]}
    (imported / "personactl.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    # --all brings the example's custom LLM too; its key is never returned by the API.
    secret = {
        "ORDER_LOOKUP_AUTHORIZATION": f"Bearer {TOKEN}",
        "ACME_GATEWAY_SECRET": EXAMPLE_LLM_KEY,
    }
    r = pc(imported, "import", "--all", env=secret)
    assert r.code == 0, r.err
    assert "wrote knowledge/router-manuals/wifi.md" in r.err
    written = yaml.safe_load((imported / "knowledge-groups" / "router-manuals.yaml").read_text())
    assert written["spec"] == {
        "description": "Manuals and FAQ for the Acme routers",
        "documents": [
            "../knowledge/router-manuals/router-x2-manual.md",
            "../knowledge/router-manuals/wifi.md",
        ],
    }
    assert (imported / "knowledge" / "router-manuals" / "wifi.md").read_bytes() == (
        wifi.read_bytes()
    )
    tool = yaml.safe_load((imported / "tools" / "search-manuals.yaml").read_text())
    assert tool["spec"]["config"] == {"documentFolders": ["router-manuals"]}
    emu.reset_log()
    r = pc(imported, "plan", "--detailed-exitcode", env=secret)
    # The group and its tool are as imported; only the LLM's secret, which the import
    # could not read, is sent once (test_llm_kind.py has that round trip).
    assert r.code == 2, r.out + r.err
    assert r.lines[-1] == "Plan: 0 to create, 1 to update, 0 to delete, 9 unchanged.", r.out
    assert "      + secret = (sensitive)  # write-only: not returned by the API" in r.lines
    # Recorded with its documents: the plan downloads nothing again.
    assert not [x for x in emu.log if "download" in x.path]


def test_a_document_that_fails_processing_fails_its_group_and_users(
    project: Path, emu: Emulator
) -> None:
    (project / "knowledge" / "faq" / "wifi.md").write_text("")  # the API fails an empty file
    r = pc(project, "apply", "--auto-approve")
    assert r.code == 1
    errors = [line for line in r.err.splitlines() if line.startswith("error:")]
    assert errors == [
        "error: KnowledgeGroup 'router-manuals': document 'faq/wifi.md' failed processing: "
        "The file is empty",
        "error: Tool 'search-manuals': not applied: it uses knowledgegroup 'router-manuals', "
        "which failed",
        "error: Persona 'support-cara': not applied: it uses tool 'search-manuals', which failed",
    ]
    assert "t-support-cara" not in {p["name"] for p in emu.personas()}
    assert "t-concierge-lea" in {p["name"] for p in emu.personas()}
    # Fixed: the failed document is replaced and the rest is applied.
    (project / "knowledge" / "faq" / "wifi.md").write_text("# Wi-Fi\n")
    r = pc(project, "plan")
    assert '      -/+ document "faq/wifi.md" (its processing failed: The file is empty)\n' in r.out
    r = pc(project, "apply", "--auto-approve")
    assert r.code == 0, r.err
    docs = documents(emu, the_group(emu)["id"])
    assert sorted(d["filename"] for d in docs) == sorted(FILES)
    assert {d["status"] for d in docs} == {"READY"}
    assert pc(project, "plan", "--detailed-exitcode").code == 0


class _DropFirstUpload:
    """Commits the first document upload, then drops the connection (as the emulator's
    --drop-after-commit does, for that one request)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.dropped = 0

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        upload = environ["REQUEST_METHOD"] == "POST" and environ["PATH_INFO"].endswith("/documents")
        if upload and not self.dropped:
            b"".join(self.app(environ, start_response))
            self.dropped += 1
            raise DropConnection("upload committed, then dropped")
        return self.app(environ, start_response)

    def close(self) -> None:
        self.app.close()


def test_a_dropped_upload_is_found_by_file_name_never_duplicated(
    project: Path, emu: Emulator
) -> None:
    drop = _DropFirstUpload(emu.app)
    emu.app = drop  # type: ignore[assignment]
    r = pc(project, "apply", "--auto-approve", "--parallelism", "1")
    assert r.code == 0, r.err
    assert drop.dropped == 1
    assert len(uploads(emu)) == 3  # the dropped one was stored: adopted, not sent again
    docs = documents(emu, the_group(emu)["id"])
    assert sorted(d["filename"] for d in docs) == sorted(FILES)
    recorded = entry(project, "KnowledgeGroup", "router-manuals")["documents"]
    assert {v["id"] for v in recorded.values()} == {d["id"] for d in docs}
    assert pc(project, "plan", "--detailed-exitcode").code == 0


def test_sigkill_while_documents_process_converges(tmp_path: Path) -> None:
    with emulator(tmp_path / "data", processing_ms=3000) as emu:
        project = make_project(tmp_path / "proj", emu.url)
        proc = spawn_pc(
            project,
            "apply",
            "--auto-approve",
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 20
            while len(uploads(emu)) < 3:
                assert proc.poll() is None and time.monotonic() < deadline
                time.sleep(0.01)
            time.sleep(0.1)  # waiting for them to be processed
            proc.send_signal(signal.SIGKILL)
        finally:
            proc.wait(timeout=30)
        emu.wait_idle()
        group = the_group(emu)
        # Each upload is recorded (in the journal) as soon as it is answered; one the kill
        # left unrecorded is found by file name and content on the next run.
        killed = load_state(project / ".personactl" / "emu.json", "emu.json", "emu")
        assert killed is not None
        recorded = killed.find("KnowledgeGroup", "router-manuals")
        assert recorded is not None and set(recorded.documents) <= FILES
        unrecorded = len(FILES - set(recorded.documents))
        emu.app.settings = dataclasses.replace(emu.app.settings, processing_ms=20.0)
        emu.reset_log()
        r = pc(project, "apply", "--auto-approve")
        assert r.code == 0, r.err
        assert uploads(emu) == []
        assert len([x for x in emu.log if x.path.endswith("/download")]) == unrecorded
        docs = documents(emu, group["id"])
        assert sorted(d["filename"] for d in docs) == sorted(FILES)
        assert the_group(emu)["id"] == group["id"]  # one, the same
        assert pc(project, "plan", "--detailed-exitcode").code == 0
        assert KEY not in (project / ".personactl" / "emu.json").read_text()


def test_validate_checks_every_document_offline(example: Path) -> None:
    knowledge = example / "knowledge"
    (knowledge / "logo.png").write_bytes(b"\x89PNG")
    (knowledge / "faq" / "dup").mkdir()
    (knowledge / "faq" / "dup" / "wifi.md").write_text("# another wifi.md\n")
    (knowledge / "folder.md").mkdir()
    with open(knowledge / "huge.pdf", "wb") as f:  # sparse: 50 MB + 1 byte, nothing written
        f.truncate(50 * 1024 * 1024 + 1)
    (example.parent / "outside.md").write_text("# not in the project\n")
    manifest = example / "knowledge-groups" / "router-manuals.yaml"
    edit(
        manifest,
        "    - ../knowledge/faq/*.md\n",
        "    - ../knowledge/faq/*.md\n"
        "    - ../knowledge/missing.md\n"
        "    - ../knowledge/archive/*.md\n"
        "    - ../knowledge/logo.png\n"
        "    - ../knowledge/faq/dup/wifi.md\n"
        "    - ../knowledge/folder.md\n"
        "    - ../knowledge/huge.pdf\n"
        "    - ../../outside.md\n",
    )
    edit(manifest, "chunkOverlap: 200", "chunkOverlap: 1000")
    r = pc(example, "validate", str(manifest.relative_to(example)))
    assert r.code == 1
    f = "knowledge-groups/router-manuals.yaml"
    assert r.lines == [
        f"{f}:11:7: document '../knowledge/missing.md' not found (relative to knowledge-groups); "
        "fix the path or remove the entry",
        f"{f}:12:7: document '../knowledge/archive/*.md' matches no file (relative to "
        "knowledge-groups); fix the path or remove the entry",
        f"{f}:13:7: document 'knowledge/logo.png' is of a type the API does not take (.png); "
        "use PDF, TXT, MD, DOCX or CSV",
        f"{f}:14:7: documents 'knowledge/faq/wifi.md' and 'knowledge/faq/dup/wifi.md' share the "
        f"file name 'wifi.md' (from {f}:10:7); a group identifies its documents by file name: "
        "rename one",
        f"{f}:15:7: document '../knowledge/folder.md' (knowledge/folder.md) is a directory; "
        "point it at a file",
        f"{f}:16:7: document 'knowledge/huge.pdf' is 52,428,801 bytes, over the API's 50 MB "
        "limit; split or shrink it",
        f"{f}:17:7: document '../../outside.md' (../outside.md) is outside the project (.); "
        "keep documents inside the project",
        f"{f}:19:17: chunkOverlap (1000) must be less than chunkSize (1000)",
        "8 errors in 1 file",
    ]


def test_uploads_still_processing_after_the_wait_timeout_fail_the_group(tmp_path: Path) -> None:
    with emulator(tmp_path / "data", processing_ms=60_000) as emu:
        project = make_project(tmp_path / "proj", emu.url)
        r = pc(project, "apply", "--auto-approve", "--wait-timeout", "0.3s")
        assert r.code == 1
        errors = [line for line in r.err.splitlines() if line.startswith("error:")]
        assert errors[0] == (
            "error: KnowledgeGroup 'router-manuals': 'router-x2-manual.md', 'faq/returns.md', "
            "'faq/wifi.md' still processing after 0.3 s (--wait-timeout); the old documents "
            "are kept and the next apply checks again"
        )
        assert errors[1:] == [
            "error: Tool 'search-manuals': not applied: it uses knowledgegroup "
            "'router-manuals', which failed",
            "error: Persona 'support-cara': not applied: it uses tool 'search-manuals', which "
            "failed",
        ]
        # The uploads were recorded: once processed, the next run sends none again.
        emu.app.settings = dataclasses.replace(emu.app.settings, processing_ms=20.0)
        emu.reset_log()
        r = pc(project, "apply", "--auto-approve")
        assert r.code == 0, r.err
        assert uploads(emu) == []
        assert pc(project, "plan", "--detailed-exitcode").code == 0
    r = pc(project, "apply", "--wait-timeout", "soon")
    assert (r.code, r.err.splitlines()[-1]) == (
        1,
        "Error: Invalid value for --wait-timeout: 'soon' is not a duration; write e.g. 90s, "
        "10m or 1h",
    )
