"""How manifest fields map to the Anam API's request and response shapes.

| manifest        | PUT/POST body          | GET response            |
|-----------------|------------------------|-------------------------|
| avatar          | avatarId               | avatar.id               |
| voice           | voiceId                | voice.id                |
| llm             | llmId                  | llmId                   |
| prompt          | systemPrompt           | brain.systemPrompt      |
| tools           | toolIds (the whole set)| tools[].id (any order)  |
| voiceGeneration | voiceGenerationOptions | voiceGenerationOptions  |
| voiceDetection  | voiceDetectionOptions  | voiceDetectionOptions   |

Diffs are computed in body vocabulary (what is sent), so a minimal request
body is just the changed keys. `normalize_*` turns a live response into that
vocabulary; a key missing from a response means the API did not return it
(a write-only field), never "unset".
"""

from __future__ import annotations

from typing import Any

from personactl.anam.api import RESOURCE_PATHS as RESOURCE_PATHS  # engine.planner reads it

# (manifest spec key, body key), in the order fields are shown.
PERSONA_FIELDS: tuple[tuple[str, str], ...] = (
    ("description", "description"),
    ("avatar", "avatarId"),
    ("avatarModel", "avatarModel"),
    ("voice", "voiceId"),
    ("llm", "llmId"),
    ("languageCode", "languageCode"),
    ("prompt", "systemPrompt"),
    ("initialMessage", "initialMessage"),
    ("skipGreeting", "skipGreeting"),
    ("uninterruptibleGreeting", "uninterruptibleGreeting"),
    ("zeroDataRetention", "zeroDataRetention"),
    ("voiceGeneration", "voiceGenerationOptions"),
    ("voiceDetection", "voiceDetectionOptions"),
    ("tools", "toolIds"),
    ("widgetConfig", "widgetConfig"),
)
TOOL_FIELDS: tuple[tuple[str, str], ...] = (
    ("type", "type"),
    ("description", "description"),
    ("config", "config"),
    ("disableInterruptions", "disableInterruptions"),
)

# Objects sent whole when any key changes (nested merge is undocumented).
NESTED = frozenset({"voiceGenerationOptions", "voiceDetectionOptions", "widgetConfig", "config"})
# Sets: order is irrelevant, compared sorted.
SETS = frozenset({"toolIds"})

# Keys the persona PUT schema accepts (it has additionalProperties: false).
PERSONA_PUT_KEYS = frozenset({"name"} | {body for _, body in PERSONA_FIELDS})
# The POST schema has no widgetConfig; it is set by a PUT after the create.
PERSONA_POST_KEYS = PERSONA_PUT_KEYS - {"widgetConfig"}

# What a field returns to when it is removed from the manifest after having
# been applied: null where the spec allows it, else the documented default.
# Fields not listed here have neither and become unmanaged instead.
PERSONA_RESETS: dict[str, Any] = {
    "description": "",
    "initialMessage": None,
    "skipGreeting": False,
    "uninterruptibleGreeting": False,
    "zeroDataRetention": False,
    "toolIds": [],
}
TOOL_RESETS: dict[str, Any] = {"disableInterruptions": False}


def to_manifest_path(kind: str, body_key: str) -> str:
    table = PERSONA_FIELDS if kind == "Persona" else TOOL_FIELDS
    for manifest, body in table:
        if body == body_key:
            return manifest
    return body_key


def to_body_path(kind: str, manifest_path: str) -> tuple[str, ...]:
    """`voiceDetection.speechEnhancementLevel` -> (voiceDetectionOptions, speech...)."""
    head, *rest = manifest_path.split(".")
    table = PERSONA_FIELDS if kind == "Persona" else TOOL_FIELDS
    for manifest, body in table:
        if manifest == head:
            return (body, *rest)
    return (head, *rest)


def normalize_persona(resp: dict[str, Any]) -> dict[str, Any]:
    """A full GET /v1/personas/{id} response in body vocabulary."""
    out: dict[str, Any] = {"name": resp.get("name")}
    for key in (
        "description",
        "avatarModel",
        "llmId",
        "skipGreeting",
        "zeroDataRetention",
        "languageCode",
        "uninterruptibleGreeting",
        "initialMessage",
        "voiceGenerationOptions",
        "voiceDetectionOptions",
        "widgetConfig",
    ):
        if key in resp:
            out[key] = resp[key]
    if "avatar" in resp:
        avatar = resp["avatar"]
        out["avatarId"] = avatar.get("id") if isinstance(avatar, dict) else None
    if "voice" in resp:
        voice = resp["voice"]
        out["voiceId"] = voice.get("id") if isinstance(voice, dict) else None
    brain = resp.get("brain")
    if isinstance(brain, dict) and "systemPrompt" in brain:
        out["systemPrompt"] = brain["systemPrompt"]
    if "tools" in resp:
        out["toolIds"] = sorted(
            t["id"] for t in resp["tools"] or [] if isinstance(t, dict) and "id" in t
        )
    return out


def normalize(kind: str, resp: dict[str, Any]) -> dict[str, Any]:
    """A live Persona or Tool response in body vocabulary."""
    return normalize_persona(resp) if kind == "Persona" else normalize_tool(resp)


def normalize_tool(resp: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"name": resp.get("name")}
    for key in ("type", "description", "config", "disableInterruptions"):
        if key in resp:
            out[key] = resp[key]
    return out
