"""--refresh=auto|full: which personas a plan reads, against the emulator over real HTTP.

Under auto (the default) a persona whose listed updatedAt is the one the state
recorded is taken from the state unread; one changed outside personactl, or
using a tool that changed or is gone, is read. Full reads every one; a saved
plan is checked against live at apply, unread ones included. That auto plans
exactly as full does after every out-of-band change of the model-based test is
checked there (tests/test_model_based.py, `auto_plans_as_full_does`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_support import Emulator, emulator, pc, requests_summary

from personactl.commands.progress import LineProgress
from personactl.engine.apply import describes

PERSONAS = ["concierge-lea", "onboarding-mia", "onboarding-trainer", "support-cara"]
GET = "GET /v1/personas/{id}"


@pytest.fixture
def emu(tmp_path: Path) -> Iterator[Emulator]:
    with emulator(tmp_path / "emu-data") as e:
        yield e


def gets(emu: Emulator) -> list[str]:
    return [line for line in requests_summary(emu.log) if line == GET]


def read_ids(emu: Emulator) -> set[str]:
    """The ids of the personas read one by one (GET /v1/personas/{id})."""
    return {
        r.path.rsplit("/", 1)[-1]
        for r in emu.log
        if r.method == "GET" and r.path.startswith("/v1/personas/")
    }


def live_id(emu: Emulator, anam_name: str, tools: bool = False) -> str:
    items = emu.tools() if tools else emu.personas()
    return str(next(i["id"] for i in items if i["name"] == anam_name))


def test_auto_reads_no_unchanged_persona_and_says_how_many(applied: Path, emu: Emulator) -> None:
    r = pc(applied, "plan", "--detailed-exitcode")
    assert (r.code, r.err) == (0, "")
    assert r.lines[-3:] == [
        "4 personas taken from the state unread (updatedAt unchanged since the last apply); "
        "--refresh=full reads every one.",
        "No changes. The live resources match the manifests.",
        "Plan: 0 to create, 0 to update, 0 to delete, 10 unchanged.",
    ]
    assert gets(emu) == []  # the lists only
    assert emu.writes() == []
    emu.reset_log()
    data = json.loads(pc(applied, "plan", "-o", "json").out)
    assert (data["refresh"], data["unread"], data["keepFingerprint"]) == ("auto", PERSONAS, [])
    md = pc(applied, "plan", "-o", "markdown").out
    assert "> 4 personas taken from the state unread" in md


def test_full_reads_every_persona(applied: Path, emu: Emulator) -> None:
    r = pc(applied, "plan", "--refresh=full", "-o", "json")
    assert r.code == 0, r.err
    data = json.loads(r.out)
    assert (data["refresh"], data["unread"]) == ("full", [])
    assert gets(emu) == [GET] * 4
    assert "taken from the state unread" not in pc(applied, "plan", "--refresh", "full").out


def test_an_out_of_band_change_is_read_and_found(applied: Path, emu: Emulator) -> None:
    cara = live_id(emu, "t-support-cara")
    with emu.client() as c:
        c.put(f"/v1/personas/{cara}", json={"description": "Edited in the Lab"}).raise_for_status()
    emu.reset_log()
    r = pc(applied, "plan", "--detailed-exitcode")
    assert r.code == 2, r.err
    assert read_ids(emu) == {cara}  # that one only
    drift = '  ~ persona "support-cara": description "Tier-1 support for Acme Networks routers" → '
    assert drift + '"Edited in the Lab"' in r.lines
    assert r.lines[-2:] == [
        "3 personas taken from the state unread (updatedAt unchanged since the last apply); "
        "--refresh=full reads every one.",
        "Plan: 0 to create, 1 to update, 0 to delete, 9 unchanged.",
    ]


def test_a_changed_or_deleted_tool_rereads_the_personas_that_use_it(
    applied: Path, emu: Emulator
) -> None:
    orders = live_id(emu, "t-order-lookup", tools=True)
    with emu.client() as c:
        c.put(f"/v1/tools/{orders}", json={"description": "Edited"}).raise_for_status()
    emu.reset_log()
    assert pc(applied, "plan").code == 0
    assert read_ids(emu) == {live_id(emu, "t-support-cara")}  # the one persona using it
    # Deleting a tool takes it off its personas without moving their updatedAt.
    show = live_id(emu, "t-show-product", tools=True)
    with emu.client() as c:
        c.delete(f"/v1/tools/{show}").raise_for_status()
    emu.reset_log()
    r = pc(applied, "plan", "-o", "json")
    users = {live_id(emu, "t-support-cara"), live_id(emu, "t-onboarding-mia")}
    assert read_ids(emu) == users
    data = json.loads(r.out)
    assert data["unread"] == ["concierge-lea", "onboarding-trainer"]
    changed = sorted((c["action"], c["name"]) for c in data["changes"] if c["action"] != "no-op")
    assert changed == [  # the tool made again and put back on them; order-lookup restored
        ("create", "show-product"),
        ("update", "onboarding-mia"),
        ("update", "order-lookup"),
        ("update", "support-cara"),
    ]


def test_a_saved_plan_rereads_its_targets_at_apply(
    applied: Path, emu: Emulator, tmp_path: Path
) -> None:
    saved = tmp_path / "p.json"
    assert pc(applied, "plan", "--out", str(saved)).code == 0
    assert json.loads(saved.read_text())["unread"] == PERSONAS
    mia = live_id(emu, "t-onboarding-mia")
    with emu.client() as c:
        c.put(f"/v1/personas/{mia}", json={"skipGreeting": False}).raise_for_status()
    emu.reset_log()
    r = pc(applied, "apply", str(saved))
    assert r.code == 1
    assert "onboarding-mia': changed since the plan was made (updatedAt " in r.err
    assert gets(emu) == [GET] * 4  # every target, unread ones included
    assert pc(applied, "plan", "--out", str(saved)).code == 0
    emu.reset_log()
    r = pc(applied, "apply", str(saved))
    assert r.code == 0, r.err
    assert gets(emu) == [GET] * 4


def test_a_record_describes_live_only_when_every_field_it_holds_matches() -> None:
    live = {"name": "a", "description": "x", "toolIds": ["t"]}
    assert describes({"name": "a", "languageCode": "en"}, {"name": "a"}, live)
    assert not describes({}, {"description": "old"}, live)  # changed since observed
    assert not describes({"description": "x"}, {}, live)  # applied, not observed, but returned
    assert not describes({}, {"avatarModel": "cara-3"}, live)  # observed, no longer returned


def test_progress_lines_without_a_terminal() -> None:
    lines: list[str] = []
    ticks = iter(float(n) / 10 for n in range(100))
    each = LineProgress(lines.append, clock=lambda: next(ticks))
    each.start("applying", 3)
    each.step("persona 'a'", note="updated")
    each.step("persona 'b'", ok=False, note="the API refused it")
    each.step("tool 'c'")
    each.finish()
    each.step("ignored after finish")
    tenths = LineProgress(lines.append, lines="tenths", at_least=50, clock=lambda: next(ticks))
    tenths.start("reading personas", 20)  # short: nothing
    for _ in range(20):
        tenths.step("x")
    tenths.start("reading personas", 200)
    for n in range(200):
        tenths.step(f"p{n}", ok=n != 7)
    assert lines == [
        "[1/3] persona 'a': updated",
        "[2/3] persona 'b': the API refused it",
        "[3/3] tool 'c': ok",
        *[
            f"reading personas: {k * 20}/200 ({k / 10:.1f} s, 1 failed)"  # a tick a line
            for k in range(1, 11)
        ],
    ]


def test_apply_on_a_terminal_draws_a_bar_on_stderr_and_nothing_on_stdout(
    project: Path, emu: Emulator
) -> None:
    """The terminal path for real: stderr is a pseudo-terminal, so rich draws the bar."""
    import os
    import pty
    import subprocess

    from e2e_support import spawn_pc

    leader, follower = pty.openpty()
    proc = spawn_pc(project, "apply", "--auto-approve", stdout=subprocess.PIPE, stderr=follower)
    os.close(follower)
    seen = b""
    while True:  # read the terminal until the process closes it
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: every writer is gone
            break
        if not chunk:
            break
        seen += chunk
    os.close(leader)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, seen.decode(errors="replace")
    screen = seen.decode()
    assert "applying" in screen and "10/10" in screen and "failed: 0" in screen
    assert "━" in screen  # the bar itself
    assert "[1/7]" not in screen  # the plain lines are for logs, not terminals
    assert out.splitlines()[-1].startswith("Apply complete! Resources: 10 created")
    assert "━" not in out and "applying" not in out
