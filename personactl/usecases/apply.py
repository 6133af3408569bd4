"""The apply use case: carry out a fresh plan or a saved one, verified and crash-safe.

The environment's state is locked before planning (or checking a saved plan)
and held to the end. A saved plan is refused as a whole if it was edited, is
bound to another environment, API or state, or is stale; a fresh one is shown
to `review`, which may stop the run. The writes go through `engine.apply`.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from personactl.anam.api import AnamApi
from personactl.anam.errors import NotFound
from personactl.anam.kinds import KINDS
from personactl.anam.normalize import observe
from personactl.core.errors import PersonactlError
from personactl.core.progress import Progress as ProgressDisplay
from personactl.core.secrets import SENTINEL, matches
from personactl.engine.apply import Applier, Result
from personactl.engine.documents import SyncOptions
from personactl.engine.plan import FORMAT_VERSION, Plan, content_digest
from personactl.engine.staleness import stale_documents, stale_resources
from personactl.engine.state import State
from personactl.manifest.model import Environment
from personactl.usecases.connect import Connect, connect
from personactl.usecases.plan import Options, api_url_of, make_plan, secret_templates
from personactl.usecases.project import project_here
from personactl.usecases.state import store_for

# Shows a fresh plan (with the secret values to redact) before anything is written;
# raises to stop the run.
Review = Callable[[Plan, set[str]], None]


@dataclass(frozen=True)
class Step:
    """One write that started: its result, how many are done of how many in all, and the
    secret values to redact from anything shown."""

    result: Result
    done: int
    total: int
    secret_values: set[str]


Progress = Callable[[Step], None]


@dataclass
class Applied:
    plan: Plan
    results: list[Result]
    secret_values: set[str]  # to redact from anything shown


def apply(
    planfile: str | None,
    opts: Options,
    *,
    review: Review,
    progress: Progress,
    cancel: threading.Event,
    guard: Callable[[], AbstractContextManager[object]] = contextlib.nullcontext,
    connect: Connect = connect,
    wait_timeout: float = 600.0,
    document_progress: Callable[[str], None] | None = None,
    reading: ProgressDisplay | None = None,
) -> Applied:
    """Apply a saved plan (`planfile`) or a plan made now from `opts`.

    `cancel` set: start no new write; `guard()` is entered around the writes only
    (the command's Ctrl-C handling). `wait_timeout`: how long a knowledge group's
    uploads may stay processing; `document_progress` hears how they go; `reading`
    hears of the plan's persona reads.
    """
    saved = None
    if planfile:
        if opts.targets or opts.selectors or opts.prune:
            raise PersonactlError(
                "--target, -l and --prune belong to the plan: a saved plan is applied as it is"
            )
        saved = load_plan_file(planfile)
        if opts.api.env_name is not None and opts.api.env_name != saved.environment:
            raise PersonactlError(
                f"plan file {planfile} is for environment {saved.environment!r}, not "
                f"{opts.api.env_name!r}; make a plan for {opts.api.env_name!r} with "
                "`personactl plan --out FILE`"
            )
    project = project_here()
    if saved is not None:
        found = project.environment(saved.environment)
        if found is None:
            raise PersonactlError(f"environment {saved.environment!r} of the plan is not defined")
        env = found
    else:
        env = project.require_environment(opts.api.env_name)
    # Lock the environment's state before planning or checking a saved plan, and
    # hold it to the end: a plan made while another apply runs is stale by the
    # time it is applied (a create it plans may have happened since: a duplicate).
    # A state that does not exist yet takes the saved plan's lineage.
    store = store_for(env, lineage=saved.lineage if saved else None)
    with contextlib.ExitStack() as stack:
        stack.enter_context(store)
        if saved is not None:
            plan = saved
            check_binding(planfile or "", plan, env, store.state, opts.api.api_url)
            secret_values = plan_secrets(plan)
            client = opts.api.client(env, project.root, connect)
            stack.callback(client.close)
            stale = stale_changes(plan, AnamApi(client), store.state)
            stale += stale_documents(plan, lambda path: _file_hash(project.root, path))
            if stale:
                raise PersonactlError(
                    f"the saved plan is stale and was not applied: {'; '.join(stale)}; "
                    "run `personactl plan --out FILE` again"
                )
        else:
            run = make_plan(opts, state=store.state, connect=connect, progress=reading)
            plan, client, secret_values = run.plan, run.client, run.secret_values
            stack.callback(client.close)
            review(plan, secret_values)
        applier = Applier(
            plan,
            AnamApi(client),
            store,
            KINDS,
            parallelism=opts.api.parallelism,
            progress=_counted(plan, secret_values, progress),
            cancel=cancel,
            documents=SyncOptions(
                read=lambda path: _inside(project.root, path).read_bytes(),
                wait_timeout=wait_timeout,
                progress=document_progress,
            ),
        )
        with guard():
            results = applier.run()
    return Applied(plan, results, secret_values)


def _inside(root: Path, path: str) -> Path:
    """A document's file, named relative to the project root, that stays inside it."""
    full = (root / path).resolve()
    if not full.is_relative_to(root.resolve()):
        raise PersonactlError(f"document {path!r} of the plan is outside the project")
    return full


def _file_hash(root: Path, path: str) -> str | None:
    from personactl.manifest.documents import sha256_of

    try:
        return sha256_of(_inside(root, path))[1]
    except OSError:
        return None


def _counted(plan: Plan, secret_values: set[str], progress: Progress) -> Callable[[Result], None]:
    """The Applier's progress: each started write numbered, no-ops left out (a replace is
    two steps: its create, and its old resource's delete)."""
    total = sum({"no-op": 0, "replace": 2}.get(c.action, 1) for c in plan.changes)
    done = 0

    def counted(result: Result) -> None:
        nonlocal done
        if result.change.action == "no-op" or not result.started:
            return
        done += 1
        progress(Step(result, done, total, secret_values))

    return counted


def load_plan_file(planfile: str) -> Plan:
    """A plan saved by `plan --out`, refused if it cannot be one or was edited since."""
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


def check_binding(
    planfile: str, plan: Plan, env: Environment, state: State, api_url: str | None
) -> None:
    """Refuse a saved plan made for another API or from another state than this one."""
    again = "make a new one with `personactl plan --out FILE`"
    now = api_url_of(env, api_url)
    if now != plan.api_url:
        raise PersonactlError(
            f"plan file {planfile} was made against {plan.api_url}, but environment "
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


def plan_secrets(plan: Plan) -> set[str]:
    """The values of the secrets a saved plan's sentinels name, to redact them from output."""
    text = json.dumps([c.request.body for c in plan.changes if c.request], ensure_ascii=False)
    values = set()
    for m in SENTINEL.finditer(text):
        value = os.environ.get(m.group(1))
        if value and matches(m.group(0), value, plan.lineage or ""):
            values.add(value)
    return values


def stale_changes(plan: Plan, api: AnamApi, state: State) -> list[str]:
    """One line per resource of a saved plan that changed live since it was made."""
    names = {(c.kind, c.id): c.name for c in plan.changes}

    def refetch(kind: str, ident: str, desired: dict[str, Any] | None) -> dict[str, Any] | None:
        try:
            raw = api.get(kind, ident)
        except NotFound:
            return None
        # The same sentinel forms as when the plan was made, so the same hash.
        name = names[(kind, ident)]
        templates = secret_templates(desired, state, kind, name, ident)
        fp = observe(kind, raw, templates, plan.lineage or "").fingerprint
        return {"updatedAt": fp.updated_at, "hash": fp.hash}

    def find(kind: str, name: str) -> list[str]:
        return [str(i["id"]) for i in api.find_by_name(kind, name)]

    return stale_resources(plan, refetch, find)
