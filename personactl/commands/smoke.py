"""`personactl smoke`: can each applied persona start a session?"""

from __future__ import annotations

import json
from typing import Any

import click

from personactl.commands.options import connection_options


@click.command()
@click.argument("names", nargs=-1)
@connection_options
@click.option(
    "-o",
    "--output",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="A table, or a JSON list with one object per persona.",
)
@click.pass_context
def smoke(
    ctx: click.Context,
    names: tuple[str, ...],
    env_name: str | None,
    api_key: str | None,
    api_url: str | None,
    parallelism: int,
    fmt: str,
) -> int:
    """Check that each applied persona (or only NAMES) can start a session.

    Asks POST /v1/auth/session-token for every persona the environment's
    state records: a persona that gets a session token can start a session.
    The tokens are credentials and are never printed. Exit status 1 if any
    persona cannot start; a rejected API key stops the run at once.
    """
    from pathlib import Path

    from personactl.anam.client import client_for
    from personactl.anam.errors import AuthRejected
    from personactl.core.errors import PersonactlError
    from personactl.engine.state import load_state
    from personactl.manifest.loader import display_path, find_project_root, load_project
    from personactl.output.table import format_table

    project, _ = load_project(find_project_root(Path.cwd()))
    env = project.require_environment(env_name)
    state = load_state(env.state_path, display_path(env.state_path))
    personas = [e for e in (state.resources if state else []) if e.kind == "Persona"]
    if names:
        known = {e.name for e in personas}
        unknown = [n for n in names if n not in known]
        if unknown:
            raise PersonactlError(
                f"{', '.join(repr(u) for u in unknown)} not applied in environment "
                f"{env.name!r} (applied: {', '.join(sorted(known)) or 'none'})"
            )
        personas = [e for e in personas if e.name in names]
    if not personas:
        raise PersonactlError(
            f"no applied personas in environment {env.name!r}: run `personactl apply` first"
        )
    client = client_for(
        env,
        project.root,
        api_key=api_key,
        api_url=api_url,
        parallelism=parallelism,
        debug=bool(ctx.obj.get("debug")),
    )
    rejected: list[AuthRejected] = []

    def session_token(entry: Any) -> Any:
        # A rejected key fails every persona alike: stop asking after the first 401.
        if rejected:
            raise rejected[0]
        try:
            return client.post(
                "/v1/auth/session-token",
                {"personaConfig": {"personaId": entry.id}},
                idempotent=True,
            )
        except AuthRejected as exc:
            rejected.append(exc)
            raise

    try:
        outcomes = client.map_concurrent(session_token, personas)
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
        rows.append({"name": entry.name, "id": entry.id, "ok": ok, "detail": detail})
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2))
    else:
        click.echo(
            format_table(
                ["PERSONA", "ID", "RESULT", "DETAIL"],
                [[r["name"], r["id"], "ok" if r["ok"] else "FAILED", r["detail"]] for r in rows],
            ),
            nl=False,
        )
    failed = [r for r in rows if not r["ok"]]
    if failed:
        click.echo(f"{len(failed)} of {len(rows)} personas cannot start a session.", err=True)
        return 1
    click.echo(f"All {len(rows)} personas can start a session.", err=True)
    return 0
