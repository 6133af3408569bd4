"""The plan pipeline, start to end, for the commands that need a plan.

load -> validate -> compose -> render -> (fetch) -> resolve -> diff -> plan.
Everything before fetch is the pure `manifest` package; fetch and resolve know
the Anam API (`anam`); diff and plan are the pure `engine`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from personactl.anam.client import AnamClient, client_for
from personactl.anam.errors import redact_url
from personactl.anam.fetch import LiveSet, fetch
from personactl.anam.fields import to_body_path
from personactl.anam.observe import observe
from personactl.anam.resolve import Resolver
from personactl.engine.plan import Plan
from personactl.engine.planner import Desired, build_plan
from personactl.engine.state import State, load_state
from personactl.errors import ManifestErrors, PersonactlError
from personactl.manifest.checks import check
from personactl.manifest.loader import display_path, load_all, no_manifests_error
from personactl.manifest.model import Environment, Project
from personactl.manifest.render import Rendered


@dataclass
class Options:
    env_name: str | None = None
    targets: tuple[str, ...] = ()
    selectors: tuple[str, ...] = ()  # key=value label selectors
    prune: bool = False
    api_key: str | None = None
    api_url: str | None = None
    parallelism: int = 8
    debug: bool = False


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


def select(
    rendered: list[Rendered], targets: tuple[str, ...], selectors: tuple[str, ...]
) -> list[Rendered]:
    """--target and -l narrow the run; tools used by a chosen persona come along."""
    if not targets and not selectors:
        return rendered
    names = {r.name for r in rendered}
    unknown = [t for t in targets if t not in names]
    if unknown:
        raise PersonactlError(
            f"--target {', '.join(repr(u) for u in unknown)} matches no resource "
            f"(known: {', '.join(sorted(names))})"
        )
    wanted = _parse_selectors(selectors)
    chosen = [
        r
        for r in rendered
        if (not targets or r.name in targets)
        and all(r.resource.labels.get(k) == v for k, v in wanted.items())
    ]
    used_tools = {
        ref
        for r in chosen
        if r.kind == "Persona"
        for ref in (r.data.get("spec") or {}).get("tools", [])
        if isinstance(ref, str)
    }
    chosen_keys = {(r.kind, r.name) for r in chosen}
    return chosen + [
        r
        for r in rendered
        if r.kind == "Tool" and r.name in used_tools and (r.kind, r.name) not in chosen_keys
    ]


def make_plan(opts: Options) -> PlanRun:
    loaded = load_all()
    project = loaded.project
    if not loaded.resources and not loaded.diagnostics:
        raise no_manifests_error(project)
    env = project.require_environment(opts.env_name)
    result = check(loaded, [env], secrets="sentinel")
    if result.diagnostics:
        raise ManifestErrors(result.diagnostics)
    rendered = select(result.rendered[env.name], opts.targets, opts.selectors)
    prune = opts.prune
    warnings = []
    if prune and (opts.targets or opts.selectors):
        prune = False
        warnings.append("--prune is ignored with --target or -l: nothing will be deleted")
    if opts.prune and not rendered:
        raise PersonactlError("no manifests selected: refusing to prune the whole environment")

    state_display = display_path(env.state_path)
    state = load_state(env.state_path, state_display)
    client = client_for(
        env,
        project.root,
        api_key=opts.api_key,
        api_url=opts.api_url,
        parallelism=opts.parallelism,
        debug=opts.debug,
    )
    try:
        kinds = {"Persona", "Tool"}
        live = fetch(client, rendered, state, kinds)
        if live.diagnostics:
            raise ManifestErrors(live.diagnostics)
        tool_ids = {
            r.name: (m.id if (m := live.matched.get(("Tool", r.name))) else None)
            for r in result.rendered[env.name]
            if r.kind == "Tool"
        }
        resolver = Resolver(live.catalog, tool_ids)
        desired, errors = [], []
        for r in rendered:
            body, errs = resolver.persona_body(r) if r.kind == "Persona" else resolver.tool_body(r)
            errors.extend(errs)
            ignore = [
                to_body_path(r.kind, path)
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
            if m is not None:
                live.matched[(d.kind, d.name)] = observe(d.kind, m.raw, d.body)
        tool_names = {
            m.id: name for (kind, name), m in live.matched.items() if kind == "Tool" and m
        }
        for t in live.catalog.tools:
            tool_names.setdefault(str(t.get("id")), str(t.get("name")))

        def label(key: str, value: Any) -> Any:
            return resolver.label(key, value, tool_names)

        api_url = "sandbox" if env.backend == "sandbox" else redact_url(client.config.base_url)
        plan = build_plan(
            environment=env.name,
            backend=env.backend,
            api_url=api_url,
            state_path=state_display,
            state=state,
            desired=desired,
            live=live,
            label=label,
            prune=prune,
        )
        plan.warnings[:0] = warnings
    except BaseException:
        client.close()
        raise
    return PlanRun(plan, project, env, client, state, live, rendered, result.secret_values)
