"""`personactl plan` and `personactl diff`: what apply would change."""

from __future__ import annotations

import sys

import click

from personactl.commands.options import connection_options, plan_options, selection_options
from personactl.commands.views import render_plan, show_warnings, use_color

FORMATS = ("text", "json", "markdown")


def run_plan(
    ctx: click.Context,
    *,
    env_name: str | None,
    targets: tuple[str, ...],
    selectors: tuple[str, ...],
    prune: bool,
    fmt: str,
    out: str | None,
    detailed: bool,
    show_requests: bool,
    api_key: str | None,
    api_url: str | None,
    parallelism: int,
) -> int:
    from personactl.manifest.render import redact
    from personactl.usecases.plan import plan_only, save_plan

    run = plan_only(
        plan_options(ctx, env_name, targets, selectors, prune, api_key, api_url, parallelism)
    )
    text = render_plan(run.plan, fmt, color=use_color(ctx, sys.stdout), show_requests=show_requests)
    click.echo(redact(text, run.secret_values), nl=False)
    if fmt == "text":  # Markdown and JSON carry the warnings in their payload
        show_warnings(ctx, run.plan, run.secret_values)
    if out:
        save_plan(run.plan, out)
        click.echo(f"Saved the plan to {out}: apply it with `personactl apply {out}`.", err=True)
    return 2 if detailed and run.plan.has_changes else 0


@click.command()
@connection_options
@selection_options
@click.option(
    "-o",
    "--output",
    "fmt",
    type=click.Choice(FORMATS),
    default="text",
    show_default=True,
    help="text (Terraform style), json (docs/plan-format.md) or "
    "markdown (for pull-request comments).",
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
    env_name: str | None,
    targets: tuple[str, ...],
    selectors: tuple[str, ...],
    prune: bool,
    fmt: str,
    out: str | None,
    detailed_exitcode: bool,
    show_requests: bool,
    api_key: str | None,
    api_url: str | None,
    parallelism: int,
) -> int:
    """Show what apply would change, and nothing that it would not.

    Compares the manifests with the live personas and tools, three-way with the
    environment's state file when there is one: changes made outside personactl
    show as drift, values the server normalises cause no diff. Secrets show as
    (sensitive). Exit status: 0 (and 2 for changes with --detailed-exitcode),
    1 on any error.
    """
    return run_plan(
        ctx,
        env_name=env_name,
        targets=targets,
        selectors=selectors,
        prune=prune,
        fmt=fmt,
        out=out,
        detailed=detailed_exitcode,
        show_requests=show_requests,
        api_key=api_key,
        api_url=api_url,
        parallelism=parallelism,
    )


@click.command()
@connection_options
@selection_options
@click.option(
    "-o",
    "--output",
    "fmt",
    type=click.Choice(FORMATS),
    default="text",
    show_default=True,
    help="text, json or markdown, as for plan.",
)
@click.option("--show-requests", is_flag=True, help="Show the exact requests apply would send.")
@click.pass_context
def diff(
    ctx: click.Context,
    env_name: str | None,
    targets: tuple[str, ...],
    selectors: tuple[str, ...],
    prune: bool,
    fmt: str,
    show_requests: bool,
    api_key: str | None,
    api_url: str | None,
    parallelism: int,
) -> int:
    """`plan --detailed-exitcode`: exit 0 when nothing would change, 2 when something would."""
    return run_plan(
        ctx,
        env_name=env_name,
        targets=targets,
        selectors=selectors,
        prune=prune,
        fmt=fmt,
        out=None,
        detailed=True,
        show_requests=show_requests,
        api_key=api_key,
        api_url=api_url,
        parallelism=parallelism,
    )
