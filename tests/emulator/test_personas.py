"""Persona endpoints: CRUD, lists, PUT semantics and the reset rules (in-process and HTTP)."""

from __future__ import annotations

import re

import httpx
from emulator_support import (
    CARA_AVATAR,
    CARA_VOICE,
    GPT_4O,
    GPT_4O_MINI,
    LIV_HOME_AVATAR,
    LUCY_VOICE,
    assert_error,
    make_persona,
    make_tool,
    unique,
)

MS_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")
SUMMARY_KEYS = {
    "id",
    "name",
    "personaPreset",
    "avatar",
    "voice",
    "voiceSpeed",
    "isDefaultPersona",
    "createdAt",
    "updatedAt",
    "description",
    "languageCode",
}


def _avatar_id(client: httpx.Client, name: str, variant: str) -> str:
    data = client.get("/v1/avatars", params={"search": name, "perPage": 100}).json()["data"]
    (match,) = [a for a in data if a["displayName"] == name and a["variantName"] == variant]
    return str(match["id"])


def _voice_id(client: httpx.Client, name: str) -> str:
    data = client.get("/v1/voices", params={"search": name}).json()["data"]
    (match,) = [v for v in data if v["displayName"] == name]
    return str(match["id"])


def test_create_returns_full_persona(client: httpx.Client) -> None:
    tool = make_tool(client)
    persona = make_persona(
        client,
        description="Tier-1 support",
        languageCode="en",
        initialMessage="Hi!",
        uninterruptibleGreeting=True,
        toolIds=[tool["id"]],
    )
    assert persona["avatar"]["id"] == LIV_HOME_AVATAR
    assert persona["avatarModel"] == "cara-3"  # the avatar's activeVersion
    assert persona["voice"]["displayName"] == "Lucy - Fresh & Casual"
    assert persona["llmId"] == GPT_4O_MINI
    assert persona["brain"] == {"personality": None, "systemPrompt": "You are helpful."}
    assert [t["id"] for t in persona["tools"]] == [tool["id"]]
    assert persona["tools"][0]["usageCount"] == 1
    assert persona["knowledge"] == []
    assert (persona["description"], persona["languageCode"]) == ("Tier-1 support", "en")
    assert (persona["initialMessage"], persona["uninterruptibleGreeting"]) == ("Hi!", True)
    assert persona["voiceGenerationOptions"] is None
    assert MS_TIMESTAMP.fullmatch(persona["createdAt"])
    assert persona["updatedAt"] == persona["createdAt"]
    fetched = client.get(f"/v1/personas/{persona['id']}")
    assert fetched.status_code == 200
    assert fetched.json() == persona


def test_customer_client_llm_is_accepted(client: httpx.Client) -> None:
    persona = make_persona(client, llmId="CUSTOMER_CLIENT_V1")
    assert persona["llmId"] == "CUSTOMER_CLIENT_V1"


def test_list_pagination_envelope_and_search(client: httpx.Client) -> None:
    tag = unique("page")
    ids = [make_persona(client, name=f"{tag}-{n}")["id"] for n in range(5)]
    first = client.get("/v1/personas", params={"search": tag.upper(), "perPage": 2})
    assert first.status_code == 200
    body = first.json()
    assert [p["id"] for p in body["data"]] == ids[:2]
    assert body["meta"] == {
        "total": 5,
        "lastPage": 3,
        "currentPage": 1,
        "perPage": 2,
        "prev": None,
        "next": 2,
    }
    last = client.get("/v1/personas", params={"search": tag, "perPage": 2, "page": 3}).json()
    assert [p["id"] for p in last["data"]] == ids[4:]
    assert last["meta"] == {
        "total": 5,
        "lastPage": 3,
        "currentPage": 3,
        "perPage": 2,
        "prev": 2,
        "next": None,
    }
    beyond = client.get("/v1/personas", params={"search": tag, "perPage": 2, "page": 9}).json()
    assert beyond["data"] == [] and beyond["meta"]["prev"] == 8 and beyond["meta"]["next"] is None
    default = client.get("/v1/personas", params={"search": tag}).json()["meta"]
    assert (default["perPage"], default["lastPage"]) == (10, 1)
    none = client.get("/v1/personas", params={"search": unique("absent")}).json()
    assert none == {
        "data": [],
        "meta": {
            "total": 0,
            "lastPage": 1,
            "currentPage": 1,
            "perPage": 10,
            "prev": None,
            "next": None,
        },
    }


