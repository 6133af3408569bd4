"""personactl.core.voice_families: the family of a voice and the checks of its options."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from personactl.core.voice_families import (
    FAMILY_OPTIONS,
    VoiceFamily,
    allowed_keys,
    check_generation_options,
    family_for_voice,
)

SCHEMAS = json.loads((Path(__file__).parent / "anam_response_schemas.json").read_text())
COMPONENT = {
    VoiceFamily.ELEVENLABS_V1: "ElevenLabsV1VoiceGenerationOptions",
    VoiceFamily.ELEVENLABS_V2: "ElevenLabsV2VoiceGenerationOptions",
    VoiceFamily.CARTESIA_SONIC_3: "CartesiaSonic3VoiceGenerationOptions",
    VoiceFamily.FISH_AUDIO: "FishAudioVoiceGenerationOptions",
}


@pytest.mark.parametrize(
    ("provider", "model", "family"),
    [
        ("ELEVENLABS", "eleven_monolingual_v1", VoiceFamily.ELEVENLABS_V1),
        ("ELEVENLABS", "eleven_multilingual_v1", VoiceFamily.ELEVENLABS_V1),
        ("ELEVENLABS", "eleven_flash_v2_5", VoiceFamily.ELEVENLABS_V2),
        ("ELEVENLABS", "eleven_multilingual_v2", VoiceFamily.ELEVENLABS_V2),
        ("CARTESIA", "sonic-3", VoiceFamily.CARTESIA_SONIC_3),
        ("CARTESIA", "sonic-2", None),
        ("FISH_AUDIO", "s1", VoiceFamily.FISH_AUDIO),
        ("OPENAI_ADVANCED_VOICE", "gpt-4o-realtime-preview", None),
    ],
)
def test_family_for_voice(provider: str, model: str, family: VoiceFamily | None) -> None:
    assert family_for_voice(provider, model) == family


@pytest.mark.parametrize("family", list(VoiceFamily))
def test_tables_match_the_spec(family: VoiceFamily) -> None:
    schema = SCHEMAS["components"]["schemas"][COMPONENT[family]]
    assert schema["title"] == family.value
    assert allowed_keys(family) == set(schema["properties"])
    for key, spec in FAMILY_OPTIONS[family].items():
        prop = schema["properties"][key]
        assert spec.kind == prop["type"]
        assert (spec.minimum, spec.maximum) == (prop.get("minimum"), prop.get("maximum"))
        if spec.enum:
            assert list(spec.enum) == prop["oneOf"][0]["enum"]


def test_problems_name_the_key() -> None:
    v1 = VoiceFamily.ELEVENLABS_V1
    assert check_generation_options(v1, {"stability": 0, "similarityBoost": 1, "speed": 0.7}) == []
    assert check_generation_options(v1, {"speed": 1.9, "volume": 1}) == [
        "speed 1.9 is above the maximum 1.2 for ElevenLabs V1 voices",
        "'volume' is not supported by ElevenLabs V1 voices",
    ]
    assert check_generation_options(VoiceFamily.FISH_AUDIO, {"volume": 0.4, "speed": True}) == [
        "volume 0.4 is below the minimum 0.5 for Fish Audio voices",
        "speed must be a number for Fish Audio voices, not True",
    ]
    assert check_generation_options(VoiceFamily.ELEVENLABS_V2, {"model": 2}) == [
        "model must be a string for ElevenLabs V2 voices, not 2"
    ]
    assert check_generation_options(None, {}) == []
    assert check_generation_options(VoiceFamily.FISH_AUDIO, [1]) == [
        "voice generation options must be an object"
    ]
