"""Persona resources: create, partial update with the documented reset rules, response shapes.

Reset rules (PUT /v1/personas/{id} description):
- a `voiceId` that differs from the current one resets `voiceGenerationOptions`
  to null unless the same body supplies new ones;
- an `avatarId` whose avatar does not support the current `avatarModel` resets
  it to the new avatar's `activeVersion` (the spec only says "may reset").
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from personactl.core.voice_families import check_generation_options, family_for_voice
from personactl.emulator.catalog import CUSTOMER_CLIENT_LLM_ID
from personactl.emulator.store import Doc, Txn
from personactl.emulator.tools import render_tool
from personactl.emulator.validation import (
    PERSONA_POST_FIELDS,
    PERSONA_PUT_FIELDS,
    WIDGET_CONFIG_FIELDS,
    check_fields,
    check_voice_detection,
    raise_if,
    require_object,
)

WRITE_ONLY_FIELDS = ("languageCode", "uninterruptibleGreeting", "initialMessage")

_DEFAULTS: dict[str, Any] = {
    "name": "",
    "description": None,
    "avatarId": None,
    "avatarModel": None,
    "voiceId": None,
    "llmId": None,
    "systemPrompt": None,
    "skipGreeting": False,
    "uninterruptibleGreeting": False,
    "initialMessage": None,
    "zeroDataRetention": False,
    "voiceDetectionOptions": None,
    "languageCode": None,
    "voiceGenerationOptions": None,
    "widgetConfig": {},
}


@dataclass(frozen=True)
class Catalog:
    """Stock avatars and voices by id (immutable once seeded); LLMs live in the store,
    since an organization creates its own."""

    avatars: dict[str, Doc]
    voices: dict[str, Doc]


def _avatar_label(avatar: Doc) -> str:
    return f"{avatar['displayName']} ({avatar['variantName']})"


def _check_references(
    txn: Txn, catalog: Catalog, persona: dict[str, Any], body: dict[str, Any]
) -> list[str]:
    problems: list[str] = []
    if "avatarId" in body and body["avatarId"] not in catalog.avatars:
        problems.append(f"avatarId '{body['avatarId']}' does not match any avatar")
    if "voiceId" in body and body["voiceId"] not in catalog.voices:
        problems.append(f"voiceId '{body['voiceId']}' does not match any voice")
    llm_id = body.get("llmId")
    known_llm = llm_id == CUSTOMER_CLIENT_LLM_ID or txn.existing_ids("llm", [str(llm_id)])
    if "llmId" in body and not known_llm:
        problems.append(f"llmId '{llm_id}' does not match any LLM")
    if "toolIds" in body:
        known = txn.existing_ids("tool", body["toolIds"])
        problems += [
            f"toolIds contains unknown tool '{tool_id}'"
            for tool_id in dict.fromkeys(body["toolIds"])
            if tool_id not in known
        ]
    return problems


def _check_avatar_model(catalog: Catalog, persona: dict[str, Any], explicit: bool) -> list[str]:
    avatar = catalog.avatars.get(persona["avatarId"] or "")
    model = persona["avatarModel"]
    if avatar is None or model is None or model in avatar["availableVersions"]:
        return []
    if explicit:
        supported = ", ".join(avatar["availableVersions"])
        return [
            f"avatarModel {model} is not supported by avatar {_avatar_label(avatar)}; "
            f"it supports {supported}"
        ]
    persona["avatarModel"] = avatar["activeVersion"]  # the reset rule
    return []


def _check_options(catalog: Catalog, persona: dict[str, Any], body: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    if isinstance(body.get("voiceDetectionOptions"), dict):
        problems += check_voice_detection(body["voiceDetectionOptions"])
    options = body.get("voiceGenerationOptions")
    if isinstance(options, dict):
        voice = catalog.voices.get(persona["voiceId"] or "")
        if voice is None:
            problems.append("voiceGenerationOptions cannot be set on a persona without a voice")
        else:
            family = family_for_voice(voice["provider"], voice["providerModelId"])
            problems += [
                f"voiceGenerationOptions: {problem}"
                for problem in check_generation_options(family, options)
            ]
    if isinstance(body.get("widgetConfig"), dict):
        problems += check_fields(
            body["widgetConfig"], WIDGET_CONFIG_FIELDS, prefix="widgetConfig.", strict=False
        )
    return problems


def create_persona(txn: Txn, catalog: Catalog, body: Any, hide_write_only: bool) -> Doc:
    body = require_object(body)
    # keys outside the POST schema are ignored: that schema does not forbid them
    body = {key: value for key, value in body.items() if key in PERSONA_POST_FIELDS}
    raise_if(check_fields(body, PERSONA_POST_FIELDS, strict=True))
    persona: dict[str, Any] = {**_DEFAULTS, **body}
    persona.pop("toolIds", None)
    raise_if(_check_references(txn, catalog, persona, body))
    if "avatarModel" not in body and persona["avatarId"] is not None:
        persona["avatarModel"] = catalog.avatars[persona["avatarId"]]["activeVersion"]
    raise_if(_check_avatar_model(catalog, persona, explicit=True))
    raise_if(_check_options(catalog, persona, body))
    stamp = txn.next_timestamp()
    persona.update(id=str(uuid.uuid4()), createdAt=stamp, updatedAt=stamp)
    txn.put("persona", persona, persona["name"])
    txn.set_persona_tools(persona["id"], list(dict.fromkeys(body.get("toolIds", []))))
    return render_persona(txn, catalog, persona, hide_write_only)


def update_persona(
    txn: Txn, catalog: Catalog, current: Doc, body: Any, hide_write_only: bool
) -> Doc:
    body = require_object(body)
    raise_if(check_fields(body, PERSONA_PUT_FIELDS, strict=True))
    persona: dict[str, Any] = {**_DEFAULTS, **current}
    raise_if(_check_references(txn, catalog, persona, body))
    voice_changed = "voiceId" in body and body["voiceId"] != persona["voiceId"]
    avatar_changed = "avatarId" in body and body["avatarId"] != persona["avatarId"]
    for key, value in body.items():
        if key == "widgetConfig":  # documented as merged into the existing configuration
            persona["widgetConfig"] = {**persona["widgetConfig"], **value}
        elif key != "toolIds":
            persona[key] = value
    if voice_changed and "voiceGenerationOptions" not in body:
        persona["voiceGenerationOptions"] = None
    if avatar_changed or "avatarModel" in body:
        raise_if(_check_avatar_model(catalog, persona, explicit="avatarModel" in body))
    raise_if(_check_options(catalog, persona, body))
    persona["updatedAt"] = txn.next_timestamp()
    txn.put("persona", persona, persona["name"])
    if "toolIds" in body:
        txn.set_persona_tools(persona["id"], list(dict.fromkeys(body["toolIds"])))
    return render_persona(txn, catalog, persona, hide_write_only)


def render_persona(txn: Txn, catalog: Catalog, persona: Doc, hide_write_only: bool) -> Doc:
    """The full Persona shape of GET/POST/PUT responses."""
    tool_ids = txn.persona_tool_ids(persona["id"])
    counts = txn.usage_counts(tool_ids)
    tools = [
        render_tool(doc, counts[tool_id])
        for tool_id in tool_ids
        if (doc := txn.get("tool", tool_id)) is not None
    ]
    result: Doc = {
        "id": persona["id"],
        "name": persona["name"],
        "description": persona["description"],
        "personaPreset": "",
        "avatar": catalog.avatars.get(persona["avatarId"] or ""),
        "avatarModel": persona["avatarModel"],
        "voice": catalog.voices.get(persona["voiceId"] or ""),
        "voiceSpeed": 1,
        "llmId": persona["llmId"],
        "brain": {"personality": None, "systemPrompt": persona["systemPrompt"]},
        "tools": tools,
        "knowledge": [],
        "shareLinks": None,
        "primaryShareLink": None,
        "enableAudioPassthrough": False,
        "skipGreeting": persona["skipGreeting"],
        "zeroDataRetention": persona["zeroDataRetention"],
        "voiceDetectionOptions": persona["voiceDetectionOptions"],
        "voiceGenerationOptions": persona["voiceGenerationOptions"],
        "widgetConfig": persona["widgetConfig"],
        "createdAt": persona["createdAt"],
        "updatedAt": persona["updatedAt"],
    }
    if not hide_write_only:
        result.update({key: persona[key] for key in WRITE_ONLY_FIELDS})
    return result


def render_summary(catalog: Catalog, persona: Doc) -> Doc:
    """The trimmed PersonaSummary shape of list items: no brain, tools or options."""
    result: Doc = {
        "id": persona["id"],
        "name": persona["name"],
        "personaPreset": "",
        "avatar": catalog.avatars.get(persona.get("avatarId") or ""),
        "voice": catalog.voices.get(persona.get("voiceId") or ""),
        "voiceSpeed": 1,
        "isDefaultPersona": False,
        "createdAt": persona["createdAt"],
        "updatedAt": persona["updatedAt"],
    }
    # PersonaSummary types these as plain strings: omit them rather than send null
    if persona.get("description") is not None:
        result["description"] = persona["description"]
    if persona.get("languageCode") is not None:
        result["languageCode"] = persona["languageCode"]
    return result
