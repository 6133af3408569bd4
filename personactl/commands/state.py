"""`personactl state list|show|rm|mv`: inspect and repair the state file."""

from __future__ import annotations

import json
from typing import Any

import click


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
    from personactl.errors import PersonactlError

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
    """Inspect and repair the state file of an environment."""


@state.command("list")
@click.option("-e", "--env", "env_name", help="Environment (default: the default one).")
def list_(env_name: str | None) -> None:
    """List the resources recorded in the state."""
    from personactl.output.table import format_table

    store = _store(_env(env_name))
    rows = [
        [e.kind, e.name, e.anamName, e.id]
        for e in sorted(store.state.resources, key=lambda e: (e.kind, e.name))
    ]
    if not rows:
        click.echo(f"No resources recorded in {store.display}.", err=True)
        return
    click.echo(format_table(["KIND", "NAME", "ANAM NAME", "ID"], rows), nl=False)


@state.command()
@click.argument("name")
@click.option("-e", "--env", "env_name", help="Environment (default: the default one).")
def show(name: str, env_name: str | None) -> None:
    """Show one recorded resource as JSON (secrets appear only as sentinels)."""
    from dataclasses import asdict

    store = _store(_env(env_name))
    click.echo(json.dumps(asdict(_find(store, name)), indent=2, ensure_ascii=False))


@state.command()
@click.argument("name")
@click.option("-e", "--env", "env_name", help="Environment (default: the default one).")
def rm(name: str, env_name: str | None) -> None:
    """Forget a resource: personactl stops managing it; the live one is not touched."""
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
@click.option("-e", "--env", "env_name", help="Environment (default: the default one).")
def mv(old: str, new: str, env_name: str | None) -> None:
    """Rename a recorded resource after renaming its metadata.name, so the next
    plan updates it instead of creating a new one."""
    from dataclasses import replace

    from personactl.errors import PersonactlError

    store = _store(_env(env_name))
    with store:
        entry = _find(store, old)
        if store.state.find(entry.kind, new):
            raise PersonactlError(f"{entry.kind} {new!r} is already in the state")
        store.forget(entry.kind, entry.name)
        store.record(replace(entry, name=new))
    click.echo(f"Moved {entry.kind} {entry.name!r} to {new!r} in {store.display}.")
