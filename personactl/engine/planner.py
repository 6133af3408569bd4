"""Plan stage: desired resources + live resources + state -> a Plan.

Pure: no HTTP, no files. Order is what apply needs: LLMs and tools before
personas (a persona may reference one created in the same run), then deletes
in reverse (personas before the tools they use). A change no PUT can make (an
LLM's `urls` or `llmFormat`, see `Kind.put_request`) is a replace: the planned
users of the old resource refer to its successor instead (`⟦ref:LLM:name⟧`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from personactl.core.kinds import Kind
from personactl.core.records import Live, StateEntry
from personactl.core.refs import ref
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


class LiveView(Protocol):
    """What the fetch stage found, as the planner reads it."""

    # (kind, manifest name) -> the live resource it is matched to, None: to be created.
    matched: dict[tuple[str, str], Live | None]
    notes: dict[tuple[str, str], list[str]]  # how each was matched
    # State entries with no manifest: (entry, live or None if already gone).
    orphans: list[tuple[StateEntry, Live | None]]


def _path(kind: Kind, ident: str | None = None) -> str:
    return f"{kind.path}/{ident}" if ident else kind.path


def _post_body(kind: Kind, body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k in kind.post_keys}


def _create(kind: Kind, d: Desired, label: Label, notes: list[str]) -> p.ResourceChange:
    dropped = sorted(set(d.body) - kind.post_keys)
    body = _post_body(kind, d.body)
    if dropped:
        notes.append(
            f"{', '.join(dropped)} is not accepted on create: apply sets it with a PUT right after"
        )
    return p.ResourceChange(
        kind=d.kind,
        name=d.name,
        anam_name=d.anam_name,
        action=p.Action.CREATE,
        fields=create_fields(kind, d.body, label),
        request=p.Request("POST", _path(kind), body),
        source=d.source,
        notes=notes,
        # Everything the manifest sets; apply PUTs what the POST could not carry.
        desired=d.body,
        prevent_destroy=d.prevent_destroy,
    )


def _update(
    kind: Kind, d: Desired, live: Live, state: State | None, label: Label, notes: list[str]
) -> p.ResourceChange:
    entry = state.find(d.kind, d.name) if state else None
    # Applied/observed are only comparable if they describe this very resource.
    same_resource = entry is not None and entry.id == live.id
    fp = diff_resource(
        kind,
        d.body,
        live.normalized,
        entry.applied if same_resource and entry else None,
        entry.observed if same_resource and entry else None,
        d.ignore,
        label,
    )
    action = p.Action.UPDATE if fp.body else p.Action.NO_OP
    put, problems = kind.put_request(fp.body)
    request = p.Request("PUT", _path(kind, live.id), put) if fp.body else None
    if problems:
        # No PUT can make it: create the new one, move the users, delete the old (-/+).
        action = p.Action.REPLACE
        request = p.Request("POST", _path(kind), _post_body(kind, d.body))
        notes = [*notes, f"must be replaced: {'; '.join(problems)}"]
    return p.ResourceChange(
        kind=d.kind,
        name=d.name,
        anam_name=d.anam_name,
        action=action,
        id=live.id,
        fields=fp.fields,
        drift=fp.drift,
        request=request,
        fingerprint=live.fingerprint,
        source=d.source,
        notes=notes + fp.notes,
        desired=d.body,
        settled=fp.settled,
        prevent_destroy=d.prevent_destroy,
    )


def build_plan(
    *,
    environment: str,
    backend: str,
    api_url: str,
    state_path: str,
    state: State | None,
    desired: list[Desired],
    live: LiveView,
    kinds: Mapping[str, Kind],
    label: Label,
    prune: bool,
    lineage: str,
) -> p.Plan:
    """`lineage`: the state's (or, without one yet, the new state's): it salts the
    plan's sentinels and binds the plan to that state."""
    plan = p.Plan(
        environment=environment,
        backend=backend,
        api_url=api_url,
        three_way=state is not None,
        state_path=state_path,
        prune=prune,
        lineage=lineage,
        serial=state.serial if state else 0,
    )
    # (kind, id of a resource being replaced) -> the reference to its successor
    moved: dict[tuple[str, str], str] = {}
    for kind in kinds:  # in dependency order: what is referred to before its users
        for d in (_moved(kinds[kind], x, moved) for x in desired if x.kind == kind):
            found = live.matched.get((d.kind, d.name))
            notes = list(live.notes.get((d.kind, d.name), []))
            if found is None:
                plan.changes.append(_create(kinds[kind], d, label, notes))
                continue
            change = _update(kinds[kind], d, found, state, label, notes)
            if change.action == p.Action.REPLACE:
                moved[(kind, found.id)] = ref(kind, d.name)
                change.notes.append(
                    f"the personas that use it are moved to the new {kind} before the old "
                    f"one ({found.id}) is deleted"
                )
            plan.changes.append(change)

    # Prune: only what this environment's state recorded and the manifests dropped.
    # Users go first (a persona before the tools it uses); a resource still used is kept.
    deleting: list[Live] = []
    for entry, found in live.orphans:
        if found is None:
            plan.forget.append({"kind": entry.kind, "name": entry.name})
    for kind in reversed(list(kinds)):
        for entry, found in live.orphans:
            if entry.kind != kind or found is None:
                continue
            live_name = found.normalized.get(kinds[kind].name_key)
            shown = live_name if isinstance(live_name, str) else entry.anam_name
            what = f"{kind} {entry.name!r} ({shown})"
            deposed = entry.name.endswith(p.DEPOSED)
            if deposed and any(m is not None and m.id == found.id for m in live.matched.values()):
                continue  # its replace never finished: a manifest still names it
            if deposed:  # the old half of an unfinished replace: deleted once unused
                what = f"{kind} {entry.name.removesuffix(p.DEPOSED)!r} replaced before ({shown})"
            elif not prune:
                plan.warnings.append(
                    f"{what} is in the state but no longer in the manifests; "
                    "run with --prune to delete it"
                )
                continue
            if entry.prevent_destroy and not deposed:
                plan.warnings.append(f"{what} has lifecycle.preventDestroy: not deleted")
                continue
            if _still_used(kinds, kinds[kind], found, desired, live, deleting):
                plan.warnings.append(f"{what} is still used by a persona: not deleted")
                continue
            deleting.append(found)
            plan.changes.append(
                p.ResourceChange(
                    kind=kind,
                    name=entry.name,
                    anam_name=shown,
                    action=p.Action.DELETE,
                    id=found.id,
                    request=p.Request("DELETE", _path(kinds[kind], found.id)),
                    fingerprint=found.fingerprint,
                    # The name it has now: a reviewer sees what will really be deleted.
                    fields=[p.FieldChange("name", shown, None, p.Reason.DELETE)],
                    drift=[p.FieldChange("name", entry.anam_name, shown, p.Reason.DRIFT)]
                    if shown != entry.anam_name
                    else [],
                )
            )
    return plan


