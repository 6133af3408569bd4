"""How commands show a plan: shared by plan, diff and apply (not a command itself)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from personactl.engine.plan import Plan


def use_color(ctx: click.Context, stream: Any) -> bool:
    return bool(ctx.obj.get("color")) and hasattr(stream, "isatty") and stream.isatty()


def render_plan(plan: Plan, fmt: str, *, color: bool, show_requests: bool) -> str:
    if fmt == "json":
        from personactl.output.plan_json import render_json

        return render_json(plan)
    if fmt == "markdown":
        from personactl.output.plan_markdown import render_markdown

        return render_markdown(plan, show_requests=show_requests)
    from personactl.output.plan_text import render_text

    return render_text(plan, color=color, show_requests=show_requests)


def show_warnings(ctx: click.Context, plan: Plan, secret_values: set[str]) -> None:
    """The text plan's warnings, on stderr."""
    from personactl.manifest.render import redact
    from personactl.output.plan_text import render_warnings

    text = render_warnings(plan, color=use_color(ctx, sys.stderr))
    click.echo(redact(text, secret_values), nl=False, err=True)
