"""`personactl session-config` and `personactl.live`: Anam's persona_config data message.

Every rule of the live-update page (seed 000) has a test with its exact text:
empty data refused, unknown fields rejected, values in range for the voice's
provider and model, unsupported voice generation fields rejected; fields that
cannot change live point at `personactl apply`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_support import run_cli

from personactl import live

SANDBOX = "Persona 'support-cara' in environment 'sandbox'"
LUCY = f"{SANDBOX} (voice 'Lucy - Fresh & Casual': ELEVENLABS eleven_flash_v2_5)"
APPLY = "cannot change in a live session: change the manifest and run `personactl apply`"
ONLY = (
    "(a persona_config message may hold only languageCode, voiceGenerationOptions, "
    "voiceDetectionOptions)"
)


def ok(args: list[str], cwd: Path) -> dict[str, object]:
    r = run_cli(["session-config", *args], cwd)
    assert r.code == 0, r.err
    assert r.err == ""
    msg = json.loads(r.out)
    assert isinstance(msg, dict)
    return msg


def fails(args: list[str], cwd: Path) -> str:
    r = run_cli(["session-config", *args], cwd)
    assert r.code == 1, r
    assert r.out == ""
    assert r.err.count("\n") == 1, r.err  # one line, no traceback
    return r.err.removeprefix("error: ").rstrip("\n")


# -- building messages --------------------------------------------------------------------------


def test_without_changes_it_prints_the_persona_s_live_fields_pretty(example: Path) -> None:
    r = run_cli(["session-config", "support-cara"], example)
    assert r.code == 0, r.err
    assert r.out == (
        "{\n"
        '  "message_type": "persona_config",\n'
        '  "data": {\n'
        '    "languageCode": "en",\n'
        '    "voiceGenerationOptions": {\n'
        '      "stability": 0.5,\n'
        '      "similarityBoost": 0.8,\n'
        '      "speed": 1.05\n'
        "    },\n"
        '    "voiceDetectionOptions": {\n'
        '      "endOfSpeechSensitivity": 0.6,\n'
        '      "silenceBeforeSessionEndSeconds": 300\n'
        "    }\n"
        "  }\n"
        "}\n"
    )


def test_set_builds_only_the_changes_compact(example: Path) -> None:
    r = run_cli(
        ["session-config", "support-cara", "--set", "voiceGeneration.speed=1.1", "--compact"],
        example,
    )
    assert r.code == 0, r.err
    assert r.out == (
        '{"message_type":"persona_config","data":{"voiceGenerationOptions":{"speed":1.1}}}\n'
    )


def test_set_accepts_api_names_json_objects_and_plain_strings(example: Path) -> None:
    msg = ok(
        [
            "support-cara",
            "--set",
            "languageCode=fr",  # not JSON: a string
            "--set",
            'voiceGenerationOptions={"stability": 0.3, "style": 0.2}',
            "--set",
            "voiceGeneration.useSpeakerBoost=true",
            "--set",
            "voiceDetectionOptions.silenceBeforeAutoEndTurnSeconds=2",
        ],
        example,
    )
    assert msg == {
        "message_type": "persona_config",
        "data": {
            "languageCode": "fr",
            "voiceGenerationOptions": {"stability": 0.3, "style": 0.2, "useSpeakerBoost": True},
            "voiceDetectionOptions": {"silenceBeforeAutoEndTurnSeconds": 2},
        },
    }


def test_from_env_sends_only_what_differs(example: Path) -> None:
    # production patches support-cara's voiceGeneration.speed to 0.95. Both
    # environments are rendered offline; the voice is resolved through the
    # session's environment (sandbox), so production's API is never asked.
    r = run_cli(
        ["session-config", "support-cara", "--from-env", "production", "--compact"], example
    )
    assert r.code == 0, r.err
    assert r.out == (
        '{"message_type":"persona_config","data":{"voiceGenerationOptions":{"speed":0.95}}}\n'
    )


def test_manifest_errors_in_either_environment_stop_it(example: Path) -> None:
    config = example / "personactl.yaml"
    text = config.read_text()
    patched = text.replace("speed: 0.95", "speed: 1.25")
    assert patched != text
    config.write_text(patched)
    # production's own validate reports it too; session-config stops at the manifests' errors
    err = fails(["support-cara", "--from-env", "production"], example)
    assert "speed must be at most 1.2" in err


def test_from_env_and_set_combine(example: Path) -> None:
    msg = ok(["support-cara", "--from-env", "production", "--set", "languageCode=de"], example)
    assert msg["data"] == {"languageCode": "de", "voiceGenerationOptions": {"speed": 0.95}}


def test_from_env_between_two_sandbox_environments(example: Path) -> None:
    config = example / "personactl.yaml"
    text = config.read_text()
    extra = """    sandbox-slow:
      backend: sandbox
      namePrefix: "slow-"
      patches:
        - kind: Persona
          name: support-cara
          patch:
            spec:
              languageCode: es
              voiceGeneration: {speed: 0.9, stability: 0.5}
              voiceDetection: {endOfSpeechSensitivity: 0.4}
    staging:
