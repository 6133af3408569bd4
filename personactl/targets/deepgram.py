"""A persona as a Deepgram Voice Agent `Settings` message (pure functions, no I/O but
reading the vendored schema).

`settings_for(...)` maps a rendered persona, its tools and its resolved voice
and LLM catalog entries to the `Settings` message, and names everything it
could not map in `Export.warnings` (nothing is dropped silently):

- `audio`: linear16 at 24000 Hz in and out (`DEFAULT_AUDIO`); override it in
  `targets.deepgram.audio`.
- `agent.language`, `agent.listen.provider.language` and the speak provider's
  `language` (ElevenLabs, Cartesia): the persona's `languageCode`.
- `agent.listen.provider`: Deepgram `nova-3`, `version: v1`. The version is
  needed: without it the AsyncAPI schema's `oneOf` matches both the V1 and V2
  listen providers, so the message would not validate.
- `agent.think.provider`: from the LLM's `llmFormat` and `modelName` when
  Deepgram offers that model (openai -> `open_ai`, gemini -> `google`,
  groq_openai -> `groq`; the models are the enums of the vendored schema),
  with the LLM's `temperature`. Anything else (azure_openai, a model Deepgram
  does not list, `CUSTOMER_CLIENT_V1`) falls back to `DEFAULT_THINK` with a
  warning. A persona without `llm` uses the catalog's default LLM.
- `agent.think.endpoint`: a persona on an LLM manifest (`llm: acme-gateway`)
  in the `openai` format (an OpenAI-compatible gateway) gets its first url and
  an `Authorization: Bearer` header with the LLM's secret (a placeholder
  unless secrets are revealed), as Deepgram's `ThinkSettingsV1Endpoint` takes
  them; other urls and regions are named in a warning.
- `agent.think.prompt`: the rendered system prompt.
- `agent.think.functions`: CLIENT tools as client-side functions (no
  endpoint), SERVER_WEBHOOK tools with `endpoint {url, method, headers}`;
  `parameters` is the tool's JSON Schema (CLIENT) or, for a webhook, derived
  from the `{{placeholders}}` of its bodyTemplate (Deepgram sends the
  arguments as the JSON body, so the template itself is not exported).
  SYSTEM and SERVER_RAG tools have no Deepgram equivalent. Function names are
  the Tool manifests' names (no environment prefix).
- `agent.speak`: an ELEVENLABS voice -> `eleven_labs` (the voice id goes in
  the endpoint URL, the only place Deepgram takes it; the API key header is a
  placeholder to override), a CARTESIA voice -> Deepgram-managed `cartesia`
  with `voice {mode: id, id}`; any other voice -> Deepgram Aura
  (`DEFAULT_AURA`). A provider model Deepgram does not list is replaced by
  the closest one it does, with a warning.
- `agent.greeting`: `initialMessage` (none when `skipGreeting`).

`apply_overrides` deep-merges `targets.deepgram` (JSON Merge Patch, RFC 7386:
objects merge, null deletes a key, anything else replaces, lists included),
and `validate` checks the result against the vendored schema.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

SCHEMA_PATH = Path(__file__).resolve().parent / "deepgram_settings.schema.json"

DEFAULT_AUDIO: dict[str, Any] = {
    "input": {"encoding": "linear16", "sample_rate": 24000},
    "output": {"encoding": "linear16", "sample_rate": 24000, "container": "none"},
}
DEFAULT_LISTEN: dict[str, Any] = {"type": "deepgram", "version": "v1", "model": "nova-3"}
DEFAULT_THINK: dict[str, Any] = {"type": "open_ai", "model": "gpt-4o-mini"}
DEFAULT_AURA = "aura-2-thalia-en"
ELEVENLABS_URL = "wss://api.elevenlabs.io/v1/text-to-speech/{voice_id}/multi-stream-input"
ELEVENLABS_KEY_PLACEHOLDER = "<ELEVENLABS_API_KEY>"

# Anam llmFormat -> (Deepgram think provider type, the $defs enum of its models)
THINK_PROVIDERS: dict[str, tuple[str, str]] = {
    "openai": ("open_ai", "OpenAiThinkProviderModel"),
    "gemini": ("google", "GoogleThinkProviderModel"),
    "groq_openai": ("groq", "GroqThinkProviderModel"),
}
# ElevenLabs / Cartesia models Deepgram does not list -> the closest one it does
ELEVENLABS_SUBSTITUTES = {
    "eleven_flash_v2_5": "eleven_turbo_v2_5",
    "eleven_flash_v2": "eleven_turbo_v2_5",
    "eleven_turbo_v2": "eleven_turbo_v2_5",
    "eleven_multilingual_v1": "eleven_multilingual_v2",
}
ELEVENLABS_FALLBACK = "eleven_multilingual_v2"
CARTESIA_FALLBACK = "sonic-2"
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


@dataclass
class Export:
    settings: dict[str, Any]
    warnings: list[str] = field(default_factory=list)
    # warning index -> the path of the value it is about; an override that sets
    # that path (or a parent of it) settles the warning
    settled_by: dict[int, tuple[str, ...]] = field(default_factory=dict)

    def open_warnings(self, overrides: Any) -> list[str]:
        """The warnings an override block does not settle."""
        return [
            w
            for i, w in enumerate(self.warnings)
            if i not in self.settled_by or not _sets(overrides, self.settled_by[i])
        ]


def _sets(overrides: Any, path: tuple[str, ...]) -> bool:
    node = overrides
    for part in path:
        if not isinstance(node, Mapping) or part not in node:
            return False
        node = node[part]
        if node is not None and not isinstance(node, Mapping):
            return True
    return node is not None


@dataclass(frozen=True)
class ToolSpec:
    """A Tool manifest as rendered (manifest vocabulary), by its manifest name."""

    name: str
    spec: Mapping[str, Any]


@cache
def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return loaded


def enum(def_name: str) -> tuple[str, ...]:
    """The values of one enum in the vendored schema's $defs."""
    return tuple(schema()["$defs"][def_name]["enum"])


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return json.dumps(value, ensure_ascii=False)


