"""DESIGN.md §3, rule by rule, as a table: the diff of one existing resource.

Each row: the desired body, the live resource (request-body vocabulary, as
normalised from a GET), what the state says was applied and observed (None:
no state, two-way), the ignoreChanges paths; and what the diff must say:
field changes [path, before, after, reason], drift, the PUT body, notes, and
which paths are sensitive. Every call to the engine goes through
engine_adapter.
"""

from __future__ import annotations

from typing import Any

import engine_adapter as eng
import pytest

TOKEN_V1 = eng.secret("ORDERS_TOKEN", "token-one")
TOKEN_V2 = eng.secret("ORDERS_TOKEN", "token-two")
# What fetch makes of a live secret that matches neither the manifest nor the state.
UNKNOWN_SECRET = eng.secret("_", "set-in-the-lab")
PROMPT_SECRET = eng.secret("PROMPT_KEY", "pk-1")

GEN = {"speed": 1.05, "stability": 0.5}
DET = {"endOfSpeechSensitivity": 0.6, "speechEnhancementLevel": 2}
CARA: dict[str, Any] = {
    "name": "t-cara",
    "description": "Tier-1",
    "avatarId": "av-1",
    "avatarModel": "cara-3",
    "voiceId": "vo-1",
    "llmId": "llm-1",
    "systemPrompt": "You are Cara.",
    "skipGreeting": False,
    "voiceGenerationOptions": GEN,
    "voiceDetectionOptions": DET,
    "toolIds": ["tl-a", "tl-b"],
}
WRITE_ONLY = {"languageCode": "en", "initialMessage": "Hi!", "uninterruptibleGreeting": False}
HOOK: dict[str, Any] = {
    "name": "t-orders",
    "type": "SERVER_WEBHOOK",
    "description": "Look up an order.",
    "config": {
        "url": "https://orders.test/lookup",
        "method": "POST",
        "headers": {"Authorization": f"Bearer {TOKEN_V1}"},
    },
    "disableInterruptions": True,
}


def without(body: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in keys}


def cara(**changes: Any) -> dict[str, Any]:
    return {**CARA, **changes}


def hook(**changes: Any) -> dict[str, Any]:
    return {**HOOK, **changes}


