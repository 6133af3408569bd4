"""Plan stage: desired resources + live resources + state -> a Plan.

Pure: no HTTP, no files. Order is what apply needs: tools before personas
(a persona may reference a tool created in the same run), then deletes in
reverse (personas before the tools they use).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from personactl.anam import fields as api
from personactl.anam.fetch import LiveSet
from personactl.core.records import Live
from personactl.engine import plan as p
from personactl.engine.diff import create_fields, diff_resource
from personactl.engine.state import State

Label = Callable[[str, Any], Any]


@dataclass
class Desired:
    """One resource as the manifests want it, in request-body vocabulary."""

    kind: str
    name: str
    anam_name: str
    body: dict[str, Any]
    source: str
    ignore: list[tuple[str, ...]] = field(default_factory=list)
    prevent_destroy: bool = False


def _path(kind: str, ident: str | None = None) -> str:
    base = api.RESOURCE_PATHS[kind]
    return f"{base}/{ident}" if ident else base


def _create(d: Desired, label: Label, notes: list[str]) -> p.ResourceChange:
    body = dict(d.body)
    if d.kind == "Persona":
        dropped = sorted(set(body) - api.PERSONA_POST_KEYS)
        body = {k: v for k, v in body.items() if k in api.PERSONA_POST_KEYS}
        if dropped:
            notes.append(
                f"{', '.join(dropped)} is not accepted on create: apply sets it with a PUT "
                "right after"
            )
    return p.ResourceChange(
        kind=d.kind,
        name=d.name,
        anamName=d.anam_name,
        action="create",
        fields=create_fields(d.kind, d.body, label),
        request=p.Request("POST", _path(d.kind), body),
        source=d.source,
        notes=notes,
        # Everything the manifest sets; apply PUTs what the POST could not carry.
        desired=d.body,
        preventDestroy=d.prevent_destroy,
    )


def _update(
    d: Desired, live: Live, state: State | None, label: Label, notes: list[str]
) -> p.ResourceChange:
    entry = state.find(d.kind, d.name) if state else None
    # Applied/observed are only comparable if they describe this very resource.
    same_resource = entry is not None and entry.id == live.id
    fp = diff_resource(
        d.kind,
        d.body,
        live.normalized,
        entry.applied if same_resource and entry else None,
        entry.observed if same_resource and entry else None,
        d.ignore,
        label,
    )
    action = "update" if fp.body else "no-op"
    return p.ResourceChange(
        kind=d.kind,
        name=d.name,
        anamName=d.anam_name,
        action=action,
        id=live.id,
        fields=fp.fields,
        drift=fp.drift,
        request=p.Request("PUT", _path(d.kind, live.id), fp.body) if fp.body else None,
        fingerprint=live.fingerprint,
        source=d.source,
        notes=notes + fp.notes,
        desired=d.body,
        preventDestroy=d.prevent_destroy,
    )


def build_plan(
    *,
    environment: str,
    backend: str,
    api_url: str,
    state_path: str,
    state: State | None,
    desired: list[Desired],
    live: LiveSet,
    label: Label,
    prune: bool,
    lineage: str,
) -> p.Plan:
    """`lineage`: the state's (or, without one yet, the new state's): it salts the
    plan's sentinels and binds the plan to that state."""
    plan = p.Plan(
        environment=environment,
        backend=backend,
        apiUrl=api_url,
        threeWay=state is not None,
        statePath=state_path,
        prune=prune,
        lineage=lineage,
        serial=state.serial if state else 0,
    )
    for kind in ("Tool", "Persona"):
        for d in (x for x in desired if x.kind == kind):
            found = live.matched.get((d.kind, d.name))
            notes = list(live.notes.get((d.kind, d.name), []))
            if found is None:
                plan.changes.append(_create(d, label, notes))
            else:
                plan.changes.append(_update(d, found, state, label, notes))

    # Prune: only what this environment's state recorded and the manifests dropped.
    referenced = {tid for d in desired if d.kind == "Persona" for tid in d.body.get("toolIds", [])}
    deleted_personas: list[Live] = []
    for entry, found in live.orphans:
        if found is None:
            plan.forget.append({"kind": entry.kind, "name": entry.name})
    for kind in ("Persona", "Tool"):
        for entry, found in live.orphans:
            if entry.kind != kind or found is None:
                continue
            live_name = found.normalized.get("name")
            shown = live_name if isinstance(live_name, str) else entry.anamName
            what = f"{kind} {entry.name!r} ({shown})"
            if not prune:
                plan.warnings.append(
                    f"{what} is in the state but no longer in the manifests; "
                    "run with --prune to delete it"
                )
                continue
            if entry.preventDestroy:
                plan.warnings.append(f"{what} has lifecycle.preventDestroy: not deleted")
                continue
            if kind == "Tool":
                # usageCount counts every persona, managed or not; this apply's deletes,
                # and its updates that drop the tool (they run first), stop using it.
                usage = found.raw.get("usageCount")
                leaving = sum(
                    1 for lv in deleted_personas if found.id in lv.normalized.get("toolIds", [])
                ) + sum(
                    1
                    for d in desired
                    if d.kind == "Persona"
                    and (m := live.matched.get(("Persona", d.name))) is not None
                    and found.id in m.normalized.get("toolIds", [])
                    and "toolIds" in d.body
                    and found.id not in d.body["toolIds"]
                )
                if found.id in referenced or (isinstance(usage, int) and usage - leaving > 0):
                    plan.warnings.append(f"{what} is still used by a persona: not deleted")
                    continue
            else:
                deleted_personas.append(found)
            plan.changes.append(
                p.ResourceChange(
                    kind=kind,
                    name=entry.name,
                    anamName=shown,
                    action="delete",
                    id=found.id,
                    request=p.Request("DELETE", _path(kind, found.id)),
                    fingerprint=found.fingerprint,
                    # The name it has now: a reviewer sees what will really be deleted.
                    fields=[p.FieldChange("name", shown, None, p.DELETE)],
                    drift=[p.FieldChange("name", entry.anamName, shown, p.DRIFT)]
                    if shown != entry.anamName
                    else [],
                )
            )
    return plan
