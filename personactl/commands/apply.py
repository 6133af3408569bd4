"""`personactl apply`: carry out a plan, verified and crash-safe."""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path
from typing import Any

import click

from personactl.commands.options import connection_options, selection_options
from personactl.commands.plan import plan_options, render_plan, show_warnings, use_color


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


def _load_plan_file(planfile: str) -> Any:
    from personactl.engine.plan import Plan
    from personactl.errors import PersonactlError

    try:
        data = json.loads(Path(planfile).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PersonactlError(f"plan file {planfile} not found") from None
    except json.JSONDecodeError as exc:
        raise PersonactlError(
            f"plan file {planfile} is not valid JSON (line {exc.lineno}); "
            "make it again with `personactl plan --out FILE`"
        ) from None
    if not isinstance(data, dict):
        raise PersonactlError(f"plan file {planfile} is not a personactl plan")
    try:
        return Plan.from_dict(data)
    except (KeyError, TypeError) as exc:
        raise PersonactlError(f"plan file {planfile} is not a personactl plan ({exc})") from None


@click.command()
@click.argument("planfile", required=False)
@connection_options
@selection_options
@click.option("--auto-approve", is_flag=True, help="Do not ask for confirmation.")
@click.option(
    "-o",
    "--output",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="The result: text, or JSON (one object per resource).",
)
@click.pass_context
def apply(
    ctx: click.Context,
    planfile: str | None,
    env_name: str | None,
    targets: tuple[str, ...],
    selectors: tuple[str, ...],
    prune: bool,
    auto_approve: bool,
    fmt: str,
    api_key: str | None,
    api_url: str | None,
    parallelism: int,
) -> int:
    """Make the live personas and tools match the manifests.

    Without PLANFILE: plans, shows the plan, and asks for `yes` on a terminal
    (without one, --auto-approve is required). With PLANFILE (from `plan --out`):
    re-fetches every resource in it and refuses the whole plan if any changed
    since, then applies exactly that plan.

    Tools go before personas, deletes after, in parallel up to --parallelism.
    Every write is read back; the state file is updated after each success.
    One failure does not stop the others; the exit status is then 1.
    """
    from personactl.anam.client import client_for
    from personactl.engine.state import StateStore
    from personactl.errors import PersonactlError
    from personactl.manifest.loader import display_path, find_project_root, load_project
    from personactl.manifest.render import redact
    from personactl.pipeline import make_plan

    debug = bool(ctx.obj.get("debug"))
    secret_values: set[str] = set()
    saved = None
    if planfile:
        if targets or selectors or prune:
            raise PersonactlError(
                "--target, -l and --prune belong to the plan: a saved plan is applied as it is"
            )
        saved = _load_plan_file(planfile)
        if env_name is not None and env_name != saved.environment:
            raise PersonactlError(
                f"plan file {planfile} is for environment {saved.environment!r}, not "
                f"{env_name!r}; make a plan for {env_name!r} with `personactl plan --out FILE`"
            )
    project, _ = load_project(find_project_root(Path.cwd()))
    env = project.environment(saved.environment if saved else env_name)
    if env is None and saved is not None:
        raise PersonactlError(f"environment {saved.environment!r} of the plan is not defined")
    # Lock the environment's state before planning or checking a saved plan, and
    # hold it to the end: a plan made while another apply runs is stale by the
    # time it is applied (a create it plans may have happened since: a duplicate).
    store = (
        StateStore(env.state_path, display_path(env.state_path), env.name)
        if env is not None
        else None
    )
    with contextlib.ExitStack() as stack:
        if store is not None:
            stack.enter_context(store)
        if saved is not None:
            assert env is not None
            plan = saved
            secret_values = _plan_secrets(plan)
            client = client_for(
                env,
                project.root,
                api_key=api_key,
                api_url=api_url,
                parallelism=parallelism,
                debug=debug,
            )
            stack.callback(client.close)
            stale = _stale(plan, client)
            if stale:
                raise PersonactlError(
                    f"the saved plan is stale and was not applied: {'; '.join(stale)}; "
                    "run `personactl plan --out FILE` again"
                )
        else:
            run = make_plan(
                plan_options(
                    ctx, env_name, targets, selectors, prune, api_key, api_url, parallelism
                )
            )
            plan, env, client, secret_values = run.plan, run.env, run.client, run.secret_values
            stack.callback(client.close)
            text = render_plan(plan, "text", color=use_color(ctx, sys.stderr), show_requests=False)
            click.echo(redact(text, secret_values), nl=False, err=fmt == "json")
            show_warnings(ctx, plan, secret_values)
            if plan.has_changes and not auto_approve:
                if not sys.stdin.isatty():
                    raise PersonactlError(
                        "apply needs --auto-approve (or a plan file from `plan --out`) when not "
                        "run from a terminal"
                    )
                _confirm(env.name)
        if store is None:  # make_plan found the environment after all
            store = StateStore(env.state_path, display_path(env.state_path), env.name)
            stack.enter_context(store)
        results = _run(plan, client, store, parallelism, secret_values)
    return _report(plan, results, fmt, secret_values)


def _run(plan: Any, client: Any, store: Any, parallelism: int, secret_values: set[str]) -> Any:
    from personactl.anam.writer import AnamWriter
    from personactl.engine.apply import Applier
    from personactl.manifest.render import redact

    total = len([c for c in plan.changes if c.action != "no-op"])
    done = 0

    def progress(result: Any) -> None:
        nonlocal done
        change = result.change
        if change.action == "no-op":
            return
        done += 1
        mark = "ok" if result.ok else "FAILED"
        line = (
            f"[{done}/{total}] {change.kind.lower()} {change.name!r}: "
            f"{result.message if result.ok else mark + ': ' + result.message}"
        )
        # One line per resource on stderr: progress on a terminal, a log in CI.
        click.echo(redact(line, secret_values), err=True)

    return Applier(
        plan, AnamWriter(client), store, parallelism=parallelism, progress=progress
    ).run()


def _report(plan: Any, results: Any, fmt: str, secret_values: set[str]) -> int:
    from personactl.manifest.render import redact

    failed = [r for r in results if not r.ok]
    counts = {
        a: sum(1 for r in results if r.ok and r.change.action == a)
        for a in ("create", "update", "delete")
    }
    if fmt == "json":
        doc = {
            "environment": plan.environment,
            "ok": not failed,
            "summary": {
                "created": counts["create"],
                "updated": counts["update"],
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
        click.echo(redact(json.dumps(doc, indent=2, ensure_ascii=False), secret_values))
    else:
        summary = (
            f"Apply {'complete' if not failed else 'finished with errors'}! "
            f"Resources: {counts['create']} created, {counts['update']} updated, "
            f"{counts['delete']} deleted, {len(failed)} failed."
        )
        click.echo(summary)
        for r in failed:
            click.echo(
                redact(f"error: {r.change.kind} {r.change.name!r}: {r.message}", secret_values),
                err=True,
            )
    return 1 if failed else 0


def _plan_secrets(plan: Any) -> set[str]:
    """The values of the secrets a saved plan's sentinels name, to redact them from output."""
    import os

    from personactl.engine.secrets import SENTINEL, sentinel

    text = json.dumps([c.request.body for c in plan.changes if c.request], ensure_ascii=False)
    values = set()
    for m in SENTINEL.finditer(text):
        value = os.environ.get(m.group(1))
        if value and sentinel(m.group(1), value) == m.group(0):
            values.add(value)
    return values


def _stale(plan: Any, client: Any) -> list[str]:
    from personactl.anam.errors import NotFound
    from personactl.anam.fields import RESOURCE_PATHS
    from personactl.anam.observe import observe
    from personactl.engine.staleness import stale_resources

    def refetch(kind: str, ident: str, desired: dict[str, Any] | None) -> dict[str, Any] | None:
        try:
            raw = client.get(f"{RESOURCE_PATHS[kind]}/{ident}")
        except NotFound:
            return None
        fp = observe(kind, raw, desired).fingerprint
        return {"updatedAt": fp.updatedAt, "hash": fp.hash}

    def find(kind: str, name: str) -> list[str]:
        path = RESOURCE_PATHS[kind]
        return [
            str(i["id"]) for i in client.list_all(path, {"search": name}) if i.get("name") == name
        ]

    return stale_resources(plan, refetch, find)
