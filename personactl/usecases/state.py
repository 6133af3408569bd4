"""The state use cases: open an environment's state backend, read it, list its history,
show an old version, pull it, push a file into it, break a lock by its id."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from personactl.backends import Backend, LockInfo, Version, display_of, open_backend
from personactl.core.errors import PersonactlError
from personactl.engine.state import (
    State,
    StateStore,
    parse_state,
    read_state,
)
from personactl.manifest.loader import display_path
from personactl.manifest.model import Environment


def backend_for(env: Environment) -> Backend:
    return open_backend(env.state, env.name, env.state_path, display_path(env.state_path))


def state_display_of(env: Environment) -> str:
    """How plans and messages name the environment's state: its file, or its backend."""
    return display_of(env.state, env.name, display_path(env.state_path))


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def store_for(
    env: Environment, *, lineage: str | None = None, operation: str = "apply"
) -> StateStore:
    """The environment's state, ready to lock (`with store:`); a lock taken over from a
    run that ended without releasing it is said on stderr."""
    return StateStore(
        backend_for(env),
        environment=env.name,
        lineage=lineage,
        operation=operation,
        notify=_stderr,
    )


def current_state(env: Environment) -> State | None:
    """The environment's state as it is now (journal included), unlocked; None: none yet."""
    backend = backend_for(env)
    try:
        return read_state(backend, env.name)
    finally:
        backend.close()


def history(env: Environment) -> list[Version]:
    backend = backend_for(env)
    try:
        return backend.history()
    finally:
        backend.close()


def state_at(env: Environment, serial: int | None) -> State:
    """The state at `serial` (None: the current one), or an error naming what exists."""
    backend = backend_for(env)
    try:
        if serial is None:
            state = read_state(backend, env.name)
            if state is None:
                raise PersonactlError(
                    f"environment {env.name!r} has no state yet ({backend.display})"
                )
            return state
        text = backend.document_at(serial)
        if text is None:
            kept = [v.serial for v in backend.history()]
            have = f"versions kept: {_ranges(kept)}" if kept else "no versions are kept"
            raise PersonactlError(f"no version with serial {serial} in {backend.display} ({have})")
        return parse_state(text, backend, env.name)
    finally:
        backend.close()


def _ranges(serials: list[int]) -> str:
    if not serials:
        return ""
    return f"{serials[0]}" if len(serials) == 1 else f"{serials[0]}..{serials[-1]}"


def pull(env: Environment) -> str:
    """The current state document (journal folded in), as `state pull` prints it."""
    return state_at(env, None).document()


@dataclass
class Pushed:
    display: str
    serial: int
    resources: int


def push(env: Environment, source: Path, display: str, *, force: bool = False) -> Pushed:
    """Make the state in `source` (a file from `state pull`, or a file state) the
    environment's next version; another lineage or an older serial is refused unless
    `force`."""
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as exc:
        raise PersonactlError(f"cannot read {display}: {exc.strerror}") from None
    store = store_for(env, operation="state push")
    with store:
        from personactl.backends.file import FileBackend

        incoming = parse_state(text, FileBackend(source, display), env.name)
        have = store.state
        if not force and have.serial > 0:
            if incoming.lineage != have.lineage:
                raise PersonactlError(
                    f"{display} is from another state (lineage {incoming.lineage}) than "
                    f"{store.display} ({have.lineage}); pass --force to replace it anyway"
                )
            if incoming.serial < have.serial:
                raise PersonactlError(
                    f"{display} is older (serial {incoming.serial}) than {store.display} "
                    f"(serial {have.serial}); pull the state again, or pass --force"
                )
        incoming.environment = env.name
        incoming.lineage = incoming.lineage or have.lineage
        incoming.serial = max(incoming.serial, have.serial)
        store.replace(incoming)
        return Pushed(store.display, store.state.serial, len(incoming.resources))


def unlock(env: Environment, lock_id: str) -> LockInfo:
    backend = backend_for(env)
    try:
        return backend.force_unlock(lock_id)
    finally:
        backend.close()
