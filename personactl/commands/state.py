"""`personactl state list|show|rm|mv`: inspect and repair the state file."""

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


def _store(env: Any) -> Any:
    from personactl.engine.state import StateStore
    from personactl.manifest.loader import display_path

    return StateStore(env.state_path, display_path(env.state_path), env.name)


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

    The state file (.personactl/ENV.json unless the environment sets `state`)
    records, per resource, its id, what personactl last sent and what the
    server returned: plan compares with it to tell drift from local changes.
    """


@state.command("list")
@env_option
def list_(env_name: str | None) -> None:
    """List the resources recorded in the state."""
    from personactl.output.table import format_table

    store = _store(_env(env_name))
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
@env_option
def show(name: str, env_name: str | None) -> None:
    """Show one recorded resource as JSON.

    What personactl last sent (applied), what the server returned for it
    (observed) and the fingerprint. Secrets appear only as sentinels. NAME
    may be KIND/NAME when a persona and a tool share it.
    """
    from personactl.core.serialize import to_json

    store = _store(_env(env_name))
    click.echo(json.dumps(to_json(_find(store, name)), indent=2, ensure_ascii=False))


@state.command()
@click.argument("name")
@env_option
def rm(name: str, env_name: str | None) -> None:
    """Forget a recorded resource; the live one is not touched.

    personactl stops managing it: the next plan creates it again if a manifest
    still declares it (or adopts it by name). NAME may be KIND/NAME.
    """
    store = _store(_env(env_name))
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

    store = _store(_env(env_name))
    with store:
        entry = _find(store, old)
        if store.state.find(entry.kind, new):
            raise PersonactlError(f"{entry.kind} {new!r} is already in the state")
        store.forget(entry.kind, entry.name)
        store.record(replace(entry, name=new))
    click.echo(f"Moved {entry.kind} {entry.name!r} to {new!r} in {store.display}.")