# -- think ------------------------------------------------------------------------------------


def think_provider(llm: Mapping[str, Any] | str | None) -> tuple[dict[str, Any], list[str]]:
    """The think provider for an LLM catalog entry (or CUSTOMER_CLIENT_V1), and warnings."""
    fallback = f"using {DEFAULT_THINK['type']} {DEFAULT_THINK['model']}"
    hint = "set targets.deepgram.agent.think.provider to choose"
    if llm is None:
        return dict(DEFAULT_THINK), []
    if isinstance(llm, str):
        return dict(DEFAULT_THINK), [
            f"llm {llm} (the client drives the conversation) has no Deepgram think "
            f"provider; {fallback}: {hint}"
        ]
    fmt, model = llm.get("llmFormat"), llm.get("modelName")
    temperature = llm.get("temperature")
    mapping = THINK_PROVIDERS.get(str(fmt))
    if mapping is not None and model in enum(mapping[1]):
        provider: dict[str, Any] = {"type": mapping[0], "model": model}
        if isinstance(temperature, int | float) and not isinstance(temperature, bool):
            provider["temperature"] = temperature
        return provider, []
    extra = f", temperature {_fmt(temperature)}" if temperature is not None else ""
    why = (
        f"Deepgram's {mapping[0]} provider does not offer {model!r}"
        if mapping is not None
        else f"Deepgram has no think provider for the {fmt} format"
    )
    return dict(DEFAULT_THINK), [
        f"llm {llm.get('displayName')!r} ({fmt} {model}{extra}): {why}; {fallback}: {hint}"
    ]


