"""The client against a hostile or broken server: answers that never end, never
stop growing, inflate to gigabytes, paginate forever, ask to wait longer than
the budget, or come in the wrong shape.

A tiny `http.server` in this module writes raw HTTP, byte by byte if it wants
to; every writer loop stops within a few seconds on its own, so a regression
fails instead of hanging. Limits are made small through `ClientConfig`; the
e2e tests at the end run the real CLI against the emulator with one answer
tampered with.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import json
import re
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cli_support import Result, run_inprocess
from e2e_support import KEY, TOKEN, Emulator, emulator
from test_client import persona_body

from personactl.anam.client import PER_PAGE, AnamClient, ClientConfig
from personactl.anam.errors import ApiError
from personactl.core.errors import OutcomeUnknown
from personactl.emulator.app import Request, Response
from personactl.emulator.inprocess import SANDBOX_BASE_URL, sandbox_transport
from personactl.emulator.settings import EmulatorSettings

WRITER_BOUND = 5.0  # seconds any dripping or endless answer runs at most
CHECK_URL = "check that --api-url / ANAM_API_URL points at the Anam API"

Answer = Callable[["Handler", bytes], None]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: HostileServer

    def do_GET(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        with self.server.lock:
            self.server.hits.append(f"{self.command} {self.path}")
        # the client hanging up mid-answer is what these tests want
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.server.answer(self, body)

    do_POST = do_PUT = do_DELETE = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        pass

    # -- ways to answer -------------------------------------------------------------------

    def send_raw(self, data: bytes) -> None:
        self.wfile.write(data)

    def send_json(self, doc: Any, status: int = 200, headers: dict[str, str] | None = None) -> None:
        self.send_body(json.dumps(doc).encode(), status, headers)

    def send_body(
        self, body: bytes, status: int = 200, headers: dict[str, str] | None = None
    ) -> None:
        head = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}", f"Content-Length: {len(body)}"]
        head += [f"{k}: {v}" for k, v in (headers or {}).items()]
        self.send_raw(("\r\n".join(head) + "\r\n\r\n").encode() + body)

    def drip(self, data: bytes, every: float) -> None:
        """`data` one byte at a time, `every` seconds apart, until stopped or bounded."""
        until = time.monotonic() + WRITER_BOUND
        for byte in data:
            if self.server.stop.wait(every) or time.monotonic() > until:
                return
            self.send_raw(bytes([byte]))

    def page(self, data: list[Any], last: int | None, following: int | None) -> None:
        meta = {"total": 10**9, "lastPage": last, "perPage": PER_PAGE, "next": following}
        self.send_json({"data": data, "meta": meta})

    @property
    def page_number(self) -> int:
        found = re.search(r"[?&]page=(\d+)", self.path)
        return int(found.group(1)) if found else 0


class HostileServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, answer: Answer) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.answer = answer
        self.hits: list[str] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@dataclass
class Harness:
    clients: list[AnamClient] = field(default_factory=list)
    servers: list[HostileServer] = field(default_factory=list)
    sleeps: list[float] = field(default_factory=list)

    def serve(self, answer: Answer) -> HostileServer:
        server = HostileServer(answer)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}).start()
        self.servers.append(server)
        return server

    def client(self, url: str, **options: Any) -> AnamClient:
        options.setdefault("sleep", self.sleeps.append)
        client = AnamClient(ClientConfig(base_url=url, api_key="hostile-test-key", **options))
        self.clients.append(client)
        return client


@pytest.fixture
def harness() -> Iterator[Harness]:
    h = Harness()
    yield h
    for client in h.clients:
        client.close()
    for server in h.servers:
        server.stop.set()
        server.shutdown()
        server.server_close()


def persona(n: int) -> dict[str, Any]:
    return {"id": f"00000000-0000-4000-8000-{n:012d}", "name": f"p{n}"}


# -- 1. an overall deadline per attempt ---------------------------------------------------

HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 10000\r\n\r\n"


def drip_body(handler: Handler, body: bytes) -> None:
    handler.send_raw(HEAD)
    handler.drip(b"[" + b" " * 9998 + b"]", every=0.05)


def drip_status_line(handler: Handler, body: bytes) -> None:
    handler.drip(HEAD, every=0.05)


@pytest.mark.parametrize("answer", [drip_body, drip_status_line], ids=["body", "status-line"])
def test_a_server_dripping_one_byte_at_a_time_is_cut_off_at_the_deadline(
    harness: Harness, answer: Answer
) -> None:
    server = harness.serve(answer)
    # One attempt (no retry budget); each read alone would wait up to 30 s.
    client = harness.client(server.url, deadline=0.3, max_retry_seconds=0)
    started = time.monotonic()
    with pytest.raises(ApiError) as caught:
        client.get("/v1/personas")
    assert time.monotonic() - started < 1.0
    assert re.fullmatch(
        rf"the Anam API at {server.url} did not finish answering GET /v1/personas within "
        r"0\.3 s \(1 attempt over 0\.\d s\); check your network or try again later",
        str(caught.value),
    ), str(caught.value)
    assert [(r.path, r.status, r.error) for r in client.requests] == [
        ("/v1/personas", None, "DeadlineExceeded")
    ]


def test_a_get_past_the_deadline_is_retried_within_the_budget(harness: Harness) -> None:
    def slow_then_fine(handler: Handler, body: bytes) -> None:
        if len(server.hits) == 1:
            drip_body(handler, body)
        else:
            handler.send_json({"data": [persona(1)], "meta": {"lastPage": 1, "next": None}})

    server = harness.serve(slow_then_fine)
    client = harness.client(server.url, deadline=0.3, max_retry_seconds=5)
    assert client.list_all("/v1/personas") == [persona(1)]
    assert [r.error for r in client.requests] == ["DeadlineExceeded", None]
    assert len(harness.sleeps) == 1


def test_a_post_past_the_deadline_has_an_unknown_outcome_and_is_not_repeated(
    harness: Harness,
) -> None:
    server = harness.serve(drip_body)
    client = harness.client(server.url, deadline=0.3)
    with pytest.raises(OutcomeUnknown) as caught:
        client.post("/v1/personas", {"name": "slow"})
    assert str(caught.value) == (
        "the outcome of POST /v1/personas is unknown (no complete answer within 0.3 s): it may "
        "have been applied; list by name before sending it again"
    )
    assert server.hits == ["POST /v1/personas"]


# -- 2. a size cap, decompression included -----------------------------------------------


def endless_chunks(handler: Handler, body: bytes) -> None:
    handler.send_raw(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    chunk = b"4000\r\n" + b" " * 0x4000 + b"\r\n"
    until = time.monotonic() + WRITER_BOUND
    while not handler.server.stop.is_set() and time.monotonic() < until:
        handler.send_raw(chunk)
    handler.send_raw(b"0\r\n\r\n")


def test_an_endless_body_stops_at_the_size_cap(harness: Harness) -> None:
    server = harness.serve(endless_chunks)
    client = harness.client(server.url, max_response_bytes=256 * 1024)
    started = time.monotonic()
    with pytest.raises(ApiError) as caught:
        client.get("/v1/personas")
    assert time.monotonic() - started < 1.0
    assert str(caught.value) == (
        f"the Anam API at {server.url} answered GET /v1/personas with more than 256 KiB "
        f"(after decompression); {CHECK_URL}"
    )
    assert [(r.status, r.error) for r in client.requests] == [(None, "BodyError")]  # not retried


@functools.cache
def bomb() -> bytes:
    return gzip.compress(b" " * (16 << 20), compresslevel=9)  # 16 KiB that inflate to 16 MiB


def gzip_bomb(handler: Handler, body: bytes) -> None:
    handler.send_body(bomb(), headers={"Content-Encoding": "gzip"})


def test_a_gzip_bomb_is_never_inflated_past_the_cap(harness: Harness) -> None:
    server = harness.serve(gzip_bomb)
    client = harness.client(server.url, max_response_bytes=1 << 20)
    bomb()  # built before memory is traced
    tracemalloc.start()
    try:
        with pytest.raises(ApiError) as caught:
            client.get("/v1/voices")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert str(caught.value) == (
        f"the Anam API at {server.url} answered GET /v1/voices with more than 1 MiB "
        f"(after decompression); {CHECK_URL}"
    )
    assert peak < 4 << 20, f"{peak / (1 << 20):.1f} MiB allocated for a 1 MiB cap"


def test_a_content_encoding_it_cannot_bound_is_refused(harness: Harness) -> None:
    brotli = {"Content-Encoding": "br"}
    server = harness.serve(lambda h, b: h.send_body(b"\x00" * 64, headers=brotli))
    client = harness.client(server.url)
    with pytest.raises(ApiError) as caught:
        client.get("/v1/llms")
    assert str(caught.value) == (
        f"the Anam API at {server.url} answered GET /v1/llms with Content-Encoding 'br', which "
        f"personactl does not read; {CHECK_URL}"
    )


def test_gzip_answers_within_the_cap_are_read(harness: Harness) -> None:
    doc = {"data": [persona(1), persona(2)], "meta": {"lastPage": 1, "next": None}}
    packed = gzip.compress(json.dumps(doc).encode())
    server = harness.serve(lambda h, b: h.send_body(packed, headers={"Content-Encoding": "gzip"}))
    assert harness.client(server.url).list_all("/v1/personas") == doc["data"]


# -- 3. pagination, bounded -----------------------------------------------------------------


def test_a_huge_last_page_is_refused_before_any_other_page_is_asked(harness: Harness) -> None:
    server = harness.serve(lambda h, b: h.page([persona(1)], last=10**7, following=2))
    client = harness.client(server.url)
    with pytest.raises(ApiError) as caught:
        client.list_all("/v1/personas")
    assert str(caught.value) == (
        f"the Anam API at {server.url} answered GET /v1/personas meta.lastPage 10000000, more "
        f"than the 10,000 pages (1,000,000 items) personactl reads; {CHECK_URL}"
    )
    assert server.hits == [f"GET /v1/personas?page=1&perPage={PER_PAGE}"]


def test_a_next_that_never_ends_stops_at_the_page_limit(harness: Harness) -> None:
    def forever(handler: Handler, body: bytes) -> None:
        n = handler.page_number
        handler.page([persona(n)], last=None, following=n + 1 if n < 500 else None)

    server = harness.serve(forever)
    client = harness.client(server.url, max_pages=20)
    with pytest.raises(ApiError) as caught:
        client.list_all("/v1/personas")
    assert str(caught.value) == (
        f"the Anam API at {server.url} answered GET /v1/personas meta.next 21, more than the "
        f"20 pages (2,000 items) personactl reads; {CHECK_URL}"
    )
    assert len(server.hits) == 20


@pytest.mark.parametrize("last", [3, None], ids=["lastPage", "next-only"])
def test_a_server_ignoring_the_page_number_is_an_error_not_a_loop(
    harness: Harness, last: int | None
) -> None:
    def same_page(handler: Handler, body: bytes) -> None:
        n = handler.page_number
        handler.page([persona(1), persona(2)], last=last, following=n + 1 if n < 3 else None)

    server = harness.serve(same_page)
    client = harness.client(server.url, parallelism=1)
    with pytest.raises(ApiError) as caught:
        client.list_all("/v1/personas")
    assert str(caught.value) == (
        f"the Anam API at {server.url} answered GET /v1/personas page 2 with the same items as "
        f"page 1 (it seems to ignore `page`); {CHECK_URL}"
    )


def test_a_next_going_backwards_is_an_error(harness: Harness) -> None:
    server = harness.serve(lambda h, b: h.page([persona(h.page_number)], last=None, following=1))
    client = harness.client(server.url)
    with pytest.raises(ApiError) as caught:
        client.list_all("/v1/personas")
    assert str(caught.value) == (
        f"the Anam API at {server.url} answered GET /v1/personas page 1 with meta.next 1, which "
        f"does not move forward; {CHECK_URL}"
    )
    assert len(server.hits) == 1


# -- 4. a Retry-After longer than the budget -------------------------------------------------


def test_a_retry_after_longer_than_the_budget_fails_at_once(harness: Harness) -> None:
    def throttle(handler: Handler, body: bytes) -> None:
        handler.send_json({"message": "slow down"}, 429, {"Retry-After": "30"})

    server = harness.serve(throttle)
    client = harness.client(server.url, max_retry_seconds=5.0)
    with pytest.raises(ApiError) as caught:
        client.get("/v1/llms")
    assert re.fullmatch(
        rf"the Anam API at {server.url} answered 429 Too Many Requests to GET /v1/llms with "
        r"Retry-After 30 s, longer than the (4\.\d|5\.0) s left of the retry budget; try again "
        r"in 30 s or lower --parallelism",
        str(caught.value),
    ), str(caught.value)
    assert (caught.value.status, caught.value.api_message) == (429, "slow down")
    assert harness.sleeps == []  # no wait that could not end in a retry
    assert len(server.hits) == 1


# -- 5. answers of the wrong shape -------------------------------------------------------------


@pytest.mark.parametrize(
    ("doc", "what"),
    [
        ({"data": [persona(1), {"name": "no id"}]}, "page 1 with item 2 that has no `id`"),
        ({"data": ["p1", "p2"]}, "page 1 with item 1 that is a string, not an object"),
        ([7], "page 1 with item 1 that is a number, not an object"),
        ({"data": [{"id": 12}]}, "page 1 with item 1 that has an `id` that is a number, not an id"),
        ({"data": None}, "page 1 with neither a list nor a page of {data, meta}"),
    ],
    ids=["no-id", "scalars", "bare-array-of-scalars", "numeric-id", "no-data"],
)
def test_list_items_of_the_wrong_shape_name_the_request_and_the_item(
    harness: Harness, doc: Any, what: str
) -> None:
    server = harness.serve(lambda h, b: h.send_json(doc))
    client = harness.client(server.url)
    with pytest.raises(ApiError) as caught:
        client.list_all("/v1/personas")
    assert str(caught.value) == (
        f"the Anam API at {server.url} answered GET /v1/personas {what}; {CHECK_URL}"
    )


@pytest.mark.parametrize(
    ("doc", "what"),
    [([], "is a list, not an object"), ({"name": "x"}, "has no `id`"), ("", "is empty")],
    ids=["list", "no-id", "empty"],
)
def test_a_resource_get_of_the_wrong_shape_names_the_request(
    harness: Harness, doc: Any, what: str
) -> None:
    body = b"" if doc == "" else json.dumps(doc).encode()
    server = harness.serve(lambda h, b: h.send_body(body))
    client = harness.client(server.url)
    with pytest.raises(ApiError) as caught:
        client.get_resource("/v1/personas/p1")
    assert str(caught.value) == (
        f"the Anam API at {server.url} answered GET /v1/personas/p1 with a body that {what}; "
        f"{CHECK_URL}"
    )


@pytest.mark.parametrize(
    "body", [b"<html>", b"[" * 100_000, b"\xff\xfe{"], ids=["html", "nested-100000-deep", "bytes"]
)
def test_a_body_that_is_not_json_is_one_sentence(harness: Harness, body: bytes) -> None:
    server = harness.serve(lambda h, b: h.send_body(body))
    with pytest.raises(ApiError) as caught:
        harness.client(server.url).get("/v1/llms")
    assert str(caught.value) == (
        f"the Anam API at {server.url} answered GET /v1/llms with a body that is not JSON; "
        f"{CHECK_URL}"
    )


# -- end to end: one tampered answer fails that resource only ------------------------------


@pytest.fixture
def emu(tmp_path: Path) -> Iterator[Emulator]:
    with emulator(tmp_path / "emu-data") as e:
        yield e


def tamper(emu: Emulator, pick: Callable[[Request], bool], body: Any) -> None:
    """Answer the requests `pick` chooses with `body` instead of the emulator's answer
    (the emulator still carries them out)."""
    handle = emu.app.handle

    def tampered(request: Request) -> Response:
        response = handle(request)
        if pick(request) and response.status < 300:
            return Response(response.status, body(response.body) if callable(body) else body)
        return response

    emu.app.handle = tampered  # type: ignore[method-assign]


def named(method: str, name: str) -> Callable[[Request], bool]:
    def pick(request: Request) -> bool:
        if request.method != method or not request.path.startswith("/v1/personas"):
            return False  # (a document upload's body is not JSON)
        sent = json.loads(request.raw_body or b"{}")
        return isinstance(sent, dict) and sent.get("name") == name

    return pick


def cli(project: Path, monkeypatch: pytest.MonkeyPatch, *args: str) -> Result:
    monkeypatch.setenv("EMU_KEY", KEY)
    monkeypatch.setenv("ACME_ORDERS_TOKEN", TOKEN)
    monkeypatch.delenv("ANAM_API_URL", raising=False)
    return run_inprocess(list(args), cwd=project)


EMU_HINT = "check that apiUrl of environment 'emu' in personactl.yaml points at the Anam API"


def test_a_post_answer_without_id_fails_that_persona_only_and_the_next_run_adopts_it(
    project: Path, emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    without_id = lambda body: {k: v for k, v in body.items() if k != "id"}  # noqa: E731
    tamper(emu, named("POST", "t-support-cara"), without_id)
    r = cli(project, monkeypatch, "apply", "--auto-approve")
    assert r.code == 1
    assert r.lines[-1] == (
        "Apply finished with errors! Resources: 9 created, 0 updated, 0 deleted, 1 failed."
    )
    assert r.err.splitlines()[-1] == (
        f"error: Persona 'support-cara': the Anam API at {emu.url} answered POST /v1/personas "
        "with a body that has no `id`; the persona may exist all the same: the next plan "
        "adopts it by name"
    )
    assert "Traceback" not in r.err
    # The hint holds: untampered, the next apply adopts it as it is, creating nothing.
    emu.app.handle = type(emu.app).handle.__get__(emu.app)  # type: ignore[method-assign]
    emu.reset_log()
    r = cli(project, monkeypatch, "apply", "--auto-approve")
    assert r.code == 0, r.err
    assert "Plan: 0 to create, 0 to update, 0 to delete, 10 unchanged." in r.lines
    assert emu.writes() == []
    assert [p["name"] for p in emu.personas()].count("t-support-cara") == 1


def test_a_put_answer_that_is_not_an_object_fails_that_persona_only(
    applied: Path, emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("support", "onboarding"):
        path = applied / f"personas/{name}.yaml"
        path.write_text(path.read_text().replace("description: ", "description: New. ", 1))
    ids = {p["name"]: p["id"] for p in emu.personas()}
    tamper(emu, lambda r: r.method == "PUT" and r.path.endswith(ids["t-support-cara"]), [])
    r = cli(applied, monkeypatch, "apply", "--auto-approve")
    assert r.code == 1
    assert r.lines[-1] == (
        "Apply finished with errors! Resources: 0 created, 1 updated, 0 deleted, 1 failed."
    )
    assert r.err.splitlines()[-1] == (
        f"error: Persona 'support-cara': the Anam API at {emu.url} answered PUT "
        f"/v1/personas/{ids['t-support-cara']} with a body that is a list, not an object; "
        f"{EMU_HINT}"
    )


def test_plan_with_a_persona_get_answered_by_a_list_is_one_sentence(
    applied: Path, emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    ident = next(p["id"] for p in emu.personas() if p["name"] == "t-support-cara")
    tamper(emu, lambda r: r.method == "GET" and r.path == f"/v1/personas/{ident}", [])
    r = cli(applied, monkeypatch, "plan", "--refresh=full")  # auto would not read it
    assert (r.code, r.out) == (1, "")
    assert r.err == (
        f"error: the Anam API at {emu.url} answered GET /v1/personas/{ident} with a body that "
        f"is a list, not an object; {EMU_HINT}\n"
    )


def test_the_sandbox_says_a_wrong_answer_is_a_bug(tmp_path: Path, harness: Harness) -> None:
    transport = sandbox_transport(tmp_path / "sb", EmulatorSettings())
    config = ClientConfig(SANDBOX_BASE_URL, transport.api_key, transport=transport, sandbox=True)
    client = AnamClient(config)
    harness.clients.append(client)
    with pytest.raises(ApiError) as caught:
        client.check_resource("POST", "/v1/personas", ["x"])
    assert str(caught.value) == (
        "the sandbox emulator answered POST /v1/personas with a body that is a list, not an "
        "object; please report it"
    )


def test_apply_of_a_saved_plan_whose_re_read_is_answered_by_a_list_is_one_sentence(
    applied: Path, emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = applied / "personas/support.yaml"
    path.write_text(path.read_text().replace("description: ", "description: New. ", 1))
    r = cli(applied, monkeypatch, "plan", "--out", "plan.json")
    assert r.code == 0, r.err
    ident = next(p["id"] for p in emu.personas() if p["name"] == "t-support-cara")
    tamper(emu, lambda r: r.method == "GET" and r.path == f"/v1/personas/{ident}", [])
    r = cli(applied, monkeypatch, "apply", "plan.json")
    assert (r.code, r.out) == (1, "")
    assert r.err == (
        f"error: the Anam API at {emu.url} answered GET /v1/personas/{ident} with a body that "
        f"is a list, not an object; {EMU_HINT}\n"
    )


def test_import_of_a_persona_whose_read_is_answered_by_a_list_is_one_sentence(
    applied: Path, emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    with emu.client() as http:
        ident = http.post("/v1/personas", json=persona_body("t-unmanaged")).json()["id"]
    tamper(emu, lambda r: r.method == "GET" and r.path == f"/v1/personas/{ident}", [])
    r = cli(applied, monkeypatch, "import", "--id", ident)
    assert (r.code, r.out) == (1, "")
    assert r.err == (
        f"error: the Anam API at {emu.url} answered GET /v1/personas/{ident} with a body that "
        f"is a list, not an object; {EMU_HINT}\n"
    )