def replaced_ids(plan: p.Plan) -> dict[str, set[str]]:
    """Kind -> the ids of its resources this plan replaces."""
    out: dict[str, set[str]] = {}
    for c in plan.changes:
        if c.action == p.Action.REPLACE and c.id:
            out.setdefault(c.kind, set()).add(c.id)
    return out


def move_unmanaged(
    plan: p.Plan, kinds: Mapping[str, Kind], users: list[Live], label: Label
) -> None:
    """Add to `plan` a move, for each live resource no manifest manages (`users`), of its
    references to a resource the plan replaces: a PUT of the reference to the successor,
    read back and never recorded in the state, so those users keep working."""
    moved = {
        (c.kind, c.id): ref(c.kind, c.name)
        for c in plan.changes
        if c.action == p.Action.REPLACE and c.id
    }
    # The old half of a replace cut short: its users go to the successor already made.
    successors = {(c.kind, c.name): c.id for c in plan.changes if c.id}
    for c in plan.changes:
        base = c.name.removesuffix(p.DEPOSED)
        if c.action == p.Action.DELETE and c.id and base != c.name:
            successor = successors.get((c.kind, base))
            if successor:
                moved[(c.kind, c.id)] = successor
    taken = {(c.kind, c.name) for c in plan.changes}
    for user in users:
        kind = kinds[user.kind]
        body = {
            f.body: moved[(f.ref, value)]
            for f in kind.fields
            if f.ref is not None
            and isinstance(value := user.normalized.get(f.body), str)
            and (f.ref, value) in moved
        }
        if not body:
            continue
        shown = str(user.normalized.get(kind.name_key) or user.id)
        name = shown if (user.kind, shown) not in taken else user.id
        taken.add((user.kind, name))
        plan.changes.append(
            p.ResourceChange(
                kind=user.kind,
                name=name,
                anam_name=shown,
                action=p.Action.UPDATE,
                id=user.id,
                fields=[
                    p.FieldChange(
                        kind.manifest_path(k),
                        label(k, user.normalized[k]),
                        label(k, v),
                        p.Reason.CHANGED,
                    )
                    for k, v in body.items()
                ],
                request=p.Request("PUT", _path(kind, user.id), body),
                fingerprint=user.fingerprint,
                notes=[
                    "no manifest manages it: moved off the replaced resource so it keeps "
                    "working, and not recorded in the state"
                ],
                desired=body,
                record=False,
            )
        )


