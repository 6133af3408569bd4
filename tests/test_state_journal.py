"""The state journal: every success survives a crash, including one mid-append."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from personactl.core.errors import PersonactlError
from personactl.core.records import StateEntry
from personactl.engine.state import StateStore, load_state


def entry(name: str) -> StateEntry:
    return StateEntry("Persona", name, f"t-{name}", f"id-{name}", {"name": f"t-{name}"}, {})


def crash_after_recording(path: Path, names: list[str]) -> None:
    """A real process records entries, then dies by SIGKILL before closing the store."""
    code = textwrap.dedent(f"""
        import os, signal
        from pathlib import Path
        from personactl.core.records import StateEntry
        from personactl.engine.state import StateStore
        store = StateStore(Path({str(path)!r}), "state.json", "emu")
        store.lock()
        for name in {names!r}:
            store.record(StateEntry("Persona", name, "t-" + name, "id-" + name, {{}}, {{}}))
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr


def test_a_killed_run_loses_nothing_and_the_next_lock_compacts(tmp_path: Path) -> None:
    path = tmp_path / "emu.json"
    crash_after_recording(path, ["a", "b", "c"])
    journal = path.with_name("emu.json.journal")
    assert journal.exists() and not path.exists()
    # A reader (plan) sees every recorded success.
    state = load_state(path, "emu.json")
    assert state is not None and [e.name for e in state.resources] == ["a", "b", "c"]
    # The next apply folds the journal into the state file and removes it.
    with StateStore(path, "emu.json", "emu") as store:
        store.record(entry("d"))
    assert not journal.exists()
    data = json.loads(path.read_text())
    assert [r["name"] for r in data["resources"]] == ["a", "b", "c", "d"]


def test_a_half_written_last_line_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "emu.json"
    crash_after_recording(path, ["a", "b"])
    journal = path.with_name("emu.json.journal")
    with journal.open("a") as f:
        f.write('{"op": "record", "entry": {"kind": "Persona", "na')  # killed mid-append
    state = load_state(path, "emu.json")
    assert state is not None and [e.name for e in state.resources] == ["a", "b"]


def test_a_corrupt_journal_is_an_error_not_a_silent_loss(tmp_path: Path) -> None:
    path = tmp_path / "emu.json"
    crash_after_recording(path, ["a", "b"])
    journal = path.with_name("emu.json.journal")
    lines = journal.read_text().splitlines()
    journal.write_text("\n".join([lines[0], "garbage", lines[1]]) + "\n")
    with pytest.raises(PersonactlError) as caught:
        load_state(path, "emu.json")
    assert caught.value.message == (
        "state journal emu.json.journal, line 2, is not a journal record; remove that line, "
        "or restore the state file from version control and delete the journal"
    )


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        (
            '{"op": "record", "entry": {"kind": "Persona", "name": "c", "anamName": "t-c", '
            '"id": "i", "applied": "x"}}',
            "the applied of Persona 'c' is not an object",
        ),
        ('{"op": "record", "entry": ["x"]}', "an entry is not an object"),
        (
            '{"op": "record", "entry": {"kind": "Persona", "name": "c", "anamName": "t-c", '
            '"id": 7}}',
            "an entry's id is not a string",
        ),
        ('{"op": "forget"}', "a forget without kind and name"),
    ],
)
def test_a_malformed_journal_record_names_the_journal_and_line(
    tmp_path: Path, line: str, problem: str
) -> None:
    path = tmp_path / "emu.json"
    crash_after_recording(path, ["a"])
    journal = path.with_name("emu.json.journal")
    journal.write_text(journal.read_text() + line + "\n")
    with pytest.raises(PersonactlError) as caught:
        load_state(path, "emu.json")
    assert caught.value.message.startswith(
        f"state journal emu.json.journal, line 2, is malformed: {problem}"
    ), caught.value.message