"""
    assert text.count("    staging:\n") == 1
    config.write_text(text.replace("    staging:\n", extra))
    msg = ok(["support-cara", "--from-env", "sandbox-slow"], example)
    # stability is 0.5 in both: not sent; similarityBoost is not touched
    assert msg["data"] == {
        "languageCode": "es",
        "voiceGenerationOptions": {"speed": 0.9},
        "voiceDetectionOptions": {"endOfSpeechSensitivity": 0.4},
    }
    # and back again, from the other sandbox environment
    back = ok(["support-cara", "-e", "sandbox-slow", "--from-env", "sandbox"], example)
    assert back["data"] == {
        "languageCode": "en",
        "voiceGenerationOptions": {"speed": 1.05},
        "voiceDetectionOptions": {"endOfSpeechSensitivity": 0.6},
    }


def test_from_env_cannot_unset_a_field(example: Path) -> None:
    config = example / "personactl.yaml"
    text = config.read_text()
    patched = text.replace(
        "                speed: 0.95\n",
        "                speed: 0.95\n                stability: null\n",
    )
    assert patched != text
    config.write_text(patched)
    assert fails(["support-cara", "--from-env", "production"], example) == (
        "Persona 'support-cara': voiceGeneration.stability is set in environment 'sandbox' but "
        "not in 'production', and a live update cannot unset a field: give a value with --set, "
        "or run `personactl apply -e production`"
    )


def test_from_env_refuses_fields_that_only_apply_can_change(example: Path) -> None:
    # production sets concierge-lea's zeroDataRetention
    assert fails(["concierge-lea", "--from-env", "production"], example) == (
        "Persona 'concierge-lea': zeroDataRetention differs between environments 'sandbox' and "
        "'production' and cannot change in a live session: run `personactl apply -e "
        "production` (use --set alone for the live fields)"
    )


def test_an_environment_without_an_api_key_works_when_no_voice_is_needed(example: Path) -> None:
    # production is a real-API environment with no key here: languageCode and
    # voice detection need no catalog, so nothing asks the API.
    msg = ok(["support-cara", "-e", "production", "--set", "languageCode=fr", "--compact"], example)
    assert msg == {"message_type": "persona_config", "data": {"languageCode": "fr"}}
    r = run_cli(
        ["session-config", "support-cara", "-e", "production", "--set", "voiceGeneration.speed=1"],
        example,
    )
    assert r.code == 1
    assert "ANAM_API_KEY_PRODUCTION" in r.err


# -- the seed page's validation rules --------------------------------------------------------------


def test_empty_data_is_refused(example: Path) -> None:
    assert fails(["support-cara", "--from-env", "sandbox"], example) == (
        f"{SANDBOX}: nothing to update: a persona_config message needs at least one of "
        "languageCode, voiceGenerationOptions, voiceDetectionOptions (the session ignores an "
        "empty data object) (environments 'sandbox' and 'sandbox' configure the same "
        "languageCode, voiceGeneration and voiceDetection)"
    )
    assert fails(["support-cara", "--set", "voiceGeneration={}"], example) == (
        f"{SANDBOX}: nothing to update: a persona_config message needs at least one of "
        "languageCode, voiceGenerationOptions, voiceDetectionOptions (the session ignores an "
        "empty data object)"
    )


def test_unknown_fields_are_rejected(example: Path) -> None:
    assert fails(["support-cara", "--set", "pitch=1"], example) == (
        f"{SANDBOX}: unknown field 'pitch' {ONLY}"
    )
    assert fails(["support-cara", "--set", "voiceGeneration.pitch=1"], example) == (
        f"{LUCY}: voiceGenerationOptions: unknown field 'pitch' (known: emotion, model, "
        "similarityBoost, speed, stability, style, useSpeakerBoost, volume)"
    )
    assert fails(["support-cara", "--set", "voiceDetection.vadMode=1"], example) == (
        f"{SANDBOX}: voiceDetectionOptions: unknown field 'vadMode' (known: "
        "endOfSpeechSensitivity, silenceBeforeAutoEndTurnSeconds, "
        "silenceBeforeSessionEndSeconds, silenceBeforeSkipTurnSeconds, speechEnhancementLevel)"
    )


def test_values_must_be_in_range_for_the_provider_and_model(example: Path) -> None:
    assert fails(["support-cara", "--set", "voiceGeneration.speed=1.5"], example) == (
        f"{LUCY}: voiceGenerationOptions: speed 1.5 is above the maximum 1.2 for ElevenLabs V2 "
        "voices"
    )
    # 1.5 is fine for a Cartesia Sonic-3 voice, whose range is 0.6 to 1.5
    msg = ok(["concierge-lea", "--set", "voiceGeneration.speed=1.5", "--compact"], example)
    assert msg["data"] == {"voiceGenerationOptions": {"speed": 1.5}}
    assert fails(["concierge-lea", "--set", "voiceGeneration.emotion=happy"], example) == (
        "Persona 'concierge-lea' in environment 'sandbox' (voice 'Léa - Française': CARTESIA "
        "sonic-3): voiceGenerationOptions: emotion 'happy' is not one of neutral, calm, angry, "
        "content, sad, scared for Cartesia Sonic-3 voices"
    )
    assert fails(
        [
            "support-cara",
            "--set",
            "voiceDetection.endOfSpeechSensitivity=1.5",
            "--set",
            "languageCode=xx",
        ],
        example,
    ) == (
        f"{SANDBOX}: languageCode 'xx' is not an ISO 639-1 language code (e.g. en, fr, de, es, "
        "ja); voiceDetectionOptions: endOfSpeechSensitivity 1.5 is above the maximum 1"
    )
    assert fails(["support-cara", "--set", "voiceGeneration.stability=high"], example) == (
        f"{LUCY}: voiceGenerationOptions: stability must be a number for ElevenLabs V2 voices, "
        "not 'high'"
    )


def test_a_field_the_provider_does_not_support_is_rejected(example: Path) -> None:
    assert fails(["support-cara", "--set", "voiceGeneration.volume=1.2"], example) == (
        f"{LUCY}: voiceGenerationOptions: 'volume' is not supported by ElevenLabs V2 voices "
        "(supported: model, similarityBoost, speed, stability, style, useSpeakerBoost)"
    )
    assert fails(["onboarding-mia", "--set", "voiceGeneration.stability=0.5"], example) == (
        "Persona 'onboarding-mia' in environment 'sandbox' (voice 'Fish Narrator': FISH_AUDIO "
        "s1): voiceGenerationOptions: 'stability' is not supported by Fish Audio voices "
        "(supported: speed, volume)"
    )


@pytest.mark.parametrize(
    ("assignment", "field"),
    [
        ("prompt=Be brief.", "prompt"),
        ("systemPrompt=Be brief.", "systemPrompt"),
        ('llm={"name": "GPT-4o"}', "llm"),
        ('avatar={"name": "Mia"}', "avatar"),
        ('voice={"name": "Sonic Sophie"}', "voice"),
        ("voiceId=6bfbe25a-979d-40f3-a92b-5394170af54b", "voiceId"),
        ("initialMessage=Hello", "initialMessage"),
    ],
)
def test_fields_that_cannot_change_live_need_apply(
    example: Path, assignment: str, field: str
) -> None:
    assert fails(["support-cara", "--set", assignment], example) == f"{SANDBOX}: {field} {APPLY}"


def test_bad_set_syntax_and_names(example: Path) -> None:
    assert fails(["support-cara", "--set", "speed"], example) == (
        "--set 'speed' must look like PATH=VALUE (e.g. voiceGeneration.speed=1.1)"
    )
    assert fails(["support-cara", "--set", "voiceGeneration.speed.x=1"], example) == (
        "--set 'voiceGeneration.speed.x=1': voice options are flat; write "
        "voiceGeneration.KEY=VALUE (e.g. voiceGeneration.speed=1.1)"
    )
    assert fails(["nobody"], example) == (
        "no Persona named 'nobody' in environment 'sandbox' (known: concierge-lea, "
        "onboarding-mia, onboarding-trainer, support-cara)"
    )
    assert fails(["support-cara", "--from-env", "nowhere"], example) == (
        "unknown environment 'nowhere' (known: production, sandbox, staging); define it under "
        "spec.environments in personactl.yaml"
    )


# -- the Python API ----------------------------------------------------------------------------


def test_python_api_builds_the_message() -> None:
    assert live.persona_config_message(
        voice_generation={"speed": 1.1},
        voice_provider="ELEVENLABS",
        voice_model="eleven_flash_v2_5",
    ) == {"message_type": "persona_config", "data": {"voiceGenerationOptions": {"speed": 1.1}}}
    assert live.persona_config_message(
        language_code="fr", voice_detection={"endOfSpeechSensitivity": 0.7}
    ) == {
        "message_type": "persona_config",
        "data": {"languageCode": "fr", "voiceDetectionOptions": {"endOfSpeechSensitivity": 0.7}},
    }
    msg = live.persona_config_message(language_code="de")
    assert live.dumps(msg, compact=True) == (
        '{"message_type":"persona_config","data":{"languageCode":"de"}}'
    )


def test_python_api_errors_are_value_errors_with_every_problem() -> None:
    with pytest.raises(live.NothingToUpdate) as nothing:
        live.persona_config_message()
    assert isinstance(nothing.value, ValueError)
    assert str(nothing.value) == live.NOTHING_TO_UPDATE

    with pytest.raises(live.InvalidPersonaConfig) as bad:
        live.persona_config_message(
            voice_generation={"speed": 1.3, "volume": 1.0},
            voice_provider="ELEVENLABS",
            voice_model="eleven_multilingual_v1",
        )
    assert bad.value.problems == [
        "voiceGenerationOptions: speed 1.3 is above the maximum 1.2 for ElevenLabs V1 voices",
        "voiceGenerationOptions: 'volume' is not supported by ElevenLabs V1 voices "
        "(supported: similarityBoost, speed, stability)",
    ]

    with pytest.raises(live.InvalidPersonaConfig) as none:
        live.persona_config_message(
            voice_generation={"speed": 1.0}, voice_provider="OPENAI_ADVANCED_VOICE"
        )
    assert str(none.value) == (
        "voiceGenerationOptions: 'speed' is not supported: OPENAI_ADVANCED_VOICE voices take no "
        "voice generation options"
    )


def test_python_api_without_a_voice_needs_only_some_provider_to_fit() -> None:
    # volume fits Cartesia and Fish Audio, stability fits ElevenLabs: none takes both
    assert live.persona_config_message(voice_generation={"volume": 1.5})["data"] == {
        "voiceGenerationOptions": {"volume": 1.5}
    }
    with pytest.raises(live.InvalidPersonaConfig) as bad:
        live.persona_config_message(voice_generation={"volume": 1.5, "stability": 0.5})
    assert str(bad.value) == (
        "voiceGenerationOptions: fits no voice provider (ElevenLabs V1: 'volume' is not "
        "supported by ElevenLabs V1 voices; ElevenLabs V2: 'volume' is not supported by "
        "ElevenLabs V2 voices; Cartesia Sonic-3: 'stability' is not supported by Cartesia "
        "Sonic-3 voices; Fish Audio: 'stability' is not supported by Fish Audio voices)"
    )


def test_validate_data_rejects_unknown_and_not_live_fields() -> None:
    with pytest.raises(live.NotLiveUpdatable) as not_live:
        live.validate_data({"systemPrompt": "x", "llmId": "y", "mood": "happy"})
    assert not_live.value.problems == [
        f"systemPrompt, llmId {APPLY}",
        f"unknown field 'mood' {ONLY}",
    ]
    with pytest.raises(live.InvalidPersonaConfig) as bad:
        live.validate_data({"languageCode": 5, "voiceDetectionOptions": [1]})
    assert bad.value.problems == [
        "languageCode must be a string, not 5",
        "voiceDetectionOptions must be an object, not [1]",
    ]
    # empty option objects are dropped; the rest keeps the canonical order
    assert live.validate_data(
        {"voiceDetectionOptions": {"speechEnhancementLevel": 0}, "voiceGenerationOptions": {}}
    ) == {"voiceDetectionOptions": {"speechEnhancementLevel": 0}}