def think_endpoint(llm: Mapping[str, Any] | str | None) -> tuple[dict[str, Any] | None, list[str]]:
    """`agent.think.endpoint` for a custom OpenAI-compatible LLM (an LLM manifest's spec,
    with its `urls` and `secret`), and warnings; None for any other LLM."""
    if not isinstance(llm, Mapping) or llm.get("llmFormat") != "openai":
        return None, []
    urls, secret = llm.get("urls"), llm.get("secret")
    if not isinstance(urls, list) or not urls or not isinstance(secret, str):
        return None, []
    first = urls[0] if isinstance(urls[0], Mapping) else {}
    endpoint = {"url": str(first.get("url")), "headers": {"Authorization": f"Bearer {secret}"}}
    warnings = []
    others = [str(u.get("url")) for u in urls[1:] if isinstance(u, Mapping)]
    if others or first.get("region"):
        warnings.append(
            f"llm {llm.get('displayName')!r}: Deepgram takes one think endpoint, so only "
            f"{endpoint['url']} is exported (regions and the urls {', '.join(others) or 'none'} "
            "are not): set targets.deepgram.agent.think.endpoint to choose"
        )
    return endpoint, warnings


# -- functions ------------------------------------------------------------------------------


def _webhook_parameters(body_template: object) -> dict[str, Any] | None:
    if not isinstance(body_template, str):
        return None
    names = list(dict.fromkeys(_PLACEHOLDER.findall(body_template)))
    if not names:
        return None
    return {
        "type": "object",
        "properties": {n: {"type": "string"} for n in names},
        "required": names,
    }


def function_for_tool(tool: ToolSpec) -> tuple[dict[str, Any] | None, list[str]]:
    """A think function for one tool (None when it cannot be one), and warnings."""
    spec = tool.spec
    kind = spec.get("type")
    config = spec.get("config") if isinstance(spec.get("config"), Mapping) else {}
    assert isinstance(config, Mapping)
    label = f"tool {tool.name!r}"
    if kind == "SYSTEM":
        return None, [
            f"{label} (SYSTEM, action {config.get('action')}) is not exported: a Deepgram "
            "Voice Agent has no system actions"
        ]
    if kind == "SERVER_RAG":
        return None, [
            f"{label} (SERVER_RAG knowledge search) is not exported: a Deepgram Voice Agent "
            "has no knowledge base; expose a webhook function instead"
        ]
    if kind not in ("CLIENT", "SERVER_WEBHOOK"):
        return None, [f"{label} has an unknown type {kind!r} and is not exported"]
    fn: dict[str, Any] = {"name": tool.name}
    if isinstance(spec.get("description"), str):
        fn["description"] = spec["description"]
    dropped: list[str] = []
    warnings: list[str] = []
    if kind == "CLIENT":
        params = config.get("parameters")
        fn["parameters"] = (
            dict(params) if isinstance(params, Mapping) else {"type": "object", "properties": {}}
        )
        dropped += [f"config.{k}" for k in ("awaitResult", "toolTimeoutSeconds") if k in config]
    else:
        endpoint: dict[str, Any] = {"url": config.get("url"), "method": config.get("method")}
        headers = config.get("headers")
        if isinstance(headers, Mapping) and headers:
            endpoint["headers"] = dict(headers)
        params = _webhook_parameters(config.get("bodyTemplate"))
        if params is not None:
            fn["parameters"] = params
        if "bodyTemplate" in config:
            derived = (
                f"; parameters derived from its placeholders ({', '.join(params['properties'])})"
                if params
                else ""
            )
            warnings.append(
                f"{label}: config.bodyTemplate is not exported (Deepgram sends the function's "
                f"arguments as the JSON request body){derived}"
            )
        fn["endpoint"] = endpoint
    if spec.get("disableInterruptions"):
        dropped.append("disableInterruptions")
    if dropped:
        warnings.append(f"{label}: {', '.join(dropped)} not exported (no Deepgram equivalent)")
    return fn, warnings


# -- speak ----------------------------------------------------------------------------------


def _substitute(
    model: str | None, allowed: tuple[str, ...], table: Mapping[str, str], fallback: str
) -> str:
    if model in allowed:
        assert model is not None
        return model
    return table.get(model or "", fallback)