def test_list_bounds_are_400s_naming_the_parameter(client: httpx.Client) -> None:
    cases = [
        ({"perPage": 0}, "perPage must not be less than 1"),
        ({"perPage": 101}, "perPage must not be greater than 100"),
        ({"perPage": "ten"}, "perPage must be an integer"),
        ({"page": 0}, "page must not be less than 1"),
        ({"page": "x"}, "page must be an integer"),
    ]
    for params, message in cases:
        assert_error(client.get("/v1/personas", params=params), 400, message)
    assert client.get("/v1/personas", params={"perPage": 100}).status_code == 200


def test_list_items_are_trimmed_summaries(client: httpx.Client) -> None:
    tag = unique("summary")
    make_persona(client, name=tag, description="d", languageCode="fr", toolIds=[])
    (item,) = client.get("/v1/personas", params={"search": tag}).json()["data"]
    assert set(item) == SUMMARY_KEYS
    assert (item["description"], item["languageCode"], item["isDefaultPersona"]) == (
        "d",
        "fr",
        False,
    )
    assert item["avatar"]["id"] == LIV_HOME_AVATAR and item["voice"]["id"] == LUCY_VOICE


def test_duplicate_names_are_allowed(client: httpx.Client) -> None:
    name = unique("twin")
    first, second = make_persona(client, name=name), make_persona(client, name=name)
    assert first["id"] != second["id"]
    listed = client.get("/v1/personas", params={"search": name}).json()
    assert [p["id"] for p in listed["data"]] == [first["id"], second["id"]]


def test_put_is_partial_and_bumps_updated_at(client: httpx.Client) -> None:
    persona = make_persona(client, description="before", skipGreeting=True)
    response = client.put(f"/v1/personas/{persona['id']}", json={"systemPrompt": "New."})
    assert response.status_code == 200
    updated = response.json()
    assert updated["brain"]["systemPrompt"] == "New."
    unchanged = {k: v for k, v in updated.items() if k not in ("brain", "updatedAt")}
    assert unchanged == {k: v for k, v in persona.items() if k not in ("brain", "updatedAt")}
    assert updated["updatedAt"] > persona["updatedAt"]
    # strictly increasing, even for writes within the same millisecond
    stamps = [
        client.put(f"/v1/personas/{persona['id']}", json={}).json()["updatedAt"] for _ in range(15)
    ]
    assert stamps == sorted(set(stamps)) and stamps[0] > updated["updatedAt"]
    assert all(MS_TIMESTAMP.fullmatch(s) for s in stamps)


def test_put_rejects_keys_outside_the_schema(client: httpx.Client) -> None:
    persona = make_persona(client)
    response = client.put(
        f"/v1/personas/{persona['id']}", json={"systemPrompt": "x", "avatar": {}, "brain": {}}
    )
    assert_error(response, 400, "property avatar should not exist; property brain should not exist")
    after = client.get(f"/v1/personas/{persona['id']}").json()
    assert after == persona  # nothing applied


def test_post_ignores_keys_outside_its_schema(client: httpx.Client) -> None:
    persona = make_persona(client, widgetConfig={"layout": "inline"}, brain={"x": 1})
    assert persona["widgetConfig"] == {} and "x" not in persona["brain"]


def test_put_widget_config_is_merged(client: httpx.Client) -> None:
    persona = make_persona(client)
    url = f"/v1/personas/{persona['id']}"
    client.put(url, json={"widgetConfig": {"layout": "floating", "showTranscript": False}})
    merged = client.put(url, json={"widgetConfig": {"position": "bottom-right"}}).json()
    assert merged["widgetConfig"] == {
        "layout": "floating",
        "showTranscript": False,
        "position": "bottom-right",
    }
    assert_error(
        client.put(url, json={"widgetConfig": {"layout": "sideways"}}),
        400,
        "widgetConfig.layout must be one of the following values: inline, floating",
    )


def test_types_and_enums_are_checked(client: httpx.Client) -> None:
    persona = make_persona(client)
    url = f"/v1/personas/{persona['id']}"
    cases = [
        ({"name": 3}, "name must be a string"),
        ({"skipGreeting": "yes"}, "skipGreeting must be a boolean"),
        (
            {"avatarModel": "cara-2"},
            "avatarModel must be one of the following values: cara-3, cara-4, cara-4-latest",
        ),
        ({"toolIds": "abc"}, "toolIds must be an array of strings"),
        ({"voiceGenerationOptions": None}, "voiceGenerationOptions must be an object"),
        ({"initialMessage": 5}, "initialMessage must be a string"),
    ]
    for body, message in cases:
        assert_error(client.put(url, json=body), 400, message)
        assert_error(client.post("/v1/personas", json=body), 400, message)
    assert client.put(url, json={"initialMessage": None}).json()["initialMessage"] is None


