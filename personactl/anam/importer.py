"""Import: live personas and their tools -> manifests that plan as no change.

References become names where the name finds exactly that catalog entry
(ids otherwise), each prompt goes to its own file under `prompts/`, and text
that looks like a Jinja template is wrapped in `{% raw %}` so it is sent back
verbatim. Webhook headers that look like credentials are never written to
disk: they become `{{ secret("...") }}` references to set in the environment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from personactl.anam.resolve import NO_LLM, Catalog

_MARKERS = ("{{", "{%", "{#")
_SECRET_HEADER = re.compile(r"auth|token|key|secret|password|cookie", re.IGNORECASE)


@dataclass
class Imported:
    kind: str
    name: str  # manifest name (the environment's prefix/suffix removed)
    doc: dict[str, Any]
    prompt: str | None = None  # the prompt file's content (Personas)
    secrets: list[str] = field(default_factory=list)  # env vars the user must set


def manifest_name(anam_name: str, prefix: str, suffix: str) -> str:
    name = anam_name
    if prefix and name.startswith(prefix):
        name = name[len(prefix) :]
    if suffix and name.endswith(suffix):
        name = name[: -len(suffix)]
    return name


def verbatim(text: str) -> str:
    """Text that renders to itself through personactl's Jinja settings.

    `{%+ endraw %}` keeps lstrip_blocks from eating trailing white space.
    """
    if not any(m in text for m in _MARKERS):
        return text
    pieces = text.split("{% endraw %}")
    raw = ["{% raw %}" + piece + "{%+ endraw %}" if piece else "" for piece in pieces]
    return "{{ '{% endraw %}' }}".join(raw)


def _unique(items: list[dict[str, Any]], pred: Any) -> bool:
    return sum(1 for i in items if pred(i)) == 1


def avatar_ref(catalog: Catalog, ident: str | None) -> dict[str, Any] | None:
    if ident is None:
        return None
    a = catalog.by_id(catalog.avatars, ident)
    if a and _unique(
        catalog.avatars,
        lambda i: (
            i.get("displayName") == a.get("displayName")
            and i.get("variantName") == a.get("variantName")
        ),
    ):
        return {"name": a["displayName"], "variant": a["variantName"]}
    return {"id": ident}


def voice_ref(catalog: Catalog, ident: str | None) -> dict[str, Any] | None:
    if ident is None:
        return None
    v = catalog.by_id(catalog.voices, ident)
    if v and _unique(catalog.voices, lambda i: i.get("displayName") == v.get("displayName")):
        return {"name": v["displayName"]}
    return {"id": ident}


def llm_ref(catalog: Catalog, ident: str | None) -> Any:
    if ident is None:
        return None
    if ident == NO_LLM:
        return NO_LLM
    m = catalog.by_id(catalog.llms, ident)
    if m and _unique(catalog.llms, lambda i: i.get("displayName") == m.get("displayName")):
        return {"name": m["displayName"]}
    return {"id": ident}


def _env_var(tool: str, header: str) -> str:
    return re.sub(r"[^A-Z0-9]+", "_", f"{tool}_{header}".upper()).strip("_")


def tool_manifest(raw: dict[str, Any], name: str, catalog: Catalog) -> Imported:
    spec: dict[str, Any] = {"type": raw.get("type"), "description": raw.get("description", "")}
    out = Imported("Tool", name, {})
    config = dict(raw.get("config") or {})
    if "documentFolderIds" in config:
        folders = []
        for ident in config.pop("documentFolderIds") or []:
            group = catalog.by_id(catalog.knowledge, ident)
            name_of = group.get("name") if group else None
            unique = name_of and sum(1 for i in catalog.knowledge if i.get("name") == name_of) == 1
            folders.append(name_of if unique else {"id": ident})
        config["documentFolders"] = folders
    if isinstance(config.get("headers"), dict):
        headers = {}
        for key, value in config["headers"].items():
            if _SECRET_HEADER.search(key):
                var = _env_var(name, key)
                headers[key] = '{{ secret("' + var + '") }}'
                out.secrets.append(var)
            else:
                headers[key] = verbatim(str(value))
        config["headers"] = headers
    if isinstance(config.get("url"), str):
        config["url"] = verbatim(config["url"])
    if config:
        spec["config"] = config
    if raw.get("disableInterruptions"):
        spec["disableInterruptions"] = True
    spec["description"] = verbatim(str(spec["description"]))
    out.doc = {
        "apiVersion": "personactl/v1",
        "kind": "Tool",
        "metadata": {"name": name},
        "spec": spec,
    }
    return out


def persona_manifest(
    raw: dict[str, Any], name: str, catalog: Catalog, tool_names: dict[str, str]
) -> Imported:
    spec: dict[str, Any] = {}
    if raw.get("description"):
        spec["description"] = verbatim(raw["description"])
    avatar = raw.get("avatar")
    ref = avatar_ref(catalog, avatar.get("id") if isinstance(avatar, dict) else None)
    if ref:
        spec["avatar"] = ref
    if raw.get("avatarModel"):
        spec["avatarModel"] = raw["avatarModel"]
    voice = raw.get("voice")
    ref = voice_ref(catalog, voice.get("id") if isinstance(voice, dict) else None)
    if ref:
        spec["voice"] = ref
    llm = llm_ref(catalog, raw.get("llmId"))
    if llm:
        spec["llm"] = llm
    if isinstance(raw.get("languageCode"), str) and len(raw["languageCode"]) == 2:
        spec["languageCode"] = raw["languageCode"]
    brain = raw.get("brain") if isinstance(raw.get("brain"), dict) else {}
    prompt = brain.get("systemPrompt") if brain else None
    if isinstance(prompt, str):
        spec["prompt"] = {"file": f"../prompts/{name}.md.j2"}
    if isinstance(raw.get("initialMessage"), str):
        spec["initialMessage"] = verbatim(raw["initialMessage"])
    for key in ("skipGreeting", "uninterruptibleGreeting", "zeroDataRetention"):
        if isinstance(raw.get(key), bool):
            spec[key] = raw[key]
    if isinstance(raw.get("voiceGenerationOptions"), dict) and raw["voiceGenerationOptions"]:
        spec["voiceGeneration"] = raw["voiceGenerationOptions"]
    if isinstance(raw.get("voiceDetectionOptions"), dict) and raw["voiceDetectionOptions"]:
        spec["voiceDetection"] = raw["voiceDetectionOptions"]
    tools = [t for t in raw.get("tools") or [] if isinstance(t, dict)]
    if tools:
        spec["tools"] = sorted(tool_names.get(str(t.get("id")), str(t.get("id"))) for t in tools)
    doc = {
        "apiVersion": "personactl/v1",
        "kind": "Persona",
        "metadata": {"name": name},
        "spec": spec,
    }
    return Imported("Persona", name, doc, verbatim(prompt) if isinstance(prompt, str) else None)
