"""The three views of a Plan (text, JSON, Markdown) against golden files.

Run with UPDATE_GOLDEN=1 to rewrite tests/golden/ after an intended change, then
read the diff: the goldens are what users see.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from personactl.core.secrets import SENSITIVE, sentinel
from personactl.engine import plan as p
from personactl.output.plan_json import render_json
from personactl.output.plan_markdown import render_markdown
from personactl.output.plan_text import render_text, render_warnings

REPO = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "golden"
SCHEMA = json.loads((REPO / "schemas" / "plan.schema.json").read_text(encoding="utf-8"))

Render = Callable[..., str]
VIEWS: dict[str, Render] = {"txt": render_text, "json": render_json, "md": render_markdown}

# Secret values that must never appear in any view.
SECRET_NEW = "s3cr3t-value"
SECRET_OLD = "old-s3cr3t-value"
SECRET_LIVE = "live-plain-secret"  # a live API returns header values in clear
SECRETS = (SECRET_NEW, SECRET_OLD, SECRET_LIVE)

LINEAGE = "3f2b8c1e-golden-lineage"
CARA_ID = "5f0c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b"
CONCIERGE_ID = "8e7d6c5b-4a39-4281-9f0e-1d2c3b4a5968"
LEO_ID = "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d"
ORDERS_ID = "0b5e7c1d-2f3a-4b6c-9d8e-7f6a5b4c3d2e"
LEGACY_ID = "c0ffee00-1111-4222-8333-444455556666"
ENDCALL_ID = "e1d2c3b4-a596-4788-9a0b-1c2d3e4f5a6b"
CRM_ID = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
LUCY = {"id": "de23e340-1416-4dd8-977d-065a7ca11697", "name": "Lucy - Fresh & Casual"}
CARA_WARM = {"id": "6bfbe25a-979d-40f3-a92b-5394170af54b", "name": "Cara - Warm"}
LIV_HOME = {"id": "071b0286-4cce-4808-bee2-e642f1062de3", "name": "Liv", "variant": "home"}
MIA_DESK = {"id": "3d4e5f60-7182-4394-a5b6-c7d8e9f0a1b2", "name": "Mia", "variant": "desk"}
GPT4O_MINI = {"id": "0934d97d-0c3a-4f33-91b0-5e136a0ef466", "name": "GPT-4o mini"}

PROMPT_BEFORE = """\
You are Cara, a tier-1 support agent for the Acme Router X2.

Acme Networks makes home and small-office routers.
Our support hours are 8:00-20:00 CET, Monday to Saturday.

Speak in short sentences. Never read out URLs.
Confirm what the customer said before you act on it.

## What you can do
- Look up an order with the order-lookup tool when the customer gives an order number.
- Show a product card with show-product when the customer asks about a product.

## Escalation
Hand over to the tier-2 team when the router does not boot.
Stay calm and friendly even when the customer is upset."""

PROMPT_AFTER = PROMPT_BEFORE.replace(
    "- Show a product card with show-product when the customer asks about a product.",
    "- Show a product card with show-product when the customer asks about a product.\n"
    "- End the call with end-call once the customer is done.",
).replace("the tier-2 team", "the tier-2 team (escalations@acme.example)")

CONCIERGE_PROMPT = """\
Tu es Camille, concierge d'Acme à Paris.
Réponds en français, avec des phrases courtes.
Propose toujours un rendez-vous en boutique."""

CONCIERGE_PROMPT_LIVE = """\
Tu es Camille, concierge d'Acme à Paris.
Réponds en français, avec des phrases courtes.
Propose toujours un rendez-vous en boutique.
Offre un bon de réduction de 50 %."""

ONBOARDING_PROMPT = """\
You are Max, who helps new Acme customers set up their router.

Walk the customer through these steps, one at a time:
1. Plug the router into the wall socket and wait for the light to turn blue.
2. Connect the grey cable from the modem to the WAN port.
3. Open the Acme app and scan the QR code on the router's base.
4. Choose a Wi-Fi name and a password of at least 12 characters.
5. Wait for the update to finish before unplugging anything.

