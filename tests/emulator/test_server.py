"""`personactl emulator serve`: URL line, signals, keep-alive, persistence, concurrency, binding."""

from __future__ import annotations

import http.client
import json
import re
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from emulator_support import AUTH, ServedEmulator, checked_client, make_persona, unique

from personactl.core.errors import PersonactlError
from personactl.emulator.app import EmulatorApp
from personactl.emulator.server import create_server, is_loopback


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_stops_cleanly_on_signals(server_factory: Callable[..., ServedEmulator], sig: int) -> None:
    server = server_factory()
    with checked_client(base_url=server.url, headers=AUTH) as client:
        assert client.get("/v1/voices").status_code == 200  # leaves a keep-alive connection open
        code, elapsed = server.stop(sig)
    assert code == 0 and elapsed < 2
    assert server.process.stderr is not None and server.process.stderr.read() == ""


def test_keep_alive_reuses_one_socket(shared_server: ServedEmulator) -> None:
    address = urlsplit(shared_server.url)
    conn = http.client.HTTPConnection(address.hostname or "", address.port, timeout=5)
    conn.connect()
    first_socket = conn.sock
    for n in range(30):
        method, body = ("POST", json.dumps({"name": unique()})) if n % 3 == 0 else ("GET", None)
        conn.request(
            method, "/v1/personas", body=body, headers={**AUTH, "Content-Type": "application/json"}
        )
        response = conn.getresponse()
        response.read()
        assert response.status in (200, 201)
        assert response.getheader("Content-Length") is not None
        assert conn.sock is first_socket  # http.client reconnects (new socket) if the server closed
    conn.close()


def test_pooled_httpx_client_opens_one_connection(tmp_path: Path) -> None:
    app = EmulatorApp(tmp_path)
    server = create_server(app, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        with checked_client(base_url=server.url, headers=AUTH) as client:
            for _ in range(25):
                make_persona(client)
                assert client.get("/v1/personas").status_code == 200
            # errors keep the connection alive too
            assert client.get("/v1/personas/nope").status_code == 404
            assert client.post("/v1/personas", content=b"{").status_code == 400
            assert client.get("/v1/llms").status_code == 200
        assert server.connections_accepted == 1
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
        app.close()


def test_data_survives_a_restart(
    server_factory: Callable[..., ServedEmulator], tmp_path: Path
) -> None:
    data = tmp_path / "persist"
    first = server_factory(data_dir=data)
    with checked_client(base_url=first.url, headers=AUTH) as client:
        persona = make_persona(client, languageCode="en")
        knowledge = client.get("/v1/knowledge/groups").json()
    assert first.stop()[0] == 0
    second = server_factory(data_dir=data)
    with checked_client(base_url=second.url, headers=AUTH) as client:
        assert client.get(f"/v1/personas/{persona['id']}").json() == persona
        assert client.get("/v1/knowledge/groups").json() == knowledge  # seeded once, not twice
        assert client.get("/v1/voices").json()["meta"]["total"] == 13
        later = client.put(f"/v1/personas/{persona['id']}", json={}).json()
        assert later["updatedAt"] > persona["updatedAt"]


def test_concurrent_writers_lose_nothing(emulator: Callable[..., httpx.Client]) -> None:
    client = emulator()
    tag = unique("crowd")

    def writer(n: int) -> tuple[str, str]:
        persona = make_persona(client, name=f"{tag}-{n}")
        prompt = f"prompt {n}"
        response = client.put(f"/v1/personas/{persona['id']}", json={"systemPrompt": prompt})
        assert response.status_code == 200, response.text
        return persona["id"], prompt

    with ThreadPoolExecutor(max_workers=8) as pool:
        written = dict(pool.map(writer, range(40)))
    listed = client.get("/v1/personas", params={"search": tag, "perPage": 100}).json()
    assert {p["id"] for p in listed["data"]} == set(written)
    for persona_id, prompt in written.items():
        got = client.get(f"/v1/personas/{persona_id}").json()
        assert got["brain"]["systemPrompt"] == prompt


def test_concurrent_puts_to_one_persona(emulator: Callable[..., httpx.Client]) -> None:
    client = emulator()
    persona = make_persona(client)
    url = f"/v1/personas/{persona['id']}"
    with ThreadPoolExecutor(max_workers=8) as pool:
        stamps = list(
            pool.map(
                lambda n: client.put(url, json={"name": f"n{n}"}).json()["updatedAt"], range(30)
            )
        )
    assert len(set(stamps)) == 30  # every write got its own, strictly later, updatedAt
    assert client.get(url).json()["updatedAt"] == max(stamps)


def test_refuses_non_loopback_unless_explicit(tmp_path: Path) -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("example.com")
    app = EmulatorApp(tmp_path)
    try:
        with pytest.raises(PersonactlError, match="refusing to listen on non-loopback host"):
            create_server(app, "0.0.0.0", 0)
    finally:
        app.close()


def _run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "personactl", "emulator", "serve", *args],
        capture_output=True,
        text=True,
        timeout=20,
    )


