"""Auth, unknown paths and methods, bad bodies; read the way the official clients read them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from emulator_support import assert_error, make_persona

from personactl.emulator.settings import EmulatorSettings


class OfficialStyleClient:
    """Mimics the official Anam clients: error text from `message`, then `error`; lists from
    `{data, meta}`. Plain httpx, no personactl code."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.client.request(method, path, **kwargs)
        if response.status_code >= 400:
            body = response.json()
            raise RuntimeError(body.get("message") or body.get("error") or "unknown error")
        return response.json() if response.content else None

    def list_all(self, path: str) -> list[Any]:
        items: list[Any] = []
        page: int | None = 1
        while page is not None:
            body = self.request("GET", path, params={"page": page, "perPage": 4})
            items += body["data"]
            page = body["meta"]["next"]
        return items


def test_missing_and_wrong_key_are_401(emulator: Callable[..., httpx.Client]) -> None:
    anonymous = emulator(auth=False)
    message = "Invalid or missing API key"
    assert_error(anonymous.get("/v1/personas"), 401, message)
    assert_error(
        anonymous.get("/v1/personas", headers={"Authorization": "Bearer nope"}), 401, message
    )
    assert_error(
        anonymous.get("/v1/voices", headers={"Authorization": "Basic sandbox-key"}), 401, message
    )
    assert_error(anonymous.post("/v1/personas", json={"name": "x"}), 401, message)
    assert anonymous.get("/v1/voices", headers={"Authorization": "bearer sandbox-key"}).is_success


def test_custom_api_key(emulator: Callable[..., httpx.Client]) -> None:
    client = emulator(EmulatorSettings(api_key="k-123"))
    assert client.get("/v1/voices").status_code == 200
    default_key = {"Authorization": "Bearer sandbox-key"}
    assert_error(client.get("/v1/voices", headers=default_key), 401, "Invalid or missing API key")


def test_unknown_paths_ids_and_methods(client: httpx.Client) -> None:
    assert_error(client.get("/v1/nothing"), 404, "Cannot GET /v1/nothing")
    assert_error(client.get("/v1/personas/does-not-exist"), 404, "Persona not found")
    assert_error(client.get("/v1/tools/does-not-exist"), 404, "Tool not found")
    response = client.patch("/v1/personas", json={})
    assert_error(response, 405, "Method PATCH is not allowed on /v1/personas")
    assert response.headers["allow"] == "GET, POST"
    assert_error(client.delete("/v1/voices"), 405, "Method DELETE is not allowed on /v1/voices")


def test_bad_bodies(client: httpx.Client) -> None:
    persona = make_persona(client)
    url = f"/v1/personas/{persona['id']}"
    headers = {"Content-Type": "application/json"}
    assert_error(
        client.put(url, content=b"{nope", headers=headers), 400, "Request body is not valid JSON"
    )
    assert_error(
        client.post("/v1/personas", content=b"", headers=headers),
        400,
        "Request body must be a JSON object",
    )
    assert_error(client.post("/v1/tools", json=[1, 2]), 400, "Request body must be a JSON object")


def test_official_style_client(client: httpx.Client) -> None:
    official = OfficialStyleClient(client)
    voices = official.list_all("/v1/voices")
    assert len(voices) == 13 and len({v["id"] for v in voices}) == 13
    try:
        official.request("PUT", "/v1/personas/x", json={})
    except RuntimeError as exc:
        assert str(exc) == "Persona not found"
    else:
        raise AssertionError("expected an error")
