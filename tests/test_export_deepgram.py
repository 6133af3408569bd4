"""`personactl export --format deepgram`: a persona as a Deepgram Voice Agent Settings message."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from cli_support import REPO, run_cli, run_inprocess

from personactl.targets import deepgram

TOKEN = {"ACME_ORDERS_TOKEN": "tok-1234567890"}
ASYNCAPI = REPO / "tests" / "reference" / "deepgram-asyncapi.yml"
SCHEMA = json.loads(deepgram.SCHEMA_PATH.read_text())
PERSONAS = ["concierge-lea", "onboarding-mia", "onboarding-trainer", "support-cara"]


def export(
    args: list[str], cwd: Path, env: dict[str, str] | None = None
) -> tuple[dict[str, Any], list[str]]:
    r = run_cli(["export", *args, "--format", "deepgram"], cwd, env)
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    assert list(jsonschema.Draft202012Validator(SCHEMA).iter_errors(doc)) == []
    return doc, r.err.splitlines()


def schema_errors(doc: object) -> list[str]:
    return [e.message for e in jsonschema.Draft202012Validator(SCHEMA).iter_errors(doc)]


# -- the vendored schema ------------------------------------------------------------------------


@pytest.mark.skipif(not ASYNCAPI.is_file(), reason="the reference AsyncAPI document is absent")
def test_vendored_schema_is_the_generator_s_output() -> None:
    from personactl.targets.vendor_deepgram_schema import render

    assert deepgram.SCHEMA_PATH.read_text() == render(ASYNCAPI)


def test_vendored_schema_is_valid_and_has_no_descriptions() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert '"description"' not in json.dumps(SCHEMA["$defs"]["AnthropicThinkProvider"])
    # but a property *named* description (a function's) survives
    assert "description" in SCHEMA["$defs"]["ThinkSettingsV1FunctionsItems"]["properties"]
    assert SCHEMA["required"] == ["type", "audio", "agent"]


def test_seed_example_needs_a_listen_version_to_validate() -> None:
    # The docs' Settings example (seed 003) matches both listen providers (V1
    # and V2) of the schema's oneOf; the export therefore writes version v1.
    seed = {
        "type": "Settings",
        "audio": {
            "input": {"encoding": "linear16", "sample_rate": 24000},
            "output": {"encoding": "linear16", "sample_rate": 24000, "container": "none"},
        },
        "agent": {
            "language": "en",
            "listen": {"provider": {"type": "deepgram", "model": "nova-3"}},
            "think": {"provider": {"type": "open_ai", "model": "gpt-4o-mini"}},
            "speak": {"provider": {"type": "deepgram", "model": "aura-2-thalia-en"}},
        },
    }
    assert len(schema_errors(seed)) == 1
    seed["agent"]["listen"]["provider"]["version"] = "v1"  # type: ignore[index]
    assert schema_errors(seed) == []


# -- exporting the example ----------------------------------------------------------------------


@pytest.mark.parametrize("name", PERSONAS)
def test_every_example_persona_exports_and_validates(example: Path, name: str) -> None:
    doc, _ = export([name], example)
    assert doc["type"] == "Settings"
    assert doc["audio"] == deepgram.DEFAULT_AUDIO
    assert doc["agent"]["listen"]["provider"]["model"] == "nova-3"


def test_support_cara_in_full(example: Path) -> None:
    doc, err = export(["support-cara"], example)
    r = run_cli(["render", "support-cara", "-o", "json"], example, TOKEN)
    prompt = json.loads(r.out)[0]["spec"]["prompt"]
    assert prompt.startswith("You are Cara, a tier-1 support agent for the Acme Router X2.")
    assert doc["agent"] == {
        "language": "en",
        "listen": {
            "provider": {"type": "deepgram", "version": "v1", "model": "nova-3", "language": "en"}
        },
        "think": {
            "provider": {"type": "open_ai", "model": "gpt-4o-mini", "temperature": 0.7},
            "prompt": prompt,
            "functions": [
                {
                    "name": "order-lookup",
                    "description": "Look up the status of a customer's order by its order number.",
                    "parameters": {
                        "type": "object",
                        "properties": {"order_number": {"type": "string"}},
                        "required": ["order_number"],
                    },
                    "endpoint": {
                        "url": "https://orders.sandbox.acme.example/v1/orders/lookup",
                        "method": "POST",
                        "headers": {
                            "Authorization": "Bearer <secret:ACME_ORDERS_TOKEN>",
                            "X-Source": "personactl",
                        },
                    },
                },
                {
                    "name": "show-product",
                    "description": "Show a product card in the customer's browser.",
                    "parameters": {
                        "type": "object",
                        "properties": {
                            "sku": {"type": "string", "description": "The product SKU, e.g. RTR-X2"}
                        },
                        "required": ["sku"],
                    },
                },
            ],
        },
        "speak": {
            "provider": {"type": "eleven_labs", "model_id": "eleven_turbo_v2_5", "language": "en"},
            "endpoint": {
                "url": "wss://api.elevenlabs.io/v1/text-to-speech/lcMyyd2HUfFzxdCaC4Ta/multi-stream-input",
                "headers": {"xi-api-key": "<ELEVENLABS_API_KEY>"},
            },
        },
        "greeting": "Hi, I'm Cara from Acme Networks. How can I help with your router today?",
    }
    assert err == [
        "warning: support-cara: tool 'order-lookup': config.bodyTemplate is not exported "
        "(Deepgram sends the function's arguments as the JSON request body); parameters "
        "derived from its placeholders (order_number)",
        "warning: support-cara: tool 'order-lookup': disableInterruptions not exported "
        "(no Deepgram equivalent)",
        "warning: support-cara: tool 'show-product': config.awaitResult not exported "
        "(no Deepgram equivalent)",
        "warning: support-cara: tool 'end-call' (SYSTEM, action end_call) is not exported: a "
        "Deepgram Voice Agent has no system actions",
        "warning: support-cara: tool 'search-manuals' (SERVER_RAG knowledge search) is not "
        "exported: a Deepgram Voice Agent has no knowledge base; expose a webhook function "
        "instead",
        "warning: support-cara: voice 'Lucy - Fresh & Casual' (ELEVENLABS eleven_flash_v2_5): "
        "Deepgram does not offer the ElevenLabs model 'eleven_flash_v2_5'; using "
        "eleven_turbo_v2_5",
        "warning: support-cara: agent.speak.endpoint.headers.xi-api-key is a placeholder: set "
        "it in targets.deepgram.agent.speak.endpoint.headers, e.g. to "
        '{{ secret("ELEVENLABS_API_KEY") }}',
        "warning: support-cara: voiceGeneration stability=0.5, similarityBoost=0.8, speed=1.05 "
        "not exported: no equivalent for Deepgram's eleven_labs speak provider",
        "warning: support-cara: voiceDetection endOfSpeechSensitivity=0.6, "
        "silenceBeforeSessionEndSeconds=300 not exported (no Deepgram equivalent)",
        "warning: support-cara: avatar, avatarModel, description not exported (no Deepgram "
        "equivalent)",
        "note: secret ACME_ORDERS_TOKEN is written as the placeholder "
        "<secret:ACME_ORDERS_TOKEN> (at agent.think.functions[0].endpoint.headers.Authorization); "
        "pass --reveal-secrets to write its value",
    ]


def test_cartesia_voice_and_french(example: Path) -> None:
    doc, err = export(["concierge-lea"], example)
    agent = doc["agent"]
    assert agent["language"] == "fr"
    assert agent["think"]["provider"] == {"type": "open_ai", "model": "gpt-4o", "temperature": 0.7}
    speak = agent["speak"]["provider"]
    assert speak["type"] == "cartesia"
    assert speak["model_id"] == "sonic-2"
    assert speak["voice"]["mode"] == "id"
    assert speak["language"] == "fr"
    assert speak["volume"] == 1.1  # voiceGeneration.volume has a Cartesia equivalent
    assert [f["name"] for f in agent["think"].get("functions", [])] == []
    assert (
        'warning: concierge-lea: voiceGeneration speed=1, emotion="calm" not exported: no '
        "equivalent for Deepgram's cartesia speak provider" in err
    )
    assert (
        "warning: concierge-lea: voice 'Léa - Française' (CARTESIA sonic-3): Deepgram does not "
        "offer the Cartesia model 'sonic-3'; using sonic-2" in err
    )


def test_unmappable_llm_and_voice_are_named(example: Path) -> None:
    doc, err = export(["onboarding-mia"], example)
    assert doc["agent"]["think"]["provider"] == deepgram.DEFAULT_THINK
    # voiceGeneration.speed has an equivalent on Deepgram's own voices; volume has none
    assert doc["agent"]["speak"] == {
        "provider": {"type": "deepgram", "model": "aura-2-thalia-en", "speed": 1.1}
    }
    assert err == [
        "warning: onboarding-mia: llm 'Llama 3.3 70B' (groq_openai llama-3.3-70b-versatile, "
        "temperature 0.7): Deepgram's groq provider does not offer 'llama-3.3-70b-versatile'; "
        "using open_ai gpt-4o-mini: set targets.deepgram.agent.think.provider to choose",
        "warning: onboarding-mia: tool 'show-product': config.awaitResult not exported (no "
        "Deepgram equivalent)",
        "warning: onboarding-mia: tool 'end-call' (SYSTEM, action end_call) is not exported: a "
        "Deepgram Voice Agent has no system actions",
        "warning: onboarding-mia: voice 'Fish Narrator' (FISH_AUDIO s1) has no Deepgram speak "
        "provider; using Deepgram aura-2-thalia-en: set targets.deepgram.agent.speak.provider to "
        "choose",
        "warning: onboarding-mia: voiceGeneration volume=1 not exported: no equivalent for "
        "Deepgram's deepgram speak provider",
        "warning: onboarding-mia: avatar, avatarModel, description not exported (no Deepgram "
        "equivalent)",
    ]
    # skipGreeting with no initialMessage: no greeting and nothing to warn about
    trainer, _ = export(["onboarding-trainer"], example)
    assert "greeting" not in trainer["agent"]
    assert "functions" not in trainer["agent"]["think"]


# -- secrets -------------------------------------------------------------------------------------


def test_secrets_are_placeholders_unless_revealed(example: Path, tmp_path: Path) -> None:
    hidden, _ = export(["support-cara"], example)  # no token in the environment at all
    headers = hidden["agent"]["think"]["functions"][0]["endpoint"]["headers"]
    assert headers["Authorization"] == "Bearer <secret:ACME_ORDERS_TOKEN>"

    shown, err = export(["support-cara", "--reveal-secrets"], example, TOKEN)
    headers = shown["agent"]["think"]["functions"][0]["endpoint"]["headers"]
    assert headers["Authorization"] == "Bearer tok-1234567890"
    assert err[-1] == "note: the output holds secret values (--reveal-secrets)"

    r = run_cli(["export", "support-cara", "--format", "deepgram", "--reveal-secrets"], example)
    assert r.code == 1
    assert r.out == ""
    assert "secret 'ACME_ORDERS_TOKEN' is not set" in r.err

    out = tmp_path / "settings.json"
    r = run_cli(
        ["export", "support-cara", "--format", "deepgram", "--reveal-secrets", "--out", str(out)],
        example,
        TOKEN,
    )
    assert r.code == 0, r.err
    assert r.out == ""
    assert r.err.splitlines()[-1] == f"wrote {out}"
    assert json.loads(out.read_text()) == shown
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


# -- overrides -------------------------------------------------------------------------------------

OVERRIDE = """targets:
  deepgram:
    tags: [acme, "{{ environment }}"]
    audio:
      input: {encoding: mulaw, sample_rate: 8000}
    agent:
      listen: {provider: {model: nova-2, language: null}}
      think:
        provider: {type: groq, model: openai/gpt-oss-20b}
      speak:
        endpoint:
          headers: {xi-api-key: '{{ secret("ELEVENLABS_API_KEY") }}'}
