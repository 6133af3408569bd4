"""The state backends (file, PostgreSQL, HTTP with both lock styles) behind one StateStore:
the same lock, journal, history and lease semantics, on real servers."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from state_servers import HttpStateServer

from personactl.backends import LEASE_ENV, Backend, LockLost, StateLocked
from personactl.backends.file import FileBackend
from personactl.backends.http import HttpBackend
from personactl.backends.postgres import PostgresBackend
from personactl.core.errors import PersonactlError
from personactl.core.records import StateEntry
from personactl.engine.state import StateStore, read_state
from personactl.manifest.model import StateConfig

KINDS = ["file", "postgres", "http-terraform", "http-gitlab"]
LOCK_MESSAGE = re.compile(
    r"the state of environment 'prod' is locked by \S+@\S+ \(apply since \S+Z(?:, job \S+)?\), "
    r"lock id "
    r"(?P<id>[0-9a-f-]{36}); wait for it to finish, or if that run is gone, run "
    r"`personactl state unlock (?P=id) -e prod`"
)


def entry(name: str, **applied: Any) -> StateEntry:
    body = {"name": name, **applied}
    return StateEntry("Persona", name, name, f"id-{name}", body, dict(body))


@pytest.fixture(scope="module")
def http_servers() -> Iterator[dict[bool, HttpStateServer]]:
    with HttpStateServer(gitlab=False) as terraform, HttpStateServer(gitlab=True) as gitlab:
        yield {False: terraform, True: gitlab}


Factory = Callable[[], Backend]


@pytest.fixture(params=KINDS)
def make(
    request: pytest.FixtureRequest, tmp_path: Path, http_servers: dict[bool, HttpStateServer]
) -> Iterator[Factory]:
    """A factory of backends that all reach the same state, as two checkouts would."""
    kind = request.param
    name = re.sub(r"\W", "_", request.node.name.lower())[:40]
    if kind == "file":
        yield lambda: FileBackend(tmp_path / "prod.json", "prod.json")
    elif kind == "postgres":
        url = request.getfixturevalue("pg_url")
        yield lambda: PostgresBackend(url, f"s_{name}", "prod")
    else:
        server = http_servers[kind == "http-gitlab"]
        config = server.state_config(name)
        state = StateConfig(
            backend="http",
            address=config["address"],
            lock_address=config.get("lockAddress", config["address"]),
            unlock_address=config.get("unlockAddress", config["address"]),
            lock_method=config.get("lockMethod", "LOCK"),
            unlock_method=config.get("unlockMethod", "UNLOCK"),
            username_env="STATE_USER",
            password_env="STATE_PASSWORD",
        )
        yield lambda: HttpBackend.from_config(state, "prod", server.env)


def store(make: Factory, **kw: Any) -> StateStore:
    return StateStore(make(), environment="prod", **kw)


def test_a_second_lock_fails_at_once_naming_the_holder_and_lock_id(
    make: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI_JOB_URL", "https://ci.example/acme/-/jobs/7")  # the holder is a job
    with store(make) as first:
        monkeypatch.delenv("CI_JOB_URL")
        assert first.info is not None
        start = time.monotonic()
        with pytest.raises(StateLocked) as caught:
            store(make).lock()
        assert time.monotonic() - start < 2
        found = LOCK_MESSAGE.fullmatch(caught.value.message)
        assert found, caught.value.message
        assert found["id"] == first.info.id
        assert ", job https://ci.example/acme/-/jobs/7), lock id" in caught.value.message
    with store(make) as again:  # released on exit: the next run locks at once
        assert again.took_over is None


def test_each_record_is_durable_when_record_returns_and_close_makes_one_version(
    make: Factory,
) -> None:
    with store(make) as s:
        s.record(entry("cara"))
        s.record(entry("lea"))
        s.forget("Persona", "cara")
        # Another checkout reading now (plan) sees every success so far.
        seen = read_state(make(), "prod")
        assert seen is not None and [e.name for e in seen.resources] == ["lea"]
    state = read_state(make(), "prod")
    assert state is not None and [e.name for e in state.resources] == ["lea"]
    assert state.lineage and state.serial >= 1
    history = make().history()
    assert history[-1].serial == state.serial
    kept = make().document_at(state.serial)  # what `state show --serial N` reads
    assert kept is not None and '"name": "lea"' in kept and '"name": "cara"' not in kept
    assert (history[-1].operation, history[-1].resources) == ("apply", 1)
    assert re.fullmatch(r"\S+@\S+", history[-1].who)


def test_an_expired_lease_is_taken_over_saying_whose_it_was(
    make: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(LEASE_ENV, "0.2")
    dead = store(make, operation="apply")
    dead.lock()
    dead._stop.set()  # the holder stops renewing, as a killed one would
    assert dead.info is not None
    if isinstance(dead.backend, FileBackend):
        # A file lock ends with its process: what a SIGKILL leaves is the lock info alone.
        assert dead.backend._lock_file is not None
        dead.backend._lock_file.close()
        dead.backend._lock_file = None
    time.sleep(0.3)
    said: list[str] = []
    with store(make, notify=said.append) as taker:
        assert taker.took_over is not None and taker.took_over.id == dead.info.id
        assert said == [
            f"Took over the lock of {dead.info.describe()} (lock id {dead.info.id}): "
            "that run ended without releasing it"
        ]
        if not isinstance(dead.backend, FileBackend):
            # The old holder is fenced off: its next write fails, naming why.
            with pytest.raises(LockLost) as lost:
                dead.backend.write('{"version": 3, "serial": 99}', _version(99))
            assert lost.value.message.startswith(
                f"this run lost its lock {dead.info.id} on {dead.backend.display}: its lease "
                "ran out and "
            ) and lost.value.message.endswith("took it over; nothing more is written, run again")


def _version(serial: int) -> Any:
    from personactl.backends import Version

    return Version(serial, "", "", "", 0, 0)


@pytest.mark.parametrize("make", ["postgres", "http-terraform", "http-gitlab"], indirect=True)
def test_a_lease_is_renewed_while_the_holder_works(
    make: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(LEASE_ENV, "0.2")
    with store(make) as s:
        time.sleep(0.5)  # more than two leases
        with pytest.raises(StateLocked):
            store(make).lock()
        s.record(entry("cara"))


def test_unlock_by_id_breaks_a_dead_runs_lock_and_names_the_holder_otherwise(
    make: Factory, tmp_path: Path
) -> None:
    dead = store(make)
    dead.lock()
    dead._stop.set()
    assert dead.info is not None
    if isinstance(dead.backend, FileBackend):
        # Held by a live process (this one): a file lock cannot be broken from outside.
        with pytest.raises(PersonactlError) as caught:
            make().force_unlock(dead.info.id)
        assert caught.value.message == (
            f"lock {dead.info.id} on prod.json is held by a running process of "
            f"{dead.info.who}: a file lock ends with its process, so stop that run "
            "(it releases the lock as it exits)"
        )
        assert dead.backend._lock_file is not None
        dead.backend._lock_file.close()  # now the process is "gone"
        dead.backend._lock_file = None
    with pytest.raises(PersonactlError) as wrong:
        make().force_unlock("00000000-0000-0000-0000-000000000000")
    assert "no lock 00000000-0000-0000-0000-000000000000 on " in wrong.value.message
    if not isinstance(dead.backend, FileBackend):
        assert wrong.value.message.endswith(
            f"it is locked by {dead.info.describe()}, lock id {dead.info.id}"
        )
    broken = make().force_unlock(dead.info.id)
    assert broken.id == dead.info.id
    with store(make):
        pass


def test_parallel_records_share_flushes_and_all_are_durable(make: Factory) -> None:
    """Group commit: records arriving during a flush go out together in the next one."""
    backend = make()
    flushes: list[int] = []
    real_append, real_write = backend.append, backend.write

    def append(records: list[str]) -> None:
        flushes.append(len(records))
        time.sleep(0.02)  # a slow disk or a round trip
        real_append(records)

    def write(document: str, version: Any) -> None:
        flushes.append(1)
        time.sleep(0.02)
        real_write(document, version)

    backend.append = append  # type: ignore[method-assign]
    backend.write = write  # type: ignore[method-assign]
    with StateStore(backend, environment="prod") as s:
        threads = [threading.Thread(target=s.record, args=(entry(f"p{i:02d}"),)) for i in range(24)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        seen = read_state(make(), "prod")
        assert seen is not None and len(seen.resources) == 24
    # Far fewer flushes than records (a flush per record would be 24, +1 the final version).
    assert len(flushes) <= 12, flushes
    state = read_state(make(), "prod")
    assert state is not None and len(state.resources) == 24
