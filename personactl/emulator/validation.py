"""Request checks with messages that name the offending field (class-validator style).

Field names, types, enums and ranges are copied from the official spec's
request bodies (paths /v1/personas, /v1/tools, /v1/llms, /v1/knowledge/...);
the test suite checks these tables against a vendored copy of those schemas.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from personactl.emulator.catalog import AVATAR_MODELS
from personactl.emulator.errors import bad_request

FieldKind = Literal[
    "string",
    "nullable-string",
    "boolean",
    "object",
    "string-array",
    "object-array",
    "number",
    "integer",
]


@dataclass(frozen=True)
class Field:
    kind: FieldKind
    enum: tuple[str, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None


PERSONA_POST_FIELDS: Mapping[str, Field] = {
    "name": Field("string"),
    "description": Field("string"),
    "avatarId": Field("string"),
    "avatarModel": Field("string", enum=AVATAR_MODELS),
    "voiceId": Field("string"),
    "llmId": Field("string"),
    "systemPrompt": Field("string"),
    "skipGreeting": Field("boolean"),
    "uninterruptibleGreeting": Field("boolean"),
    "initialMessage": Field("nullable-string"),  # the spec marks it `nullable: true`
    "zeroDataRetention": Field("boolean"),
    "voiceDetectionOptions": Field("object"),
    "languageCode": Field("string"),
    "voiceGenerationOptions": Field("object"),
    "toolIds": Field("string-array"),
}

PERSONA_PUT_FIELDS: Mapping[str, Field] = {**PERSONA_POST_FIELDS, "widgetConfig": Field("object")}

WIDGET_CONFIG_FIELDS: Mapping[str, Field] = {
    "callToAction": Field("string"),
    "allowedOrigins": Field("string-array"),
    "allowEverywhere": Field("boolean"),
    "layout": Field("string", enum=("inline", "floating")),
    "initialState": Field("string", enum=("minimized", "expanded")),
    "position": Field("string"),
    "showTextInput": Field("boolean"),
    "showMuteButton": Field("boolean"),
    "showTranscript": Field("boolean"),
}

VOICE_DETECTION_FIELDS: Mapping[str, Field] = {
    "endOfSpeechSensitivity": Field("number", minimum=0, maximum=1),
    "silenceBeforeSkipTurnSeconds": Field("number", minimum=0, maximum=900),
    "silenceBeforeSessionEndSeconds": Field("number", minimum=0, maximum=7200),
    "silenceBeforeAutoEndTurnSeconds": Field("number", minimum=0.5, maximum=10),
    "speechEnhancementLevel": Field("number", minimum=0, maximum=1),
}

TOOL_TYPES: tuple[str, ...] = ("CLIENT", "SERVER_RAG", "SERVER_WEBHOOK", "SYSTEM")
WEBHOOK_METHODS: tuple[str, ...] = ("GET", "POST", "PUT", "DELETE", "PATCH")
SYSTEM_ACTIONS: tuple[str, ...] = ("end_call", "interrupt")
TOOL_NAME_PATTERN = "[a-zA-Z0-9_.-]+"
_TOOL_NAME_RE = re.compile(TOOL_NAME_PATTERN)

# The POST and PUT bodies of /v1/llms differ in the document: POST takes a `urls`
# array and one `llmFormat` enum, PUT a single `url` string and another enum.
LLM_POST_FORMATS: tuple[str, ...] = (
    "openai",
    "azure_openai",
    "groq_openai",
    "gemini",
    "advanced_voice",
    "none",
)
LLM_PUT_FORMATS: tuple[str, ...] = ("openai", "azure_openai", "groq_openai", "anthropic", "custom")
REASONING_EFFORTS: tuple[str, ...] = ("default", "low", "medium", "high")
REASONING_FORMATS: tuple[str, ...] = ("parsed", "raw", "hidden")
_LLM_COMMON: Mapping[str, Field] = {
    "displayName": Field("string"),
    "description": Field("string"),
    "modelName": Field("string"),
    "secret": Field("string"),
    "metadata": Field("object"),
    "reasoningEffort": Field("string", enum=REASONING_EFFORTS),
    "reasoningFormat": Field("string", enum=REASONING_FORMATS),
}
LLM_POST_FIELDS: Mapping[str, Field] = {
    **_LLM_COMMON,
    "urls": Field("object-array"),
    "llmFormat": Field("string", enum=LLM_POST_FORMATS),
}
LLM_PUT_FIELDS: Mapping[str, Field] = {
    **_LLM_COMMON,
    "url": Field("string"),
    "llmFormat": Field("string", enum=LLM_PUT_FORMATS),
}
LLM_POST_REQUIRED: tuple[str, ...] = ("displayName", "urls", "llmFormat", "modelName", "secret")
# Not in either request schema, but both request examples (LlmCreate, LlmUpdate)
# send it, and the LLM response carries it.
LLM_EXAMPLE_FIELDS: Mapping[str, Field] = {"temperature": Field("number")}

KNOWLEDGE_GROUP_FIELDS: Mapping[str, Field] = {
    "name": Field("string"),
    "description": Field("string"),
}
DOCUMENT_PUT_FIELDS: Mapping[str, Field] = {"filename": Field("string")}
SEARCH_FIELDS: Mapping[str, Field] = {
    "query": Field("string"),
    "limit": Field("integer", minimum=1, maximum=20),
}
SEARCH_DEFAULT_LIMIT = 5
# the text fields of the multipart upload besides `file`, with their documented defaults
UPLOAD_PARAMETERS: Mapping[str, Field] = {
    "chunkSize": Field("integer"),
    "chunkOverlap": Field("integer"),
}
UPLOAD_DEFAULTS: Mapping[str, int] = {"chunkSize": 1000, "chunkOverlap": 200}

TOOL_FIELDS: Mapping[str, Field] = {
    "name": Field("string"),
    "description": Field("string"),
    "type": Field("string", enum=TOOL_TYPES),
    "disableInterruptions": Field("boolean"),
    "config": Field("object"),
}


def _num(value: float) -> str:
    return f"{value:g}"


def check_field(path: str, spec: Field, value: Any) -> list[str]:
    """Problems with one value, each naming `path`."""
    kind = spec.kind
    if kind == "nullable-string" and value is None:
        return []
    if kind in ("string", "nullable-string"):
        if not isinstance(value, str):
            return [f"{path} must be a string"]
        if spec.enum is not None and value not in spec.enum:
            return [f"{path} must be one of the following values: {', '.join(spec.enum)}"]
        return []
    if kind == "boolean":
        return [] if isinstance(value, bool) else [f"{path} must be a boolean"]
    if kind == "object":
        return [] if isinstance(value, dict) else [f"{path} must be an object"]
    if kind == "string-array":
        ok = isinstance(value, list) and all(isinstance(item, str) for item in value)
        return [] if ok else [f"{path} must be an array of strings"]
    if kind == "object-array":
        ok = isinstance(value, list) and all(isinstance(item, dict) for item in value)
        return [] if ok else [f"{path} must be an array of objects"]
    if kind == "integer" and (isinstance(value, bool) or not isinstance(value, int)):
        return [f"{path} must be an integer"]
    if isinstance(value, bool) or not isinstance(value, int | float):
        return [f"{path} must be a number"]
    if spec.minimum is not None and value < spec.minimum:
        return [f"{path} must not be less than {_num(spec.minimum)}"]
    if spec.maximum is not None and value > spec.maximum:
        return [f"{path} must not be greater than {_num(spec.maximum)}"]
    return []


def check_fields(
    body: Mapping[str, Any], fields: Mapping[str, Field], *, prefix: str = "", strict: bool
) -> list[str]:
    """Check every known key; with `strict`, a key outside `fields` is a problem too."""
    problems: list[str] = []
    for key, value in body.items():
        path = f"{prefix}{key}"
        spec = fields.get(key)
        if spec is None:
            if strict:
                problems.append(f"property {path} should not exist")
            continue
        problems.extend(check_field(path, spec, value))
    return problems


def check_voice_detection(options: Mapping[str, Any]) -> list[str]:
    # unknown keys are refused, as the live persona_config update does (seed 000)
    prefix = "voiceDetectionOptions."
    return check_fields(options, VOICE_DETECTION_FIELDS, prefix=prefix, strict=True)


def require_object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise bad_request("Request body must be a JSON object")
    return body


def raise_if(problems: list[str]) -> None:
    """One 400 naming every problem found."""
    if problems:
        raise bad_request("; ".join(problems))


def is_http_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return len(value) == 36


def check_tool_basics(tool: Mapping[str, Any]) -> list[str]:
    """name/description/type of a complete (created or merged) tool."""
    problems: list[str] = []
    for key in ("name", "description", "type"):
        if key not in tool:
            problems.append(f"{key} is required")
    name = tool.get("name")
    if isinstance(name, str):
        if not 1 <= len(name) <= 64:
            problems.append("name must be between 1 and 64 characters long")
        elif not _TOOL_NAME_RE.fullmatch(name):
            problems.append(f"name must match the pattern {TOOL_NAME_PATTERN}")
    description = tool.get("description")
    if isinstance(description, str) and not 1 <= len(description) <= 1024:
        problems.append("description must be between 1 and 1024 characters long")
    return problems


def check_tool_config(tool_type: str, config: Mapping[str, Any]) -> list[str]:
    """The per-type shape of `config` (the spec's oneOf, chosen by `type`)."""
    problems: list[str] = []

    def need(key: str) -> bool:
        if key not in config:
            problems.append(f"config.{key} is required for {tool_type} tools")
            return False
        return True

    if tool_type == "CLIENT":
        fields = {
            "parameters": Field("object"),
            "awaitResult": Field("boolean"),
            "toolTimeoutSeconds": Field("number", minimum=1, maximum=600),
        }
        problems += check_fields(config, fields, prefix="config.", strict=False)
    elif tool_type == "SERVER_RAG":
        if need("documentFolderIds"):
            ids = config["documentFolderIds"]
            problems += check_field("config.documentFolderIds", Field("string-array"), ids)
            if not problems:
                problems += [
                    f"config.documentFolderIds[{n}] must be a UUID"
                    for n, item in enumerate(ids)
                    if not is_uuid(item)
                ]
    elif tool_type == "SERVER_WEBHOOK":
        fields = {
            "url": Field("string"),
            "method": Field("string", enum=WEBHOOK_METHODS),
            "headers": Field("object"),
            "bodyTemplate": Field("string"),
        }
        need("url")
        need("method")
        problems += check_fields(config, fields, prefix="config.", strict=False)
        url = config.get("url")
        if isinstance(url, str) and not is_http_url(url):
            problems.append("config.url must be an http or https URL")
        headers = config.get("headers")
        if isinstance(headers, dict):
            problems += [
                f"config.headers.{name} must be a string"
                for name, value in headers.items()
                if not isinstance(value, str)
            ]
    elif tool_type == "SYSTEM":
        need("action")
        problems += check_fields(
            config, {"action": Field("string", enum=SYSTEM_ACTIONS)}, prefix="config.", strict=False
        )
    return problems


@dataclass(frozen=True)
class PageQuery:
    page: int
    per_page: int
    search: str | None


def parse_int(name: str, raw: str, minimum: int, maximum: int | None = None) -> int:
    """A decimal integer from a query string or form field, within its range."""
    raw = raw.strip()
    if not re.fullmatch(r"[+-]?\d+", raw):
        raise bad_request(f"{name} must be an integer")
    value = int(raw)
    if value < minimum:
        raise bad_request(f"{name} must not be less than {minimum}")
    if maximum is not None and value > maximum:
        raise bad_request(f"{name} must not be greater than {maximum}")
    return value


def _int_param(query: Mapping[str, list[str]], name: str, default: int, maximum: int | None) -> int:
    values = query.get(name)
    return parse_int(name, values[-1], 1, maximum) if values else default


def parse_bool_param(query: Mapping[str, list[str]], name: str, default: bool) -> bool:
    """`true`/`false` (class-transformer style) from a query string."""
    values = query.get(name)
    if not values:
        return default
    raw = values[-1].strip().lower()
    if raw not in ("true", "false"):
        raise bad_request(f"{name} must be a boolean value")
    return raw == "true"


def parse_page_query(query: Mapping[str, list[str]]) -> PageQuery:
    """`page` (>= 1, default 1), `perPage` (1-100, default 10), `search`."""
    page = _int_param(query, "page", 1, None)
    per_page = _int_param(query, "perPage", 10, 100)
    search = (query.get("search") or [""])[-1]
    return PageQuery(page, per_page, search or None)