Ask after each step whether it worked."""

VOICE_GEN = {"stability": 0.5, "similarityBoost": 0.8, "speed": 1.05}


def fc(path: str, before: Any, after: Any, reason: str, sensitive: bool = False) -> p.FieldChange:
    return p.FieldChange(path=path, before=before, after=after, reason=reason, sensitive=sensitive)


def plan_update() -> p.Plan:
    """Three-way, sandbox, with --prune: every kind of field change and resource action."""
    token_old = sentinel("ACME_TOKEN", SECRET_OLD, LINEAGE)
    token_new = sentinel("ACME_TOKEN", SECRET_NEW, LINEAGE)
    orders = p.ResourceChange(
        kind="Tool",
        name="order-lookup",
        anam_name="dev-order-lookup",
        action="update",
        id=ORDERS_ID,
        fields=[
            fc(
                "config.headers.Authorization",
                f"Bearer {token_old}",
                f"Bearer {token_new}",
                p.Reason.CHANGED,
                sensitive=True,
            ),
        ],
        request=p.Request(
            "PUT",
            f"/v1/tools/{ORDERS_ID}",
            {
                "config": {
                    "url": "https://orders.acme.example/v1/orders/lookup",
                    "method": "POST",
                    "headers": {"Authorization": f"Bearer {token_new}", "X-Source": "personactl"},
                }
            },
        ),
        fingerprint=p.Fingerprint("2025-05-02T09:12:44Z", "3f9a1c0d2b7e"),
        source="tools/orders.yaml:4:9",
        desired={"type": "SERVER_WEBHOOK", "config": {"headers": {"Authorization": token_new}}},
    )
    cara = p.ResourceChange(
        kind="Persona",
        name="support-cara",
        anam_name="dev-support-cara",
        action="update",
        id=CARA_ID,
        fields=[
            fc("voice", LUCY, CARA_WARM, p.Reason.CHANGED),
            fc("voiceGeneration", VOICE_GEN, VOICE_GEN, p.Reason.RESENT),
            fc("voiceDetection.endOfSpeechSensitivity", 0.8, 0.6, p.Reason.DRIFT),
            fc("skipGreeting", True, False, p.Reason.RESET),
            fc(
                "initialMessage",
                "Hi, I'm Cara from Acme.",
                "Hi, I'm Cara from Acme. How can I help with your router today?",
                p.Reason.WRITE_ONLY,
            ),
            fc("prompt", PROMPT_BEFORE, PROMPT_AFTER, p.Reason.CHANGED),
            fc(
                "tools",
                ["order-lookup", "show-product"],
                ["order-lookup", "show-product", "end-call"],
                p.Reason.CHANGED,
            ),
        ],
        drift=[fc("voiceDetection.endOfSpeechSensitivity", 0.6, 0.8, p.Reason.DRIFT)],
        request=p.Request(
            "PUT",
            f"/v1/personas/{CARA_ID}",
            {
                "voiceId": CARA_WARM["id"],
                "voiceGenerationOptions": VOICE_GEN,
                "voiceDetectionOptions": {
                    "endOfSpeechSensitivity": 0.6,
                    "silenceBeforeSessionEndSeconds": 300,
                },
                "skipGreeting": False,
                "initialMessage": "Hi, I'm Cara from Acme. How can I help with your router today?",
                "systemPrompt": PROMPT_AFTER,
                "toolIds": [ORDERS_ID, "7c6b5a49-3827-4165-9f4e-3d2c1b0a9f8e", ENDCALL_ID],
            },
        ),
        fingerprint=p.Fingerprint("2025-05-03T14:01:09Z", "a41c9e2f7b30"),
        source="personas/support.yaml:4:9",
        notes=["voiceDetection.speechEnhancementLevel is ignored (lifecycle.ignoreChanges)"],
        prevent_destroy=True,
    )
    concierge = p.ResourceChange(
        kind="Persona",
        name="concierge-fr",
        anam_name="dev-concierge-fr",
        action="update",
        id=CONCIERGE_ID,
        fields=[fc("prompt", CONCIERGE_PROMPT_LIVE, CONCIERGE_PROMPT, p.Reason.DRIFT)],
        drift=[fc("prompt", CONCIERGE_PROMPT, CONCIERGE_PROMPT_LIVE, p.Reason.DRIFT)],
        request=p.Request(
            "PUT", f"/v1/personas/{CONCIERGE_ID}", {"systemPrompt": CONCIERGE_PROMPT}
        ),
        fingerprint=p.Fingerprint("2025-05-04T08:30:00Z", "77e0b1d2c3f4"),
        source="personas/concierge-fr.yaml:4:9",
    )
    onboarding = p.ResourceChange(
        kind="Persona",
        name="onboarding-max",
        anam_name="dev-onboarding-max",
        action="create",
        fields=[
            fc("avatar", None, MIA_DESK, p.Reason.CREATE),
            fc("avatarModel", None, "cara-3", p.Reason.CREATE),
            fc("voice", None, LUCY, p.Reason.CREATE),
            fc("llm", None, GPT4O_MINI, p.Reason.CREATE),
            fc("languageCode", None, "en", p.Reason.CREATE),
            fc("prompt", None, ONBOARDING_PROMPT, p.Reason.CREATE),
            fc("voiceGeneration", None, {"stability": 0.6, "speed": 1.0}, p.Reason.CREATE),
            fc("tools", None, ["end-call"], p.Reason.CREATE),
        ],
        request=p.Request(
            "POST",
            "/v1/personas",
            {
                "name": "dev-onboarding-max",
                "avatarId": MIA_DESK["id"],
                "avatarModel": "cara-3",
                "voiceId": LUCY["id"],
                "llmId": GPT4O_MINI["id"],
                "languageCode": "en",
                "systemPrompt": ONBOARDING_PROMPT,
                "voiceGenerationOptions": {"stability": 0.6, "speed": 1.0},
                "toolIds": [ENDCALL_ID],
            },
        ),
        source="personas/onboarding.yaml:4:9",
    )
    legacy = p.ResourceChange(
        kind="Tool",
        name="legacy-faq",
        anam_name="dev-legacy-faq",
        action="delete",
        id=LEGACY_ID,
        fields=[
            fc("type", "CLIENT", None, p.Reason.DELETE),
            fc("description", "Open the FAQ page in the widget.", None, p.Reason.DELETE),
        ],
        request=p.Request("DELETE", f"/v1/tools/{LEGACY_ID}"),
        fingerprint=p.Fingerprint("2025-04-01T10:00:00Z", "0d0e0a0d0b0e"),
        notes=["in the state file but in no manifest; deleted because of --prune"],
    )
    leo = p.ResourceChange(
        kind="Persona",
        name="onboarding-leo",
        anam_name="dev-onboarding-leo",
        action="no-op",
        id=LEO_ID,
        drift=[fc("voiceDetection.speechEnhancementLevel", 0.5, 0.9, p.Reason.DRIFT)],
        fingerprint=p.Fingerprint("2025-05-01T12:00:00Z", "5e5e5e5e5e5e"),
        source="personas/onboarding.yaml:30:9",
        notes=["voiceDetection.speechEnhancementLevel is ignored (lifecycle.ignoreChanges)"],
    )
    endcall = p.ResourceChange(
        kind="Tool",
        name="end-call",
        anam_name="dev-end-call",
        action="no-op",
        id=ENDCALL_ID,
        fingerprint=p.Fingerprint("2025-04-20T07:45:00Z", "1a1a1a1a1a1a"),
        source="tools/system.yaml:4:9",
    )
    return p.Plan(
        environment="sandbox",
        backend="sandbox",
        api_url="sandbox://",
        three_way=True,
        state_path=".personactl/sandbox.json",
        changes=[orders, cara, concierge, onboarding, legacy, leo, endcall],
        prune=True,
        forget=[{"kind": "Tool", "name": "old-faq"}],
        warnings=[
            'Persona "support-cara": voice "Cara - Warm" is an ElevenLabs V1 voice; '
            "the API resets voiceGeneration when the voice changes, so it is re-sent."
        ],
    )


def plan_create_twoway() -> p.Plan:
    """Production, no state file yet: creates, an adopted persona, and a live secret in clear."""
    token = sentinel("ACME_TOKEN", SECRET_NEW, LINEAGE)
    orders = p.ResourceChange(
        kind="Tool",
        name="order-lookup",
        anam_name="order-lookup",
        action="create",
        fields=[
            fc("type", None, "SERVER_WEBHOOK", p.Reason.CREATE),
            fc(
                "description",
                None,
                "Look up the status of a customer's order by its order number.",
                p.Reason.CREATE,
            ),
            fc(
                "config",
                None,
                {
                    "url": "https://orders.acme.example/v1/orders/lookup",
                    "method": "POST",
                    "headers": {"Authorization": f"Bearer {token}", "X-Source": "personactl"},
                },
                p.Reason.CREATE,
            ),
            fc("disableInterruptions", None, True, p.Reason.CREATE),
        ],
        request=p.Request(
            "POST",
            "/v1/tools",
            {
                "name": "order-lookup",
                "type": "SERVER_WEBHOOK",
                "config": {"headers": {"Authorization": f"Bearer {token}"}},
            },
        ),
        source="tools/orders.yaml:4:9",
    )
    # The planner forgot `sensitive` here: the sentinel alone must hide both sides.
    crm = p.ResourceChange(
        kind="Tool",
        name="crm-sync",
        anam_name="crm-sync",
        action="update",
        id=CRM_ID,
        fields=[
            fc(
                "config.headers.Authorization",
                f"Bearer {SECRET_LIVE}",
                f"Bearer {token}",
                p.Reason.CHANGED,
            ),
            fc(
                "config.url",
                "https://crm.acme.example/hook",
                "https://crm.acme.example/v2/hook",
                p.Reason.CHANGED,
            ),
        ],
        request=p.Request(
            "PUT",
            f"/v1/tools/{CRM_ID}",
            {
                "config": {
                    "url": "https://crm.acme.example/v2/hook",
                    "headers": {"Authorization": f"Bearer {token}"},
                }
            },
        ),
        fingerprint=p.Fingerprint(None, "9c9c9c9c9c9c"),
        source="tools/crm.yaml:4:9",
    )
    cara = p.ResourceChange(
        kind="Persona",
        name="support-cara",
        anam_name="support-cara",
        action="create",
        fields=[
            fc("avatar", None, LIV_HOME, p.Reason.CREATE),
            fc("voice", None, LUCY, p.Reason.CREATE),
            fc("llm", None, {"id": "CUSTOMER_CLIENT_V1"}, p.Reason.CREATE),
            fc("prompt", None, PROMPT_AFTER, p.Reason.CREATE),
            fc("tools", None, [{"name": "order-lookup"}, {"id": ENDCALL_ID}], p.Reason.CREATE),
        ],
        request=p.Request("POST", "/v1/personas", {"name": "support-cara"}),
        source="personas/support.yaml:4:9",
    )
    concierge = p.ResourceChange(
        kind="Persona",
        name="concierge-fr",
        anam_name="concierge-fr",
        action="update",
        id=CONCIERGE_ID,
        fields=[
            fc("voiceGeneration.speed", 1.05, 0.95, p.Reason.CHANGED),
            fc("languageCode", None, "fr", p.Reason.WRITE_ONLY),
        ],
        request=p.Request(
            "PUT",
            f"/v1/personas/{CONCIERGE_ID}",
            {
                "voiceGenerationOptions": {"stability": 0.5, "speed": 0.95},
                "languageCode": "fr",
            },
        ),
        fingerprint=p.Fingerprint("2025-05-04T08:30:00Z", "77e0b1d2c3f4"),
        source="personas/concierge-fr.yaml:4:9",
        notes=["matched by name: no state file and no metadata.id"],
    )
    return p.Plan(
        environment="production",
        backend="anam",
        api_url="https://api.anam.ai",
        three_way=False,
        state_path=".personactl/production.json",
        changes=[orders, crm, cara, concierge],
        warnings=[
            "Without a state file, fields removed from the manifests are not reset "
            "and write-only fields are always sent."
        ],
    )


def plan_nochange() -> p.Plan:
    def noop(kind: str, name: str, ident: str) -> p.ResourceChange:
        return p.ResourceChange(
            kind=kind,
            name=name,
            anam_name=f"dev-{name}",
            action="no-op",
            id=ident,
            fingerprint=p.Fingerprint("2025-05-01T12:00:00Z", "5e5e5e5e5e5e"),
        )

    return p.Plan(
        environment="sandbox",
        backend="sandbox",
        api_url="sandbox://",
        three_way=True,
        state_path=".personactl/sandbox.json",
        changes=[
            noop("Tool", "order-lookup", ORDERS_ID),
            noop("Tool", "end-call", ENDCALL_ID),
            noop("Persona", "support-cara", CARA_ID),
        ],
    )


CASES: dict[str, Callable[[], p.Plan]] = {
    "update": plan_update,
    "create_twoway": plan_create_twoway,
    "nochange": plan_nochange,
}

# (golden file, case, view, show_requests)
GOLDENS = [(f"plan_{case}.{view}", case, view, False) for case in CASES for view in VIEWS] + [
    ("plan_update_requests.txt", "update", "txt", True),
    ("plan_update_requests.md", "update", "md", True),
]


@pytest.mark.parametrize(
    ("golden", "case", "view", "requests"), GOLDENS, ids=[g[0] for g in GOLDENS]
)
def test_golden(golden: str, case: str, view: str, requests: bool) -> None:
    got = VIEWS[view](CASES[case](), show_requests=requests)
    path = GOLDEN / golden
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(got, encoding="utf-8")
    assert path.exists(), f"{path} is missing: run with UPDATE_GOLDEN=1"
    assert got == path.read_text(encoding="utf-8")


def _all_outputs() -> list[tuple[str, str]]:
    out = []
    for case, make in CASES.items():
        for view, render in VIEWS.items():
            for color in (False, True):
                for requests in (False, True):
                    label = f"{case}.{view} color={color} requests={requests}"
                    out.append((label, render(make(), color=color, show_requests=requests)))
    return out


def test_no_secret_value_and_no_sentinel_in_any_view() -> None:
    outputs = _all_outputs()
    assert len(outputs) == len(CASES) * len(VIEWS) * 4
    for label, text in outputs:
        for secret in SECRETS:
            assert secret not in text, (label, secret)
        assert "⟦" not in text and "secret:ACME_TOKEN" not in text, label
        if not label.startswith("nochange"):
            # Masked, not silently dropped.
            assert SENSITIVE in text, label


def test_secret_fields_are_hidden_on_both_sides() -> None:
    # crm-sync's before is the live header in clear, with no sentinel and no flag.
    text = render_text(plan_create_twoway())
    assert "~ config.headers.Authorization: (sensitive) → (sensitive)" in text
    data = json.loads(render_json(plan_create_twoway()))
    crm = next(c for c in data["changes"] if c["name"] == "crm-sync")
    auth = crm["fields"][0]
    assert auth == {
        "path": "config.headers.Authorization",
        "before": SENSITIVE,
        "after": SENSITIVE,
        "reason": "changed",
        "sensitive": True,
    }
    assert crm["fields"][1]["after"] == "https://crm.acme.example/v2/hook"  # others untouched
    assert crm["request"]["body"]["config"]["headers"]["Authorization"] == SENSITIVE
    assert crm["request"]["body"]["config"]["url"] == "https://crm.acme.example/v2/hook"


ANSI = re.compile(r"\x1b\[[0-9;]*m")


@pytest.mark.parametrize("case", CASES)
def test_colour_only_when_asked(case: str) -> None:
    for render in VIEWS.values():
        for requests in (False, True):
            assert "\x1b" not in render(CASES[case](), show_requests=requests)
    plain = render_text(CASES[case](), show_requests=True)
    coloured = render_text(CASES[case](), color=True, show_requests=True)
    assert "\x1b[" in coloured
    # Colour decorates and never changes the words.
    assert ANSI.sub("", coloured) == plain
    # JSON and Markdown have no colour to give.
    assert render_json(CASES[case](), color=True) == render_json(CASES[case]())
    assert render_markdown(CASES[case](), color=True) == render_markdown(CASES[case]())


def test_colour_marks_symbols() -> None:
    coloured = render_text(plan_update(), color=True)
    assert "\x1b[32m+\x1b[0m persona" in coloured.replace("\x1b[1m", "")  # create is green
    assert "\x1b[33m~\x1b[0m" in coloured
    assert "\x1b[31m-\x1b[0m tool" in coloured.replace("\x1b[1m", "")


@pytest.mark.parametrize("case", CASES)
def test_json_validates_against_the_schema(case: str) -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    data = json.loads(render_json(CASES[case]()))
    jsonschema.Draft202012Validator(SCHEMA).validate(data)


@pytest.mark.parametrize(
    "breakage",
    [
        lambda d: d.pop("summary"),
        lambda d: d.update(format_version=3),
        lambda d: d.update(extra=1),
        lambda d: d["changes"][0].update(action="modify"),
        lambda d: d["changes"][0]["fields"][0].update(reason="because"),
        lambda d: d["changes"][0]["fields"][0].update(after="Bearer x"),  # sensitive, unmasked
        lambda d: d["changes"][3].update(id=CARA_ID),  # a create has no id yet
        lambda d: d["changes"][1].update(id=None),  # an update has one
        lambda d: d["changes"][1].update(request=None),  # and a request
        lambda d: d["changes"][5]["fields"].append(d["changes"][1]["fields"][0]),  # no-op
    ],
)
def test_the_schema_rejects_broken_plans(breakage: Callable[[dict[str, Any]], Any]) -> None:
    data = json.loads(render_json(plan_update()))
    assert [c["action"] for c in data["changes"]][:6] == [
        "update",
        "update",
        "update",
        "create",
        "delete",
        "no-op",
    ]
    breakage(data)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(SCHEMA).validate(data)


@pytest.mark.parametrize("case", CASES)
def test_json_round_trips_through_plan_from_dict(case: str) -> None:
    data = json.loads(render_json(CASES[case]()))
    back = p.Plan.from_dict(data)
    assert json.loads(json.dumps(p.pack(back.to_dict()))) == data
    assert [(c.name, c.action) for c in back.changes] == [
        (c.name, c.action) for c in CASES[case]().changes
    ]


def test_json_of_a_plan_without_secrets_is_the_plan() -> None:
    plan = plan_update()
    # Drop the only secret-bearing resource: everything else must come back unchanged.
    plan.changes = [c for c in plan.changes if c.name != "order-lookup"]
    # ... but marked as a plan to read, which apply refuses (see test_saved_plans).
    assert p.Plan.from_dict(json.loads(render_json(plan))) == dataclasses.replace(
        plan, display=True
    )


def test_rendering_does_not_touch_the_plan() -> None:
    for make in CASES.values():
        plan = make()
        before = copy.deepcopy(plan)
        for render in VIEWS.values():
            render(plan, color=True, show_requests=True)
        assert plan == before


def test_summary_is_the_last_line() -> None:
    for make in CASES.values():
        lines = render_text(make()).splitlines()
        assert lines[-1].startswith("Plan: ")
    assert render_text(plan_update()).splitlines()[-1] == (
        "Plan: 1 to create, 3 to update, 1 to delete, 2 unchanged."
    )
    assert render_text(plan_nochange()).splitlines()[-2:] == [
        "No changes. The live resources match the manifests.",
        "Plan: 0 to create, 0 to update, 0 to delete, 3 unchanged.",
    ]


def test_an_empty_plan_says_no_changes() -> None:
    plan = p.Plan("sandbox", "sandbox", "sandbox://", True, ".personactl/sandbox.json")
    assert render_text(plan).endswith(
        "No changes. The live resources match the manifests.\n"
        "Plan: 0 to create, 0 to update, 0 to delete, 0 unchanged.\n"
    )
    md = render_markdown(plan)
    assert "No changes." in md and "|" not in md
    jsonschema.Draft202012Validator(SCHEMA).validate(json.loads(render_json(plan)))


def test_two_way_is_said_once_and_only_without_state() -> None:
    line = "No state file at .personactl/production.json: comparing the manifests"
    assert render_text(plan_create_twoway()).count(line) == 1
    assert render_markdown(plan_create_twoway()).count(line) == 1
    assert "No state file" not in render_text(plan_update())


def test_ids_are_short_in_text_and_whole_in_requests_and_json() -> None:
    text = render_text(plan_update())
    assert f"(dev-support-cara, id {CARA_ID[:8]}…)" in text
    assert CARA_ID not in text
    assert f"PUT /v1/personas/{CARA_ID}" in render_text(plan_update(), show_requests=True)
    assert CARA_ID in render_json(plan_update())
    # Non-uuid ids stay whole.
    assert "id CUSTOMER_CLIENT_V1" in render_text(plan_create_twoway())


def test_prompt_is_a_diff_not_a_dump() -> None:
    text = render_text(plan_update())
    assert "    --- live\n" in text and "    +++ desired\n" in text
    assert "+- End the call with end-call once the customer is done." in text
    assert "-Hand over to the tier-2 team when the router does not boot." in text
    # More than 3 lines from any change: outside the context, so not shown.
    assert "Acme Networks makes home" not in text
    md = render_markdown(plan_update())
    assert "<details><summary>prompt diff for support-cara</summary>" in md
    assert "```diff\n--- live\n+++ desired\n" in md


def test_created_prompt_shows_its_first_lines_and_count() -> None:
    text = render_text(plan_update())
    assert "+ prompt = (10 lines)" in text
    assert "You are Max, who helps new Acme customers set up their router." in text
    assert "Ask after each step whether it worked." not in text
    assert "… 5 more lines" in text


def test_drift_is_listed_after_the_resources() -> None:
    text = render_text(plan_update())
    heading = text.index("Changed outside personactl since the last apply:")
    assert heading > text.index('tool "legacy-faq"')
    assert heading < text.index("Plan: ")
    assert "Warning:" not in text  # warnings go to stderr: render_warnings
    assert '  ~ persona "support-cara": voiceDetection.endOfSpeechSensitivity 0.6 → 0.8\n' in text
    # A no-op resource's drift (an ignored field) is still reported.
    assert 'persona "onboarding-leo": voiceDetection.speechEnhancementLevel 0.5 → 0.9' in text
    assert "onboarding-leo" not in text[:heading]


def test_warnings_are_rendered_apart_for_stderr() -> None:
    assert render_warnings(plan_update()) == (
        '\nWarning: Persona "support-cara": voice "Cara - Warm" is an ElevenLabs V1 voice; the '
        "API resets voiceGeneration when the voice changes, so it is re-sent.\n"
    )
    assert render_warnings(plan_update(), color=True).startswith(
        "\n\x1b[1m\x1b[33mWarning:\x1b[0m Persona"
    )
    assert render_warnings(plan_nochange()) == ""
    masked = plan_nochange()
    masked.warnings = [f"header {sentinel('ACME_TOKEN', SECRET_NEW, LINEAGE)} is sent in clear"]
    assert render_warnings(masked) == "\nWarning: (sensitive)\n"  # the whole sentence


def test_reasons_are_explained() -> None:
    text = render_text(plan_update())
    for line in (
        '~ voice: "Lucy - Fresh & Casual" (de23e340…) → "Cara - Warm" (6bfbe25a…)\n',
        "  # resent: the voice changes\n",
        "~ voiceDetection.endOfSpeechSensitivity: 0.8 → 0.6  # drift: changed outside personactl",
        "~ skipGreeting: true → false  # reset: removed from the manifest",
        "  # write-only: not returned by the API\n",
        '+ avatar = "Mia / desk" (3d4e5f60…)',
        "# note: voiceDetection.speechEnhancementLevel is ignored (lifecycle.ignoreChanges)",
        '- description = "Open the FAQ page in the widget."',
    ):
        assert line in text, line


def test_views_agree_on_what_changes() -> None:
    plan = plan_update()
    changing = [(c.kind, c.name) for c in plan.changes if c.action != "no-op"]
    text = render_text(plan)
    md = render_markdown(plan)
    data = json.loads(render_json(plan))
    for kind, name in changing:
        assert f'{kind.lower()} "{name}"' in text
        assert f"| {kind} | `{name}` |" in md
    assert [(c["kind"], c["name"]) for c in data["changes"] if c["action"] != "no-op"] == changing
    assert data["summary"] == {
        "create": 1,
        "update": 3,
        "replace": 0,
        "delete": 1,
        "unchanged": 2,
    }


def test_every_json_key_is_documented() -> None:
    doc = (REPO / "docs" / "plan-format.md").read_text(encoding="utf-8")

    def keys(value: Any, skip_values: bool = False) -> set[str]:
        found: set[str] = set()
        if isinstance(value, dict):
            for k, val in value.items():
                found.add(k)
                # Field values, bodies and state bookkeeping are API-shaped, not the format;
                # the keys of `values` are ids.
                if k not in ("before", "after", "body", "desired", "settled", "forget", "values"):
                    found |= keys(val)
        elif isinstance(value, list):
            for item in value:
                found |= keys(item)
        return found

    for make in CASES.values():
        for key in keys(json.loads(render_json(make()))):
            assert f"`{key}`" in doc, f"docs/plan-format.md does not describe `{key}`"
    for reason in p.Reason:  # every reason the format can hold
        assert f"| `{reason}` |" in doc


def test_a_prompt_with_code_fences_keeps_the_markdown_intact() -> None:
    before = "Answer in Markdown.\nExample:\n```\nrouter reboot\n```\nBe brief."
    after = before.replace("router reboot", "router restart")
    plan = plan_nochange()
    plan.changes[2] = p.ResourceChange(
        kind="Persona",
        name="support-cara",
        anam_name="dev-support-cara",
        action="update",
        id=CARA_ID,
        fields=[fc("prompt", before, after, p.Reason.CHANGED)],
        request=p.Request("PUT", f"/v1/personas/{CARA_ID}", {"systemPrompt": after}),
    )
    md = render_markdown(plan, show_requests=True)
    assert "````diff\n--- live\n" in md and "\n+router restart\n" in md
    # Every fence the view opens is closed by a longer one than the prompt's own.
    assert md.count("````diff") == 1 and md.count("````http") == 1
    assert md.count("\n````\n") == 2


def test_a_change_only_in_line_endings_is_not_an_empty_diff() -> None:
    plan = plan_nochange()
    plan.changes[2] = p.ResourceChange(
        kind="Persona",
        name="support-cara",
        anam_name="dev-support-cara",
        action="update",
        id=CARA_ID,
        fields=[fc("prompt", "One.\nTwo.\n", "One.\nTwo.", p.Reason.CHANGED)],
        request=p.Request("PUT", f"/v1/personas/{CARA_ID}", {"systemPrompt": "One.\nTwo."}),
    )
    assert "(only line endings differ)" in render_text(plan)
    assert "(only line endings differ)" in render_markdown(plan)
