"""Knowledge documents: multipart upload, processing states, rename, delete, download,
search, and faults on the new endpoints (in-process, with an injected clock, and over HTTP)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from emulator_support import (
    FakeClock,
    ServedEmulator,
    assert_error,
    checked_client,
    clocked_client,
    make_group,
    upload,
)
from knowledge_files import make_docx, make_pdf

from personactl.emulator.settings import DEFAULT_API_KEY, EmulatorSettings

DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
# (filename, content, the fileType the emulator derives from the extension)
SUPPORTED: list[tuple[str, bytes, str]] = [
    (
        "guide.pdf",
        make_pdf("Reset your password from the account page.", "pdfword"),
        "application/pdf",
    ),
    ("notes.txt", b"Plain text about routers.\ntxtword here", "text/plain"),
    ("readme.md", "# Title\n\nMarkdown with **bold** mdword and é.".encode(), "text/markdown"),
    ("policy.docx", make_docx("Refund policy.", "docxword in a paragraph"), DOCX_TYPE),
    ("prices.csv", b"sku,price\nrouter,99\ncsvword,1\n", "text/csv"),
]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def timed(tmp_path: Path, clock: FakeClock) -> Iterator[httpx.Client]:
    """In-process, documents take 50 ms (the default) of `clock` time to process."""
    with clocked_client(tmp_path / "timed", clock) as client:
        yield client


def _timed_group(timed: httpx.Client, clock: FakeClock) -> dict[str, Any]:
    """A group, then 1 ms: writes in one clock ms get stamps 1 ms apart, and the
    upload that follows should be stamped at the clock's time exactly."""
    group = make_group(timed)
    clock.advance(1)
    return group


def _documents_url(group: dict[str, Any]) -> str:
    return f"/v1/knowledge/groups/{group['id']}/documents"


def _created(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def _wait_until_settled(client: httpx.Client, document_id: str) -> dict[str, Any]:
    """Poll a real server (50 ms processing) until the document leaves PROCESSING."""
    deadline = time.monotonic() + 5
    while True:
        doc: dict[str, Any] = client.get(f"/v1/knowledge/documents/{document_id}").json()
        if doc["status"] != "PROCESSING" or time.monotonic() > deadline:
            return doc
        time.sleep(0.02)


def test_upload_each_supported_type(client: httpx.Client) -> None:
    group = make_group(client)
    for filename, content, file_type in SUPPORTED:
        doc = _created(upload(client, group["id"], filename, content))
        assert doc == {
            "id": doc["id"],
            "knowledgeFolderId": group["id"],
            "filename": filename,
            "fileType": file_type,
            "fileSize": len(content),
            "fileUrl": f"s3://anam-emulator-knowledge/{group['id']}/{doc['id']}",
            "status": "PROCESSING",  # "the returned record starts in PROCESSING state"
            "errorMessage": None,
            "createdAt": doc["createdAt"],
            "updatedAt": doc["createdAt"],
        }
        settled = _wait_until_settled(client, doc["id"])
        assert (settled["status"], settled["errorMessage"]) == ("READY", None), filename
        word = filename.rsplit(".", 1)[1] + "word"
        (hit,) = client.post(
            f"/v1/knowledge/groups/{group['id']}/search", json={"query": word}
        ).json()
        assert (hit["documentId"], hit["filename"], hit["chunkIndex"]) == (doc["id"], filename, 0)
        assert word in hit["content"] and hit["score"] == 1
    listed = client.get(_documents_url(group)).json()
    assert [d["filename"] for d in listed] == [name for name, _, _ in SUPPORTED]
    assert client.get(f"/v1/knowledge/groups/{group['id']}").json()["documentCount"] == 5


def test_processing_states_follow_the_clock(timed: httpx.Client, clock: FakeClock) -> None:
    group = _timed_group(timed, clock)
    doc = _created(upload(timed, group["id"], "a.txt", b"alpha beta"))
    url = f"/v1/knowledge/documents/{doc['id']}"
    assert timed.get(url).json() == doc  # PROCESSING, unchanged
    clock.advance(49)
    assert timed.get(url).json()["status"] == "PROCESSING"
    assert timed.get(_documents_url(group)).json()[0]["status"] == "PROCESSING"
    search = f"/v1/knowledge/groups/{group['id']}/search"
    assert timed.post(search, json={"query": "alpha"}).json() == []  # only READY documents
    clock.advance(1)
    ready = timed.get(url).json()
    # updatedAt moves to the moment processing ended: createdAt + 50 ms
    assert ready == {**doc, "status": "READY", "updatedAt": _plus_ms(doc["createdAt"], 50)}
    assert timed.get(_documents_url(group)).json() == [ready]
    assert [hit["documentId"] for hit in timed.post(search, json={"query": "alpha"}).json()] == [
        doc["id"]
    ]


def _plus_ms(stamp: str, ms: int) -> str:
    from datetime import datetime, timedelta

    moment = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ") + timedelta(milliseconds=ms)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@pytest.mark.parametrize(
    ("filename", "content", "part_type", "file_type", "message"),
    [
        ("empty.txt", b"", "text/plain", "text/plain", "The file is empty"),
        (
            "tool.exe",
            b"MZ\x90\x00",
            "application/x-msdownload",
            "application/x-msdownload",
            "Unsupported file type '.exe'; upload a PDF, TXT, MD, DOCX or CSV file",
        ),
        (
            "LICENSE",
            b"text",
            "application/x-license",  # an unsupported file keeps the type it was sent with
            "application/x-license",
            "Unsupported file type without an extension; upload a PDF, TXT, MD, DOCX or CSV file",
        ),
        (
            "scan.pdf",
            b"not a pdf",
            "application/pdf",
            "application/pdf",
            "The file is not a valid PDF",
        ),
        (
            "blank.pdf",
            make_pdf(),
            "application/pdf",
            "application/pdf",
            "No text could be extracted from the PDF",
        ),
        ("bad.docx", b"PK\x03\x04 broken", "", DOCX_TYPE, "The file is not a valid DOCX document"),
        ("spaces.md", b"  \n\n ", "", "text/markdown", "The file contains no text"),
    ],
)
def test_documents_that_fail_processing(
    timed: httpx.Client,
    clock: FakeClock,
    filename: str,
    content: bytes,
    part_type: str,
    file_type: str,
    message: str,
) -> None:
    group = _timed_group(timed, clock)
    doc = _created(upload(timed, group["id"], filename, content, part_type))
    assert (doc["status"], doc["errorMessage"], doc["fileType"]) == ("PROCESSING", None, file_type)
    clock.advance(50)
    failed = timed.get(f"/v1/knowledge/documents/{doc['id']}").json()
    assert (failed["status"], failed["errorMessage"]) == ("FAILED", message)
    assert timed.get(f"/v1/knowledge/groups/{group['id']}").json()["documentCount"] == 1


