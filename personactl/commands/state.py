"""`personactl state list|show|rm|mv|history|pull|push|unlock`: inspect, repair and move
an environment's state."""

from __future__ import annotations

import json
from typing import Any

import click

from personactl.commands.options import env_option


def _env(env_name: str | None) -> Any:
    from pathlib import Path

    from personactl.manifest.loader import find_project_root, load_project

    project, _ = load_project(find_project_root(Path.cwd()))
    env = project.require_environment(env_name)
    return env


def _store(env: Any, operation: str = "state") -> Any:
    from personactl.usecases.state import store_for

    return store_for(env, operation=operation)


class _Read:
    """What `_find` needs of a store: the state (read without the lock) and its name."""

    def __init__(self, state: Any, display: str) -> None:
        self.state = state
        self.display = display


def _read(env: Any, serial: int | None = None) -> Any:
    from personactl.engine.state import State
    from personactl.usecases.state import state_at, state_display_of

    display = state_display_of(env)
    if serial is None:
        from personactl.usecases.state import current_state

        state = current_state(env) or State(environment=env.name)
    else:
        state = state_at(env, serial)
    return _Read(state, display)


def _find(store: Any, ref: str) -> Any:
    """`NAME`, or `KIND/NAME` when a persona and a tool share the name."""
    from personactl.core.errors import PersonactlError

    kind, _, name = ref.rpartition("/")
    matches = [
        e
        for e in store.state.resources
        if e.name == name and (not kind or e.kind.lower() == kind.lower())
    ]
    if not matches:
        known = ", ".join(f"{e.kind}/{e.name}" for e in store.state.resources) or "none"
        raise PersonactlError(
            f"no resource {ref!r} in the state of environment "
            f"{store.state.environment!r} (recorded: {known})"
        )
    if len(matches) > 1:
        raise PersonactlError(
            f"{ref!r} is both a Persona and a Tool: write Persona/{name} or Tool/{name}"
        )
    return matches[0]


@click.group()
def state() -> None:
    """List, show, forget or rename what the state records.

    The state (the file .personactl/ENV.json unless the environment sets
    `state`, which may also name a PostgreSQL or HTTP backend) records, per
    resource, its id, what personactl last sent and what the server returned:
    plan compares with it to tell drift from local changes. `history` lists its
    versions, `pull` and `push` move it, `unlock` breaks a gone run's lock.
    """


@state.command("list")
@env_option
def list_(env_name: str | None) -> None:
    """List the resources recorded in the state."""
    from personactl.output.table import format_table

    store = _read(_env(env_name))
    rows = [
        [e.kind, e.name, e.anam_name, e.id]
        for e in sorted(store.state.resources, key=lambda e: (e.kind, e.name))
    ]
    if not rows:
        click.echo(f"No resources recorded in {store.display}.", err=True)
        return
    click.echo(format_table(["KIND", "NAME", "ANAM NAME", "ID"], rows), nl=False)


@state.command()
@click.argument("name")
@click.option(
    "--serial",
    type=click.IntRange(1),
    metavar="N",
    help="Show it as version N of the state recorded it (see `state history`).",
)
@env_option
def show(name: str, serial: int | None, env_name: str | None) -> None:
    """Show one recorded resource as JSON.

    What personactl last sent (applied), what the server returned for it
    (observed) and the fingerprint. Secrets appear only as sentinels. NAME
    may be KIND/NAME when a persona and a tool share it.
    """
    from personactl.core.serialize import to_json

    store = _read(_env(env_name), serial)
    click.echo(json.dumps(to_json(_find(store, name)), indent=2, ensure_ascii=False))


@state.command()
@click.argument("name")
@env_option
def rm(name: str, env_name: str | None) -> None:
    """Forget a recorded resource; the live one is not touched.

    personactl stops managing it: the next plan creates it again if a manifest
    still declares it (or adopts it by name). NAME may be KIND/NAME.
    """
    store = _store(_env(env_name), "state rm")
    with store:
        entry = _find(store, name)
        store.forget(entry.kind, entry.name)
    click.echo(
        f"Removed {entry.kind} {entry.name!r} ({entry.id}) from {store.display}; "
        "the live resource is unchanged."
    )


@state.command()
@click.argument("old")
@click.argument("new")
@env_option
def mv(old: str, new: str, env_name: str | None) -> None:
    """Rename a recorded resource from OLD to NEW.

    Run it after renaming a manifest's metadata.name, so that the next plan
    updates the resource instead of creating a new one and deleting the old.
    """
    from dataclasses import replace

    from personactl.core.errors import PersonactlError

    store = _store(_env(env_name), "state mv")
    with store:
        entry = _find(store, old)
        if store.state.find(entry.kind, new):
            raise PersonactlError(f"{entry.kind} {new!r} is already in the state")
        store.forget(entry.kind, entry.name)
        store.record(replace(entry, name=new))
    click.echo(f"Moved {entry.kind} {entry.name!r} to {new!r} in {store.display}.")


@state.command()
@env_option
def history(env_name: str | None) -> None:
    """List the state's versions, newest first.

    Per version: serial, when, who, operation, resources, changes.

    Every write makes a new version (serial + 1). The file backend keeps the
    last 20 in .personactl/ENV.history/ (git keeps the rest when the state file
    is committed); PostgreSQL keeps every version; an HTTP state keeps the last
    50 lines in the state itself.
    """
    from personactl.output.table import format_table
    from personactl.usecases.state import history as versions
    from personactl.usecases.state import state_display_of

    env = _env(env_name)
    rows = [
        [v.serial, v.at, v.who, v.operation, v.resources, v.changes]
        for v in reversed(versions(env))
    ]
    if not rows:
        click.echo(f"No versions recorded for {state_display_of(env)}.", err=True)
        return
    click.echo(
        format_table(["SERIAL", "WHEN", "WHO", "OPERATION", "RESOURCES", "CHANGES"], rows),
        nl=False,
    )


@state.command()
@env_option
def pull(env_name: str | None) -> None:
    """Print the current state as JSON (state pull > FILE).

    Any journal of a run in progress or killed is folded in.
    """
    from personactl.usecases.state import pull as current

    click.echo(current(_env(env_name)), nl=False)


@state.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option(
    "--force",
    is_flag=True,
    help="Replace the state even if FILE has another lineage or an older serial.",
)
@env_option
def push(file: str, force: bool, env_name: str | None) -> None:
    """Make FILE the environment's state (moves a state).

    FILE comes from `state pull`, or is a state file.

    This is how a file state moves to PostgreSQL or HTTP: set the environment's
    `state:` to the new backend, then `personactl state push .personactl/ENV.json`.
    The state keeps its lineage, so saved plans stay valid. Refused if the
    environment's state has another lineage or a newer serial, unless --force.
    """
    from pathlib import Path

    from personactl.usecases.state import push as replace

    done = replace(_env(env_name), Path(file), file, force=force)
    click.echo(
        f"Pushed {file} to {done.display}: serial {done.serial}, {done.resources} resources.",
        err=True,
    )


@state.command()
@click.argument("lock_id")
@env_option
def unlock(lock_id: str, env_name: str | None) -> None:
    """Break the lock of a run that is gone, by its id.

    The run was killed, or its runner lost.

    The id is in the error a locked run prints. A file lock held by a running
    process cannot be broken: stop that process (it releases the lock as it
    exits). Breaking the lock of a run that still works lets two runs write.
    """
    from personactl.usecases.state import unlock as force

    holder = force(_env(env_name), lock_id)
    click.echo(f"Unlocked: lock {holder.id} of {holder.describe()} is released.", err=True)
