"""Live session updates: Anam's `persona_config` data message, validated.

An app changes a running persona's language, voice generation and voice
detection settings without reconnecting by sending this message over the data
channel (`anamClient.sendDataMessage(JSON.stringify(message))`):

    {"message_type": "persona_config",
     "data": {"voiceGenerationOptions": {"speed": 1.1}}}

Public API (the CLI's `personactl session-config` uses exactly these):

- `persona_config_message(*, language_code=None, voice_generation=None,
  voice_detection=None, voice_provider=None, voice_model=None) -> dict`:
  the message holding only the fields given, validated. `voice_generation`
  and `voice_detection` use the API's option keys (`speed`, `stability`,
  `endOfSpeechSensitivity`, ...). Pass the persona's voice `provider` and
  `providerModelId` (from `GET /v1/voices`, e.g. "ELEVENLABS" and
  "eleven_flash_v2_5") so voice generation options are checked exactly for
  that provider and model; without `voice_provider` they need only fit some
  provider.
- `validate_data(data, *, voice_provider=None, voice_model=None) -> dict`:
  the same checks for a `data` object built elsewhere (API field names); it
  returns the data with empty option objects dropped.
- `message(data) -> dict` wraps validated data; `dumps(message, compact=False)`
  gives the JSON text to send.
- `InvalidPersonaConfig(ValueError)`, with `.problems` (one sentence each);
  subclasses `NothingToUpdate` and `NotLiveUpdatable` for the two cases an app
  may want to tell apart.

The rules are those of Anam's live-update documentation: at least one field
must be present (an empty `data` is ignored by the session, so it is refused
here); unknown field names are rejected; values must be in range for the
voice's provider and model; a voice generation field the provider does not
support is rejected. Ranges come from the Anam OpenAPI document (see
`personactl.core.voice_families` and `schemas/persona.schema.json`). Every
other persona field (prompt, LLM, avatar, voice, tools, ...) cannot change in
a live session and is refused with a pointer to `personactl apply`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from typing import Any

from personactl.anam.kinds import PERSONA
from personactl.core import voice_families
from personactl.core.voice_families import VoiceFamily

MESSAGE_TYPE = "persona_config"
LANGUAGE = "languageCode"
GENERATION = "voiceGenerationOptions"
DETECTION = "voiceDetectionOptions"
# The persona fields a running session takes (declared once, in anam.kinds).
LIVE_FIELDS: tuple[str, ...] = tuple(f.body for f in PERSONA.live_fields)

# Persona fields that exist but cannot change in a live session: the manifest's
# names and the API's (PUT /v1/personas/{id} body) names.
NOT_LIVE_FIELDS: frozenset[str] = frozenset(
    {"name", "personaPreset"}
    | {name for f in PERSONA.fields if not f.live for name in (f.manifest, f.body)}
)


class InvalidPersonaConfig(ValueError):
    """The message would be rejected (or ignored) by the session; `problems` says why."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class NothingToUpdate(InvalidPersonaConfig):
    """The message would hold no field at all."""


class NotLiveUpdatable(InvalidPersonaConfig):
    """The message names persona fields that only `personactl apply` can change."""


NOTHING_TO_UPDATE = (
    "nothing to update: a persona_config message needs at least one of languageCode, "
    "voiceGenerationOptions, voiceDetectionOptions (the session ignores an empty data object)"
)


def not_live_problem(fields: list[str]) -> str:
    return (
        f"{', '.join(fields)} cannot change in a live session: change the manifest and run "
        "`personactl apply`"
    )


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, str):
        return repr(value)
    return json.dumps(value, ensure_ascii=False, default=str)


@cache
def _detection_specs() -> dict[str, tuple[float, float]]:
    """voiceDetectionOptions key -> (minimum, maximum), from the persona schema."""
    from personactl.manifest.schemas import schema_text

    schema = json.loads(schema_text("persona"))
    props = schema["properties"]["spec"]["properties"]["voiceDetection"]["properties"]
    return {key: (float(p["minimum"]), float(p["maximum"])) for key, p in props.items()}


def _all_generation_keys() -> list[str]:
    return sorted({k for specs in voice_families.FAMILY_OPTIONS.values() for k in specs})


def _check_language(value: object) -> list[str]:
    from personactl.manifest.languages import ISO_639_1

    if not isinstance(value, str):
        return [f"languageCode must be a string, not {_fmt(value)}"]
    if value not in ISO_639_1:
        return [
            f"languageCode {value!r} is not an ISO 639-1 language code (e.g. en, fr, de, es, ja)"
        ]
    return []


def _family(voice_provider: str | None, voice_model: str | None) -> VoiceFamily | None:
    return voice_families.family_for_voice(voice_provider, voice_model)