def test_a_complete_last_line_that_is_garbage_is_an_error_not_a_torn_write(
    tmp_path: Path,
) -> None:
    path = tmp_path / "emu.json"
    crash_after_recording(path, ["a"])
    journal = path.with_name("emu.json.journal")
    journal.write_text(journal.read_text() + "garbage\n")
    with pytest.raises(PersonactlError, match="line 2, is not a journal record"):
        load_state(path, "emu.json")


def test_a_state_entry_whose_applied_is_not_an_object_is_one_sentence(tmp_path: Path) -> None:
    path = tmp_path / "emu.json"
    doc = {
        "version": 2,
        "environment": "emu",
        "lineage": "l",
        "serial": 3,
        "resources": [{"kind": "Tool", "name": "t", "anamName": "t", "id": "1", "applied": [1]}],
    }
    path.write_text(json.dumps(doc))
    with pytest.raises(PersonactlError) as caught:
        load_state(path, "emu.json")
    assert caught.value.message == (
        "state file emu.json is malformed: the applied of Tool 't' is not an object; "
        "restore it from version control"
    )


def test_a_state_of_another_environment_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "emu.json"
    with StateStore(path, "emu.json", "staging") as store:
        store.record(entry("a"))
    with pytest.raises(PersonactlError) as caught:
        load_state(path, "emu.json", "production")
    assert caught.value.message == (
        "state file emu.json belongs to environment 'staging', not 'production'; give "
        "environment 'production' its own state file in personactl.yaml"
    )


def test_every_write_grows_the_serial_and_keeps_the_lineage(tmp_path: Path) -> None:
    path = tmp_path / "emu.json"
    with StateStore(path, "emu.json", "emu") as store:
        store.record(entry("a"))
    first = json.loads(path.read_text())
    with StateStore(path, "emu.json", "emu") as store:
        store.record(entry("b"))
    with StateStore(path, "emu.json", "emu") as store:
        pass  # nothing recorded: nothing written
    second = json.loads(path.read_text())
    assert (first["serial"], second["serial"]) == (1, 2)
    assert first["lineage"] == second["lineage"] and len(first["lineage"]) == 36


def test_a_version_1_state_is_read_and_its_unsalted_sentinels_upgraded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hashlib

    from personactl.core.secrets import matches

    legacy = hashlib.sha256(b"personactl:TOK:pin-123456").hexdigest()[:12]
    doc = {
        "version": 1,
        "environment": "emu",
        "resources": [
            {
                "kind": "Tool",
                "name": "t",
                "anamName": "t",
                "id": "1",
                "applied": {"config": {"headers": {"A": f"Bearer ⟦secret:TOK:{legacy}⟧"}}},
                "observed": {},
                "fingerprint": {},
            }
        ],
    }
    path = tmp_path / "emu.json"
    path.write_text(json.dumps(doc))
    monkeypatch.setenv("TOK", "pin-123456")
    with StateStore(path, "emu.json", "emu") as store:
        lineage = store.state.lineage
    after = json.loads(path.read_text())
    assert (after["version"], after["serial"], after["lineage"]) == (3, 1, lineage)
    header = after["resources"][0]["applied"]["config"]["headers"]["A"]
    assert legacy not in header and header.startswith("Bearer ⟦secret:TOK:")
    assert lineage is not None and matches(header.removeprefix("Bearer "), "pin-123456", lineage)


def test_forget_is_journalled_too(tmp_path: Path) -> None:
    path = tmp_path / "emu.json"
    with StateStore(path, "emu.json", "emu") as store:
        store.record(entry("a"))
        store.record(entry("b"))
    store = StateStore(path, "emu.json", "emu")
    store.lock()
    store.forget("Persona", "a")
    # Not yet compacted: the reader replays the forget.
    state = load_state(path, "emu.json")
    assert state is not None and [e.name for e in state.resources] == ["b"]
    store.unlock()
    assert [r["name"] for r in json.loads(path.read_text())["resources"]] == ["b"]
    assert not os.path.exists(str(path) + ".journal")
