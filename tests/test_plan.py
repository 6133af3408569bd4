"""`personactl plan` against the emulator over real HTTP, in both response modes."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_support import (
    KEY,
    TOKEN,
    Emulator,
    edit,
    emulator,
    make_project,
    pc,
    requests_summary,
    spawn_pc,
)

PERSONAS = 4
CATALOG_LISTS = [
    "GET /v1/avatars?page=1&perPage=100",
    "GET /v1/knowledge/groups?page=1&perPage=100",
    "GET /v1/llms?page=1&perPage=100",
    "GET /v1/voices?page=1&perPage=100",
]
LISTS = sorted(
    [
        "GET /v1/personas?page=1&perPage=100",
        "GET /v1/tools?page=1&perPage=100",
        *CATALOG_LISTS,
    ]
)


@pytest.fixture(params=[False, True], ids=["full-responses", "hide-write-only"])
def emu(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Emulator]:
    with emulator(tmp_path / "emu-data", hide_write_only=request.param) as e:
        yield e


@pytest.fixture(scope="module", autouse=True)
def unreachable_plan(tmp_path_factory: pytest.TempPathFactory) -> Iterator[subprocess.Popen[str]]:
    """`plan --api-url` an address that refuses every connection, started with the
    module's first test: it spends the whole connect budget (10 s) on the real clock,
    which only a separate process can do while the other tests run."""
    project = make_project(tmp_path_factory.mktemp("unreachable") / "proj", "http://127.0.0.1:9")
    out = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE}
    proc = spawn_pc(project, "plan", "--api-url", "http://127.0.0.1:9", **out)
    yield proc
    proc.kill()
    proc.communicate()


def test_first_plan_is_two_way_and_creates_everything(project: Path, emu: Emulator) -> None:
    r = pc(project, "plan", "--detailed-exitcode")
    assert r.code == 2, r.err
    assert r.out.count("two-way") == 1
    assert "No state file at .personactl/emu.json" in r.out
    assert r.lines[-1] == "Plan: 10 to create, 0 to update, 0 to delete, 0 unchanged."
    assert '  + persona "support-cara" (t-support-cara)' in r.out
    assert "      + config.headers.Authorization = (sensitive)" in r.out
    assert TOKEN not in r.out + r.err
    assert emu.writes() == []
    assert requests_summary(emu.log) == LISTS


def test_noop_plan_makes_no_writes_and_only_the_allowed_reads(applied: Path, emu: Emulator) -> None:
    r = pc(applied, "plan", "--detailed-exitcode", "--refresh=full")
    assert (r.code, r.err) == (0, "")
    assert r.lines[-2:] == [
        "No changes. The live resources match the manifests.",
        "Plan: 0 to create, 0 to update, 0 to delete, 10 unchanged.",
    ]
    # ceil(N/100) persona pages + N persona GETs; tools come whole in their list;
    # the catalog lists resolve names; a knowledge group's documents are one list.
    documents = ["GET /v1/knowledge/groups/{id}/documents?page=1&perPage=100"]
    persona_gets = ["GET /v1/personas/{id}"] * PERSONAS
    assert requests_summary(emu.log) == sorted(LISTS + persona_gets + documents)
    assert emu.writes() == []


def test_changed_field_is_a_minimal_put(applied: Path, emu: Emulator) -> None:
    edit(applied / "personas/support.yaml", "speed: 1.05", "speed: 1.1")
    r = pc(applied, "plan", "--show-requests", "--detailed-exitcode")
    assert r.code == 2
    assert "      ~ voiceGeneration.speed: 1.05 → 1.1" in r.lines
    assert r.lines[-1] == "Plan: 0 to create, 1 to update, 0 to delete, 9 unchanged."
    emu.reset_log()
    r = pc(applied, "apply", "--auto-approve")
    assert r.code == 0, r.err
    (put,) = emu.writes()
    assert put.method == "PUT" and put.path.startswith("/v1/personas/")
    assert put.body == {
        "voiceGenerationOptions": {"stability": 0.5, "similarityBoost": 0.8, "speed": 1.1}
    }
    assert pc(applied, "plan", "--detailed-exitcode").code == 0


def test_voice_change_resends_generation_options(applied: Path, emu: Emulator) -> None:
    edit(applied / "personas/support.yaml", "name: Lucy - Fresh & Casual", "name: Cara - Warm")
    r = pc(applied, "plan")
    assert (
        '      ~ voice: "Lucy - Fresh & Casual" (de23e340…) → "Cara - Warm" (6bfbe25a…)' in r.lines
    )
    assert any(
        line.strip().startswith("~ voiceGeneration") and "resent" in line for line in r.lines
    ), r.out
    emu.reset_log()
    assert pc(applied, "apply", "--auto-approve").code == 0
    (put,) = emu.writes()
    assert put.body == {
        "voiceId": "6bfbe25a-979d-40f3-a92b-5394170af54b",
        "voiceGenerationOptions": {"stability": 0.5, "similarityBoost": 0.8, "speed": 1.05},
    }
    assert pc(applied, "plan", "--detailed-exitcode").code == 0


def test_avatar_change_resends_avatar_model(applied: Path, emu: Emulator) -> None:
    edit(
        applied / "personas/concierge-fr.yaml",
        "name: Cara\n    variant: studio",
        "name: Liv\n    variant: home",
    )
    emu.reset_log()
    assert pc(applied, "apply", "--auto-approve").code == 0
    (put,) = emu.writes()
    assert put.body == {"avatarId": "071b0286-4cce-4808-bee2-e642f1062de3", "avatarModel": "cara-3"}


def test_drift_is_reported_separately_and_restored(applied: Path, emu: Emulator) -> None:
    cara = next(p for p in emu.personas() if p["name"] == "t-support-cara")
    with emu.client() as c:
        c.put(
            f"/v1/personas/{cara['id']}",
            json={
                "voiceDetectionOptions": {
                    "endOfSpeechSensitivity": 0.8,
                    "silenceBeforeSessionEndSeconds": 300,
                }
            },
        )
    r = pc(applied, "plan")
    assert "Changed outside personactl since the last apply:" in r.lines
    assert '  ~ persona "support-cara": voiceDetection.endOfSpeechSensitivity 0.6 → 0.8' in r.lines
    assert any(
        "~ voiceDetection.endOfSpeechSensitivity: 0.8 → 0.6" in line and "drift" in line
        for line in r.lines
    ), r.out
    assert pc(applied, "apply", "--auto-approve").code == 0
    assert pc(applied, "plan", "--detailed-exitcode").code == 0


def test_ignored_changes_stay_ignored(applied: Path, emu: Emulator) -> None:
    cara = next(p for p in emu.personas() if p["name"] == "t-support-cara")
    with emu.client() as c:
        c.put(
            f"/v1/personas/{cara['id']}",
            json={
                "voiceDetectionOptions": {
                    "endOfSpeechSensitivity": 0.6,
                    "silenceBeforeSessionEndSeconds": 300,
                    "speechEnhancementLevel": 0.9,
                }
            },
        )
    r = pc(applied, "plan", "--detailed-exitcode")
    assert r.code == 0, r.out


def test_removed_fields_are_reset_or_reported(applied: Path, emu: Emulator) -> None:
    path = applied / "personas/support.yaml"
    edit(
        path,
        "  initialMessage: Hi, I'm Cara from {{ company }}. How can I help with your "
        "router today?\n",
        "",
    )
    edit(path, "  avatarModel: cara-3\n", "")
    r = pc(applied, "plan", "--show-requests")
    assert any(
        "~ initialMessage:" in line and "→ null" in line and "reset" in line for line in r.lines
    ), r.out
    assert any("avatarModel was removed from the manifest" in line for line in r.lines), r.out
    emu.reset_log()
    assert pc(applied, "apply", "--auto-approve").code == 0
    (put,) = emu.writes()
    assert put.body == {"initialMessage": None}
    r = pc(applied, "plan", "--detailed-exitcode")
    assert r.code == 0, r.out
    assert "avatarModel" not in r.out  # reported once, then no longer managed


def test_write_only_fields_compare_with_what_was_applied(applied: Path, emu: Emulator) -> None:
    edit(applied / "personas/concierge-fr.yaml", "languageCode: fr", "languageCode: de")
    r = pc(applied, "plan")
    assert '      ~ languageCode: "fr" → "de"' in r.lines, r.out
    emu.reset_log()
    assert pc(applied, "apply", "--auto-approve").code == 0
    (put,) = emu.writes()
    assert put.body == {"languageCode": "de"}
    assert pc(applied, "plan", "--detailed-exitcode").code == 0


def test_without_state_write_only_fields_are_sent_once(applied: Path, emu: Emulator) -> None:
    (applied / ".personactl" / "emu.json").unlink()
    r = pc(applied, "plan")
    hidden = emu.app.settings.hide_write_only
    summary = r.lines[-1]
    if hidden:
        assert "# write-only: not returned by the API" in r.out
        assert summary == "Plan: 0 to create, 5 to update, 0 to delete, 5 unchanged."
    else:  # the LLM's secret is never returned: sent once, as what was applied is unknown
        assert summary == "Plan: 0 to create, 1 to update, 0 to delete, 9 unchanged."
    assert pc(applied, "apply", "--auto-approve").code == 0
    assert pc(applied, "plan", "--detailed-exitcode").code == 0


def test_prune(applied: Path, emu: Emulator) -> None:
    (applied / "personas/onboarding.yaml").unlink()
    r = pc(applied, "plan")
    assert r.lines[-1] == "Plan: 0 to create, 0 to update, 0 to delete, 8 unchanged."
    assert any("onboarding-mia" in line and "--prune" in line for line in r.err.splitlines())
    r = pc(applied, "plan", "--prune")
    assert r.lines[-1] == "Plan: 0 to create, 0 to update, 2 to delete, 8 unchanged."
    assert '  - persona "onboarding-trainer" (t-onboarding-trainer, id' in r.out
    # support-cara has preventDestroy: removing it never deletes it.
    (applied / "personas/support.yaml").unlink()
    r = pc(applied, "plan", "--prune")
    assert any("support-cara" in line and "preventDestroy" in line for line in r.err.splitlines())
    assert r.lines[-1] == "Plan: 0 to create, 0 to update, 2 to delete, 7 unchanged."
    # order-lookup is only used by support-cara, which stays: it is not deleted either.
    (applied / "tools/orders.yaml").unlink()
    r = pc(applied, "plan", "--prune")
    assert any("order-lookup" in line and "still used" in line for line in r.err.splitlines())


def test_server_normalisation_causes_no_perpetual_diff(tmp_path: Path) -> None:
    with emulator(tmp_path / "data", normalize_text=True) as emu:
        project = make_project(tmp_path / "proj", emu.url)
        assert pc(project, "apply", "--auto-approve").code == 0
        # The server trimmed the prompts' trailing newline...
        cara = next(p for p in emu.personas() if p["name"] == "t-support-cara")
        with emu.client() as c:
            live = c.get(f"/v1/personas/{cara['id']}").json()
        assert not live["brain"]["systemPrompt"].endswith("\n")
        # ...and the three-way diff knows that is what it sent.
        r = pc(project, "plan", "--detailed-exitcode")
        assert r.code == 0, r.out


def test_json_markdown_and_saved_plans(project: Path, emu: Emulator, tmp_path: Path) -> None:
    r = pc(project, "plan", "-o", "json")
    doc = json.loads(r.out)
    assert doc["formatVersion"] == 3
    assert doc["summary"] == {
        "create": 10,
        "update": 0,
        "replace": 0,
        "delete": 0,
        "unchanged": 0,
    }
    r = pc(project, "plan", "-o", "markdown")
    assert "<details>" in r.out
    out = tmp_path / "plan.json"
    r = pc(project, "plan", "--out", str(out))
    assert r.code == 0
    assert f"Saved the plan to {out}" in r.err
    saved = out.read_text()
    assert TOKEN not in saved and "⟦secret:ACME_ORDERS_TOKEN:" in saved


def test_diff_is_plan_with_detailed_exitcode(applied: Path) -> None:
    assert pc(applied, "diff").code == 0
    edit(applied / "personas/support.yaml", "speed: 1.05", "speed: 1.1")
    assert pc(applied, "diff").code == 2


def test_two_live_personas_with_one_name(project: Path, emu: Emulator) -> None:
    with emu.client() as c:
        ids = [
            c.post("/v1/personas", json={"name": "t-support-cara"}).json()["id"] for _ in range(2)
        ]
    r = pc(project, "plan")
    assert r.code == 1
    assert r.err == (
        f"error: personas/support.yaml:5:9: 2 live personas are named 't-support-cara' "
        f"({ids[0]}, {ids[1]}); pin one with metadata.id or rename the others\n"
    )


def test_unresolvable_names_list_the_closest(project: Path) -> None:
    edit(project / "personas/support.yaml", "name: Lucy - Fresh & Casual", "name: Lucy")
    r = pc(project, "plan")
    assert r.code == 1
    assert r.err == (
        "error: personas/support.yaml:16:5: voice 'Lucy' not found in the catalog; "
        "closest: 'Lucy - Fresh & Casual'; see `personactl catalog voices`\n"
    )


def test_provider_options_are_checked_once_the_voice_is_known(project: Path) -> None:
    # Fits Cartesia Sonic-3 offline, but the persona's voice is a Fish Audio one.
    edit(
        project / "personas/onboarding.yaml",
        "    volume: 1.0\n",
        "    volume: 1.0\n    emotion: calm\n",
    )
    assert pc(project, "validate").code == 0
    r = pc(project, "plan")
    assert r.code == 1
    assert r.err == (
        "error: personas/onboarding.yaml:28:14: voiceGeneration for voice 'Fish Narrator': "
        "'emotion' is not supported by Fish Audio voices (allowed: speed, volume)\n"
    )


def test_wrong_key(project: Path) -> None:
    r = pc(project, "plan", env={"EMU_KEY": "wrong-key-123456"})
    assert r.code == 1
    assert "rejected the API key from EMU_KEY" in r.err
    assert "wrong-key-123456" not in r.err + r.out
    assert "Traceback" not in r.err


def test_unreachable_api(unreachable_plan: subprocess.Popen[str]) -> None:
    _, err = unreachable_plan.communicate(timeout=120)
    assert unreachable_plan.returncode == 1
    assert err.startswith("error: cannot reach the Anam API at http://127.0.0.1:9 "), err
    assert KEY not in err


def test_ambiguous_names_list_the_candidates_with_ids(project: Path) -> None:
    # Liv comes in two variants: without `variant:` the name alone is ambiguous.
    edit(project / "personas/support.yaml", "    name: Liv\n    variant: home\n", "    name: Liv\n")
    r = pc(project, "plan")
    assert r.code == 1
    assert r.err.startswith(
        "error: personas/support.yaml:12:5: avatar 'Liv' has several variants: "
    )
    assert "home (071b0286-4cce-4808-bee2-e642f1062de3)" in r.err
    assert "office (" in r.err and r.err.rstrip().endswith("add `variant:`")