def test_upload_400s_store_nothing(client: httpx.Client) -> None:
    group = make_group(client)
    url = _documents_url(group)
    not_multipart = "Request body must be multipart/form-data with a file field"
    assert_error(client.post(url, json={"file": "x"}), 400, not_multipart)
    assert_error(client.post(url, files={"other": ("a.txt", b"x")}), 400, "file is required")
    assert_error(client.post(url, data={"file": "urlencoded"}), 400, not_multipart)
    assert_error(
        client.post(url, files={"file": (None, b"a text field")}),
        400,
        "file must be a file upload with a filename",
    )
    assert_error(
        client.post(url, files=[("file", ("a.txt", b"1")), ("file", ("b.txt", b"2"))]),
        400,
        "file must be sent once; upload one document per request",
    )
    cases = [
        ({"chunkSize": "big"}, "chunkSize must be an integer"),
        ({"chunkSize": "0"}, "chunkSize must not be less than 1"),
        ({"chunkOverlap": "-1"}, "chunkOverlap must not be less than 0"),
        ({"chunkSize": "100", "chunkOverlap": "100"}, "chunkOverlap must be less than chunkSize"),
        ({"chunkSize": "150"}, "chunkOverlap must be less than chunkSize"),  # default overlap 200
    ]
    for params, message in cases:
        assert_error(upload(client, group["id"], "a.txt", b"x", **params), 400, message)
    boundary = {"Content-Type": "multipart/form-data; boundary=xyz"}
    assert_error(
        client.post(url, content=b"--xyz\r\nno headers", headers=boundary),
        400,
        "Request body is not valid multipart/form-data",
    )
    missing = "00000000-0000-0000-0000-000000000000"
    assert_error(upload(client, missing, "a.txt", b"x"), 404, "Knowledge group not found")
    assert_error(
        client.get(f"/v1/knowledge/groups/{missing}/documents"), 404, "Knowledge group not found"
    )
    assert client.get(url).json() == []


def test_the_50_mb_limit(tmp_path: Path, clock: FakeClock) -> None:
    limit = 50 * 1024 * 1024
    with clocked_client(tmp_path, clock) as client:
        group = make_group(client)
        assert_error(
            upload(client, group["id"], "big.txt", b"a" * (limit + 1)),
            400,
            "file must not be larger than 50 MB",
        )
        assert client.get(_documents_url(group)).json() == []
        at_limit = _created(upload(client, group["id"], "big.txt", b"a" * limit))
        assert at_limit["fileSize"] == limit