def uncounted_deletes(plan: p.Plan, kinds: Mapping[str, Kind]) -> bool:
    """Whether the plan deletes a resource whose users the API does not count (an LLM):
    then the live resources no manifest manages must be read to know."""
    return any(
        c.action == p.Action.DELETE and not kinds[c.kind].usage and _users_of(kinds, c.kind)
        for c in plan.changes
    )


def keep_used(plan: p.Plan, kinds: Mapping[str, Kind], users: list[Live]) -> None:
    """Drop from `plan` the deletes of resources a live resource no manifest manages
    (`users`) still refers to, with a warning: prune never breaks them."""
    kept = []
    moving = {c.id for c in plan.changes if not c.record}  # their references move first
    for c in plan.changes:
        refs = _users_of(kinds, c.kind) if c.action == p.Action.DELETE else []
        who = sorted(
            str(u.normalized.get(kinds[u.kind].name_key) or u.id)
            for u in users
            if u.id not in moving
            for user_kind, key in refs
            if u.kind == user_kind and _refers(u.normalized.get(key), c.id or "")
        )
        if who:
            plan.warnings.append(
                f"{c.kind} {c.name!r} ({c.anam_name}) is still used by "
                f"{', '.join(repr(w) for w in who)}, which no manifest manages: not deleted"
            )
            continue
        kept.append(c)
    plan.changes = kept


def _users_of(kinds: Mapping[str, Kind], kind: str) -> list[tuple[str, str]]:
    """(kind, body key) of every field that refers to a resource of `kind`."""
    return [(k.name, f.body) for k in kinds.values() for f in k.fields if f.ref == kind]


def _moved(kind: Kind, d: Desired, moved: dict[tuple[str, str], str]) -> Desired:
    """`d` with its references to a resource being replaced pointing at its successor."""
    if not moved:
        return d
    body = dict(d.body)
    for f in kind.fields:
        value = body.get(f.body)
        if f.ref is None or value is None:
            continue
        if isinstance(value, list):
            new = [moved.get((f.ref, v), v) if isinstance(v, str) else v for v in value]
            body[f.body] = sorted(new) if f.is_set else new
        elif isinstance(value, str):
            body[f.body] = moved.get((f.ref, value), value)
    return replace(d, body=body)


def _refers(value: Any, ident: str) -> bool:
    """Whether a body value (one id, or a list of ids) names `ident`."""
    return value == ident or (isinstance(value, list) and ident in value)


def _still_used(
    kinds: Mapping[str, Kind],
    kind: Kind,
    found: Live,
    desired: list[Desired],
    live: LiveView,
    deleting: list[Live],
) -> bool:
    """Whether a resource others refer to (a tool) is used once this apply is done: by
    a manifest, or by any live resource (the API's usage count counts unmanaged ones
    too), less the users this apply deletes or stops using (they run first)."""
    users = [(k.name, f.body) for k in kinds.values() for f in k.fields if f.ref == kind.name]
    if not users:
        return False
    if any(
        _refers(d.body.get(key), found.id) for d in desired for name, key in users if d.kind == name
    ):
        return True
    usage = found.raw.get(kind.usage) if kind.usage else None
    if not isinstance(usage, int):
        # No usage count (an LLM): the managed personas' live values are what is known.
        return any(
            _refers(m.normalized.get(key), found.id)
            for (k, name), m in live.matched.items()
            for user, key in users
            if m is not None and k == user and key not in _body_of(desired, k, name)
        )
    leaving = sum(
        1
        for lv in deleting
        for name, key in users
        if lv.kind == name and _refers(lv.normalized.get(key), found.id)
    ) + sum(
        1
        for d in desired
        for name, key in users
        if d.kind == name
        and (m := live.matched.get((name, d.name))) is not None
        and _refers(m.normalized.get(key), found.id)
        and key in d.body
        and not _refers(d.body[key], found.id)
    )
    return usage - leaving > 0


def _body_of(desired: list[Desired], kind: str, name: str) -> dict[str, Any]:
    return next((d.body for d in desired if d.kind == kind and d.name == name), {})