# kind defaults to Persona; applied/observed None means no state (two-way); every
# expected key defaults to empty.
ROWS: list[dict[str, Any]] = [
    # -- three-way: live == observed, compare desired with applied ---------------------
    dict(id="three-way: nothing changed", desired=CARA, live=CARA, applied=CARA, observed=CARA),
    dict(
        id="three-way: a local edit is a change, before = live",
        desired=cara(description="Tier-2"),
        live=CARA,
        applied=CARA,
        observed=CARA,
        fields=[["description", "Tier-1", "Tier-2", "changed"]],
        body={"description": "Tier-2"},
    ),
    dict(
        id="three-way: a server that trims a prompt causes no perpetual diff",
        desired=cara(systemPrompt="You are Cara.\n"),
        live=CARA,
        applied=cara(systemPrompt="You are Cara.\n"),
        observed=CARA,
    ),
    dict(
        id="three-way: a server that rounds a number causes no perpetual diff",
        desired=cara(voiceGenerationOptions={"speed": 1.049, "stability": 0.5}),
        live=CARA,
        applied=cara(voiceGenerationOptions={"speed": 1.049, "stability": 0.5}),
        observed=CARA,
    ),
    dict(
        id="three-way: an edit of a normalised value is compared with what was applied",
        desired=cara(systemPrompt="You are Cara, v2.\n"),
        live=CARA,
        applied=cara(systemPrompt="You are Cara.\n"),
        observed=CARA,
        fields=[["prompt", "You are Cara.", "You are Cara, v2.\n", "changed"]],
        body={"systemPrompt": "You are Cara, v2.\n"},
    ),
    dict(
        # One equality rule for diff and read-back (core.equality): white space around a
        # text is no change, since a server that trims would undo it anyway.
        id="two-way: white space around a text is not a change",
        desired=cara(systemPrompt="You are Cara.\n"),
        live=CARA,
    ),
    dict(
        id="three-way: edited to exactly what live holds (the server's form): nothing sent",
        desired=cara(voiceGenerationOptions={"speed": 1.0499, "stability": 0.5}),
        live=cara(voiceGenerationOptions={"speed": 1.0499, "stability": 0.5}),
        applied=CARA,
        observed=cara(voiceGenerationOptions={"speed": 1.0499, "stability": 0.5}),
        settled={"voiceGenerationOptions": {"speed": 1.0499, "stability": 0.5}},
    ),
    dict(
        id="two-way: a text that differs inside is a change",
        desired=cara(systemPrompt="You are Cara!"),
        live=CARA,
        fields=[["prompt", "You are Cara.", "You are Cara!", "changed"]],
        body={"systemPrompt": "You are Cara!"},
    ),
    dict(
        id="two-way: 1 == 1.0, but a bool is not a number",
        desired=cara(voiceGenerationOptions={"speed": 1, "stability": 0.5}, skipGreeting=True),
        live=cara(voiceGenerationOptions={"speed": 1.0, "stability": 0.5}, skipGreeting=1),
        fields=[["skipGreeting", 1, True, "changed"]],
        body={"skipGreeting": True},
    ),
    # -- drift: live != observed, reported apart, desired compared with live -----------
    dict(
        id="drift: a value changed in the Lab is reported and restored",
        desired=CARA,
        live=cara(description="Edited in the Lab"),
        applied=CARA,
        observed=CARA,
        drift=[["description", "Tier-1", "Edited in the Lab", "drift"]],
        fields=[["description", "Edited in the Lab", "Tier-1", "drift"]],
        body={"description": "Tier-1"},
    ),
    dict(
        id="drift: a Lab edit that equals the manifest is reported, nothing is sent",
        desired=cara(description="Tier-2"),
        live=cara(description="Tier-2"),
        applied=CARA,
        observed=CARA,
        drift=[["description", "Tier-1", "Tier-2", "drift"]],
        # ... and apply records it, so it is reported once, not after every apply.
        settled={"description": "Tier-2"},
    ),
    dict(
        id="drift: a key of an options object the manifest does not set is not managed",
        desired=cara(voiceDetectionOptions={"endOfSpeechSensitivity": 0.6}),
        live=cara(voiceDetectionOptions={**DET, "speechEnhancementLevel": 9}),
        applied=cara(voiceDetectionOptions={"endOfSpeechSensitivity": 0.6}),
        observed=CARA,
    ),
    dict(
        id="drift: a nested key, reported by key, the object sent whole",
        desired=CARA,
        live=cara(voiceDetectionOptions={**DET, "endOfSpeechSensitivity": 0.85}),
        applied=CARA,
        observed=CARA,
        drift=[["voiceDetection.endOfSpeechSensitivity", 0.6, 0.85, "drift"]],
        fields=[["voiceDetection.endOfSpeechSensitivity", 0.85, 0.6, "drift"]],
        body={"voiceDetectionOptions": DET},
    ),
    dict(
        id="drift: a live value personactl never sent is not drift, only a change",
        desired=CARA,
        live=cara(description="Set before personactl"),
        applied=without(CARA, "description"),
        observed=without(CARA, "description"),
        fields=[["description", "Set before personactl", "Tier-1", "changed"]],
        body={"description": "Tier-1"},
    ),
    dict(
        id="drift: none when there is no state (two-way)",
        desired=CARA,
        live=cara(description="Edited in the Lab"),
        fields=[["description", "Edited in the Lab", "Tier-1", "changed"]],
        body={"description": "Tier-1"},
    ),
    # -- write-only fields: not in the response, compared with applied ----------------
    dict(
        id="write-only: as applied, nothing to send",
        desired={**CARA, **WRITE_ONLY},
        live=CARA,
        applied={**CARA, **WRITE_ONLY},
        observed=CARA,
    ),
    dict(
        id="write-only: an edit is compared with applied",
        desired={**CARA, **WRITE_ONLY, "languageCode": "fr"},
        live=CARA,
        applied={**CARA, **WRITE_ONLY},
        observed=CARA,
        fields=[["languageCode", "en", "fr", "changed"]],
        body={"languageCode": "fr"},
    ),
    dict(
        id="write-only: two-way, nothing says what is live, so it is sent",
        desired={**CARA, **WRITE_ONLY},
        live=CARA,
        fields=[
            ["languageCode", None, "en", "write-only"],
            ["initialMessage", None, "Hi!", "write-only"],
            ["uninterruptibleGreeting", None, False, "write-only"],
        ],
        body=WRITE_ONLY,
    ),
    dict(
        id="write-only: three-way but never applied, so it is sent",
        desired={**CARA, "initialMessage": "Hi!"},
        live=CARA,
        applied=CARA,
        observed=CARA,
        fields=[["initialMessage", None, "Hi!", "write-only"]],
        body={"initialMessage": "Hi!"},
    ),
    dict(
        id="write-only: a server that returns it is compared like any field",
        desired={**CARA, **WRITE_ONLY},
        live={**CARA, **WRITE_ONLY, "initialMessage": "Hello"},
        applied={**CARA, **WRITE_ONLY},
        observed={**CARA, **WRITE_ONLY},
        drift=[["initialMessage", "Hi!", "Hello", "drift"]],
        fields=[["initialMessage", "Hello", "Hi!", "drift"]],
        body={"initialMessage": "Hi!"},
    ),
    # -- a field removed from the manifest after it was applied -----------------------
    dict(
        id="reset: description back to its documented default",
        desired=without(CARA, "description"),
        live=CARA,
        applied=CARA,
        observed=CARA,
        fields=[["description", "Tier-1", "", "reset"]],
        body={"description": ""},
    ),
    dict(
        id="reset: a write-only field to null, before = what was applied",
        desired=CARA,
        live=CARA,
        applied={**CARA, "initialMessage": "Hi!"},
        observed=CARA,
        fields=[["initialMessage", "Hi!", None, "reset"]],
        body={"initialMessage": None},
    ),
    dict(
        id="reset: tools to the empty set",
        desired=without(CARA, "toolIds"),
        live=CARA,
        applied=CARA,
        observed=CARA,
        fields=[["tools", ["tl-a", "tl-b"], [], "reset"]],
        body={"toolIds": []},
    ),
    dict(
        id="reset: nothing to send when live already has the default",
        desired=without(CARA, "skipGreeting"),
        live=CARA,
        applied=cara(skipGreeting=True),
        observed=cara(skipGreeting=True),
    ),
    dict(
        id="reset: never for a field personactl never applied",
        desired=without(CARA, "description"),
        live=CARA,
        applied=without(CARA, "description"),
        observed=without(CARA, "description"),
    ),
    dict(
        id="unmanaged: a field with neither null nor a default is left as it is",
        desired=without(CARA, "voiceGenerationOptions"),
        live=CARA,
        applied=CARA,
        observed=CARA,
        notes=[
            "voiceGeneration was removed from the manifest; its live value is left as it is "
            "(no longer managed)"
        ],
    ),
    dict(
        id="reset: a tool's disableInterruptions back to false",
        kind="Tool",
        desired=without(HOOK, "disableInterruptions"),
        live=HOOK,
        applied=HOOK,
        observed=HOOK,
        fields=[["disableInterruptions", True, False, "reset"]],
        body={"disableInterruptions": False},
    ),
    dict(
        id="unmanaged: a tool's config",
        kind="Tool",
        desired=without(HOOK, "config"),
        live=HOOK,
        applied=HOOK,
        observed=HOOK,
        notes=[
            "config was removed from the manifest; its live value is left as it is "
            "(no longer managed)"
        ],
    ),
    # -- companions: a change that makes the API reset another field -------------------
    dict(
        id="companion: a voice change re-sends voiceGenerationOptions",
        desired=cara(voiceId="vo-2"),
        live=CARA,
        applied=CARA,
        observed=CARA,
        fields=[["voice", "vo-1", "vo-2", "changed"], ["voiceGeneration", GEN, GEN, "resent"]],
        body={"voiceId": "vo-2", "voiceGenerationOptions": GEN},
        notes=["voiceGeneration is re-sent because a voice change resets it"],
    ),
    dict(
        id="companion: an avatar change re-sends avatarModel",
        desired=cara(avatarId="av-2"),
        live=CARA,
        applied=CARA,
        observed=CARA,
        fields=[
            ["avatar", "av-1", "av-2", "changed"],
            ["avatarModel", "cara-3", "cara-3", "resent"],
        ],
        body={"avatarId": "av-2", "avatarModel": "cara-3"},
        notes=["avatarModel is re-sent because an avatar change resets it"],
    ),
    dict(
        id="companion: already changed, sent once and not marked re-sent",
        desired=cara(voiceId="vo-2", voiceGenerationOptions={"speed": 1.2, "stability": 0.5}),
        live=CARA,
        applied=CARA,
        observed=CARA,
        fields=[
            ["voice", "vo-1", "vo-2", "changed"],
            ["voiceGeneration.speed", 1.05, 1.2, "changed"],
        ],
        body={"voiceId": "vo-2", "voiceGenerationOptions": {"speed": 1.2, "stability": 0.5}},
    ),
    dict(
        id="companion: none to re-send when the manifest does not set it",
        desired=without(cara(voiceId="vo-2"), "voiceGenerationOptions"),
        live=CARA,
        fields=[["voice", "vo-1", "vo-2", "changed"]],
        body={"voiceId": "vo-2"},
    ),
    # -- sets ------------------------------------------------------------------------
    dict(
        id="set: tools returned in another order are no change",
        desired=CARA,
        live_response=eng.to_response("Persona", cara(toolIds=["tl-b", "tl-a"]), "p-1"),
        applied=CARA,
        observed=CARA,
    ),
    dict(
        id="set: the whole set is sent when one tool is added",
        desired=cara(toolIds=["tl-a", "tl-b", "tl-c"]),
        live=CARA,
        applied=CARA,
        observed=CARA,
        fields=[["tools", ["tl-a", "tl-b"], ["tl-a", "tl-b", "tl-c"], "changed"]],
        body={"toolIds": ["tl-a", "tl-b", "tl-c"]},
    ),
    dict(
        id="set: the whole set is sent when one tool is removed",
        desired=cara(toolIds=["tl-b"]),
        live=CARA,
        applied=CARA,
        observed=CARA,
        fields=[["tools", ["tl-a", "tl-b"], ["tl-b"], "changed"]],
        body={"toolIds": ["tl-b"]},
    ),
    dict(
        id="set: the diff itself compares tools as a set (not only after the resolver sorts)",
        desired=cara(toolIds=["tl-b", "tl-a"]),
        live=CARA,
        applied=CARA,
        observed=CARA,
    ),
    # -- nested option objects --------------------------------------------------------
    dict(
        id="nested: one key changed, the object is sent whole",
        desired=cara(voiceGenerationOptions={"speed": 1.2, "stability": 0.5}),
        live=CARA,
        applied=CARA,
        observed=CARA,
        fields=[["voiceGeneration.speed", 1.05, 1.2, "changed"]],
        body={"voiceGenerationOptions": {"speed": 1.2, "stability": 0.5}},
    ),
    dict(
        id="nested: a key dropped from the manifest is sent as the whole object without it",
        desired=cara(voiceGenerationOptions={"speed": 1.05}),
        live=CARA,
        applied=CARA,
        observed=CARA,
        fields=[["voiceGeneration.stability", 0.5, None, "changed"]],
        body={"voiceGenerationOptions": {"speed": 1.05}},
    ),
    dict(
        id="nested: two-way, keys the server adds are covered, no change",
        desired=cara(voiceGenerationOptions={"speed": 1.05}),
        live=CARA,
    ),
    dict(
        id="nested: two-way, a key the manifest sets differs",
        desired=cara(voiceGenerationOptions={"speed": 0.9}),
        live=CARA,
        fields=[
            ["voiceGeneration.speed", 1.05, 0.9, "changed"],
            ["voiceGeneration.stability", 0.5, None, "changed"],
        ],
        body={"voiceGenerationOptions": {"speed": 0.9}},
    ),
    dict(
        id="nested: three-way, keys the server added on write are no change",
        desired=cara(voiceGenerationOptions={"speed": 1.05}),
        live=CARA,
        applied=cara(voiceGenerationOptions={"speed": 1.05}),
        observed=CARA,
    ),
    # -- lifecycle.ignoreChanges ------------------------------------------------------
    dict(
        id="ignore: a whole field, neither drift nor change",
        desired=cara(description="Tier-2"),
        live=cara(description="Edited in the Lab"),
        applied=CARA,
        observed=CARA,
        ignore=["description"],
    ),
    dict(
        id="ignore: a nested key changed in the Lab is not drift",
        desired=CARA,
        live=cara(voiceDetectionOptions={**DET, "speechEnhancementLevel": 3}),
        applied=CARA,
        observed=CARA,
        ignore=["voiceDetection.speechEnhancementLevel"],
    ),
    dict(
        id="ignore: a nested key keeps its live value in the object sent whole",
        desired=cara(voiceDetectionOptions={**DET, "endOfSpeechSensitivity": 0.7}),
        live=cara(voiceDetectionOptions={**DET, "speechEnhancementLevel": 3}),
        applied=CARA,
        observed=CARA,
        ignore=["voiceDetection.speechEnhancementLevel"],
        fields=[["voiceDetection.endOfSpeechSensitivity", 0.6, 0.7, "changed"]],
        body={
            "voiceDetectionOptions": {"endOfSpeechSensitivity": 0.7, "speechEnhancementLevel": 3}
        },
    ),
    dict(
        id="ignore: a whole field is not reset when removed",
        desired=without(CARA, "description"),
        live=CARA,
        applied=CARA,
        observed=CARA,
        ignore=["description"],
    ),
    dict(
        id="ignore: a nested key keeps its live value when a voice change re-sends the object",
        desired=cara(voiceId="vo-2"),
        live=cara(voiceGenerationOptions={"speed": 1.05, "stability": 0.3}),
        applied=CARA,
        observed=CARA,
        ignore=["voiceGeneration.stability"],
        fields=[
            ["voice", "vo-1", "vo-2", "changed"],
            [
                "voiceGeneration",
                {"speed": 1.05, "stability": 0.3},
                {"speed": 1.05, "stability": 0.3},
                "resent",
            ],
        ],
        body={"voiceId": "vo-2", "voiceGenerationOptions": {"speed": 1.05, "stability": 0.3}},
        notes=["voiceGeneration is re-sent because a voice change resets it"],
    ),
    # -- identity: a rename is a change of `name` --------------------------------------
    dict(
        id="name: a new prefix renames (name is in the PUT schema)",
        desired=cara(name="prod-cara"),
        live=CARA,
        applied=CARA,
        observed=CARA,
        fields=[["name", "t-cara", "prod-cara", "changed"]],
        body={"name": "prod-cara"},
    ),
    # -- secrets: sentinels only, and every field holding one is sensitive -------------
    dict(
        id="secret: a rotated secret is a change, not drift, and sensitive",
        kind="Tool",
        desired=hook(config={**HOOK["config"], "headers": {"Authorization": f"Bearer {TOKEN_V2}"}}),
        live=HOOK,
        applied=HOOK,
        observed=HOOK,
        fields=[
            [
                "config.headers.Authorization",
                f"Bearer {TOKEN_V1}",
                f"Bearer {TOKEN_V2}",
                "changed",
            ]
        ],
        body={"config": {**HOOK["config"], "headers": {"Authorization": f"Bearer {TOKEN_V2}"}}},
        sensitive=["config.headers.Authorization"],
    ),
    dict(
        id="secret: a header set in the Lab is drift, restored, sensitive both ways",
        kind="Tool",
        desired=HOOK,
        live=hook(config={**HOOK["config"], "headers": {"Authorization": UNKNOWN_SECRET}}),
        applied=HOOK,
        observed=HOOK,
        drift=[
            ["config.headers.Authorization", f"Bearer {TOKEN_V1}", UNKNOWN_SECRET, "drift"],
        ],
        fields=[
            ["config.headers.Authorization", UNKNOWN_SECRET, f"Bearer {TOKEN_V1}", "drift"],
        ],
        body={"config": HOOK["config"]},
        sensitive=["config.headers.Authorization", "config.headers.Authorization"],
    ),
    dict(
        id="secret: a prompt holding one is sensitive",
        desired=cara(systemPrompt=f"Use key {PROMPT_SECRET}."),
        live=CARA,
        applied=CARA,
        observed=CARA,
        fields=[["prompt", "You are Cara.", f"Use key {PROMPT_SECRET}.", "changed"]],
        body={"systemPrompt": f"Use key {PROMPT_SECRET}."},
        sensitive=["prompt"],
    ),
    dict(
        id="secret: a field holding one that is reset stays sensitive",
        desired=without(CARA, "description"),
        live=cara(description=f"Key {PROMPT_SECRET}"),
        applied=cara(description=f"Key {PROMPT_SECRET}"),
        observed=cara(description=f"Key {PROMPT_SECRET}"),
        fields=[["description", f"Key {PROMPT_SECRET}", "", "reset"]],
        body={"description": ""},
        sensitive=["description"],
    ),
]


