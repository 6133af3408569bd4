"""The plan use case: the pipeline, start to end, for the commands that need a plan.

load -> validate -> compose -> render -> (fetch) -> resolve -> diff -> plan.
Everything before fetch is the pure `manifest` package; fetch and resolve know
the Anam API (`anam`); diff and plan are the pure `engine`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from personactl.anam.api import AnamApi
from personactl.anam.client import AnamClient, api_url_for
from personactl.anam.errors import redact_url
from personactl.anam.fetch import Refresh, fetch, unmanaged_personas
from personactl.anam.kinds import KINDS
from personactl.anam.liveset import LiveSet
from personactl.anam.normalize import observe
from personactl.anam.resolve import Resolver
from personactl.core.errors import ManifestErrors, PersonactlError
from personactl.core.files import atomic_write
from personactl.core.progress import Progress
from personactl.core.records import Live
from personactl.core.suggest import unknown_names
from personactl.engine.apply import describes
from personactl.engine.plan import Plan, ResourceChange
from personactl.engine.planner import (
    Desired,
    build_plan,
    keep_used,
    move_unmanaged,
    replaced_ids,
    uncounted_deletes,
)
from personactl.engine.state import State, new_lineage
from personactl.manifest.checks import Select, check
from personactl.manifest.model import Environment, Project, Resource
from personactl.manifest.render import Rendered
from personactl.usecases.connect import ApiOptions, Connect, connect
from personactl.usecases.documents import attach_documents, keep_used_groups
from personactl.usecases.project import manifests
from personactl.usecases.state import current_state, state_display_of


@dataclass(frozen=True)
class Options:
    """What plan, diff and apply are given: the environment and its API, and which
    resources the plan covers."""

    api: ApiOptions
    targets: tuple[str, ...] = ()
    selectors: tuple[str, ...] = ()  # key=value label selectors
    prune: bool = False
    # "auto": personas whose listed updatedAt the state recorded are taken from it
    # unread; "full": every persona is read (DESIGN.md §3, Refresh).
    refresh: Refresh = "auto"


@dataclass
class PlanRun:
    plan: Plan
    project: Project
    env: Environment
    client: AnamClient
    state: State | None
    live: LiveSet
    rendered: list[Rendered]
    secret_values: set[str]


def _parse_selectors(selectors: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for sel in selectors:
        key, sep, value = sel.partition("=")
        if not sep or not key:
            raise PersonactlError(f"label selector {sel!r} must look like key=value")
        out[key] = value
    return out


def selection(targets: tuple[str, ...], selectors: tuple[str, ...]) -> Select | None:
    """--target and -l as a narrowing of the composed resources (None: everything).

    Tools and the LLM used by a chosen persona come along, and the knowledge groups
    those tools search. Only what is chosen is rendered,
    so only its secrets must be set.
    """
    if not targets and not selectors:
        return None
    wanted = _parse_selectors(selectors)

    def choose(resources: list[Resource]) -> list[Resource]:
        names = {r.name for r in resources}
        if unknown := unknown_names(targets, names):
            raise PersonactlError(
                f"--target {unknown} matches no resource (known: {', '.join(sorted(names))})"
            )
        chosen = [
            r
            for r in resources
            if (not targets or r.name in targets)
            and all(r.labels.get(k) == v for k, v in wanted.items())
        ]
        if not chosen:
            in_use = sorted({f"{k}={v}" for r in resources for k, v in r.labels.items()})
            labels = f"labels in use: {', '.join(in_use)}" if in_use else "no resource has labels"
            raise PersonactlError(
                f"no resource matches {' '.join('-l ' + s for s in selectors)} ({labels})"
            )
        used_tools = {
            ref
            for r in chosen
            if r.kind == "Persona"
            for ref in r.spec.get("tools") or []
            if isinstance(ref, str)
        }
        used_llms = {
            r.spec.get("llm")
            for r in chosen
            if r.kind == "Persona" and isinstance(r.spec.get("llm"), str)
        }
        keys = {(r.kind, r.name) for r in chosen}
        chosen += [
            r
            for r in resources
            if (r.kind, r.name) not in keys
            and (
                (r.kind == "Tool" and r.name in used_tools)
                or (r.kind == "LLM" and r.name in used_llms)
            )
        ]
        return chosen + used_groups(chosen, resources)

    return choose


def used_groups(chosen: list[Resource], resources: list[Resource]) -> list[Resource]:
    """The KnowledgeGroup manifests the chosen tools search and that are not chosen."""
    keys = {(r.kind, r.name) for r in chosen}
    named = set()
    for r in chosen:
        config = r.spec.get("config") if r.kind == "Tool" else None
        folders = config.get("documentFolders") if isinstance(config, dict) else None
        named |= {f for f in folders or [] if isinstance(f, str)}
    return [
        r
        for r in resources
        if r.kind == "KnowledgeGroup" and r.name in named and (r.kind, r.name) not in keys
    ]


def make_plan(
    opts: Options,
    state: State | None = None,
    *,
    connect: Connect = connect,
    progress: Progress | None = None,
) -> PlanRun:
    """Plan one environment. `state`: the state apply holds locked (else it is read
    from disk, refusing a state file recorded for another environment); `progress`
    hears of the persona reads. The caller closes `PlanRun.client`."""
    loaded = manifests()
    project = loaded.project
    env = project.require_environment(opts.api.env_name)
    state_display = state_display_of(env)
    if state is None:
        state = current_state(env)
    # A state not written yet has no lineage: the plan's becomes the new state's.
    lineage = state.lineage if state and state.lineage else new_lineage()
    if state is not None:
        state.upgrade_legacy_sentinels(lineage)
    selected = selection(opts.targets, opts.selectors)
    result = check(loaded, [env], secrets="sentinel", salt=lineage, select=selected)
    if result.diagnostics:
        raise ManifestErrors(result.diagnostics)
    rendered = result.rendered[env.name]
    prune = opts.prune
    warnings = []
    if prune and selected is not None:
        prune = False
        warnings.append("--prune is ignored with --target or -l: nothing will be deleted")

    client = opts.api.client(env, project.root, connect)
    try:
        # With a selection, resources outside it are not missing, only not chosen:
        # no prune candidates, no warnings, no reads.
        kinds = set(KINDS) if selected is None else set()
        live = fetch(client, rendered, state, kinds, refresh=opts.refresh, progress=progress)
        if live.diagnostics:
            raise ManifestErrors(live.diagnostics)
        tool_ids = {
            r.name: (m.id if (m := live.matched.get(("Tool", r.name))) else None)
            for r in rendered
            if r.kind == "Tool"
        }
        llm_ids = {
            r.name: (m.id if (m := live.matched.get(("LLM", r.name))) else None)
            for r in rendered
            if r.kind == "LLM"
        }
        group_ids = {
            r.name: (m.id if (m := live.matched.get(("KnowledgeGroup", r.name))) else None)
            for r in rendered
            if r.kind == "KnowledgeGroup"
        }
        resolver = Resolver(live.catalog, tool_ids, llm_ids, group_ids)
        desired, errors = [], []
        for r in rendered:
            body, errs = resolver.body(KINDS[r.kind], r)
            errors.extend(errs)
            ignore = [
                KINDS[r.kind].body_path(path)
                for path in r.resource.lifecycle.get("ignoreChanges") or []
            ]
            at = r.resource.loc(("metadata", "name"))
            desired.append(
                Desired(
                    kind=r.kind,
                    name=r.name,
                    anam_name=r.anam_name,
                    body=body,
                    source=f"{at.path}:{at.line}:{at.column}",
                    ignore=ignore,
                    prevent_destroy=bool(r.resource.lifecycle.get("preventDestroy")),
                )
            )
        if errors:
            raise ManifestErrors(errors)
        # Live secrets (webhook headers come back in clear) become sentinels
        # before anything compares, hashes or stores them.
        for d in desired:
            m = live.matched.get((d.kind, d.name))
            # (one taken from the state unread holds the state's sentinels already)
            if m is not None and (d.kind, d.name) not in live.unread:
                templates = secret_templates(d.body, state, d.kind, d.name, m.id)
                live.matched[(d.kind, d.name)] = observe(d.kind, m.raw, templates, lineage)
        tool_names = {
            m.id: name for (kind, name), m in live.matched.items() if kind == "Tool" and m
        }
        for t in live.catalog.tools:
            tool_names.setdefault(str(t.get("id")), str(t.get("name")))

        def label(key: str, value: Any) -> Any:
            return resolver.label(key, value, tool_names)

        plan = build_plan(
            environment=env.name,
            backend=env.backend,
            api_url=api_url_of(env, opts.api.api_url),
            state_path=state_display,
            state=state,
            desired=desired,
            live=live,
            label=label,
            prune=prune,
            lineage=lineage,
            kinds=KINDS,
        )
        plan.warnings[:0] = warnings
        # An LLM's users are not counted by the API: read the personas no manifest
        # manages, only when a plan replaces or deletes one, to move or keep them.
        if replaced_ids(plan) or uncounted_deletes(plan, KINDS):
            others = unmanaged_personas(client, live, state)
            move_unmanaged(plan, KINDS, others, label)
            keep_used(plan, KINDS, others)
        keep_used_groups(plan, live)
        attach_documents(plan, rendered, live, state, project.root, AnamApi(client), prune)
        plan.refresh = opts.refresh
        plan.unread = sorted(name for kind, name in live.unread if kind == "Persona")
        plan.keep_fingerprint = [
            c.name
            for c in plan.changes
            if fingerprint_kept(c, live.matched.get((c.kind, c.name)), state)
            and (c.kind, c.name) not in live.unread
        ]
    except BaseException:
        client.close()
        raise
    return PlanRun(plan, project, env, client, state, live, rendered, result.secret_values)


def fingerprint_kept(change: ResourceChange, live: Live | None, state: State | None) -> bool:
    """Whether apply must keep the state's earlier fingerprint of a persona it read
    (Plan.keep_fingerprint): once apply has recorded it, the state's observed values
    would not be what the live persona holds, in a field the diff does not compare (one
    in lifecycle.ignoreChanges, or a key of an options object the manifest does not set,
    changed outside personactl). A later plan then reads it instead of taking it from
    the state; the first write that observes those fields again records it anew."""
    if change.kind != "Persona" or live is None or change.action not in ("update", "no-op"):
        return False
    entry = state.find(change.kind, change.name) if state else None
    if entry is None or entry.id != live.id:
        return False
    sent = set(change.request.body or {}) if change.request else set()
    applied = {k: v for k, v in entry.applied.items() if k not in sent}
    observed = {k: v for k, v in {**entry.observed, **change.settled}.items() if k not in sent}
    normalized = {k: v for k, v in live.normalized.items() if k not in sent}
    return not describes(applied, observed, normalized)


def plan_only(
    opts: Options, *, connect: Connect = connect, progress: Progress | None = None
) -> PlanRun:
    """`make_plan` for a plan that is only shown or saved: its client is closed."""
    run = make_plan(opts, connect=connect, progress=progress)
    run.client.close()
    return run


def api_url_of(env: Environment, api_url: str | None) -> str:
    """The API a plan is made against (recorded in it; a saved plan is only applied there),
    as the client chose it, and redacted: a plan file never holds URL credentials."""
    if env.backend == "sandbox":
        return "sandbox"
    return redact_url(api_url_for(env, api_url, os.environ)[0])


def secret_templates(
    desired: dict[str, Any] | None, state: State | None, kind: str, name: str, ident: str
) -> list[dict[str, Any]]:
    """The forms of a resource that may hold sentinels: what the manifest wants and what
    the state says was applied and observed for this very resource. A live value that
    matches one of them with the secret filled in is shown as that sentinel form."""
    entry = state.find(kind, name) if state else None
    forms = [desired] if desired else []
    if entry is not None and entry.id == ident:
        forms += [entry.applied, entry.observed]
    return forms


def save_plan(plan: Plan, out: str) -> None:
    """Write the plan for `apply FILE`, whole or not at all; it keeps sentinels (never
    secret values) so apply can use it."""
    atomic_write(Path(out), json.dumps(plan.sealed(), indent=2, ensure_ascii=False) + "\n")
