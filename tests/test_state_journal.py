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

from personactl.engine.state import StateEntry, StateStore, load_state
from personactl.errors import PersonactlError


def entry(name: str) -> StateEntry:
    return StateEntry("Persona", name, f"t-{name}", f"id-{name}", {"name": f"t-{name}"}, {})


def crash_after_recording(path: Path, names: list[str]) -> None:
    """A real process records entries, then dies by SIGKILL before closing the store."""
    code = textwrap.dedent(f"""
        import os, signal
        from pathlib import Path
        from personactl.engine.state import StateEntry, StateStore
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
        "state journal emu.json.journal is malformed at line 2; restore the state file from "
        "version control"
    )


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