def test_changed_voice_resets_generation_options(client: httpx.Client) -> None:
    persona = make_persona(client, voiceGenerationOptions={"stability": 0.4, "style": 0.2})
    url = f"/v1/personas/{persona['id']}"
    assert persona["voiceGenerationOptions"] == {"stability": 0.4, "style": 0.2}
    same_voice = client.put(url, json={"voiceId": LUCY_VOICE}).json()
    assert same_voice["voiceGenerationOptions"] == {"stability": 0.4, "style": 0.2}
    changed = client.put(url, json={"voiceId": CARA_VOICE}).json()
    assert changed["voice"]["id"] == CARA_VOICE
    assert changed["voiceGenerationOptions"] is None
    supplied = client.put(
        url, json={"voiceId": LUCY_VOICE, "voiceGenerationOptions": {"speed": 1.1}}
    ).json()
    assert supplied["voiceGenerationOptions"] == {"speed": 1.1}


def test_new_options_are_checked_against_the_new_voice(client: httpx.Client) -> None:
    persona = make_persona(client)
    url = f"/v1/personas/{persona['id']}"
    response = client.put(url, json={"voiceId": CARA_VOICE, "voiceGenerationOptions": {"style": 1}})
    assert_error(
        response, 400, "voiceGenerationOptions: 'style' is not supported by ElevenLabs V1 voices"
    )


def test_changed_avatar_resets_unsupported_model(client: httpx.Client) -> None:
    liv_office = _avatar_id(client, "Liv", "office")  # supports cara-3 only
    sofia_cafe = _avatar_id(client, "Sofia", "cafe")  # supports cara-4, cara-4-latest
    persona = make_persona(client, avatarId=CARA_AVATAR, avatarModel="cara-3")
    url = f"/v1/personas/{persona['id']}"
    kept = client.put(url, json={"avatarId": liv_office}).json()
    assert (kept["avatar"]["id"], kept["avatarModel"]) == (liv_office, "cara-3")
    reset = client.put(url, json={"avatarId": sofia_cafe}).json()
    assert (reset["avatar"]["id"], reset["avatarModel"]) == (sofia_cafe, "cara-4")
    explicit = client.put(url, json={"avatarId": CARA_AVATAR, "avatarModel": "cara-4-latest"})
    assert explicit.json()["avatarModel"] == "cara-4-latest"
    refused = client.put(url, json={"avatarId": liv_office, "avatarModel": "cara-4"})
    assert_error(
        refused,
        400,
        "avatarModel cara-4 is not supported by avatar Liv (office); it supports cara-3",
    )
    post = client.post(
        "/v1/personas", json={"name": "x", "avatarId": sofia_cafe, "avatarModel": "cara-3"}
    )
    assert_error(
        post,
        400,
        "avatarModel cara-3 is not supported by avatar Sofia (cafe); it supports cara-4, "
        "cara-4-latest",
    )


def test_tool_ids_replace_the_set(client: httpx.Client) -> None:
    a, b, c = make_tool(client), make_tool(client), make_tool(client)
    persona = make_persona(client, toolIds=[a["id"], b["id"]])
    url = f"/v1/personas/{persona['id']}"
    replaced = client.put(url, json={"toolIds": [c["id"], b["id"], c["id"]]}).json()
    assert [t["id"] for t in replaced["tools"]] == [c["id"], b["id"]]
    assert client.get(f"/v1/tools/{a['id']}").json()["usageCount"] == 0
    untouched = client.put(url, json={"name": unique()}).json()
    assert [t["id"] for t in untouched["tools"]] == [c["id"], b["id"]]
    assert client.put(url, json={"toolIds": []}).json()["tools"] == []


def test_unknown_references_are_400s_naming_the_field(client: httpx.Client) -> None:
    persona = make_persona(client)
    url = f"/v1/personas/{persona['id']}"
    missing = "00000000-0000-0000-0000-000000000000"
    cases = [
        ({"avatarId": missing}, f"avatarId '{missing}' does not match any avatar"),
        ({"voiceId": missing}, f"voiceId '{missing}' does not match any voice"),
        ({"llmId": "gpt-5"}, "llmId 'gpt-5' does not match any LLM"),
        ({"toolIds": [missing]}, f"toolIds contains unknown tool '{missing}'"),
    ]
    for body, message in cases:
        assert_error(client.put(url, json=body), 400, message)
        assert_error(client.post("/v1/personas", json={"name": "x", **body}), 400, message)
    assert client.put(url, json={"llmId": GPT_4O}).json()["llmId"] == GPT_4O