def _check_generation(
    options: Mapping[str, Any], voice_provider: str | None, voice_model: str | None
) -> list[str]:
    known = _all_generation_keys()
    unknown = [k for k in options if k not in known]
    problems = [f"{GENERATION}: unknown field {k!r} (known: {', '.join(known)})" for k in unknown]
    rest = {k: v for k, v in options.items() if k in known}
    if not rest:
        return problems
    if voice_provider is None:
        # The voice is not known: the options must fit at least one provider.
        per_family = {
            family: voice_families.check_generation_options(family, rest) for family in VoiceFamily
        }
        if not any(not found for found in per_family.values()):
            detail = "; ".join(f"{f.value}: {', '.join(p)}" for f, p in per_family.items())
            problems.append(f"{GENERATION}: fits no voice provider ({detail})")
        return problems
    family = _family(voice_provider, voice_model)
    if family is None:
        return problems + [
            f"{GENERATION}: {k!r} is not supported: {voice_provider} voices"
            f"{f' ({voice_model})' if voice_model else ''} take no voice generation options"
            for k in rest
        ]
    supported = ", ".join(sorted(voice_families.allowed_keys(family)))
    for problem in voice_families.check_generation_options(family, rest):
        if problem.endswith(f"is not supported by {family.value} voices"):
            problem += f" (supported: {supported})"
        problems.append(f"{GENERATION}: {problem}")
    return problems


def _check_detection(options: Mapping[str, Any]) -> list[str]:
    specs = _detection_specs()
    problems: list[str] = []
    for key, value in options.items():
        if key not in specs:
            problems.append(
                f"{DETECTION}: unknown field {key!r} (known: {', '.join(sorted(specs))})"
            )
            continue
        low, high = specs[key]
        if isinstance(value, bool) or not isinstance(value, int | float):
            problems.append(f"{DETECTION}: {key} must be a number, not {_fmt(value)}")
        elif value < low:
            problems.append(f"{DETECTION}: {key} {_fmt(value)} is below the minimum {low:g}")
        elif value > high:
            problems.append(f"{DETECTION}: {key} {_fmt(value)} is above the maximum {high:g}")
    return problems


def validate_data(
    data: Mapping[str, Any],
    *,
    voice_provider: str | None = None,
    voice_model: str | None = None,
) -> dict[str, Any]:
    """`data` checked by the live-update rules; raises `InvalidPersonaConfig`.

    Returns a copy in the canonical key order with empty option objects
    dropped. `voice_provider`/`voice_model` are the voice's `provider` and
    `providerModelId` as the Anam voice catalog lists them.
    """
    if not isinstance(data, Mapping):
        raise InvalidPersonaConfig([f"data must be an object, not {_fmt(data)}"])
    not_live = [k for k in data if k not in LIVE_FIELDS and k in NOT_LIVE_FIELDS]
    problems = [
        f"unknown field {k!r} (a persona_config message may hold only {', '.join(LIVE_FIELDS)})"
        for k in data
        if k not in LIVE_FIELDS and k not in NOT_LIVE_FIELDS
    ]
    if not_live:
        raise NotLiveUpdatable([not_live_problem(not_live), *problems])
    out: dict[str, Any] = {}
    if LANGUAGE in data:
        problems += _check_language(data[LANGUAGE])
        out[LANGUAGE] = data[LANGUAGE]
    for key in (GENERATION, DETECTION):
        if key not in data:
            continue
        options = data[key]
        if not isinstance(options, Mapping):
            problems.append(f"{key} must be an object, not {_fmt(options)}")
            continue
        if not options:
            continue
        if key == GENERATION:
            problems += _check_generation(options, voice_provider, voice_model)
        else:
            problems += _check_detection(options)
        out[key] = dict(options)
    if problems:
        raise InvalidPersonaConfig(problems)
    if not out:
        raise NothingToUpdate([NOTHING_TO_UPDATE])
    return out


def message(data: Mapping[str, Any]) -> dict[str, Any]:
    """The data message around already validated `data`."""
    return {"message_type": MESSAGE_TYPE, "data": dict(data)}


def persona_config_message(
    *,
    language_code: str | None = None,
    voice_generation: Mapping[str, Any] | None = None,
    voice_detection: Mapping[str, Any] | None = None,
    voice_provider: str | None = None,
    voice_model: str | None = None,
) -> dict[str, Any]:
    """The `persona_config` message for the fields given, validated.

    >>> persona_config_message(voice_generation={"speed": 1.1},
    ...                        voice_provider="ELEVENLABS", voice_model="eleven_flash_v2_5")
    {'message_type': 'persona_config', 'data': {'voiceGenerationOptions': {'speed': 1.1}}}

    Raises `InvalidPersonaConfig` (a `ValueError`) naming every problem.
    """
    data: dict[str, Any] = {}
    if language_code is not None:
        data[LANGUAGE] = language_code
    if voice_generation is not None:
        data[GENERATION] = voice_generation
    if voice_detection is not None:
        data[DETECTION] = voice_detection
    return message(validate_data(data, voice_provider=voice_provider, voice_model=voice_model))


def dumps(msg: Mapping[str, Any], compact: bool = False) -> str:
    """The JSON text to pass to `sendDataMessage()`."""
    if compact:
        return json.dumps(msg, ensure_ascii=False, separators=(",", ":"))
    return json.dumps(msg, ensure_ascii=False, indent=2)