def test_chunking_parameters_and_search(timed: httpx.Client, clock: FakeClock) -> None:
    group = _timed_group(timed, clock)
    text = b"0123456789 router reset guide. " * 4  # 124 characters
    doc = _created(upload(timed, group["id"], "c.txt", text, chunkSize="50", chunkOverlap="10"))
    other = _created(upload(timed, group["id"], "d.md", b"password reset steps"))
    clock.advance(51)  # the second upload was stamped 1 ms after the first
    search = f"/v1/knowledge/groups/{group['id']}/search"
    hits = timed.post(search, json={"query": "Password RESET?"}).json()
    # d.md has both words (score 1); c.txt's three 50-character chunks (step 40) have one
    assert [(h["filename"], h["chunkIndex"], h["score"]) for h in hits] == [
        ("d.md", 0, 1),
        ("c.txt", 0, 0.5),
        ("c.txt", 1, 0.5),
        ("c.txt", 2, 0.5),
    ]
    assert hits[1]["content"] == text[:50].decode() and hits[2]["content"] == text[40:90].decode()
    assert hits[0] == {
        "documentId": other["id"],
        "filename": "d.md",
        "content": "password reset steps",
        "score": 1,
        "chunkIndex": 0,
        "metadata": {"fileType": "text/markdown"},
    }
    assert [
        h["documentId"] for h in timed.post(search, json={"query": "reset", "limit": 2}).json()
    ] == [
        doc["id"],
        doc["id"],
    ]
    assert timed.post(search, json={"query": "nothing-matches"}).json() == []
    assert timed.post(search, json={"query": "?!"}).json() == []


def test_search_400s_and_404(client: httpx.Client) -> None:
    group = make_group(client)
    search = f"/v1/knowledge/groups/{group['id']}/search"
    cases: list[tuple[Any, str]] = [
        ({}, "query is required"),
        ({"query": 5}, "query must be a string"),
        ({"query": "  "}, "query must not be empty"),
        ({"query": "x", "limit": 0}, "limit must not be less than 1"),
        ({"query": "x", "limit": 21}, "limit must not be greater than 20"),
        ({"query": "x", "limit": 2.5}, "limit must be an integer"),
        (["x"], "Request body must be a JSON object"),
    ]
    for body, message in cases:
        assert_error(client.post(search, json=body), 400, message)
    missing = "/v1/knowledge/groups/00000000-0000-0000-0000-000000000000/search"
    assert_error(client.post(missing, json={"query": "x"}), 404, "Knowledge group not found")


def test_rename_keeps_the_file_and_its_type(timed: httpx.Client, clock: FakeClock) -> None:
    group = _timed_group(timed, clock)
    doc = _created(upload(timed, group["id"], "old.pdf", make_pdf("renamed content")))
    clock.advance(60)
    url = f"/v1/knowledge/documents/{doc['id']}"
    renamed = timed.put(url, json={"filename": "updated-filename.txt"})
    assert renamed.status_code == 200, renamed.text
    after = renamed.json()
    assert after == {
        **doc,
        "filename": "updated-filename.txt",
        "status": "READY",
        "updatedAt": after["updatedAt"],
    }
    assert after["fileType"] == "application/pdf" and after["updatedAt"] > doc["updatedAt"]
    assert timed.get(url).json() == after
    (hit,) = timed.post(
        f"/v1/knowledge/groups/{group['id']}/search", json={"query": "renamed"}
    ).json()
    assert hit["filename"] == "updated-filename.txt"
    assert_error(timed.put(url, json={"filename": 1}), 400, "filename must be a string")
    assert_error(timed.put(url, json={"filename": ""}), 400, "filename must not be empty")
    missing = "/v1/knowledge/documents/00000000-0000-0000-0000-000000000000"
    assert_error(timed.put(missing, json={"filename": "x"}), 404, "Document not found")


def test_download_round_trips_the_bytes(client: httpx.Client) -> None:
    group = make_group(client)
    for filename, content, file_type in SUPPORTED:
        doc = _created(upload(client, group["id"], filename, content))
        answer = client.get(f"/v1/knowledge/documents/{doc['id']}/download")
        assert answer.status_code == 200
        link = answer.json()
        assert link["filename"] == filename and set(link) == {"downloadUrl", "filename"}
        # a presigned URL: it needs no API key
        fetched = client.get(link["downloadUrl"], headers={"Authorization": ""})
        assert fetched.status_code == 200
        assert fetched.content == content
        assert fetched.headers["content-type"] == file_type
        tampered = link["downloadUrl"][:-4] + "0000"
        assert_error(client.get(tampered), 403, "The download URL's signature is invalid")
    assert_error(
        client.get("/v1/knowledge/documents/00000000-0000-0000-0000-000000000000/download"),
        404,
        "Document not found",
    )


