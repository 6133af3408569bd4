"""`import`, `state` and `smoke` against the emulator over real HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_support import Emulator, emulator, pc

LIV_HOME = "071b0286-4cce-4808-bee2-e642f1062de3"
LUCY = "de23e340-1416-4dd8-977d-065a7ca11697"
GPT_4O_MINI = "0934d97d-0c3a-4f33-91b0-5e136a0ef466"
CRM_KEY = "crm-secret-9f8e7d-unique"


@pytest.fixture(params=[False, True], ids=["full-responses", "hide-write-only"])
def emu(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Emulator]:
    with emulator(tmp_path / "emu-data", hide_write_only=request.param) as e:
        yield e


def unmanaged(emu: Emulator) -> tuple[str, str]:
    """A persona and webhook tool made in the Anam UI, say: personactl never saw them."""
    with emu.client() as c:
        tool = c.post(
            "/v1/tools",
            json={
                "name": "t-crm-sync",
                "type": "SERVER_WEBHOOK",
                "description": "Sync {{ crm }}",
                "config": {
                    "url": "https://crm.example/hook",
                    "method": "POST",
                    "headers": {"X-Api-Key": CRM_KEY, "X-Team": "sales"},
                },
            },
        ).json()
        persona = c.post(
            "/v1/personas",
            json={
                "name": "t-sales-sam",
                "description": "Sales",
                "avatarId": LIV_HOME,
                "voiceId": LUCY,
                "llmId": GPT_4O_MINI,
                "languageCode": "en",
                "systemPrompt": "You are Sam.\nWrite {{ braces }} literally.\n",
                "toolIds": [tool["id"]],
                "voiceGenerationOptions": {"speed": 1.1},
            },
        ).json()
    return persona["id"], tool["id"]


def test_import_then_plan_shows_no_changes(applied: Path, emu: Emulator) -> None:
    persona_id, tool_id = unmanaged(emu)
    env = {"CRM_SYNC_X_API_KEY": CRM_KEY}
    r = pc(applied, "import", "--all", env=env)
    assert r.code == 0, r.err
    assert r.out == (
        "Imported 2 resources into environment 'emu' and recorded them in .personactl/emu.json.\n"
    )
    assert r.err.splitlines() == [
        "wrote tools/crm-sync.yaml",
        "wrote personas/sales-sam.yaml",
        "wrote prompts/sales-sam.md.j2",
        "Secrets were not written: the manifests read CRM_SYNC_X_API_KEY from the environment.",
        "Names in the manifests leave out the prefix 't-' of environment 'emu'.",
    ]
    persona = (applied / "personas" / "sales-sam.yaml").read_text()
    assert "name: Lucy - Fresh & Casual" in persona and "- crm-sync" in persona
    assert (applied / "prompts" / "sales-sam.md.j2").read_text() == (
        "{% raw %}You are Sam.\nWrite {{ braces }} literally.\n{%+ endraw %}"
    )
    tool = (applied / "tools" / "crm-sync.yaml").read_text()
    assert """X-Api-Key: '{{ secret("CRM_SYNC_X_API_KEY") }}'""" in tool
    for path in [*applied.rglob("*.yaml"), *applied.rglob("*.json")]:
        assert CRM_KEY not in path.read_text(), path
    state = json.loads((applied / ".personactl" / "emu.json").read_text())
    ids = {(e["kind"], e["name"]): e["id"] for e in state["resources"]}
    assert ids[("Persona", "sales-sam")] == persona_id
    assert ids[("Tool", "crm-sync")] == tool_id
    emu.reset_log()
    r = pc(applied, "plan", "--detailed-exitcode", env=env)
    assert r.code == 0, r.out
    assert r.lines[-1] == "Plan: 0 to create, 0 to update, 0 to delete, 12 unchanged."
    assert emu.writes() == []


def test_import_by_id_and_name_errors(applied: Path, emu: Emulator) -> None:
    r = pc(applied, "import")
    assert (r.code, r.err) == (
        1,
        "error: name what to import: --id ID..., --name NAME... or --all\n",
    )
    r = pc(applied, "import", "--id", "00000000-0000-4000-8000-000000000000")
    assert r.err == (
        "error: no persona has id '00000000-0000-4000-8000-000000000000' in environment 'emu'\n"
    )
    r = pc(applied, "import", "--name", "t-nobody")
    assert r.err == "error: no live persona is named 't-nobody' in environment 'emu'\n"
    r = pc(applied, "import", "--name", "t-support-cara")
    assert r.err == "error: persona 't-support-cara' is already managed by a manifest\n"


def test_import_never_overwrites(applied: Path, emu: Emulator) -> None:
    unmanaged(emu)
    (applied / "personas" / "sales-sam.yaml").write_text("# mine\n")
    r = pc(applied, "import", "--all")
    assert (r.code, r.err) == (
        1,
        "error: personas/sales-sam.yaml already exists: import writes new files only; "
        "move it away or use --out DIR\n",
    )
    assert (applied / "personas" / "sales-sam.yaml").read_text() == "# mine\n"


def test_state_commands(applied: Path, emu: Emulator) -> None:
    r = pc(applied, "state", "list")
    assert r.code == 0
    assert r.lines[0].split() == ["KIND", "NAME", "ANAM", "NAME", "ID"]
    assert [line.split()[:3] for line in r.lines[1:]] == [
        ["KnowledgeGroup", "router-manuals", "t-router-manuals"],
        ["LLM", "acme-gateway", "t-acme-gateway"],
        ["Persona", "concierge-lea", "t-concierge-lea"],
        ["Persona", "onboarding-mia", "t-onboarding-mia"],
        ["Persona", "onboarding-trainer", "t-onboarding-trainer"],
        ["Persona", "support-cara", "t-support-cara"],
        ["Tool", "end-call", "t-end-call"],
        ["Tool", "order-lookup", "t-order-lookup"],
        ["Tool", "search-manuals", "t-search-manuals"],
        ["Tool", "show-product", "t-show-product"],
    ]
    shown = json.loads(pc(applied, "state", "show", "order-lookup").out)
    assert shown["kind"] == "Tool" and shown["anamName"] == "t-order-lookup"
    assert shown["applied"]["config"]["headers"]["Authorization"].startswith(
        "Bearer ⟦secret:ACME_ORDERS_TOKEN:"
    )
    # Rename in the manifest and the state: the next plan updates nothing, creates nothing.
    path = applied / "personas" / "support.yaml"
    path.write_text(path.read_text().replace("name: support-cara", "name: support-cara2"))
    (applied / "personactl.yaml").write_text(
        (applied / "personactl.yaml")
        .read_text()
        .replace("name: support-cara", "name: support-cara2")
    )
    r = pc(applied, "state", "mv", "support-cara", "support-cara2")
    assert r.out == "Moved Persona 'support-cara' to 'support-cara2' in .personactl/emu.json.\n"
    r = pc(applied, "plan")
    # The Anam name changes with metadata.name: one rename, no create.
    assert r.lines[-1] == "Plan: 0 to create, 1 to update, 0 to delete, 9 unchanged."
    assert '      ~ name: "t-support-cara" → "t-support-cara2"' in r.lines
    # rm forgets without touching the live persona.
    before = len(emu.personas())
    r = pc(applied, "state", "rm", "Persona/onboarding-trainer")
    assert r.code == 0 and "the live resource is unchanged" in r.out
    assert len(emu.personas()) == before
    r = pc(applied, "state", "rm", "onboarding-trainer")
    assert r.code == 1 and r.err.startswith("error: no resource 'onboarding-trainer' in the state")


def test_smoke(applied: Path, emu: Emulator) -> None:
    r = pc(applied, "smoke")
    assert r.code == 0, r.err
    assert r.err == "All 4 personas can start a session.\n"
    assert len(r.lines) == 5 and all(" ok " in line for line in r.lines[1:])
    tokens = [x.body for x in emu.log if x.path == "/v1/auth/session-token"]
    assert len(tokens) == 4
    # A persona deleted behind personactl's back cannot start.
    cara = next(p for p in emu.personas() if p["name"] == "t-support-cara")
    with emu.client() as c:
        c.delete(f"/v1/personas/{cara['id']}")
    r = pc(applied, "smoke", "support-cara", "-o", "json")
    assert r.code == 1
    (row,) = json.loads(r.out)
    assert (row["name"], row["ok"]) == ("support-cara", False)
    assert r.err == "1 of 1 personas cannot start a session.\n"
    r = pc(applied, "smoke", "nobody")
    assert r.code == 1 and r.err.startswith("error: 'nobody' not applied in environment 'emu'")
