"""Tools, knowledge groups, the catalog and session tokens (in-process and HTTP)."""

from __future__ import annotations

import httpx
from emulator_support import (
    CARA_AVATAR,
    GPT_4O_MINI,
    LIV_HOME_AVATAR,
    LUCY_VOICE,
    assert_error,
    make_persona,
    make_tool,
    unique,
)


def _group(client: httpx.Client, name: str = "Product docs") -> str:
    (group,) = [g for g in client.get("/v1/knowledge/groups").json() if g["name"] == name]
    return str(group["id"])


def test_tool_types_and_configs(client: httpx.Client) -> None:
    docs = _group(client)
    made = [
        make_tool(
            client,
            config={
                "parameters": {"type": "object"},
                "awaitResult": True,
                "toolTimeoutSeconds": 600,
            },
        ),
        make_tool(client, type="SERVER_RAG", config={"documentFolderIds": [docs]}),
        make_tool(
            client,
            type="SERVER_WEBHOOK",
            disableInterruptions=True,
            config={
                "url": "https://example.com/hook",
                "method": "PATCH",
                "headers": {"X-Key": "v"},
                "bodyTemplate": "{}",
            },
        ),
        make_tool(client, type="SYSTEM", config={"action": "end_call"}),
    ]
    assert [t["type"] for t in made] == ["CLIENT", "SERVER_RAG", "SERVER_WEBHOOK", "SYSTEM"]
    assert made[2]["disableInterruptions"] is True and made[0]["disableInterruptions"] is False
    assert all(t["usageCount"] == 0 and t["updatedAt"] is None for t in made)
    fetched = client.get(f"/v1/tools/{made[1]['id']}")
    assert fetched.status_code == 200 and fetched.json() == made[1]


def test_tool_validation_messages(client: httpx.Client) -> None:
    missing = "00000000-0000-0000-0000-000000000000"
    base = {"name": "ok", "description": "d", "type": "CLIENT"}
    cases = [
        ({"description": "d", "type": "CLIENT"}, "name is required"),
        ({**base, "name": "has space"}, "name must match the pattern [a-zA-Z0-9_.-]+"),
        ({**base, "name": "x" * 65}, "name must be between 1 and 64 characters long"),
        ({**base, "description": ""}, "description must be between 1 and 1024 characters long"),
        (
            {**base, "type": "LAMBDA"},
            "type must be one of the following values: CLIENT, SERVER_RAG, SERVER_WEBHOOK, SYSTEM",
        ),
        (
            {**base, "config": {"toolTimeoutSeconds": 601}},
            "config.toolTimeoutSeconds must not be greater than 600",
        ),
        (
            {**base, "type": "SERVER_RAG", "config": {}},
            "config.documentFolderIds is required for SERVER_RAG tools",
        ),
        (
            {**base, "type": "SERVER_RAG", "config": {"documentFolderIds": ["nope"]}},
            "config.documentFolderIds[0] must be a UUID",
        ),
        (
            {**base, "type": "SERVER_RAG", "config": {"documentFolderIds": [missing]}},
            f"config.documentFolderIds contains unknown knowledge group '{missing}'",
        ),
        (
            {**base, "type": "SERVER_WEBHOOK", "config": {"url": "ftp://x", "method": "GET"}},
            "config.url must be an http or https URL",
        ),
        (
            {**base, "type": "SERVER_WEBHOOK", "config": {"url": "https://x.io", "method": "HEAD"}},
            "config.method must be one of the following values: GET, POST, PUT, DELETE, PATCH",
        ),
        (
            {**base, "type": "SYSTEM", "config": {"action": "reboot"}},
            "config.action must be one of the following values: end_call, interrupt",
        ),
        ({**base, "type": "SYSTEM"}, "config.action is required for SYSTEM tools"),
    ]
    for body, message in cases:
        assert_error(client.post("/v1/tools", json=body), 400, message)


def test_tool_put_usage_count_and_delete_detaches(client: httpx.Client) -> None:
    tool = make_tool(client)
    url = f"/v1/tools/{tool['id']}"
    updated = client.put(url, json={"description": "Now better."})
    assert updated.status_code == 200
    assert updated.json()["description"] == "Now better." and updated.json()["updatedAt"]
    assert_error(
        client.put(url, json={"type": "SYSTEM"}), 400, "config.action is required for SYSTEM tools"
    )
    p1 = make_persona(client, toolIds=[tool["id"]])
    make_persona(client, toolIds=[tool["id"]])
    assert client.get(url).json()["usageCount"] == 2
    listed = client.get("/v1/tools", params={"search": tool["name"]}).json()
    assert [(t["id"], t["usageCount"]) for t in listed["data"]] == [(tool["id"], 2)]
    deleted = client.delete(url)
    assert (deleted.status_code, deleted.content) == (204, b"")
    assert_error(client.get(url), 404, "Tool not found")
    after = client.get(f"/v1/personas/{p1['id']}").json()
    assert after["tools"] == [] and after["updatedAt"] == p1["updatedAt"]


def test_knowledge_groups_crud(client: httpx.Client) -> None:
    name = unique("kg")
    created = client.post("/v1/knowledge/groups", json={"name": name, "description": "x"})
    assert created.status_code == 201
    group = created.json()
    assert group["documentCount"] == 0 and group["description"] == "x"
    listing = client.get("/v1/knowledge/groups").json()
    assert isinstance(listing, list) and group in listing
    url = f"/v1/knowledge/groups/{group['id']}"
    renamed = client.put(url, json={"name": name + "-2"}).json()
    assert renamed["name"] == name + "-2" and renamed["updatedAt"] > group["updatedAt"]
    assert client.get(url).json() == renamed
    assert_error(client.post("/v1/knowledge/groups", json={}), 400, "name is required")
    assert_error(client.put(url, json={"name": 1}), 400, "name must be a string")
    assert client.delete(url).status_code == 204
    assert_error(client.get(url), 404, "Knowledge group not found")