def _param(row: dict[str, Any]) -> Any:
    marks = [pytest.mark.xfail(strict=True, reason=row["xfail"])] if "xfail" in row else []
    return pytest.param(row, id=row["id"], marks=marks)


def _run(row: dict[str, Any]) -> dict[str, Any]:
    kind = row.get("kind", "Persona")
    live = row.get("live")
    if "live_response" in row:
        live = eng.normalize(kind, row["live_response"])
    return eng.diff(
        kind, row["desired"], live, row.get("applied"), row.get("observed"), row.get("ignore", ())
    )


@pytest.mark.parametrize("row", [_param(r) for r in ROWS])
def test_diff_rule(row: dict[str, Any]) -> None:
    got = _run(row)
    assert got["drift"] == row.get("drift", [])
    assert got["fields"] == row.get("fields", [])
    assert got["body"] == row.get("body", {})
    assert got["notes"] == row.get("notes", [])
    assert got["sensitive"] == row.get("sensitive", [])
    assert got["settled"] == row.get("settled", {})


@pytest.mark.parametrize("row", [pytest.param(r, id=r["id"]) for r in ROWS])
def test_the_put_body_holds_only_keys_of_the_put_schema(row: dict[str, Any]) -> None:
    kind = row.get("kind", "Persona")
    assert set(_run(row)["body"]) <= eng.put_keys(kind)


def test_every_row_id_is_unique() -> None:
    ids = [r["id"] for r in ROWS]
    assert len(ids) == len(set(ids))
