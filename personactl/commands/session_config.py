"""`personactl session-config NAME`: the persona_config data message for a live session.

Which message, and how it is checked: `personactl.usecases.session_config`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from personactl.commands.options import api_options

if TYPE_CHECKING:
    from personactl.usecases.connect import ApiOptions


@click.command("session-config")
@click.argument("name")
@click.option(
    "--set",
    "assignments",
    multiple=True,
    metavar="PATH=VALUE",
    help="A change, e.g. voiceGeneration.speed=1.1 or languageCode=fr (repeatable); "
    "VALUE is JSON when it parses, else a string.",
)
@click.option(
    "--from-env",
    "from_env",
    metavar="OTHER",
    help="Change a session running the -e environment's configuration to environment "
    "OTHER's: send only what differs.",
)
@click.option("--compact", is_flag=True, help="One line of JSON.")
@api_options
def session_config(
    name: str, api: ApiOptions, assignments: tuple[str, ...], from_env: str | None, compact: bool
) -> None:
    """Print the persona_config data message that changes a live session of NAME.

    Only languageCode, voiceGenerationOptions and voiceDetectionOptions can
    change in a live session (send the output with sendDataMessage()). The
    message is checked by Anam's rules: not empty, known fields only, values
    in range for the persona's voice provider and model.
    """
    from personactl import live
    from personactl.usecases.session_config import session_config as message_data

    data = message_data(
        name,
        api,
        assignments=assignments,
        from_env=from_env,
        warn=lambda text: click.echo(f"warning: {text}", err=True),
    )
    click.echo(live.dumps(live.message(data), compact=compact))
