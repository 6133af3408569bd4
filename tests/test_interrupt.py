"""Ctrl-C during apply: no new write starts, the writes in flight finish and are recorded,
and the summary says what was done and what was not; a second Ctrl-C stops at once.
A real process and a real signal (only a subprocess can prove this)."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

from e2e_support import emulator, make_project, pc, slow_writes, spawn_pc


def _start_apply(project: Path) -> subprocess.Popen[str]:
    return spawn_pc(
        project,
        *("apply", "--auto-approve", "--parallelism", "1"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _first_result(proc: subprocess.Popen[str]) -> str:
    """stderr up to the first resource's result line (after the knowledge group's document
    progress lines)."""
    assert proc.stderr is not None
    lines = [proc.stderr.readline()]
    while lines[-1].startswith("KnowledgeGroup "):
        lines.append(proc.stderr.readline())
    return "".join(lines)


def test_ctrl_c_finishes_what_is_in_flight_and_reports(tmp_path: Path) -> None:
    with emulator(tmp_path / "emu-data", hook=slow_writes(0.15)) as emu:
        project = make_project(tmp_path / "proj", emu.url)
        proc = _start_apply(project)
        first = _first_result(proc)
        assert first.splitlines()[-1].startswith("[1/10] llm "), first
        proc.send_signal(signal.SIGINT)
        out, rest = proc.communicate(timeout=60)
        err = first + rest
        assert proc.returncode == 1, err
        done = [line for line in err.splitlines() if line.startswith("[")]
        state = json.loads((project / ".personactl" / "emu.json").read_text())
        # The progress, the summary and the state agree on what was done.
        assert len(state["resources"]) == len(done) < 10
        assert out.splitlines()[-1] == (
            f"Apply interrupted! Resources: {len(done)} created, 0 updated, 0 deleted, "
            f"0 failed, {10 - len(done)} not started."
        )
        assert "Interrupted: finishing the writes in flight and starting no new ones" in err
        assert err.endswith(
            "The state is saved with every write that finished: run apply again to do the rest.\n"
        )
        # Nothing was sent that is not recorded (the group's 3 uploads are in its entry,
        # when the group's turn came before the Ctrl-C: the LLM goes first).
        groups = [e for e in state["resources"] if e["kind"] == "KnowledgeGroup"]
        assert len(emu.writes()) == len(done) + 3 * len(groups)
        assert [len(g["documents"]) for g in groups] in ([], [3])
        # A re-run continues where it stopped, and then there is nothing left.
        r = pc(project, "apply", "--auto-approve")
        assert r.code == 0, r.err
        assert f"{10 - len(done)} created" in r.out
        assert pc(project, "plan", "--detailed-exitcode").code == 0
        assert len(emu.personas()) == 4 and len(emu.tools()) == 4 and len(emu.llms()) == 1


def test_a_second_ctrl_c_stops_at_once(tmp_path: Path) -> None:
    with emulator(tmp_path / "emu-data", hook=slow_writes(0.4)) as emu:
        project = make_project(tmp_path / "proj", emu.url)
        proc = _start_apply(project)
        assert proc.stderr is not None
        assert _first_result(proc).splitlines()[-1].startswith("[1/10] ")
        proc.send_signal(signal.SIGINT)
        # The group's document progress may already be on its way when the signal lands.
        line = proc.stderr.readline()
        while line.startswith("KnowledgeGroup "):
            line = proc.stderr.readline()
        assert line == "\n"
        assert proc.stderr.readline().startswith("Interrupted: ")
        proc.send_signal(signal.SIGINT)
        _, rest = proc.communicate(timeout=5)
        assert proc.returncode == 1
        assert "Stopped at once: a write in flight may be unrecorded" in rest
        emu.wait_idle()  # that write lands: the re-run must find it, not make another
        # What was recorded is intact; a re-run converges without duplicates.
        assert pc(project, "apply", "--auto-approve").code == 0
        assert pc(project, "plan", "--detailed-exitcode").code == 0
        assert len(emu.personas()) == 4 and len(emu.tools()) == 4
