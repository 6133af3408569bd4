"""`personactl smoke`: can each applied persona start a session?"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import click

from personactl.commands.options import connection_options, output_option

if TYPE_CHECKING:
    from personactl.usecases.connect import ApiOptions


@click.command()
@click.argument("names", nargs=-1)
@connection_options
@output_option(("table", "json"), "A table, or a JSON list with one object per persona.")
def smoke(names: tuple[str, ...], api: ApiOptions, fmt: str) -> int:
    """Check that each applied persona (or only NAMES) can start a session.

    Asks POST /v1/auth/session-token for every persona the environment's
    state records: a persona that gets a session token can start a session.
    The tokens are credentials and are never printed. Exit status 1 if any
    persona cannot start; a rejected API key stops the run at once.
    """
    from dataclasses import asdict

    from personactl.output.table import format_table
    from personactl.usecases.smoke import smoke as check

    checked = check(names, api)
    rows = [asdict(c) for c in checked]
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
