"""The Anam API client against the emulator: in-process and over real HTTP.

Retry waits go through an injected `sleep` that only records what it was
asked, so backoff is asserted exactly without waiting.
"""

from __future__ import annotations

import os
import random
import re
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from personactl.anam.client import (
    PER_PAGE,
    AnamClient,
    ClientConfig,
    RequestRecord,
    client_for,
)
from personactl.anam.errors import (
    ApiError,
    AuthRejected,
    NotFound,
    Unreachable,
    api_message,
)
from personactl.anam.retry import Backoff, parse_retry_after
from personactl.core.errors import OutcomeUnknown, PersonactlError
from personactl.emulator.app import EmulatorApp
from personactl.emulator.inprocess import SANDBOX_BASE_URL, sandbox_transport
from personactl.emulator.server import create_server
from personactl.emulator.settings import EmulatorSettings
from personactl.manifest.model import Environment
from personactl.usecases.connect import connect

LIV_HOME_AVATAR = "071b0286-4cce-4808-bee2-e642f1062de3"
LUCY_VOICE = "de23e340-1416-4dd8-977d-065a7ca11697"
GPT_4O_MINI = "0934d97d-0c3a-4f33-91b0-5e136a0ef466"
SECRET = "sk-live-0123456789abcdef"  # a key that must never show up anywhere


def persona_body(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "avatarId": LIV_HOME_AVATAR,
        "voiceId": LUCY_VOICE,
        "llmId": GPT_4O_MINI,
        "systemPrompt": "You are helpful.",
    }


class MaxRandom(random.Random):
    """Full jitter that always draws the ceiling: waits become exact."""

    def uniform(self, a: float, b: float) -> float:
        return b


@dataclass
class Harness:
    sleeps: list[float]
    logs: list[str]
    clients: list[AnamClient]

    def config(self, base_url: str, api_key: str, **options: Any) -> ClientConfig:
        options.setdefault("sleep", self.sleeps.append)
        options.setdefault("rng", random.Random(1))
        options.setdefault("log", self.logs.append)
        return ClientConfig(base_url=base_url, api_key=api_key, **options)

    def client(self, config: ClientConfig) -> AnamClient:
        client = AnamClient(config)
        self.clients.append(client)
        return client


@pytest.fixture
def harness() -> Iterator[Harness]:
    h = Harness([], [], [])
    yield h
    for client in h.clients:
        client.close()


@pytest.fixture
def sandbox(tmp_path: Path, harness: Harness) -> Callable[..., AnamClient]:
    """`sandbox(settings, **config)`: a client on a fresh in-process emulator."""
    count = 0

    def make(settings: EmulatorSettings | None = None, **options: Any) -> AnamClient:
        nonlocal count
        count += 1
        transport = sandbox_transport(tmp_path / f"sandbox{count}", settings)
        options.setdefault("sandbox", True)
        config = harness.config(SANDBOX_BASE_URL, transport.api_key, transport=transport, **options)
        return harness.client(config)

    return make


@dataclass
class Served:
    process: subprocess.Popen[str]
    url: str


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., Served]]:
    """`serve(*flags)`: `personactl emulator serve --port 0` in a subprocess, stopped after."""
    started: list[Served] = []

    def start(*flags: str) -> Served:
        data = tmp_path / f"served{len(started)}"
        process = subprocess.Popen(
            [sys.executable, "-m", "personactl", "emulator", "serve", "--port", "0"]
            + ["--data", str(data), *flags],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], 15)
        if not ready:
            process.kill()
            raise AssertionError("the emulator did not print its URL within 15 s")
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), url
        served = Served(process, url)
        started.append(served)
        return served

    yield start
    for served in started:
        served.process.send_signal(signal.SIGTERM)
        assert served.process.wait(timeout=5) == 0


