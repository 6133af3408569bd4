"""`personactl export NAME --format deepgram`: a persona for another voice-agent runtime.

The work is `personactl.usecases.export`; this prints the result, or writes it
to --out, and says on stderr what could not be mapped and which secret
placeholders it wrote.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import click

from personactl.commands.options import api_options

if TYPE_CHECKING:
    from personactl.usecases.connect import ApiOptions

FORMATS = ("deepgram",)


def _format(ctx: click.Context, fmt: str | None, target: str | None) -> str:
    """--format, or the --target it replaced (with a notice): export's --target was a
    format, while plan's and apply's --target is a resource."""
    if target is not None:
        click.echo(f"warning: --target is deprecated for export: use --format {target}", err=True)
    chosen = fmt or target
    if chosen is None:
        raise click.UsageError(
            f"Missing option '--format' (the only format is {', '.join(FORMATS)}).", ctx
        )
    return chosen


@click.command()
@click.argument("name")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    help="What to print: deepgram (a Deepgram Voice Agent Settings message).",
)
@click.option("--target", "target", type=click.Choice(FORMATS), hidden=True)  # the old --format
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False, writable=True),
    metavar="FILE",
    help="Write to FILE instead of stdout.",
)
@click.option(
    "--reveal-secrets",
    is_flag=True,
    help="Write secret values (read from the environment) instead of <secret:NAME> placeholders.",
)
@api_options
@click.pass_context
def export(
    ctx: click.Context,
    name: str,
    fmt: str | None,
    target: str | None,
    out: str | None,
    reveal_secrets: bool,
    api: ApiOptions,
) -> None:
    """Print persona NAME as a Deepgram Voice Agent Settings message (--format deepgram).

    Maps the persona's language, LLM and prompt, tools, voice and greeting to
    the message's listen, think, functions, speak and greeting; merges the
    persona's targets.deepgram block over the result; and validates it
    against Deepgram's schema before printing it. What cannot be mapped is
    named on stderr. The voice and LLM are resolved through the
    environment's catalog.
    """
    from personactl.usecases.export import export as export_persona
    from personactl.usecases.export import write_output

    target = _format(ctx, fmt, target)
    exported = export_persona(name, target, api, reveal_secrets=reveal_secrets)
    for warning in exported.warnings:
        click.echo(f"warning: {name}: {warning}", err=True)
    for secret, paths in sorted(exported.placeholders.items()):
        click.echo(
            f"note: secret {secret} is written as the placeholder <secret:{secret}> "
            f"(at {', '.join(paths)}); pass --reveal-secrets to write its value",
            err=True,
        )
    if exported.holds_secrets:
        click.echo("note: the output holds secret values (--reveal-secrets)", err=True)

    text = json.dumps(exported.settings, indent=2, ensure_ascii=False) + "\n"
    if out is None:
        click.echo(text, nl=False)
        return
    write_output(out, text, private=reveal_secrets)
    click.echo(f"wrote {out}", err=True)