def test_cli_errors_exit_1(tmp_path: Path, shared_server: ServedEmulator) -> None:
    bad_fail = _run_cli("--data", str(tmp_path), "--fail", "429", "--port", "0")
    assert bad_fail.returncode == 1
    assert bad_fail.stderr.strip() == (
        "error: --fail: '429' is not STATUS=RATE (for example 429=0.2,503=0.1)"
    )
    port = str(urlsplit(shared_server.url).port)
    busy = _run_cli("--data", str(tmp_path), "--port", port)
    assert busy.returncode == 1
    assert busy.stderr.startswith(f"error: cannot listen on 127.0.0.1:{port}: ")
    assert busy.stdout == ""


def test_connections_opened_at_once_are_queued_not_dropped(tmp_path: Path) -> None:
    # Nothing accepts yet (a busy server): the kernel must still complete 32 handshakes.
    # With socketserver's backlog of 5 the rest would wait out a 1 s SYN retransmission.
    app = EmulatorApp(tmp_path)
    server = create_server(app, "127.0.0.1", 0)
    sockets = []
    try:
        for _ in range(32):
            s = socket.create_connection(("127.0.0.1", server.server_address[1]), timeout=0.5)
            sockets.append(s)
        assert len(sockets) == 32
    finally:
        for s in sockets:
            s.close()
        server.server_close()
        app.close()


def _exchange(port: int, raw: bytes) -> list[bytes]:
    """Send `raw` on a new connection; the status lines of what comes back, until the
    server closes it or goes quiet."""
    # (a status line follows the previous body directly)
    return re.findall(rb"HTTP/1\.1 \d{3} [^\r\n]*", _raw(port, raw))


def _raw(port: int, raw: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
        s.sendall(raw)
        got = b""
        try:
            while chunk := s.recv(65536):
                got += chunk
        except TimeoutError:
            pass
    return got


def test_request_lines_and_headers_are_read_as_http_1_1_says(tmp_path: Path) -> None:
    app = EmulatorApp(tmp_path)
    server = create_server(app, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    port = server.server_address[1]
    key = AUTH["Authorization"].encode()
    get = b"GET /v1/llms HTTP/1.1\r\nHost: x\r\nAuthorization: " + key + b"\r\n"
    try:
        # Two requests on one connection, then `Connection: close` ends it.
        assert _exchange(port, get + b"\r\n" + get + b"Connection: close\r\n\r\n") == [
            b"HTTP/1.1 200 OK",
            b"HTTP/1.1 200 OK",
        ]
        # A header folded over two lines (unfolded, as RFC 9112 allows), any case, and
        # `//` at the start of the path.
        folded = (
            b"GET //v1/llms HTTP/1.1\r\nauthorization:\r\n "
            + key
            + b"\r\nConnection: close\r\n\r\n"
        )
        assert _exchange(port, folded) == [b"HTTP/1.1 200 OK"]
        # HTTP/1.0 closes after one answer.
        assert _exchange(port, get.replace(b"1.1", b"1.0", 1) + b"\r\n" + get + b"\r\n") == [
            b"HTTP/1.1 200 OK"
        ]
        # A body announced with Expect: 100-continue is asked for first.
        body = b'{"name": "x"}'
        expect = (
            b"POST /v1/nothing-here HTTP/1.1\r\nAuthorization: "
            + key
            + b"\r\nExpect: 100-continue\r\n"
            b"Content-Length: 13\r\nConnection: close\r\n\r\n" + body
        )
        assert _exchange(port, expect) == [b"HTTP/1.1 100 Continue", b"HTTP/1.1 404 Not Found"]
        # A request line that is not HTTP/1.x: answered as HTTP/0.9 (no status line), as
        # http.server answers it.
        for line, code in (
            (b"GET /v1/llms", b"400"),
            (b"GET /v1/llms HTTP/x.y", b"400"),
            (b"GET /v1/llms HTTP/2.0", b"505"),
        ):
            assert b"Error code: " + code in _raw(port, line + b"\r\n\r\n")
        many = b"".join(b"X-%d: 1\r\n" % i for i in range(101))
        assert _exchange(port, b"GET /v1/llms HTTP/1.1\r\n" + many + b"\r\n") == [
            b"HTTP/1.1 431 Too many headers"
        ]
        long = b"X-Long: " + b"a" * 70_000 + b"\r\n"
        assert _exchange(port, b"GET /v1/llms HTTP/1.1\r\n" + long + b"\r\n") == [
            b"HTTP/1.1 431 Line too long"
        ]
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
        app.close()