@pytest.fixture
def threaded_server(tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """An emulator HTTP server in this process, so the test can read its connection count."""
    servers: list[tuple[Any, EmulatorApp, threading.Thread]] = []

    def start(settings: EmulatorSettings | None = None) -> Any:
        app = EmulatorApp(tmp_path / f"threaded{len(servers)}", settings)
        server = create_server(app)
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
        thread.start()
        servers.append((server, app, thread))
        return server

    yield start
    for server, app, thread in servers:
        server.shutdown()
        thread.join(5)
        server.server_close()
        app.close()


def max_overlap(records: list[RequestRecord]) -> int:
    """How many requests were in flight at once, at most."""
    events = sorted([(r.started, 1) for r in records] + [(r.ended, -1) for r in records])
    current = peak = 0
    for _, delta in events:
        current += delta
        peak = max(peak, current)
    return peak


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def env_named(name: str, *, backend: str = "anam", api_url: str = "https://api.anam.ai",
              api_key_env: str = "ANAM_API_KEY_STAGING") -> Environment:  # fmt: skip
    return Environment(
        name=name,
        backend=backend,
        api_url=api_url,
        api_key_env=api_key_env,
        name_prefix="",
        name_suffix="",
        vars={},
        state_path=Path(f".personactl/{name}.json"),
        patches=[],
        keypath=("spec", "environments", name),
    )


# -- pagination and basic calls ---------------------------------------------------------


def test_list_all_reads_205_personas_in_exactly_three_pages(
    sandbox: Callable[..., AnamClient],
) -> None:
    client = sandbox()
    names = [f"bulk-{i:03d}" for i in range(205)]
    created = client.map_concurrent(lambda n: client.post("/v1/personas", persona_body(n)), names)
    assert all(o.ok for o in created)
    client.requests.clear()

    personas = client.list_all("/v1/personas")

    assert sorted(p["name"] for p in personas) == names
    # Page 1 first (it tells how many there are), then pages 2 and 3 side by side.
    records = [(r.method, r.path, r.status) for r in client.requests]
    assert records[0] == ("GET", f"/v1/personas?page=1&perPage={PER_PAGE}", 200)
    assert sorted(records[1:]) == [
        ("GET", f"/v1/personas?page={page}&perPage={PER_PAGE}", 200) for page in (2, 3)
    ]


def test_list_all_passes_search_and_accepts_a_bare_array(
    sandbox: Callable[..., AnamClient],
) -> None:
    client = sandbox()
    voices = client.list_all("/v1/voices", {"search": "Lucy"})
    groups = client.list_all("/v1/knowledge/groups")
    assert [v["displayName"] for v in voices] == ["Lucy - Fresh & Casual"]
    assert [g["name"] for g in groups] == ["Product docs"]
    assert [r.path for r in client.requests] == [
        "/v1/voices?search=Lucy&page=1&perPage=100",
        "/v1/knowledge/groups?page=1&perPage=100",
    ]


def test_requests_carry_auth_accept_and_user_agent(tmp_path: Path, harness: Harness) -> None:
    inner = sandbox_transport(tmp_path / "spy")
    seen: list[httpx.Headers] = []

    class Spy(httpx.BaseTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            seen.append(request.headers)
            return inner.handle_request(request)

        def close(self) -> None:
            inner.close()

    client = harness.client(harness.config(SANDBOX_BASE_URL, inner.api_key, transport=Spy()))
    client.get("/v1/llms")
    assert seen[0]["authorization"] == "Bearer sandbox-key"
    assert seen[0]["accept"] == "application/json"
    assert seen[0]["user-agent"] == "personactl/0.1.0"


def test_post_put_delete_decode_json_and_204_is_none(sandbox: Callable[..., AnamClient]) -> None:
    client = sandbox()
    persona = client.post("/v1/personas", persona_body("crud"))
    updated = client.put(f"/v1/personas/{persona['id']}", {"description": "changed"})
    tool = client.post(
        "/v1/tools", {"name": "t1", "description": "Does a thing.", "type": "CLIENT"}
    )
    assert updated["description"] == "changed"
    assert client.delete(f"/v1/tools/{tool['id']}") is None  # 204
    assert client.delete(f"/v1/personas/{persona['id']}") == {"message": "Persona deleted"}
    assert [r.status for r in client.requests] == [201, 200, 201, 204, 200]


# -- concurrency and connections --------------------------------------------------------


def test_map_concurrent_never_exceeds_parallelism_and_keeps_order(
    sandbox: Callable[..., AnamClient],
) -> None:
    client = sandbox(EmulatorSettings(latency_ms=50), parallelism=4)
    voices = client.list_all("/v1/voices")
    ids = [v["id"] for v in voices][:8] * 2
    client.requests.clear()

    outcomes = client.map_concurrent(client.get, [f"/v1/voices/{i}" for i in ids])

    assert [o.unwrap()["id"] for o in outcomes] == ids
    assert len(client.requests) == 16
    assert max_overlap(client.requests) == 4
    # 16 requests, 4 at a time: the 5th to start began after the first to end
    by_start = sorted(client.requests, key=lambda r: r.started)
    assert by_start[4].started >= min(r.ended for r in by_start[:4])


def test_map_concurrent_keeps_each_failure_with_its_item(
    sandbox: Callable[..., AnamClient],
) -> None:
    client = sandbox(parallelism=3)
    paths = [f"/v1/voices/{LUCY_VOICE}", "/v1/voices/missing", f"/v1/llms/{GPT_4O_MINI}"]
    outcomes = client.map_concurrent(client.get, paths)
    assert [o.item for o in outcomes] == paths
    assert [o.ok for o in outcomes] == [True, False, True]
    assert isinstance(outcomes[1].error, NotFound)
    with pytest.raises(NotFound):
        outcomes[1].unwrap()


def test_one_pooled_connection_is_reused(
    threaded_server: Callable[..., Any], harness: Harness
) -> None:
    server = threaded_server()
    client = harness.client(harness.config(server.url, "sandbox-key", parallelism=1))
    for _ in range(20):
        client.get("/v1/llms")
    assert server.connections_accepted == 1


def test_parallel_requests_open_at_most_parallelism_connections(
    threaded_server: Callable[..., Any], harness: Harness
) -> None:
    server = threaded_server(EmulatorSettings(latency_ms=30))
    client = harness.client(harness.config(server.url, "sandbox-key", parallelism=4))
    client.map_concurrent(client.get, ["/v1/llms"] * 16)
    opened = server.connections_accepted
    client.map_concurrent(client.get, ["/v1/voices"] * 16)
    assert opened == 4
    assert server.connections_accepted == 4  # the second batch reused them all


def test_the_pool_checks_only_the_connection_it_hands_out(
    threaded_server: Callable[..., Any], harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    # httpcore's own pool asks every connection whether it is idle once per connection
    # on each start and end of a request, and polls every idle socket: at 16
    # connections, 145 is_idle calls and 13 polls a request. Ours: at most one each.
    from httpcore._sync.http11 import HTTP11Connection

    calls = {"is_idle": 0, "has_expired": 0}
    for name in calls:
        original = getattr(HTTP11Connection, name)

        def counted(self: Any, _name: str = name, _original: Any = original) -> bool:
            calls[_name] += 1
            return bool(_original(self))

        monkeypatch.setattr(HTTP11Connection, name, counted)
    server = threaded_server(EmulatorSettings(latency_ms=5))
    client = harness.client(harness.config(server.url, "sandbox-key", parallelism=16))
    outcomes = client.map_concurrent(client.get, ["/v1/llms"] * 96)
    assert all(o.ok for o in outcomes)
    assert server.connections_accepted == 16
    assert calls["has_expired"] <= 96 - 16  # each reuse checks the one connection reused
    assert calls["is_idle"] <= 96


def test_a_connection_the_server_closed_while_idle_is_not_reused(
    threaded_server: Callable[..., Any], harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    from personactl.emulator import server as emulator_server

    # The server drops a keep-alive connection idle for 0.2 s, as real ones do.
    monkeypatch.setattr(emulator_server._Handler, "timeout", 0.2)
    server = threaded_server()
    client = harness.client(harness.config(server.url, "sandbox-key", parallelism=2))
    client.get("/v1/llms")
    time.sleep(0.6)
    client.get("/v1/llms")
    assert server.connections_accepted == 2
    # found dead before it was used: no failed attempt, no retry
    assert [r.attempt for r in client.requests] == [1, 1]
    assert [r.status for r in client.requests] == [200, 200]


# -- retries ----------------------------------------------------------------------------


def test_429_retries_wait_exactly_the_retry_after(
    sandbox: Callable[..., AnamClient], harness: Harness
) -> None:
    settings = EmulatorSettings(fail_rates={429: 0.5}, seed=7, retry_after_seconds=3)
    client = sandbox(settings, parallelism=1)
    for _ in range(10):
        assert client.get("/v1/llms")["meta"]["total"] == 8
    throttled = [r for r in client.requests if r.status == 429]
    assert len(throttled) > 0
    assert harness.sleeps == [3.0] * len(throttled)
    assert len([r for r in client.requests if r.status == 200]) == 10


def test_503s_converge_with_seeded_full_jitter_backoff(
    sandbox: Callable[..., AnamClient], harness: Harness
) -> None:
    settings = EmulatorSettings(fail_rates={503: 0.6}, seed=11)
    client = sandbox(settings, parallelism=1, rng=random.Random(42))
    results = [client.get(f"/v1/voices/{LUCY_VOICE}")["id"] for _ in range(8)]
    assert results == [LUCY_VOICE] * 8
    failed = [r for r in client.requests if r.status == 503]
    assert len(failed) >= 3
    replay, backoff = random.Random(42), Backoff()
    assert harness.sleeps == [backoff.delay(r.attempt, replay) for r in failed]
    assert all(
        0 <= s <= min(8.0, 0.25 * 2 ** (r.attempt - 1))
        for s, r in zip(harness.sleeps, failed, strict=True)
    )


def test_post_refused_with_429_is_retried_and_creates_exactly_once(
    sandbox: Callable[..., AnamClient],
) -> None:
    client = sandbox(EmulatorSettings(fail_rates={429: 0.5}, seed=3), parallelism=1)
    for i in range(6):
        client.post("/v1/personas", persona_body(f"retry-{i}"))
    posts = [r for r in client.requests if r.method == "POST"]
    assert len([r for r in posts if r.status == 429]) > 0
    assert len([r for r in posts if r.status == 201]) == 6
    names = sorted(p["name"] for p in client.list_all("/v1/personas"))
    assert names == [f"retry-{i}" for i in range(6)]


def test_retry_budget_running_out_names_attempts_time_and_status(
    serve: Callable[..., Served], harness: Harness
) -> None:
    served = serve("--fail", "503=1")
    config = harness.config(served.url, "sandbox-key", max_retry_seconds=1.0, rng=MaxRandom())
    client = harness.client(config)
    with pytest.raises(ApiError) as caught:
        client.get("/v1/llms")
    assert str(caught.value) == (
        f"the Anam API at {served.url} still answered 503 Service Unavailable to GET /v1/llms "
        "after 4 attempts over 1.0 s; try again later or lower --parallelism"
    )
    assert caught.value.status == 503
    # waits of 0.25 and 0.5, then the rest of the budget (attempts count against it too)
    assert harness.sleeps[:2] == [0.25, 0.5] and len(harness.sleeps) == 3
    spent = sum(harness.sleeps) + sum(r.elapsed_ms for r in client.requests[:3]) / 1000
    assert spent == pytest.approx(1.0)
    assert [(r.attempt, r.status) for r in client.requests] == [(n, 503) for n in (1, 2, 3, 4)]


def test_retry_after_longer_than_the_remaining_budget_fails_without_waiting(
    sandbox: Callable[..., AnamClient], harness: Harness
) -> None:
    settings = EmulatorSettings(fail_rates={429: 1.0}, retry_after_seconds=30)
    client = sandbox(settings, max_retry_seconds=5.0)
    with pytest.raises(ApiError) as caught:
        client.get("/v1/llms")
    assert re.fullmatch(
        r"the sandbox emulator answered 429 Too Many Requests to GET /v1/llms with Retry-After "
        r"30 s, longer than the (4\.\d|5\.0) s left of the retry budget; try again in 30 s or "
        r"lower --parallelism",
        str(caught.value),
    ), str(caught.value)
    assert harness.sleeps == []
    assert [r.status for r in client.requests] == [429]


def test_parse_retry_after_seconds_and_http_date() -> None:
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == 10.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412490.0) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


# -- outcome unknown --------------------------------------------------------------------


def test_dropped_post_raises_outcome_unknown_in_process_without_retrying(
    tmp_path: Path, sandbox: Callable[..., AnamClient]
) -> None:
    client = sandbox(EmulatorSettings(drop_after_commit=1.0))
    with pytest.raises(OutcomeUnknown) as caught:
        client.post("/v1/personas", persona_body("dropped-once"))
    assert str(caught.value) == (
        "the outcome of POST /v1/personas is unknown (server disconnected without sending a "
        "response): it may have been applied; list by name before sending it again"
    )
    assert [(r.method, r.error) for r in client.requests] == [("POST", "RemoteProtocolError")]
    found = client.list_all("/v1/personas", {"search": "dropped-once"})  # GETs are not dropped
    assert [p["name"] for p in found] == ["dropped-once"]


def test_gateway_error_on_post_is_an_unknown_outcome_but_503_is_retried(
    sandbox: Callable[..., AnamClient],
) -> None:
    # A 502/504 comes from a gateway: the backend may have committed the create.
    client = sandbox(EmulatorSettings(fail_rates={502: 1.0}))
    with pytest.raises(OutcomeUnknown) as caught:
        client.post("/v1/personas", persona_body("via-gateway"))
    assert "the gateway answered 502 Bad Gateway" in str(caught.value)
    assert [(r.method, r.status) for r in client.requests] == [("POST", 502)]
    # A GET (idempotent) is retried through the same gateway errors.
    client = sandbox(EmulatorSettings(fail_rates={504: 0.5}, seed=1))
    client.get("/v1/llms")
    assert [r.status for r in client.requests][-1] == 200


def test_dropped_post_over_http_is_not_retried_and_exists_once(
    serve: Callable[..., Served], harness: Harness
) -> None:
    served = serve("--drop-after-commit", "1")
    client = harness.client(harness.config(served.url, "sandbox-key"))
    with pytest.raises(OutcomeUnknown) as caught:
        client.post("/v1/personas", persona_body("dropped-http"))
    assert (caught.value.method, caught.value.path) == ("POST", "/v1/personas")
    assert [r.method for r in client.requests] == ["POST"]
    assert harness.sleeps == []
    found = client.list_all("/v1/personas", {"search": "dropped-http"})
    assert [p["name"] for p in found] == ["dropped-http"]


# -- errors -----------------------------------------------------------------------------


def test_401_names_the_url_and_variable_never_the_key(
    serve: Callable[..., Served], capsys: pytest.CaptureFixture[str]
) -> None:
    served = serve()
    env = env_named("staging", api_url=served.url)
    environ = {"ANAM_API_KEY_STAGING": SECRET}
    with client_for(env, environ=environ, debug=True) as client:
        with pytest.raises(AuthRejected) as caught:
            client.get("/v1/personas")
        records = repr(client.requests)
        client_repr = repr(client) + repr(client.config)
    message = str(caught.value)
    assert message == (
        f"the Anam API at {served.url} rejected the API key from ANAM_API_KEY_STAGING "
        "(401 Unauthorized); check the key"
    )
    assert caught.value.status == 401
    assert caught.value.api_message == "Invalid or missing API key"
    debug = capsys.readouterr().err
    assert re.fullmatch(r"GET /v1/personas -> 401 \(\d+ ms\)\n", debug)
    for text in (message, repr(caught.value), records, client_repr, debug):
        assert SECRET not in text


def test_401_from_the_api_key_option_and_from_the_sandbox(
    serve: Callable[..., Served], tmp_path: Path, harness: Harness
) -> None:
    served = serve()
    env = env_named("staging", api_url=served.url)
    client = client_for(env, api_key=SECRET, environ={})
    harness.clients.append(client)
    with pytest.raises(AuthRejected, match=r"rejected the API key from --api-key \(401 "):
        client.get("/v1/llms")
    transport = sandbox_transport(tmp_path / "wrong-key")
    config = harness.config(SANDBOX_BASE_URL, SECRET, transport=transport, sandbox=True)
    with pytest.raises(AuthRejected) as caught:
        harness.client(config).get("/v1/llms")
    assert str(caught.value) == "the sandbox emulator rejected its API key (401 Unauthorized)"


def test_unreachable_url_gives_up_after_the_connect_budget(harness: Harness) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    config = harness.config(url, SECRET, connect_retry_seconds=1.0, rng=MaxRandom())
    client = harness.client(config)
    with pytest.raises(Unreachable) as caught:
        client.get("/v1/personas")
    assert str(caught.value) == (
        f"cannot reach the Anam API at {url} (connection refused; 4 attempts over 1.0 s); "
        "check --api-url / ANAM_API_URL and your network"
    )
    assert [r.error for r in client.requests] == ["ConnectError"] * 4
    assert caught.value.status is None


def test_400_quotes_the_server_message(sandbox: Callable[..., AnamClient]) -> None:
    client = sandbox()
    persona = client.post("/v1/personas", persona_body("bad-put"))
    with pytest.raises(ApiError) as caught:
        client.put(f"/v1/personas/{persona['id']}", {"colour": "red"})
    assert str(caught.value) == (
        f"the Anam API refused PUT /v1/personas/{persona['id']}: property colour should not exist"
    )
    assert (caught.value.status, caught.value.method) == (400, "PUT")
    assert caught.value.api_message == "property colour should not exist"
    assert len(client.requests) == 2  # a 400 is not retried


def test_404_is_not_found(sandbox: Callable[..., AnamClient]) -> None:
    client = sandbox()
    with pytest.raises(NotFound) as caught:
        client.get("/v1/personas/nope")
    assert str(caught.value) == (
        "the Anam API answered 404 Not Found to GET /v1/personas/nope: Persona not found"
    )
    assert caught.value.status == 404
    assert caught.value.path == "/v1/personas/nope"


def test_500_is_reported_once_without_retrying(sandbox: Callable[..., AnamClient]) -> None:
    client = sandbox(EmulatorSettings(fail_rates={500: 1.0}))
    with pytest.raises(ApiError) as caught:
        client.get("/v1/voices")
    assert str(caught.value) == (
        "the Anam API answered 500 Internal Server Error to GET /v1/voices: "
        "Injected 500 Internal Server Error (emulator --fail)"
    )
    assert len(client.requests) == 1


def test_api_message_reads_message_then_error_and_joins_lists() -> None:
    assert api_message({"message": ["name must be a string", "avatarId is required"]}) == (
        "name must be a string; avatarId is required"
    )
    assert api_message({"message": "", "error": "Conflict"}) == "Conflict"
    assert api_message("<html>") is None


def test_debug_lines_show_method_path_status_and_retries(
    sandbox: Callable[..., AnamClient], harness: Harness
) -> None:
    settings = EmulatorSettings(fail_rates={429: 0.5}, seed=7, retry_after_seconds=2)
    client = sandbox(settings, debug=True, parallelism=1)
    for _ in range(4):
        client.get("/v1/llms", {"search": "GPT"})
    pattern = (
        r"GET /v1/llms\?search=GPT -> (200|429) \(\d+ ms\)"
        r"( \[attempt \d\])?(; retrying in 2\.00 s)?"
    )
    assert len(harness.logs) == len(client.requests) > 4
    assert all(re.fullmatch(pattern, line) for line in harness.logs), harness.logs
    assert any(line.endswith("; retrying in 2.00 s") for line in harness.logs)


# -- client_for -------------------------------------------------------------------------


def test_client_for_without_a_key_names_the_variable() -> None:
    with pytest.raises(PersonactlError) as caught:
        client_for(env_named("staging"), environ={})
    assert str(caught.value) == (
        "no API key for environment 'staging': set ANAM_API_KEY_STAGING or pass --api-key"
    )


def test_client_for_url_precedence(tmp_path: Path) -> None:
    env = env_named("staging", api_url="https://from-manifest.example")
    keyed = {"ANAM_API_KEY_STAGING": SECRET}
    cases = [
        ({}, None, "https://from-manifest.example"),
        ({"ANAM_API_URL": "https://from-env.example/"}, None, "https://from-env.example"),
        ({"ANAM_API_URL": "https://from-env.example"}, "https://flag.example", "https://flag.example"),
    ]  # fmt: skip
    for extra, flag, expected in cases:
        with client_for(env, api_url=flag, environ={**keyed, **extra}) as client:
            assert client.config.base_url == expected
            assert client.config.api_key_env == "ANAM_API_KEY_STAGING"


def test_connect_sandbox_ignores_the_key(tmp_path: Path) -> None:
    env = env_named("sandbox", backend="sandbox")
    with connect(env, tmp_path, api_key=SECRET, environ={}) as client:
        assert [g["name"] for g in client.list_all("/v1/knowledge/groups")] == ["Product docs"]
        assert client.config.base_url == SANDBOX_BASE_URL
    assert (tmp_path / ".personactl" / "sandbox").is_dir()


def test_a_key_echoed_by_the_server_is_redacted(harness: Harness) -> None:
    # the emulator never echoes keys; a misbehaving proxy might, so fake one
    def echo(request: httpx.Request) -> httpx.Response:
        said = f"key {request.headers['authorization'].split()[1]} is not valid here"
        return httpx.Response(400, json={"message": said, "statusCode": 400})

    config = harness.config("https://proxy.example", SECRET, transport=httpx.MockTransport(echo))
    client = harness.client(config)
    with pytest.raises(ApiError) as caught:
        client.post(f"/v1/tools?note={SECRET}", {"name": "x"})
    assert str(caught.value) == (
        "the Anam API refused POST /v1/tools: key (redacted) is not valid here"
    )
    assert caught.value.api_message == "key (redacted) is not valid here"
    assert client.requests[0].path == "/v1/tools?note=(redacted)"


def test_a_plain_http_api_loads_no_ca_bundle_and_https_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Loading the CA bundle costs tens of milliseconds a run: only https needs it."""
    import httpx as _httpx

    monkeypatch.delenv("SSL_CERT_DIR", raising=False)  # a directory loads lazily: no count
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    from personactl.anam.transport import pooled_transport

    limits = _httpx.Limits(max_connections=1)
    plain = pooled_transport(limits, secure=False)._pool._ssl_context
    secure = pooled_transport(limits, secure=True)._pool._ssl_context
    assert plain is not None and plain.cert_store_stats()["x509_ca"] == 0
    assert secure is not None and secure.cert_store_stats()["x509_ca"] > 0
