"""The smoke use case: can each applied persona start a session?

A persona that gets a session token (`AnamApi.session_token`) can start one.
The tokens are credentials: they are checked for, never kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from personactl.anam.api import AnamApi
from personactl.anam.errors import AuthRejected
from personactl.core.errors import PersonactlError
from personactl.core.records import StateEntry
from personactl.core.suggest import unknown_names
from personactl.manifest.model import Environment
from personactl.usecases.connect import ApiOptions, Connect, connect
from personactl.usecases.project import project_here
from personactl.usecases.state import current_state


@dataclass(frozen=True)
class Checked:
    """One persona's answer; `detail` says why it cannot start."""

    name: str
    id: str
    ok: bool
    detail: str


def smoke(names: tuple[str, ...], api: ApiOptions, *, connect: Connect = connect) -> list[Checked]:
    """Ask a session token for every persona the state records (or only `names`).

    A rejected API key fails every persona alike: it is raised after the first 401."""
    project = project_here()
    env = project.require_environment(api.env_name)
    personas = _applied(env, names)
    client = api.client(env, project.root, connect)
    anam = AnamApi(client)
    rejected: list[AuthRejected] = []

    def session_token(entry: StateEntry) -> Any:
        # A rejected key fails every persona alike: stop asking after the first 401.
        if rejected:
            raise rejected[0]
        try:
            return anam.session_token(entry.id)
        except AuthRejected as exc:
            rejected.append(exc)
            raise

    try:
        outcomes = anam.map_concurrent(session_token, personas)
    finally:
        client.close()
    if rejected:
        raise rejected[0]
    rows = []
    for entry, outcome in zip(personas, outcomes, strict=True):
        ok = (
            outcome.ok
            and isinstance(outcome.value, dict)
            and bool(outcome.value.get("sessionToken"))
        )
        detail = (
            "session token issued"
            if ok
            else (getattr(outcome.error, "message", None) or "no session token in the answer")
        )
        rows.append(Checked(entry.name, entry.id, ok, detail))
    return rows


def _applied(env: Environment, names: tuple[str, ...]) -> list[StateEntry]:
    """The personas the environment's state records, or those of them named."""
    state = current_state(env)
    personas = [e for e in (state.resources if state else []) if e.kind == "Persona"]
    if names:
        known = {e.name for e in personas}
        if unknown := unknown_names(names, known):
            raise PersonactlError(
                f"{unknown} not applied in environment {env.name!r} "
                f"(applied: {', '.join(sorted(known)) or 'none'})"
            )
        personas = [e for e in personas if e.name in names]
    if not personas:
        raise PersonactlError(
            f"no applied personas in environment {env.name!r}: run `personactl apply` first"
        )
    return personas
