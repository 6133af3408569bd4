"""`personactl plan` and `personactl diff`: what apply would change."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from personactl.commands.options import output_option, plan_options
from personactl.commands.progress import LONG, watch
from personactl.commands.views import render_plan, show_warnings, use_color

if TYPE_CHECKING:
    from personactl.usecases.plan import Options

FORMATS = ("text", "json", "markdown")


def run_plan(
    ctx: click.Context,
    opts: Options,
    fmt: str,
    show_requests: bool,
    *,
    out: str | None = None,
    detailed: bool = True,
) -> int:
    from personactl.manifest.render import redact
    from personactl.usecases.plan import plan_only, save_plan

    run = plan_only(opts, progress=watch(ctx, lines="tenths", at_least=LONG, transient=True))
    text = render_plan(run.plan, fmt, color=use_color(ctx, sys.stdout), show_requests=show_requests)
    click.echo(redact(text, run.secret_values), nl=False)
    if fmt == "text":  # Markdown and JSON carry the warnings in their payload
        show_warnings(ctx, run.plan, run.secret_values)
    if out:
        save_plan(run.plan, out)
        click.echo(f"Saved the plan to {out}: apply it with `personactl apply {out}`.", err=True)
    return 2 if detailed and run.plan.has_changes else 0


@click.command()
@plan_options
@output_option(
    FORMATS,
    "text (Terraform style), json (docs/plan-format.md) or markdown (for pull-request comments).",
)
@click.option("--out", metavar="FILE", help="Save the plan for `personactl apply FILE`.")
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="Exit 2 when there are changes, 0 when there are none, 1 on errors.",
)
@click.option(
    "--show-requests",
    is_flag=True,
    help="Show the exact HTTP method, path and JSON body of every write.",
)
@click.pass_context
def plan(
    ctx: click.Context,
    opts: Options,
    fmt: str,
    out: str | None,
    detailed_exitcode: bool,
    show_requests: bool,
) -> int:
    """Show what apply would change, and nothing that it would not.

    Compares the manifests with the live personas and tools, three-way with the
    environment's state file when there is one: changes made outside personactl
    show as drift, values the server normalises cause no diff. Secrets show as
    (sensitive). Exit status: 0 (and 2 for changes with --detailed-exitcode),
    1 on any error.
    """
    return run_plan(ctx, opts, fmt, show_requests, out=out, detailed=detailed_exitcode)


@click.command()
@plan_options
@output_option(FORMATS, "text, json or markdown, as for plan.")
@click.option("--show-requests", is_flag=True, help="Show the exact requests apply would send.")
@click.pass_context
def diff(ctx: click.Context, opts: Options, fmt: str, show_requests: bool) -> int:
    """`plan --detailed-exitcode`: exit 0 when nothing would change, 2 when something would."""
    return run_plan(ctx, opts, fmt, show_requests)
