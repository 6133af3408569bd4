"""Custom LLMs: /v1/llms POST and /v1/llms/{id} GET/PUT/DELETE, in-process and over HTTP."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from emulator_support import (
    CONTRACT,
    GPT_4O,
    GPT_4O_MINI,
    LIV_HOME_AVATAR,
    LUCY_VOICE,
    assert_error,
    make_persona,
    unique,
)

from personactl.emulator.catalog import ORGANIZATION_ID
from personactl.emulator.inprocess import sandbox_client
from personactl.emulator.settings import DATABASE_FILE, EmulatorSettings

SECRET = "sk-emulator-test-5f1e0c"
ROTATED = "sk-emulator-rotated-77aa"


def _body(**fields: Any) -> dict[str, Any]:
    return {
        "displayName": unique("llm"),
        "urls": [{"url": "https://llm.example.com/v1/chat/completions"}],
        "llmFormat": "openai",
        "modelName": "acme-1",
        "secret": SECRET,
        **fields,
    }


def _create(client: httpx.Client, **fields: Any) -> dict[str, Any]:
    response = client.post("/v1/llms", json=_body(**fields))
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def test_llm_crud(client: httpx.Client) -> None:
    body = _body(
        description="Our fine-tune.",
        urls=[
            {"url": "https://eu.llm.example.com/v1/chat/completions", "region": "eu"},
            {"url": "https://us.llm.example.com/v1/chat/completions"},
        ],
        metadata={"team": "support"},
        reasoningEffort="low",
        reasoningFormat="hidden",
        temperature=0.3,  # sent by the document's LlmCreate example
        unknownKey="ignored",
    )
    created = client.post("/v1/llms", json=body)
    assert created.status_code == 201, created.text
    llm = created.json()
    assert llm == {
        "id": llm["id"],
        "displayName": body["displayName"],
        "description": "Our fine-tune.",
        "llmFormat": "openai",
        "urls": body["urls"],
        "modelName": "acme-1",
        "temperature": 0.3,
        "maxTokens": None,
        "deploymentName": None,
        "apiVersion": None,
        "metadata": {"team": "support"},
        "displayTags": [],
        "isDefault": False,
        "isGlobal": False,
        "isZdr": False,
        "reasoningEffort": "low",
        "reasoningFormat": "hidden",
        "createdByOrganizationId": ORGANIZATION_ID,
        "createdAt": llm["createdAt"],
        "updatedAt": None,
    }
    url = f"/v1/llms/{llm['id']}"
    assert client.get(url).json() == llm

    updated = client.put(
        url,
        json={
            "url": "https://new.llm.example.com/chat",
            "llmFormat": "anthropic",  # only PUT's enum has it
            "temperature": 0.5,  # the document's LlmUpdate example
            "displayName": body["displayName"] + "-2",
        },
    )
    assert updated.status_code == 200, updated.text
    after = updated.json()
    assert after == {
        **llm,
        "displayName": body["displayName"] + "-2",
        "urls": [{"url": "https://new.llm.example.com/chat"}],  # PUT's one url replaces them
        "llmFormat": "anthropic",
        "temperature": 0.5,
        "updatedAt": after["updatedAt"],
    }
    assert after["updatedAt"] > llm["createdAt"]
    assert client.get(url).json() == after

    deleted = client.delete(url)
    assert (deleted.status_code, deleted.content) == (204, b"")
    assert_error(client.get(url), 404, "LLM not found")
    assert_error(client.put(url, json={}), 404, "LLM not found")
    assert_error(client.delete(url), 404, "LLM not found")


def test_llm_validation_names_the_field(client: httpx.Client) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        (
            {"displayName": "x"},
            "urls is required; llmFormat is required; modelName is required; secret is required",
        ),
        (
            _body(llmFormat="anthropic"),
            "llmFormat must be one of the following values: openai, azure_openai, groq_openai, "
            "gemini, advanced_voice, none",
        ),
        (_body(urls="https://x.io"), "urls must be an array of objects"),
        (_body(urls=[{"url": "ftp://x.io"}]), "urls[0].url must be an http or https URL"),
        (_body(urls=[{"url": "https://x.io", "region": 3}]), "urls[0].region must be a string"),
        (_body(secret=123), "secret must be a string"),
        (_body(temperature="hot"), "temperature must be a number"),
        (
            _body(reasoningEffort="max"),
            "reasoningEffort must be one of the following values: default, low, medium, high",
        ),
        (_body(metadata=[]), "metadata must be an object"),
    ]
    for body, message in cases:
        assert_error(client.post("/v1/llms", json=body), 400, message)
    assert_error(client.post("/v1/llms", json=[1]), 400, "Request body must be a JSON object")

    url = f"/v1/llms/{_create(client)['id']}"
    assert_error(
        client.put(url, json={"llmFormat": "gemini"}),  # only POST's enum has it
        400,
        "llmFormat must be one of the following values: openai, azure_openai, groq_openai, "
        "anthropic, custom",
    )
    assert_error(
        client.put(url, json={"url": "not a url"}), 400, "url must be an http or https URL"
    )
    assert_error(client.put(url, json={"urls": 1, "url": 2}), 400, "url must be a string")
    assert_error(
        client.put(url, content=b"{", headers={"Content-Type": "application/json"}),
        400,
        "Request body is not valid JSON",
    )


def test_default_llms_cannot_be_changed_or_deleted(client: httpx.Client) -> None:
    before = client.get(f"/v1/llms/{GPT_4O}").json()
    assert_error(
        client.put(f"/v1/llms/{GPT_4O}", json={"temperature": 0.1}),
        403,
        "LLM 'GPT-4o' is a default LLM and cannot be modified; "
        "create your own with POST /v1/llms instead",
    )
    assert_error(
        client.delete(f"/v1/llms/{GPT_4O_MINI}"),
        403,
        "LLM 'GPT-4o mini' is a default LLM and cannot be deleted",
    )
    assert client.get(f"/v1/llms/{GPT_4O}").json() == before
    assert client.get(f"/v1/llms/{GPT_4O_MINI}").status_code == 200


def test_llm_list_pages_search_and_include_defaults(client: httpx.Client) -> None:
    tag = unique("fam")
    made = [_create(client, displayName=f"{tag} {n}") for n in range(3)]
    only_ours = {"search": tag, "includeDefaults": "false", "perPage": 2}
    page1 = client.get("/v1/llms", params=only_ours).json()
    page2 = client.get("/v1/llms", params={**only_ours, "page": 2}).json()
    assert page1["meta"] == {
        "total": 3,
        "lastPage": 2,
        "currentPage": 1,
        "perPage": 2,
        "prev": None,
        "next": 2,
    }
    assert page1["data"] + page2["data"] == made
    custom = client.get("/v1/llms", params={"includeDefaults": "false", "perPage": 100}).json()
    assert all(not m["isGlobal"] for m in custom["data"])
    assert {m["id"] for m in made} <= {m["id"] for m in custom["data"]}
    everything = client.get("/v1/llms", params={"perPage": 100}).json()["data"]
    ids = [m["id"] for m in everything]
    assert GPT_4O in ids and GPT_4O_MINI in ids  # defaults are included unless asked not to
    with_defaults = client.get("/v1/llms", params={"includeDefaults": "true", "search": "4o mini"})
    assert [m["id"] for m in with_defaults.json()["data"]] == [GPT_4O_MINI]
    assert_error(
        client.get("/v1/llms", params={"includeDefaults": "yes"}),
        400,
        "includeDefaults must be a boolean value",
    )


def test_personas_and_session_tokens_accept_a_custom_llm(client: httpx.Client) -> None:
    llm = _create(client)
    persona = make_persona(client, llmId=llm["id"])
    assert persona["llmId"] == llm["id"]
    config = {"avatarId": LIV_HOME_AVATAR, "voiceId": LUCY_VOICE, "llmId": llm["id"]}
    token = client.post("/v1/auth/session-token", json={"personaConfig": config})
    assert token.status_code == 200


def _responses(client: httpx.Client, llm_id: str) -> list[httpx.Response]:
    return [
        client.get(f"/v1/llms/{llm_id}"),
        client.get("/v1/llms", params={"perPage": 100}),
        client.put(f"/v1/llms/{llm_id}", json={"secret": ROTATED}),
        client.get(f"/v1/llms/{llm_id}"),
    ]


def test_the_secret_is_never_returned(emulator: Callable[..., httpx.Client]) -> None:
    client = emulator()
    created = client.post("/v1/llms", json=_body())
    responses = [created, *_responses(client, created.json()["id"])]
    assert [r.status_code for r in responses] == [201, 200, 200, 200, 200]
    for response in responses:
        assert SECRET not in response.text and ROTATED not in response.text
        assert '"secret' not in response.text and "Sha256" not in response.text


def _stored(data_dir: Path, llm_id: str) -> tuple[dict[str, Any], bytes]:
    database = data_dir / DATABASE_FILE
    with sqlite3.connect(database) as conn:
        (doc,) = conn.execute("SELECT doc FROM resources WHERE id = ?", (llm_id,)).fetchone()
    files = b"".join(path.read_bytes() for path in data_dir.iterdir() if path.is_file())
    return json.loads(doc), files


def test_the_secret_is_stored_as_a_digest_and_rotated(tmp_path: Path) -> None:
    hooks = {"response": [CONTRACT]}
    with sandbox_client(tmp_path, EmulatorSettings(), event_hooks=hooks) as client:
        llm = _create(client)
        doc, files = _stored(tmp_path, llm["id"])
        assert doc["_secretSha256"] == hashlib.sha256(SECRET.encode()).hexdigest()
        assert SECRET.encode() not in files  # not in the database, its WAL or anywhere else
        assert client.put(f"/v1/llms/{llm['id']}", json={"secret": ROTATED}).status_code == 200
        doc, files = _stored(tmp_path, llm["id"])
        assert doc["_secretSha256"] == hashlib.sha256(ROTATED.encode()).hexdigest()
        assert ROTATED.encode() not in files


@pytest.mark.parametrize("status", [429, 503])
def test_faults_apply_to_llm_writes(emulator: Callable[..., httpx.Client], status: int) -> None:
    client = emulator(EmulatorSettings(fail_rates={status: 0.5}, seed=11))
    tag = unique("faulty")
    statuses = [
        client.post("/v1/llms", json=_body(displayName=f"{tag}-{n}")).status_code for n in range(16)
    ]
    assert set(statuses) == {201, status}
    listed = client.get("/v1/llms", params={"search": tag, "includeDefaults": "false"})
    while listed.status_code == status:  # the list itself may meet an injected failure
        listed = client.get("/v1/llms", params={"search": tag, "includeDefaults": "false"})
    assert listed.json()["meta"]["total"] == statuses.count(201)  # failures had no effect


def test_drop_after_commit_on_llm_create(emulator: Callable[..., httpx.Client]) -> None:
    client = emulator(EmulatorSettings(drop_after_commit=1.0, seed=5))
    name = unique("dropped-llm")
    with pytest.raises(httpx.RemoteProtocolError):
        client.post("/v1/llms", json=_body(displayName=name))
    listed = client.get("/v1/llms", params={"search": name}).json()
    assert [m["displayName"] for m in listed["data"]] == [name]  # committed exactly once