"""


def add_override(example: Path, block: str) -> Path:
    path = example / "personas" / "onboarding.yaml"
    first, sep, second = path.read_text().partition("\n---\n")
    assert sep
    path.write_text(first + "\n" + block + sep + second)
    return path


def test_override_is_deep_merged_rendered_and_settles_warnings(example: Path) -> None:
    support = example / "personas" / "support.yaml"
    support.write_text(support.read_text() + OVERRIDE)
    assert run_cli(["validate"], example).out == "10 files checked: no errors\n"
    doc, err = export(["support-cara"], example)
    assert doc["tags"] == ["acme", "sandbox"]  # a Jinja template, like spec strings
    assert doc["audio"] == {
        "input": {"encoding": "mulaw", "sample_rate": 8000},
        "output": {"encoding": "linear16", "sample_rate": 24000, "container": "none"},
    }
    assert doc["agent"]["listen"] == {
        "provider": {"type": "deepgram", "version": "v1", "model": "nova-2"}
    }  # null removed the language
    # merged into the derived provider: the LLM's temperature stays
    assert doc["agent"]["think"]["provider"] == {
        "type": "groq",
        "model": "openai/gpt-oss-20b",
        "temperature": 0.7,
    }
    assert doc["agent"]["think"]["functions"][0]["name"] == "order-lookup"
    assert doc["agent"]["speak"]["endpoint"]["headers"] == {
        "xi-api-key": "<secret:ELEVENLABS_API_KEY>"
    }
    assert not any("xi-api-key is a placeholder" in line for line in err)
    assert (
        "note: secret ELEVENLABS_API_KEY is written as the placeholder "
        "<secret:ELEVENLABS_API_KEY> (at agent.speak.endpoint.headers.xi-api-key); pass "
        "--reveal-secrets to write its value" in err
    )
    shown, _ = export(
        ["support-cara", "--reveal-secrets"], example, {**TOKEN, "ELEVENLABS_API_KEY": "el-key-9"}
    )
    assert shown["agent"]["speak"]["endpoint"]["headers"] == {"xi-api-key": "el-key-9"}


def test_override_that_breaks_the_schema_is_an_error(example: Path) -> None:
    add_override(
        example,
        "targets:\n  deepgram:\n    agent:\n      think:\n        provider: {model: gpt-9}\n",
    )
    r = run_cli(["export", "onboarding-mia", "--format", "deepgram"], example)
    assert r.code == 1
    assert r.out == ""
    assert r.err == (
        "error: the Deepgram Settings for Persona 'onboarding-mia' (after merging "
        "targets.deepgram at personas/onboarding.yaml:32:3) do not validate against Deepgram's "
        "schema: agent.think.provider.model: 'gpt-9' is not one of ['gpt-5', 'gpt-5-mini', "
        "'gpt-5-nano', 'gpt-4.1', 'gpt-4.1-mini', 'gpt-4.1-nano', 'gpt-4o', 'gpt-4o-mini']; "
        "fix targets.deepgram in the manifest\n"
    )


def test_override_settles_the_llm_warning(example: Path) -> None:
    add_override(
        example,
        "targets:\n  deepgram:\n    agent:\n      think:\n"
        "        provider: {type: google, model: gemini-2.5-flash}\n",
    )
    doc, err = export(["onboarding-mia"], example)
    assert doc["agent"]["think"]["provider"] == {"type": "google", "model": "gemini-2.5-flash"}
    assert not any("llm 'Llama 3.3 70B'" in line for line in err)
    assert len(err) == 5


def test_validate_checks_the_targets_block(example: Path) -> None:
    add_override(example, "targets:\n  dialogflow: {}\n  deepgram: []\n")
    r = run_cli(["validate"], example)
    assert r.code == 1
    assert r.out.splitlines() == [
        "personas/onboarding.yaml:32:3: targets: unknown field 'dialogflow' (allowed: deepgram)",
        "personas/onboarding.yaml:33:13: targets.deepgram: expected object, got []",
        "2 errors in 1 file",
    ]


def test_targets_templates_report_undefined_variables(example: Path) -> None:
    add_override(example, "targets:\n  deepgram:\n    tags: ['{{ nowhere }}']\n")
    r = run_cli(["validate"], example)
    assert r.code == 1
    assert "undefined variable 'nowhere' in the template for Persona 'onboarding-mia'" in r.out


# -- the mapping, function by function -------------------------------------------------------------


def test_think_provider_mapping() -> None:
    gemini = {
        "displayName": "Gemini 2.5 Flash",
        "llmFormat": "gemini",
        "modelName": "gemini-2.5-flash",
        "temperature": 0.2,
    }
    assert deepgram.think_provider(gemini) == (
        {"type": "google", "model": "gemini-2.5-flash", "temperature": 0.2},
        [],
    )
    azure = {"displayName": "Azure GPT-4o", "llmFormat": "azure_openai", "modelName": "gpt-4o"}
    assert deepgram.think_provider(azure) == (
        {"type": "open_ai", "model": "gpt-4o-mini"},
        [
            "llm 'Azure GPT-4o' (azure_openai gpt-4o): Deepgram has no think provider for the "
            "azure_openai format; using open_ai gpt-4o-mini: set "
            "targets.deepgram.agent.think.provider to choose"
        ],
    )
    provider, warnings = deepgram.think_provider("CUSTOMER_CLIENT_V1")
    assert provider == {"type": "open_ai", "model": "gpt-4o-mini"}
    assert warnings == [
        "llm CUSTOMER_CLIENT_V1 (the client drives the conversation) has no Deepgram think "
        "provider; using open_ai gpt-4o-mini: set targets.deepgram.agent.think.provider to choose"
    ]


def test_rag_and_get_webhook_tools() -> None:
    rag = deepgram.ToolSpec("kb", {"type": "SERVER_RAG", "description": "Search the docs."})
    assert deepgram.function_for_tool(rag) == (
        None,
        [
            "tool 'kb' (SERVER_RAG knowledge search) is not exported: a Deepgram Voice Agent has "
            "no knowledge base; expose a webhook function instead"
        ],
    )
    hook = deepgram.ToolSpec(
        "ping",
        {
            "type": "SERVER_WEBHOOK",
            "description": "Ping.",
            "config": {"url": "https://x.example/ping", "method": "GET"},
        },
    )
    assert deepgram.function_for_tool(hook) == (
        {
            "name": "ping",
            "description": "Ping.",
            "endpoint": {"url": "https://x.example/ping", "method": "GET"},
        },
        [],
    )


def test_a_tool_by_id_is_named_not_dropped() -> None:
    export_ = deepgram.settings_for(
        {"languageCode": "de", "skipGreeting": True},
        prompt=None,
        tools=[],
        unresolved_tools=['{"id": "7d1e0000-0000-4000-8000-000000000000"}'],
        voice=None,
        llm=None,
    )
    assert export_.warnings == [
        'tool {"id": "7d1e0000-0000-4000-8000-000000000000"} is not defined by a Tool manifest '
        "and is not exported: add it to targets.deepgram.agent.think.functions",
        "Deepgram Aura voices speak English and Spanish only, not 'de': set "
        "targets.deepgram.agent.speak.provider to choose",
    ]
    assert schema_errors(export_.settings) == []


def test_apply_overrides_is_a_merge_patch() -> None:
    base = {"a": {"b": 1, "c": [1, 2]}, "d": 2}
    assert deepgram.apply_overrides(base, {"a": {"c": [3], "e": None}, "d": None}) == {
        "a": {"b": 1, "c": [3]}
    }
    assert base == {"a": {"b": 1, "c": [1, 2]}, "d": 2}  # not modified


# -- the option --------------------------------------------------------------------------------


def test_target_still_works_with_a_deprecation_notice(example: Path) -> None:
    new = run_inprocess(["export", "support-cara", "--format", "deepgram"], example)
    old = run_inprocess(["export", "support-cara", "--target", "deepgram"], example)
    assert old.code == new.code == 0
    assert old.out == new.out
    assert old.err.splitlines() == [
        "warning: --target is deprecated for export: use --format deepgram",
        *new.err.splitlines(),
    ]


def test_format_is_required(example: Path) -> None:
    r = run_inprocess(["export", "support-cara"], example)
    assert (r.code, r.out) == (1, "")
    assert r.err.endswith("Error: Missing option '--format' (the only format is deepgram).\n")
