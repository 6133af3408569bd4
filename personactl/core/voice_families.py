"""Voice generation option families of the Anam API (pure data, no HTTP).

The persona schemas accept `voiceGenerationOptions` as one of four shapes,
chosen by the voice's provider and model (components.schemas
`ElevenLabsV1VoiceGenerationOptions`, `ElevenLabsV2VoiceGenerationOptions`,
`CartesiaSonic3VoiceGenerationOptions`, `FishAudioVoiceGenerationOptions`).
The keys, ranges and enums below are copied from those components.

Public API:

- `VoiceFamily`: the four families; the value is the spec's schema title.
- `family_for_voice(provider, provider_model_id) -> VoiceFamily | None`
- `FAMILY_OPTIONS[family] -> {key: OptionSpec}` and `allowed_keys(family)`
- `check_generation_options(family, options) -> list[str]`: human-readable
  problems, each naming the key; empty when the options are acceptable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal


class VoiceFamily(StrEnum):
    ELEVENLABS_V1 = "ElevenLabs V1"
    ELEVENLABS_V2 = "ElevenLabs V2"
    CARTESIA_SONIC_3 = "Cartesia Sonic-3"
    FISH_AUDIO = "Fish Audio"


OptionKind = Literal["number", "boolean", "string"]


@dataclass(frozen=True)
class OptionSpec:
    """One key of a family's options: its JSON type and, for numbers, the inclusive range."""

    key: str
    kind: OptionKind
    minimum: float | None = None
    maximum: float | None = None
    enum: tuple[str, ...] | None = None


def _num(key: str, minimum: float, maximum: float) -> OptionSpec:
    return OptionSpec(key, "number", minimum, maximum)


CARTESIA_EMOTIONS: tuple[str, ...] = ("neutral", "calm", "angry", "content", "sad", "scared")

FAMILY_OPTIONS: Mapping[VoiceFamily, Mapping[str, OptionSpec]] = {
    VoiceFamily.ELEVENLABS_V1: {
        s.key: s
        for s in (_num("stability", 0, 1), _num("similarityBoost", 0, 1), _num("speed", 0.7, 1.2))
    },
    VoiceFamily.ELEVENLABS_V2: {
        s.key: s
        for s in (
            _num("stability", 0, 1),
            _num("similarityBoost", 0, 1),
            _num("style", 0, 1),
            OptionSpec("useSpeakerBoost", "boolean"),
            _num("speed", 0.7, 1.2),
            OptionSpec("model", "string"),
        )
    },
    VoiceFamily.CARTESIA_SONIC_3: {
        s.key: s
        for s in (
            _num("volume", 0.5, 2),
            _num("speed", 0.6, 1.5),
            OptionSpec("emotion", "string", enum=CARTESIA_EMOTIONS),
        )
    },
    VoiceFamily.FISH_AUDIO: {s.key: s for s in (_num("volume", 0.5, 2), _num("speed", 0.5, 2))},
}


def family_for_voice(provider: str | None, provider_model_id: str | None) -> VoiceFamily | None:
    """The option family of a voice, or None when its provider takes no options.

    ElevenLabs models whose id contains "_v1" (eleven_monolingual_v1,
    eleven_multilingual_v1) are V1; every other ElevenLabs model is V2.
    Cartesia voices have options only on Sonic-3 models; every Fish Audio
    voice is Fish Audio; OPENAI_ADVANCED_VOICE (and anything unknown) is None.
    """
    model = (provider_model_id or "").lower()
    if provider == "ELEVENLABS":
        return VoiceFamily.ELEVENLABS_V1 if "_v1" in model else VoiceFamily.ELEVENLABS_V2
    if provider == "CARTESIA":
        return VoiceFamily.CARTESIA_SONIC_3 if model.startswith("sonic-3") else None
    if provider == "FISH_AUDIO":
        return VoiceFamily.FISH_AUDIO
    return None


def allowed_keys(family: VoiceFamily | None) -> frozenset[str]:
    """The option keys a family accepts (empty for None)."""
    return frozenset(FAMILY_OPTIONS[family]) if family is not None else frozenset()


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return repr(value) if isinstance(value, str) else str(value)


def _check_value(spec: OptionSpec, value: object, label: str) -> str | None:
    if spec.kind == "number":
        # bool is an int in Python but not a JSON number
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"{spec.key} must be a number for {label} voices, not {_fmt(value)}"
        if spec.minimum is not None and value < spec.minimum:
            return (
                f"{spec.key} {_fmt(value)} is below the minimum {_fmt(spec.minimum)} "
                f"for {label} voices"
            )
        if spec.maximum is not None and value > spec.maximum:
            return (
                f"{spec.key} {_fmt(value)} is above the maximum {_fmt(spec.maximum)} "
                f"for {label} voices"
            )
        return None
    if spec.kind == "boolean":
        if not isinstance(value, bool):
            return f"{spec.key} must be a boolean for {label} voices, not {_fmt(value)}"
        return None
    if not isinstance(value, str):
        return f"{spec.key} must be a string for {label} voices, not {_fmt(value)}"
    if spec.enum is not None and value not in spec.enum:
        return f"{spec.key} {_fmt(value)} is not one of {', '.join(spec.enum)} for {label} voices"
    return None


def check_generation_options(family: VoiceFamily | None, options: object) -> list[str]:
    """Problems with `options` for a voice of `family`, one sentence each, naming the key.

    `family` None means the voice takes no generation options at all, so
    every key is reported as unsupported.
    """
    if not isinstance(options, Mapping):
        return ["voice generation options must be an object"]
    problems: list[str] = []
    if family is None:
        for key in options:
            problems.append(
                f"{key!r} is not supported: this voice's provider takes no voice generation options"
            )
        return problems
    specs = FAMILY_OPTIONS[family]
    for key, value in options.items():
        spec = specs.get(key)
        if spec is None:
            problems.append(f"{key!r} is not supported by {family.value} voices")
            continue
        problem = _check_value(spec, value, family.value)
        if problem:
            problems.append(problem)
    return problems
