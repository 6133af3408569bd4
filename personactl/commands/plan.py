"""`personactl plan` and `personactl diff`: what apply would change."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

FORMATS = ("text", "json", "markdown")


def connection_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """Options shared by every command that talks to the API."""
    f = click.option(
        "--parallelism",
        type=click.IntRange(1, 64),
        default=8,
        show_default=True,
        help="Concurrent requests.",
    )(f)
    f = click.option(
        "--api-url",
        envvar="ANAM_API_URL",
        help="Anam API base URL (env ANAM_API_URL); not for the sandbox backend.",
    )(f)
    f = click.option(
        "--api-key",
        help="API key (default: the environment's apiKeyEnv, ANAM_API_KEY unless set otherwise).",
    )(f)
    f = click.option(
        "-e", "--env", "env_name", help="Environment (default: defaultEnvironment, else the first)."
    )(f)
    return f


def selection_options(f: Callable[..., Any]) -> Callable[..., Any]:
    f = click.option(
        "--prune",
        is_flag=True,
        help="Also delete resources recorded in the state that the manifests no "
        "longer declare (never lifecycle.preventDestroy ones).",
    )(f)
    f = click.option(
        "-l",
        "--selector",
        "selectors",
        multiple=True,
        metavar="KEY=VALUE",
        help="Only resources with this label (repeatable).",
    )(f)
    f = click.option(
        "--target",
        "targets",
        multiple=True,
        metavar="NAME",
        help="Only this resource (repeatable); tools it uses come along.",
    )(f)
    return f


def use_color(ctx: click.Context, stream: Any) -> bool:
    return bool(ctx.obj.get("color")) and hasattr(stream, "isatty") and stream.isatty()


def render_plan(plan: Any, fmt: str, *, color: bool, show_requests: bool) -> str:
    if fmt == "json":
        from personactl.output.plan_json import render_json

        return render_json(plan)
    if fmt == "markdown":
        from personactl.output.plan_markdown import render_markdown

        return render_markdown(plan, show_requests=show_requests)
    from personactl.output.plan_text import render_text

    return render_text(plan, color=color, show_requests=show_requests)


def save_plan(plan: Any, out: str) -> None:
    """The plan file keeps sentinels (never secret values) so apply can use it."""
    path = Path(out)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(plan.sealed(), indent=2, ensure_ascii=False) + "\n")
    os.replace(tmp, path)


def plan_options(
    ctx: click.Context,
    env_name: str | None,
    targets: tuple[str, ...],
    selectors: tuple[str, ...],
    prune: bool,
    api_key: str | None,
    api_url: str | None,
    parallelism: int,
) -> Any:
    """The pipeline's Options from the flags plan, diff and apply share."""
    from personactl.pipeline import Options

    return Options(
        env_name=env_name,
        targets=targets,
        selectors=selectors,
        prune=prune,
        api_key=api_key,
        api_url=api_url,
        parallelism=parallelism,
        debug=bool(ctx.obj.get("debug")),
    )


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
    from personactl.pipeline import make_plan

    run = make_plan(
        plan_options(ctx, env_name, targets, selectors, prune, api_key, api_url, parallelism)
    )
    try:
        text = render_plan(
            run.plan, fmt, color=use_color(ctx, sys.stdout), show_requests=show_requests
        )
        click.echo(redact(text, run.secret_values), nl=False)
        if out:
            save_plan(run.plan, out)
            click.echo(
                f"Saved the plan to {out}: apply it with `personactl apply {out}`.", err=True
            )
    finally:
        run.client.close()
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
    "-o", "--output", "fmt", type=click.Choice(FORMATS), default="text", show_default=True
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