def test_download_urls_expire(timed: httpx.Client, clock: FakeClock) -> None:
    group = _timed_group(timed, clock)
    doc = _created(upload(timed, group["id"], "a.txt", b"bytes"))
    link = timed.get(f"/v1/knowledge/documents/{doc['id']}/download").json()["downloadUrl"]
    clock.advance(3600 * 1000)
    assert timed.get(link).content == b"bytes"
    clock.advance(1000)
    assert_error(
        timed.get(link),
        403,
        "The download URL has expired; "
        f"GET /v1/knowledge/documents/{doc['id']}/download for a new one",
    )


def test_delete_documents_and_groups(client: httpx.Client) -> None:
    group = make_group(client)
    first = _created(upload(client, group["id"], "a.txt", b"one"))
    second = _created(upload(client, group["id"], "b.txt", b"two"))
    link = client.get(f"/v1/knowledge/documents/{first['id']}/download").json()["downloadUrl"]
    group_url = f"/v1/knowledge/groups/{group['id']}"
    assert client.get(group_url).json()["documentCount"] == 2
    assert group["id"] in {
        g["id"] for g in client.get("/v1/knowledge/groups").json() if g["documentCount"] == 2
    }
    deleted = client.delete(f"/v1/knowledge/documents/{first['id']}")
    assert (deleted.status_code, deleted.content) == (204, b"")
    assert_error(client.get(f"/v1/knowledge/documents/{first['id']}"), 404, "Document not found")
    assert_error(client.delete(f"/v1/knowledge/documents/{first['id']}"), 404, "Document not found")
    assert_error(client.get(link), 404, "Document not found")
    assert [d["id"] for d in client.get(_documents_url(group)).json()] == [second["id"]]
    assert client.get(group_url).json()["documentCount"] == 1
    assert client.delete(group_url).status_code == 204
    assert_error(client.get(f"/v1/knowledge/documents/{second['id']}"), 404, "Document not found")


def test_processing_ms_flag(server_factory: Callable[..., ServedEmulator]) -> None:
    slow = server_factory("--processing-ms", "600000")
    instant = server_factory("--processing-ms", "0")
    for server, status in ((slow, "PROCESSING"), (instant, "READY")):
        with checked_client(base_url=server.url, headers=_auth(), timeout=10) as client:
            group = make_group(client)
            doc = _created(upload(client, group["id"], "a.txt", b"hello"))
            assert doc["status"] == "PROCESSING"  # the upload's answer, whatever the delay
            fetched = client.get(f"/v1/knowledge/documents/{doc['id']}").json()
            assert fetched["status"] == status


def _auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {DEFAULT_API_KEY}"}


def test_injected_failures_on_uploads_have_no_effect(
    emulator: Callable[..., httpx.Client],
) -> None:
    client = emulator(EmulatorSettings(fail_rates={429: 0.3, 503: 0.3}, seed=8))
    group = None
    while group is None:  # the group's own POST may meet an injected failure
        response = client.post("/v1/knowledge/groups", json={"name": "faults"})
        group = response.json() if response.status_code == 201 else None
    outcomes = [upload(client, group["id"], f"{n}.txt", b"x") for n in range(16)]
    statuses = [r.status_code for r in outcomes]
    assert set(statuses) == {201, 429, 503}
    assert all(r.headers["retry-after"] == "1" for r in outcomes if r.status_code == 429)
    listed = client.get(_documents_url(group))
    while listed.status_code != 200:
        listed = client.get(_documents_url(group))
    assert len(listed.json()) == statuses.count(201)


def test_drop_after_commit_on_upload_commits_exactly_one(
    emulator: Callable[..., httpx.Client],
) -> None:
    client = emulator(EmulatorSettings(drop_after_commit=1.0, seed=5))
    with pytest.raises(httpx.RemoteProtocolError):
        client.post("/v1/knowledge/groups", json={"name": "dropped"})
    (group,) = [g for g in client.get("/v1/knowledge/groups").json() if g["name"] == "dropped"]
    with pytest.raises(httpx.RemoteProtocolError):
        upload(client, group["id"], "manual.md", b"# Manual")
    listed = client.get(_documents_url(group)).json()
    assert [d["filename"] for d in listed] == ["manual.md"]
    with pytest.raises(httpx.RemoteProtocolError):
        client.put(f"/v1/knowledge/documents/{listed[0]['id']}", json={"filename": "m.md"})
    assert client.get(f"/v1/knowledge/documents/{listed[0]['id']}").json()["filename"] == "m.md"
