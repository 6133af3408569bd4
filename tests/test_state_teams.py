"""Team state through the real CLI: two checkouts (separate processes) sharing one
environment's state in PostgreSQL or over HTTP, against the emulator.

Exactly one apply proceeds and the other fails at once naming the holder and the
lock id; nothing is created twice; the next plan of either checkout is empty. A
holder killed with SIGKILL is taken over after its lease, and the run converges.
Then the state commands: history, show --serial, pull, push (how a file state
moves to a remote backend), unlock.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from cli_support import spawn
from e2e_support import KEY, TOKEN, Emulator, emulator, make_project, pc, slow_writes
from state_servers import HttpStateServer

# The example project's resources (LLM, knowledge group, tools, personas).
N = 10

LOCKED = re.compile(
    r"error: the state of environment 'emu' is locked by \S+@\S+ \(apply since \S+Z\), "
    r"lock id (?P<id>[0-9a-f-]{36}); wait for it to finish, or if that run is gone, run "
    r"`personactl state unlock (?P=id) -e emu`\n"
)


@dataclass
class Team:
    a: Path
    b: Path
    env: dict[str, str]
    emu: Emulator
    held: Any  # () -> the lock id the state's server holds now, or None

    def apply(self, project: Path, *args: str) -> Any:
        return pc(project, "apply", "--auto-approve", *args, env=self.env)

    def spawn_apply(self, project: Path) -> subprocess.Popen[str]:
        return spawn(
            ["apply", "--auto-approve", "--parallelism", "1"],
            project,
            {"EMU_KEY": KEY, "ACME_ORDERS_TOKEN": TOKEN, **self.env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )

    def wait_first_write(self, proc: subprocess.Popen[str]) -> None:
        deadline = time.monotonic() + 30
        while not any(w.method == "POST" for w in self.emu.writes()):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the first apply never wrote"
            time.sleep(0.01)

    def live_names(self) -> Counter[str]:
        return Counter(
            [f"Persona/{p['name']}" for p in self.emu.personas()]
            + [f"Tool/{t['name']}" for t in self.emu.tools()]
            + [f"LLM/{m['displayName']}" for m in self.emu.llms()]
            + [f"KnowledgeGroup/{g['name']}" for g in self._groups()]
        )

    def _groups(self) -> list[dict[str, Any]]:
        with self.emu.client() as c:
            groups = c.get("/v1/knowledge/groups").json()
        return [g for g in groups if g["name"].startswith("t-")]  # the seeded one left out


def _set_state(project: Path, state: dict[str, str]) -> None:
    path = project / "personactl.yaml"
    config = yaml.safe_load(path.read_text())
    config["spec"]["environments"]["emu"]["state"] = state
    path.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True))


@pytest.fixture
def team(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Team]:
    kind = request.param
    name = f"t{abs(hash(request.node.name)) % 10**8}"
    with emulator(tmp_path / "data", hook=slow_writes(0.12)) as emu:
        a = make_project(tmp_path / "a", emu.url)
        b = make_project(tmp_path / "b", emu.url)
        if kind == "postgres":
            url = request.getfixturevalue("pg_url")
            state = {"backend": "postgres", "urlEnv": "TEAM_STATE_URL", "schema": name}
            env = {"TEAM_STATE_URL": url}

            def held() -> str | None:
                import psycopg

                with psycopg.connect(url) as conn:
                    row = conn.execute(f"SELECT id FROM {name}.locks").fetchone()
                return row[0] if row else None

            for project in (a, b):
                _set_state(project, state)
            yield Team(a, b, env, emu, held)
        else:
            with HttpStateServer(gitlab=kind == "http-gitlab") as server:
                for project in (a, b):
                    _set_state(project, server.state_config(name))

                def held() -> str | None:
                    lock = server.states[name].lock
                    return lock["ID"] if lock else None

                yield Team(a, b, dict(server.env), emu, held)


@pytest.mark.parametrize(
    ("team", "interrupt"), [("postgres", False), ("http-gitlab", True)], indirect=["team"]
)
def test_two_checkouts_apply_at_once_one_proceeds_the_other_fails_naming_the_holder(
    team: Team, interrupt: bool
) -> None:
    """`interrupt`: the first is then stopped with Ctrl-C, which releases the lock at once
    (no lease to wait for), and the second applies the rest."""
    first = team.spawn_apply(team.a)
    try:
        team.wait_first_write(first)
        holder = team.held()
        second = team.apply(team.b)
        assert first.poll() is None, "the first apply ended before the check"
        if interrupt:
            first.send_signal(signal.SIGINT)
    finally:
        out, err = first.communicate(timeout=60)
    assert (second.code, second.out) == (1, "")
    found = LOCKED.fullmatch(second.err)
    assert found, second.err
    assert found["id"] == holder
    assert team.held() is None  # released at the end, Ctrl-C or not
    if interrupt:
        assert first.returncode == 1, err
        assert out.splitlines()[-1].startswith("Apply interrupted! Resources: ")
        rest = team.apply(team.b)
        assert rest.code == 0, rest.err
    else:
        assert first.returncode == 0, err
        assert out.splitlines()[-1].startswith(f"Apply complete! Resources: {N} created")
    names = team.live_names()
    assert len(names) == N and set(names.values()) == {1}  # nothing twice
    for project in (team.a, team.b):
        plan = pc(project, "plan", "--detailed-exitcode", env=team.env)
        assert plan.code == 0, plan.out + plan.err


@pytest.mark.parametrize("team", ["postgres", "http-terraform"], indirect=True)
def test_a_killed_holder_is_taken_over_after_its_lease_and_the_run_converges(
    team: Team,
) -> None:
    team.env["PERSONACTL_LOCK_LEASE"] = "0.6"
    first = team.spawn_apply(team.a)
    team.wait_first_write(first)
    time.sleep(0.25)  # a few writes recorded
    dead = team.held()
    first.send_signal(signal.SIGKILL)
    first.communicate()
    team.emu.wait_idle()  # a request the killed process sent still lands
    assert team.held() == dead  # nobody released it
    time.sleep(0.7)  # the lease (PERSONACTL_LOCK_LEASE=0.6) runs out
    again = team.apply(team.b)
    assert again.code == 0, again.err
    assert re.search(
        rf"^Took over the lock of \S+@\S+ \(apply since \S+Z\) \(lock id {dead}\): that run "
        "ended without releasing it$",
        again.err,
        re.MULTILINE,
    ), again.err
    names = team.live_names()
    assert len(names) == N and set(names.values()) == {1}  # the killed run's creates adopted
    assert pc(team.a, "plan", "--detailed-exitcode", env=team.env).code == 0  # the killed one


@pytest.mark.parametrize("team", ["postgres"], indirect=True)
def test_state_history_show_pull_push_and_unlock(team: Team, tmp_path: Path) -> None:
    env = team.env
    # A file state moves to PostgreSQL with push: same lineage, the next serial.
    file_project = make_project(tmp_path / "file", team.emu.url)
    assert pc(file_project, "apply", "--auto-approve").code == 0
    file_state = json.loads((file_project / ".personactl" / "emu.json").read_text())
    pushed = pc(team.a, "state", "push", str(file_project / ".personactl" / "emu.json"), env=env)
    assert pushed.code == 0, pushed.err
    assert pushed.err == (
        f"Pushed {file_project / '.personactl' / 'emu.json'} to PostgreSQL state "
        f"{_schema(team.a)}.emu: serial 2, {N} resources.\n"
    )
    pulled = pc(team.b, "state", "pull", env=env)
    assert pulled.code == 0
    doc = json.loads(pulled.out)
    assert (doc["lineage"], doc["serial"]) == (file_state["lineage"], 2)
    assert doc["resources"] == file_state["resources"]
    assert pc(team.b, "plan", "--detailed-exitcode", env=env).code == 0  # adopted as it was
    # A plan saved in one checkout; an edit applied from the other makes version 3.
    saved = pc(team.a, "plan", "--out", "plan.json", env=env)
    assert saved.code == 0, saved.err
    persona = team.b / "personas" / "support.yaml"
    persona.write_text(persona.read_text().replace("speed: 1.05", "speed: 1.1", 1))
    assert pc(team.b, "apply", "--auto-approve", env=env).code == 0
    stale = pc(team.a, "apply", "plan.json", env=env)
    assert (stale.code, stale.err) == (
        1,
        "error: the state of environment 'emu' changed since plan file plan.json was made "
        "(serial 2 -> 3); make a new one with `personactl plan --out FILE`\n",
    )
    history = pc(team.a, "state", "history", env=env)
    lines = history.out.splitlines()
    assert re.fullmatch(r"SERIAL +WHEN +WHO +OPERATION +RESOURCES +CHANGES", lines[0])
    assert re.fullmatch(rf"3 +\S+Z +\S+@\S+ +apply +{N} +1", lines[1]), lines
    assert re.fullmatch(rf"2 +\S+Z +\S+@\S+ +state push +{N} +{N}", lines[2]), lines
    assert len(lines) == 3
    old = pc(team.a, "state", "show", "support-cara", "--serial", "2", env=env)
    new = pc(team.a, "state", "show", "support-cara", env=env)
    speed = "voiceGenerationOptions"
    assert json.loads(old.out)["applied"][speed]["speed"] == 1.05
    assert json.loads(new.out)["applied"][speed]["speed"] == 1.1
    missing = pc(team.a, "state", "show", "support-cara", "--serial", "9", env=env)
    assert (missing.code, missing.err) == (
        1,
        f"error: no version with serial 9 in PostgreSQL state {_schema(team.a)}.emu "
        "(versions kept: 2..3)\n",
    )
    # An older state is refused unless --force.
    older = tmp_path / "older.json"
    older.write_text(json.dumps({**doc, "serial": 1}))
    refused = pc(team.a, "state", "push", str(older), env=env)
    assert (refused.code, refused.err) == (
        1,
        f"error: {older} is older (serial 1) than PostgreSQL state {_schema(team.a)}.emu "
        "(serial 3); pull the state again, or pass --force\n",
    )
    other = tmp_path / "other.json"
    other.write_text(json.dumps({**doc, "lineage": "0" * 8 + "-0000-0000-0000-" + "0" * 12}))
    foreign = pc(team.a, "state", "push", str(other), env=env)
    assert (foreign.code, foreign.err) == (
        1,
        f"error: {other} is from another state (lineage 00000000-0000-0000-0000-000000000000) "
        f"than PostgreSQL state {_schema(team.a)}.emu ({doc['lineage']}); pass --force to "
        "replace it anyway\n",
    )
    assert pc(team.a, "state", "push", str(older), "--force", env=env).code == 0


def _schema(project: Path) -> str:
    config = yaml.safe_load((project / "personactl.yaml").read_text())
    return str(config["spec"]["environments"]["emu"]["state"]["schema"])


@pytest.mark.parametrize("team", ["postgres"], indirect=True)
def test_state_unlock_breaks_a_gone_runs_lock_by_its_id(team: Team) -> None:
    from personactl.backends.postgres import PostgresBackend
    from personactl.engine.state import StateStore

    schema = _schema(team.a)
    gone = StateStore(PostgresBackend(team.env["TEAM_STATE_URL"], schema, "emu"), environment="emu")
    gone.lock()
    gone._stop.set()  # as if its runner vanished: no renewal, no release
    assert gone.info is not None
    locked = team.apply(team.a)
    assert LOCKED.fullmatch(locked.err), locked.err
    wrong = pc(team.a, "state", "unlock", "not-the-id", env=team.env)
    assert (wrong.code, wrong.err) == (
        1,
        f"error: no lock not-the-id on PostgreSQL state {schema}.emu: it is locked by "
        f"{gone.info.describe()}, lock id {gone.info.id}\n",
    )
    broken = pc(team.a, "state", "unlock", gone.info.id, env=team.env)
    assert (broken.code, broken.err) == (
        0,
        f"Unlocked: lock {gone.info.id} of {gone.info.describe()} is released.\n",
    )
    assert team.apply(team.a).code == 0