def speak_settings(
    voice: Mapping[str, Any] | None,
    options: Mapping[str, Any],
    language: str | None,
) -> tuple[dict[str, Any], list[str]]:
    """`agent.speak` for a voice catalog entry and its voiceGeneration options, and warnings."""
    warnings: list[str] = []
    provider_name = voice.get("provider") if voice else None
    model = voice.get("providerModelId") if voice else None
    voice_id = voice.get("providerVoiceId") if voice else None
    label = f"voice {voice.get('displayName')!r} ({provider_name} {model})" if voice else ""
    mapped: set[str] = set()
    speak: dict[str, Any]
    if provider_name == "ELEVENLABS" and isinstance(voice_id, str):
        model_id = _substitute(
            model,
            enum("ElevenLabsSpeakProviderModelId"),
            ELEVENLABS_SUBSTITUTES,
            ELEVENLABS_FALLBACK,
        )
        if model_id != model:
            warnings.append(
                f"{label}: Deepgram does not offer the ElevenLabs model {model!r}; using {model_id}"
            )
        provider: dict[str, Any] = {"type": "eleven_labs", "model_id": model_id}
        if language:
            provider["language"] = language
        speak = {
            "provider": provider,
            "endpoint": {
                "url": ELEVENLABS_URL.format(voice_id=voice_id),
                "headers": {"xi-api-key": ELEVENLABS_KEY_PLACEHOLDER},
            },
        }
        warnings.append(
            "agent.speak.endpoint.headers.xi-api-key is a placeholder: set it in "
            "targets.deepgram.agent.speak.endpoint.headers, e.g. to "
            '{{ secret("ELEVENLABS_API_KEY") }}'
        )
    elif provider_name == "CARTESIA" and isinstance(voice_id, str):
        model_id = _substitute(model, enum("CartesiaSpeakProviderModelId"), {}, CARTESIA_FALLBACK)
        if model_id != model:
            warnings.append(
                f"{label}: Deepgram does not offer the Cartesia model {model!r}; using {model_id}"
            )
        provider = {
            "type": "cartesia",
            "model_id": model_id,
            "voice": {"mode": "id", "id": voice_id},
        }
        if language:
            provider["language"] = language
        if "volume" in options:
            provider["volume"] = options["volume"]
            mapped.add("volume")
        speak = {"provider": provider}
    else:
        aura = DEFAULT_AURA
        if language == "es":
            aura = "aura-2-celeste-es"
        provider = {"type": "deepgram", "model": aura}
        if voice is not None:
            warnings.append(
                f"{label} has no Deepgram speak provider; using Deepgram {aura}: set "
                "targets.deepgram.agent.speak.provider to choose"
            )
        if language and language not in ("en", "es"):
            warnings.append(
                f"Deepgram Aura voices speak English and Spanish only, not {language!r}: set "
                "targets.deepgram.agent.speak.provider to choose"
            )
        if "speed" in options:
            provider["speed"] = options["speed"]
            mapped.add("speed")
        speak = {"provider": provider}
    unmapped = [k for k in options if k not in mapped]
    if unmapped:
        values = ", ".join(f"{k}={_fmt(options[k])}" for k in unmapped)
        warnings.append(
            f"voiceGeneration {values} not exported: no equivalent for Deepgram's "
            f"{speak['provider']['type']} speak provider"
        )
    return speak, warnings


# -- the whole message ------------------------------------------------------------------------

_NOT_EXPORTED = ("avatar", "avatarModel", "description", "widgetConfig")


