"""hide-write-only, latency, injected failures, drop-after-commit and seeds (both backends)."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import pytest
from emulator_support import make_persona, unique

from personactl.emulator.settings import EmulatorSettings

WRITE_ONLY = {"languageCode", "uninterruptibleGreeting", "initialMessage"}


@pytest.mark.parametrize("hide", [False, True])
def test_hide_write_only(emulator: Callable[..., httpx.Client], hide: bool) -> None:
    client = emulator(EmulatorSettings(hide_write_only=hide))
    body = {"languageCode": "fr", "initialMessage": "Salut", "uninterruptibleGreeting": True}
    persona = make_persona(client, **body)
    fetched = client.get(f"/v1/personas/{persona['id']}").json()
    updated = client.put(f"/v1/personas/{persona['id']}", json={"languageCode": "de"}).json()
    for shape in (persona, fetched, updated):
        assert (WRITE_ONLY & set(shape)) == (set() if hide else WRITE_ONLY)
        assert "description" in shape
    if not hide:
        assert (fetched["languageCode"], updated["languageCode"]) == ("fr", "de")
        assert (fetched["initialMessage"], fetched["uninterruptibleGreeting"]) == ("Salut", True)


def test_latency(emulator: Callable[..., httpx.Client]) -> None:
    client = emulator(EmulatorSettings(latency_ms=150))
    client.get("/v1/llms")  # warm up the connection
    started = time.monotonic()
    for _ in range(3):
        assert client.get("/v1/llms").status_code == 200
    assert time.monotonic() - started >= 0.45


def test_injected_429_has_retry_after_and_no_effect(emulator: Callable[..., httpx.Client]) -> None:
    client = emulator(EmulatorSettings(fail_rates={429: 1.0}, retry_after_seconds=7, seed=1))
    name = unique("never")
    response = client.post("/v1/personas", json={"name": name})
    assert response.status_code == 429
    assert response.headers["retry-after"] == "7"
    assert response.json() == {
        "message": "Injected 429 Too Many Requests (emulator --fail)",
        "error": "Too Many Requests",
        "statusCode": 429,
    }
    assert client.get("/v1/personas").status_code == 429  # every request fails at rate 1


def test_injected_failures_happen_before_any_effect(emulator: Callable[..., httpx.Client]) -> None:
    client = emulator(EmulatorSettings(fail_rates={503: 0.5}, seed=3))
    name = unique("half")
    statuses = [client.post("/v1/personas", json={"name": name}).status_code for _ in range(20)]
    assert set(statuses) == {201, 503}
    response = client.get("/v1/personas", params={"search": name, "perPage": 100})
    while response.status_code == 503:  # the list itself may meet an injected 503
        response = client.get("/v1/personas", params={"search": name, "perPage": 100})
    assert response.json()["meta"]["total"] == statuses.count(201)


def test_drop_after_commit(emulator: Callable[..., httpx.Client]) -> None:
    client = emulator(EmulatorSettings(drop_after_commit=1.0, seed=5))
    name = unique("dropped")
    with pytest.raises(httpx.RemoteProtocolError):
        client.post("/v1/personas", json={"name": name})
    listed = client.get("/v1/personas", params={"search": name}).json()
    assert [p["name"] for p in listed["data"]] == [name]  # committed anyway
    persona_id = listed["data"][0]["id"]
    with pytest.raises(httpx.RemoteProtocolError):
        client.put(f"/v1/personas/{persona_id}", json={"systemPrompt": "after"})
    fetched = client.get(f"/v1/personas/{persona_id}").json()
    assert fetched["brain"]["systemPrompt"] == "after"
    # a failed write is answered normally, not dropped
    bad = client.post("/v1/personas", json={"name": 1})
    assert bad.status_code == 400


def _fault_run(client: httpx.Client, tag: str) -> list[str]:
    outcomes = []
    for n in range(25):
        try:
            status = client.post("/v1/personas", json={"name": f"{tag}-{n}"}).status_code
            outcomes.append(str(status))
        except httpx.RemoteProtocolError:
            outcomes.append("dropped")
        outcomes.append(str(client.get("/v1/llms").status_code))
    return outcomes


def test_seed_makes_fault_runs_repeat(emulator: Callable[..., httpx.Client]) -> None:
    settings = EmulatorSettings(fail_rates={429: 0.2, 503: 0.1}, drop_after_commit=0.3, seed=42)
    first = _fault_run(emulator(settings), unique("a"))
    second = _fault_run(emulator(settings), unique("b"))
    assert first == second
    assert {"201", "429", "503", "dropped", "200"} <= set(first)
    other = _fault_run(emulator(EmulatorSettings(**{**settings.__dict__, "seed": 43})), unique())
    assert other != first
