"""`personactl apply`: carry out a plan, verified and crash-safe."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import click

from personactl.commands.options import output_option, plan_options
from personactl.commands.progress import LONG, BarProgress, on_terminal, watch
from personactl.commands.views import render_plan, show_warnings, use_color

if TYPE_CHECKING:
    from personactl.engine.plan import Plan
    from personactl.usecases.apply import Applied, Step
    from personactl.usecases.plan import Options


def _confirm(env: str) -> None:
    click.echo(
        f"\nDo you want to perform these actions in environment {env!r}?\n"
        "  Only 'yes' will be accepted to approve.\n",
        err=True,
    )
    answer = click.prompt("  Enter a value", default="", show_default=False, err=True)
    if answer.strip() != "yes":
        click.echo("Apply cancelled.", err=True)
        raise click.exceptions.Exit(1)


@click.command()
@click.argument("planfile", required=False)
@plan_options
@click.option("--auto-approve", is_flag=True, help="Do not ask for confirmation.")
@click.option(
    "--wait-timeout",
    default="10m",
    show_default=True,
    metavar="DURATION",
    help="How long uploaded knowledge documents may stay processing (e.g. 90s, 10m, 1h).",
)
@output_option(("text", "json"), "The result: text, or JSON (one object per resource).")
@click.pass_context
def apply(
    ctx: click.Context,
    planfile: str | None,
    opts: Options,
    auto_approve: bool,
    wait_timeout: str,
    fmt: str,
) -> int:
    """Make the live resources match the manifests.

    Without PLANFILE: plans, shows the plan, and asks for `yes` on a terminal
    (without one, --auto-approve is required). With PLANFILE (from `plan --out`):
    re-fetches every resource in it and refuses the whole plan if any changed
    since, then applies exactly that plan.

    Tools go before personas, deletes after, in parallel up to --parallelism.
    Every write is read back; the state file is updated after each success.
    One failure does not stop the others; the exit status is then 1.

    \b
    Knowledge groups go first, with their documents: apply waits until
    every upload is processed (at most --wait-timeout); a document that
    FAILED fails its group, and the tools and personas using it are not
    applied.
    """
    from personactl.core.errors import PersonactlError
    from personactl.manifest.render import redact
    from personactl.usecases.apply import apply as apply_plan

    def review(plan: Plan, secret_values: set[str]) -> None:
        text = render_plan(plan, "text", color=use_color(ctx, sys.stderr), show_requests=False)
        click.echo(redact(text, secret_values), nl=False, err=fmt == "json")
        show_warnings(ctx, plan, secret_values)
        if plan.has_changes and not auto_approve:
            if not sys.stdin.isatty():
                raise PersonactlError(
                    "apply needs --auto-approve (or a plan file from `plan --out`) when not "
                    "run from a terminal"
                )
            _confirm(plan.environment)

    # On a terminal a live bar (failures printed above it); else one line per resource.
    bar = watch(ctx) if on_terminal(sys.stderr) and not ctx.obj.get("debug") else None

    def progress(step: Step) -> None:
        result = step.result
        if bar is not None:
            if step.done == 1:
                bar.start("applying", step.total)
            what = f"{result.change.kind.lower()} {result.change.name!r}"
            bar.step(what, ok=result.ok, note=redact(result.message, step.secret_values))
            return
        mark = "ok" if result.ok else "FAILED"
        line = (
            f"[{step.done}/{step.total}] {result.change.kind.lower()} {result.change.name!r}: "
            f"{result.message if result.ok else mark + ': ' + result.message}"
        )
        # One line per resource on stderr: progress on a terminal, a log in CI.
        click.echo(redact(line, step.secret_values), err=True)

    def documents(line: str) -> None:
        if isinstance(bar, BarProgress):
            bar.say(line)  # above the live bar, which it would tear otherwise
        else:
            click.echo(line, err=True)

    cancel = threading.Event()
    try:
        applied = apply_plan(
            planfile,
            opts,
            review=review,
            progress=progress,
            cancel=cancel,
            guard=lambda: _interruptible(cancel),
            wait_timeout=_seconds(wait_timeout),
            document_progress=documents,
            reading=watch(ctx, lines="tenths", at_least=LONG, transient=True),
        )
    finally:
        if bar is not None:
            bar.finish()
    return _report(applied, fmt)


def _seconds(text: str) -> float:
    """`90`, `90s`, `10m`, `1h` as seconds; a usage error otherwise."""
    units = {"s": 1, "m": 60, "h": 3600}
    value = text.strip().lower()
    scale = units.get(value[-1:], 0)
    number = value[:-1] if scale else value
    try:
        seconds = float(number) * (scale or 1)
    except ValueError:
        seconds = -1.0
    if seconds <= 0:
        raise click.BadParameter(
            f"{text!r} is not a duration; write e.g. 90s, 10m or 1h", param_hint="--wait-timeout"
        )
    return seconds


@contextlib.contextmanager
def _interruptible(cancel: threading.Event) -> Iterator[None]:
    """Ctrl-C during apply: start no new write, let those in flight finish and be
    recorded, then report. A second Ctrl-C stops at once."""

    def on_sigint(signum: int, frame: Any) -> None:
        if cancel.is_set():
            click.echo(
                "\nStopped at once: a write in flight may be unrecorded; the next plan "
                "shows what is left.",
                err=True,
            )
            os._exit(1)  # the journal holds every recorded write; the lock dies with us
        cancel.set()
        click.echo(
            "\nInterrupted: finishing the writes in flight and starting no new ones "
            "(Ctrl-C again to stop at once).",
            err=True,
        )

    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread
        return
    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _report(applied: Applied, fmt: str) -> int:
    """The summary on stdout (text or JSON), the failures on stderr; the exit status."""
    from personactl.manifest.render import redact

    plan, results, secret_values = applied.plan, applied.results, applied.secret_values
    skipped = [r for r in results if not r.started]
    failed = [r for r in results if not r.ok and r.started]
    counts = {
        a: sum(1 for r in results if r.ok and r.change.action == a and not r.retired)
        for a in ("create", "update", "delete")
    }
    # A replace is done once its old resource is deleted too.
    replaced = sum(1 for r in results if r.ok and r.change.action == "replace" and r.retired)
    if fmt == "json":
        doc: dict[str, Any] = {
            "environment": plan.environment,
            "ok": not failed,
            "summary": {
                "created": counts["create"],
                "updated": counts["update"],
                "replaced": replaced,
                "deleted": counts["delete"],
                "failed": len(failed),
            },
            "resources": [
                {
                    "kind": r.change.kind,
                    "name": r.change.name,
                    "action": r.change.action,
                    "id": r.id,
                    "ok": r.ok,
                    "message": r.message,
                }
                for r in results
                if r.change.action != "no-op" or not r.ok
            ],
        }
        if skipped:  # Ctrl-C
            doc["interrupted"] = True
            doc["summary"]["notStarted"] = len(skipped)
        click.echo(redact(json.dumps(doc, indent=2, ensure_ascii=False), secret_values))
    else:
        how = "interrupted" if skipped else "complete" if not failed else "finished with errors"
        summary = (
            f"Apply {how}! "
            f"Resources: {counts['create']} created, {counts['update']} updated, "
            + (f"{replaced} replaced, " if replaced else "")
            + f"{counts['delete']} deleted, {len(failed)} failed"
            + (f", {len(skipped)} not started." if skipped else ".")
        )
        click.echo(summary)
        if skipped:
            click.echo(
                "The state is saved with every write that finished: run apply again to do the "
                "rest.",
                err=True,
            )
        for r in failed:
            click.echo(
                redact(f"error: {r.change.kind} {r.change.name!r}: {r.message}", secret_values),
                err=True,
            )
    return 1 if failed or skipped else 0