def settings_for(
    spec: Mapping[str, Any],
    *,
    prompt: str | None,
    tools: Sequence[ToolSpec],
    unresolved_tools: Sequence[str] = (),
    voice: Mapping[str, Any] | None,
    llm: Mapping[str, Any] | str | None,
) -> Export:
    """The Settings message for a rendered persona `spec` (manifest vocabulary)."""
    warnings: list[str] = []
    language = spec.get("languageCode") if isinstance(spec.get("languageCode"), str) else None
    listen = dict(DEFAULT_LISTEN)
    if language:
        listen["language"] = language
    think_prov, w = think_provider(llm)
    settled_by: dict[int, tuple[str, ...]] = {
        len(warnings) + i: ("agent", "think", "provider") for i in range(len(w))
    }
    warnings += w
    think: dict[str, Any] = {"provider": think_prov}
    endpoint, w = think_endpoint(llm)
    settled_by.update({len(warnings) + i: ("agent", "think", "endpoint") for i in range(len(w))})
    warnings += w
    if endpoint is not None:
        think["endpoint"] = endpoint
    if prompt is not None:
        think["prompt"] = prompt
    functions: list[dict[str, Any]] = []
    for tool in tools:
        fn, w = function_for_tool(tool)
        warnings += w
        if fn is not None:
            functions.append(fn)
    for ref in unresolved_tools:
        warnings.append(
            f"tool {ref} is not defined by a Tool manifest and is not exported: add it to "
            "targets.deepgram.agent.think.functions"
        )
    if functions:
        think["functions"] = functions
    options = spec.get("voiceGeneration")
    speak, w = speak_settings(voice, options if isinstance(options, Mapping) else {}, language)
    for i, text in enumerate(w):
        if text.startswith("agent.speak.endpoint.headers.xi-api-key"):
            settled_by[len(warnings) + i] = ("agent", "speak", "endpoint", "headers", "xi-api-key")
        elif "set targets.deepgram.agent.speak.provider" in text:
            settled_by[len(warnings) + i] = ("agent", "speak", "provider")
    warnings += w
    agent: dict[str, Any] = {}
    if language:
        agent["language"] = language
    agent["listen"] = {"provider": listen}
    agent["think"] = think
    agent["speak"] = speak
    greeting = spec.get("initialMessage")
    if isinstance(greeting, str) and greeting and not spec.get("skipGreeting"):
        agent["greeting"] = greeting
    elif not spec.get("skipGreeting") and not greeting:
        settled_by[len(warnings)] = ("agent", "greeting")
        warnings.append(
            "the persona makes up its own greeting (no initialMessage); a Deepgram agent "
            "speaks only agent.greeting: set initialMessage or targets.deepgram.agent.greeting"
        )
    detection = spec.get("voiceDetection")
    if isinstance(detection, Mapping) and detection:
        values = ", ".join(f"{k}={_fmt(v)}" for k, v in detection.items())
        warnings.append(f"voiceDetection {values} not exported (no Deepgram equivalent)")
    flags = [k for k in ("uninterruptibleGreeting", "zeroDataRetention") if spec.get(k)]
    if flags:
        warnings.append(
            f"{', '.join(f'{k}: true' for k in flags)} not exported (no Deepgram equivalent"
            f"{'; mip_opt_out is the nearest setting' if 'zeroDataRetention' in flags else ''})"
        )
    dropped = [k for k in _NOT_EXPORTED if k in spec]
    if dropped:
        warnings.append(f"{', '.join(dropped)} not exported (no Deepgram equivalent)")
    settings: dict[str, Any] = {
        "type": "Settings",
        "audio": json.loads(json.dumps(DEFAULT_AUDIO)),
        "agent": agent,
    }
    return Export(settings, warnings, settled_by)


def apply_overrides(settings: Mapping[str, Any], overrides: Any) -> dict[str, Any]:
    """`settings` with `overrides` merged in (RFC 7386: null deletes, lists replace)."""
    from personactl.manifest.compose import merge_patch

    merged = merge_patch(dict(settings), overrides)
    assert isinstance(merged, dict)
    return merged


def validate(settings: Any) -> list[str]:
    """Problems with `settings` per the vendored AsyncAPI schema, one sentence each."""
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import best_match

    from personactl.manifest.schemas import fmt_path

    validator = Draft202012Validator(schema())
    problems: list[str] = []
    for err in validator.iter_errors(settings):
        leaf = _meant(err)
        if leaf.context:
            leaf = best_match([leaf])
        where = fmt_path(tuple(leaf.absolute_path)) or "(the message)"
        problems.append(f"{where}: {leaf.message}")
    return sorted(set(problems))


def _meant(err: Any) -> Any:
    """For a oneOf/anyOf failure, the error of the one branch the value's `type` selects."""
    from personactl.manifest.schemas import fitting_branches

    while err.validator in ("oneOf", "anyOf") and err.context:
        chosen = fitting_branches(
            err,
            lambda e: (
                tuple(e.relative_path) == ("type",)
                or (not e.relative_path and e.validator == "type")
            ),
        )
        if len(chosen) != 1 or len(chosen[0]) != 1:
            return err
        err = chosen[0][0]
    return err