def test_generation_options_are_checked_per_family(client: httpx.Client) -> None:
    sophie = _voice_id(client, "Sonic Sophie")
    fish = _voice_id(client, "Fish Narrator")
    alloy = _voice_id(client, "Alloy Realtime")
    ok = [
        (CARA_VOICE, {"stability": 0.5, "similarityBoost": 0.8, "speed": 1.2}),
        (LUCY_VOICE, {"style": 0.3, "useSpeakerBoost": True, "model": "eleven_flash_v2_5"}),
        (sophie, {"volume": 2, "speed": 0.6, "emotion": "calm"}),
        (fish, {"volume": 0.5, "speed": 2}),
    ]
    for voice, options in ok:
        assert (
            make_persona(client, voiceId=voice, voiceGenerationOptions=options)[
                "voiceGenerationOptions"
            ]
            == options
        )
    bad = [
        (CARA_VOICE, {"speed": 1.9}, "speed 1.9 is above the maximum 1.2 for ElevenLabs V1 voices"),
        (CARA_VOICE, {"volume": 1}, "'volume' is not supported by ElevenLabs V1 voices"),
        (
            LUCY_VOICE,
            {"useSpeakerBoost": 1},
            "useSpeakerBoost must be a boolean for ElevenLabs V2 voices, not 1",
        ),
        (sophie, {"speed": 0.5}, "speed 0.5 is below the minimum 0.6 for Cartesia Sonic-3 voices"),
        (
            sophie,
            {"emotion": "happy"},
            "emotion 'happy' is not one of neutral, calm, angry, "
            "content, sad, scared for Cartesia Sonic-3 voices",
        ),
        (fish, {"stability": 0.5}, "'stability' is not supported by Fish Audio voices"),
        (
            alloy,
            {"speed": 1},
            "'speed' is not supported: this voice's provider takes no voice generation options",
        ),
    ]
    for voice, options, problem in bad:
        response = client.post(
            "/v1/personas", json={"name": "x", "voiceId": voice, "voiceGenerationOptions": options}
        )
        assert_error(response, 400, f"voiceGenerationOptions: {problem}")
    no_voice = client.post("/v1/personas", json={"voiceGenerationOptions": {"speed": 1}})
    assert_error(no_voice, 400, "voiceGenerationOptions cannot be set on a persona without a voice")


def test_detection_options_are_range_checked(client: httpx.Client) -> None:
    persona = make_persona(
        client, voiceDetectionOptions={"endOfSpeechSensitivity": 0.6, "speechEnhancementLevel": 1}
    )
    assert persona["voiceDetectionOptions"] == {
        "endOfSpeechSensitivity": 0.6,
        "speechEnhancementLevel": 1,
    }
    url = f"/v1/personas/{persona['id']}"
    cases = [
        (
            {"silenceBeforeAutoEndTurnSeconds": 0.4},
            "voiceDetectionOptions.silenceBeforeAutoEndTurnSeconds must not be less than 0.5",
        ),
        (
            {"silenceBeforeSessionEndSeconds": 7201},
            "voiceDetectionOptions.silenceBeforeSessionEndSeconds must not be greater than 7200",
        ),
        (
            {"endOfSpeechSensitivity": "high"},
            "voiceDetectionOptions.endOfSpeechSensitivity must be a number",
        ),
        ({"vadMode": 1}, "property voiceDetectionOptions.vadMode should not exist"),
    ]
    for options, message in cases:
        assert_error(client.put(url, json={"voiceDetectionOptions": options}), 400, message)


def test_delete_persona(client: httpx.Client) -> None:
    tool = make_tool(client)
    persona = make_persona(client, toolIds=[tool["id"]])
    url = f"/v1/personas/{persona['id']}"
    response = client.delete(url)
    assert (response.status_code, response.json()) == (200, {"message": "Persona deleted"})
    assert_error(client.get(url), 404, "Persona not found")
    assert_error(client.delete(url), 404, "Persona not found")
    assert_error(client.put(url, json={}), 404, "Persona not found")
    assert client.get(f"/v1/tools/{tool['id']}").json()["usageCount"] == 0
