"""`personactl apply`: carry out a plan, verified and crash-safe."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from personactl.commands.options import connection_options, selection_options
from personactl.commands.plan import plan_options, render_plan, show_warnings, use_color
from personactl.engine.plan import FORMAT_VERSION


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
    from personactl.core.errors import PersonactlError
    from personactl.engine.plan import Plan, content_digest

    again = "make it again with `personactl plan --out FILE`"
    try:
        data = json.loads(Path(planfile).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PersonactlError(f"plan file {planfile} not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PersonactlError(f"cannot read plan file {planfile} ({exc}); {again}") from None
    except json.JSONDecodeError as exc:
        raise PersonactlError(
            f"plan file {planfile} is not valid JSON (line {exc.lineno}); {again}"
        ) from None
    if not isinstance(data, dict):
        raise PersonactlError(f"plan file {planfile} is not a personactl plan")
    if data.get("display") is True:
        raise PersonactlError(
            f"{planfile} is a plan to read (from `plan -o json`, secrets masked), not one to "
            "apply: save an applicable plan with `personactl plan --out FILE`"
        )
    if data.get("formatVersion") == FORMAT_VERSION and data.get("digest") != content_digest(data):
        raise PersonactlError(
            f"plan file {planfile} was changed after `personactl plan --out` wrote it "
            f"(its digest does not match its content); {again}"
        )
    try:
        return Plan.from_dict(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise PersonactlError(f"plan file {planfile} is not a personactl plan ({exc})") from None


def _check_binding(planfile: str, plan: Any, env: Any, state: Any, api_url: str | None) -> None:
    """Refuse a saved plan made for another API or from another state than this one."""
    from personactl.core.errors import PersonactlError
    from personactl.pipeline import api_url_of

    again = "make a new one with `personactl plan --out FILE`"
    now = api_url_of(env, api_url)
    if now != plan.apiUrl:
        raise PersonactlError(
            f"plan file {planfile} was made against {plan.apiUrl}, but environment "
            f"{env.name!r} now points at {now}; {again}"
        )
    if state.lineage != plan.lineage:
        raise PersonactlError(
            f"plan file {planfile} was made from another state (lineage {plan.lineage}) than "
            f"environment {env.name!r} has ({state.lineage}); {again}"
        )
    if state.serial != plan.serial:
        raise PersonactlError(
            f"the state of environment {env.name!r} changed since plan file {planfile} was made "
            f"(serial {plan.serial} -> {state.serial}); {again}"
        )


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
    from personactl.core.errors import PersonactlError
    from personactl.engine.state import StateStore
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
    if saved is not None:
        env = project.environment(saved.environment)
        if env is None:
            raise PersonactlError(f"environment {saved.environment!r} of the plan is not defined")
    else:
        env = project.require_environment(env_name)
    # Lock the environment's state before planning or checking a saved plan, and
    # hold it to the end: a plan made while another apply runs is stale by the
    # time it is applied (a create it plans may have happened since: a duplicate).
    # A state that does not exist yet takes the saved plan's lineage.
    store = StateStore(
        env.state_path,
        display_path(env.state_path),
        env.name,
        lineage=saved.lineage if saved else None,
    )
    with contextlib.ExitStack() as stack:
        stack.enter_context(store)
        if saved is not None:
            plan = saved
            _check_binding(planfile or "", plan, env, store.state, api_url)
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
            stale = _stale(plan, client, store.state)
            if stale:
                raise PersonactlError(
                    f"the saved plan is stale and was not applied: {'; '.join(stale)}; "
                    "run `personactl plan --out FILE` again"
                )
        else:
            run = make_plan(
                plan_options(
                    ctx, env_name, targets, selectors, prune, api_key, api_url, parallelism
                ),
                state=store.state,
            )
            plan, client, secret_values = run.plan, run.client, run.secret_values
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
        results = _run(plan, client, store, parallelism, secret_values)
    return _report(plan, results, fmt, secret_values)


def _run(plan: Any, client: Any, store: Any, parallelism: int, secret_values: set[str]) -> Any:
    from personactl.anam.kinds import KINDS
    from personactl.anam.writer import AnamWriter
    from personactl.engine.apply import Applier
    from personactl.manifest.render import redact

    total = len([c for c in plan.changes if c.action != "no-op"])
    done = 0

    def progress(result: Any) -> None:
        nonlocal done
        change = result.change
        if change.action == "no-op" or not result.started:
            return
        done += 1
        mark = "ok" if result.ok else "FAILED"
        line = (
            f"[{done}/{total}] {change.kind.lower()} {change.name!r}: "
            f"{result.message if result.ok else mark + ': ' + result.message}"
        )
        # One line per resource on stderr: progress on a terminal, a log in CI.
        click.echo(redact(line, secret_values), err=True)

    cancel = threading.Event()
    applier = Applier(
        plan,
        AnamWriter(client),
        store,
        KINDS,
        parallelism=parallelism,
        progress=progress,
        cancel=cancel,
    )
    with _interruptible(cancel):
        return applier.run()


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


def _report(plan: Any, results: Any, fmt: str, secret_values: set[str]) -> int:
    from personactl.manifest.render import redact

    skipped = [r for r in results if not r.started]
    failed = [r for r in results if not r.ok and r.started]
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
        if skipped:  # Ctrl-C
            doc["interrupted"] = True
            doc["summary"]["notStarted"] = len(skipped)
        click.echo(redact(json.dumps(doc, indent=2, ensure_ascii=False), secret_values))
    else:
        how = "interrupted" if skipped else "complete" if not failed else "finished with errors"
        summary = (
            f"Apply {how}! "
            f"Resources: {counts['create']} created, {counts['update']} updated, "
            f"{counts['delete']} deleted, {len(failed)} failed"
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


def _plan_secrets(plan: Any) -> set[str]:
    """The values of the secrets a saved plan's sentinels name, to redact them from output."""

    from personactl.core.secrets import SENTINEL, matches

    text = json.dumps([c.request.body for c in plan.changes if c.request], ensure_ascii=False)
    values = set()
    for m in SENTINEL.finditer(text):
        value = os.environ.get(m.group(1))
        if value and matches(m.group(0), value, plan.lineage or ""):
            values.add(value)
    return values


def _stale(plan: Any, client: Any, state: Any) -> list[str]:
    from personactl.anam.errors import NotFound
    from personactl.anam.kinds import KINDS
    from personactl.anam.normalize import observe
    from personactl.engine.staleness import stale_resources
    from personactl.pipeline import secret_templates

    names = {(c.kind, c.id): c.name for c in plan.changes}

    def refetch(kind: str, ident: str, desired: dict[str, Any] | None) -> dict[str, Any] | None:
        try:
            raw = client.get_resource(f"{KINDS[kind].path}/{ident}")
        except NotFound:
            return None
        # The same sentinel forms as when the plan was made, so the same hash.
        name = names[(kind, ident)]
        templates = secret_templates(desired, state, kind, name, ident)
        fp = observe(kind, raw, templates, plan.lineage or "").fingerprint
        return {"updatedAt": fp.updatedAt, "hash": fp.hash}

    def find(kind: str, name: str) -> list[str]:
        path = KINDS[kind].path
        return [
            str(i["id"]) for i in client.list_all(path, {"search": name}) if i.get("name") == name
        ]

    return stale_resources(plan, refetch, find)