def test_catalog_has_the_named_entries(client: httpx.Client) -> None:
    avatars = client.get("/v1/avatars", params={"perPage": 100}).json()["data"]
    names = {(a["displayName"], a["variantName"]) for a in avatars}
    assert {("Liv", "home"), ("Liv", "office"), ("Cara", "studio"), ("Mia", "desk")} <= names
    # the example project renders Mia (desk) with cara-3
    (mia,) = [a for a in avatars if (a["displayName"], a["variantName"]) == ("Mia", "desk")]
    assert "cara-3" in mia["availableVersions"]
    cara = client.get(f"/v1/avatars/{CARA_AVATAR}").json()
    assert (cara["displayName"], cara["variantName"]) == ("Cara", "studio")
    liv = client.get(f"/v1/avatars/{LIV_HOME_AVATAR}").json()
    assert (liv["displayName"], liv["variantName"]) == ("Liv", "home")
    voices = client.get("/v1/voices", params={"perPage": 100}).json()
    assert voices["meta"]["total"] > 10
    by_name = {v["displayName"]: v for v in voices["data"]}
    expected = {
        "Lucy - Fresh & Casual": ("ELEVENLABS", "eleven_flash_v2_5"),
        "Cara - Warm": ("ELEVENLABS", "eleven_multilingual_v1"),
        "Sonic Sophie": ("CARTESIA", "sonic-3"),
        "Léa - Française": ("CARTESIA", "sonic-3"),
    }
    for name, (provider, model) in expected.items():
        assert (by_name[name]["provider"], by_name[name]["providerModelId"]) == (provider, model)
    assert by_name["Fish Narrator"]["provider"] == "FISH_AUDIO"
    assert by_name["Léa - Française"]["country"] == "FR"
    assert by_name["Lucy - Fresh & Casual"]["id"] == LUCY_VOICE
    assert client.get(f"/v1/voices/{LUCY_VOICE}").json() == by_name["Lucy - Fresh & Casual"]
    assert by_name["Cara - Warm"]["id"] == "6bfbe25a-979d-40f3-a92b-5394170af54b"
    llms = {
        m["displayName"]: m for m in client.get("/v1/llms", params={"perPage": 100}).json()["data"]
    }
    assert (llms["GPT-4o mini"]["id"], llms["GPT-4o mini"]["modelName"]) == (
        GPT_4O_MINI,
        "gpt-4o-mini",
    )
    assert llms["GPT-4o"]["id"] == "a7cf662c-2ace-4de1-a21e-ef0fbf144bb7"
    assert llms["Llama 3.3 70B"]["llmFormat"] == "groq_openai"
    assert llms["Gemini 2.0 Flash"]["llmFormat"] == "gemini"
    assert client.get(f"/v1/llms/{GPT_4O_MINI}").status_code == 200
    assert_error(client.get("/v1/llms/CUSTOMER_CLIENT_V1"), 404, "LLM not found")
    assert_error(client.get(f"/v1/voices/{CARA_AVATAR}"), 404, "Voice not found")


def test_catalog_search_and_pages(client: httpx.Client) -> None:
    page1 = client.get("/v1/voices", params={"perPage": 5}).json()
    page3 = client.get("/v1/voices", params={"perPage": 5, "page": 3}).json()
    assert page1["meta"]["total"] == 13 and page1["meta"]["lastPage"] == 3
    assert len(page1["data"]) == 5 and len(page3["data"]) == 3
    lea = client.get("/v1/voices", params={"search": "LÉA"}).json()["data"]
    assert [v["displayName"] for v in lea] == ["Léa - Française"]
    mias = client.get("/v1/avatars", params={"search": "mia"}).json()["data"]
    assert {a["variantName"] for a in mias} == {"desk", "kitchen"}
    animated = client.get("/v1/avatars", params={"renderStyle": "animated_3d"}).json()
    assert [a["displayName"] for a in animated["data"]] == ["Pixel"]
    assert animated["meta"]["total"] == 1


def test_session_token(client: httpx.Client) -> None:
    persona = make_persona(client)
    response = client.post(
        "/v1/auth/session-token", json={"personaConfig": {"personaId": persona["id"]}}
    )
    assert response.status_code == 200
    assert response.json()["sessionToken"].startswith("emu_")
    missing = "00000000-0000-0000-0000-000000000000"
    assert_error(
        client.post("/v1/auth/session-token", json={"personaConfig": {"personaId": missing}}),
        400,
        f"personaConfig.personaId '{missing}' does not match any persona",
    )
    assert_error(
        client.post("/v1/auth/session-token", json={"personaId": persona["id"]}),
        400,
        "personaConfig must be an object",
    )
    ephemeral = {"avatarId": LIV_HOME_AVATAR, "voiceId": LUCY_VOICE, "llmId": GPT_4O_MINI}
    ok = client.post("/v1/auth/session-token", json={"personaConfig": ephemeral})
    assert ok.status_code == 200
    bad = client.post("/v1/auth/session-token", json={"personaConfig": {"voiceId": missing}})
    assert_error(bad, 400, f"personaConfig.voiceId '{missing}' does not match any voice")
