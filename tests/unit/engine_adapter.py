"""The one place the unit tables call the reconcile engine.

The engine's signatures are being refactored (a `kind: str` becomes a kind
declaration, ...): every call to a product function from tests/unit goes
through here, so such a change is fixed in this file alone. Everything that
crosses this boundary is plain data (dicts, lists, strings, numbers), so the
tables in the test modules stay plain data too.

    diff(kind, desired, live, applied, observed, ignore) -> {"fields", "drift", "body", ...}
    plan(desired=[...], live={...}, orphans={...}, state=[...], prune=...) -> plan dict
    apply(plan_dict, api, state_path, ...) -> [result dicts]; read_state(path) -> state dict
"""

from __future__ import annotations

import functools
import json
import threading
from pathlib import Path
from typing import Any

from personactl.anam.api import RESOURCE_PATHS
from personactl.anam.kinds import KINDS
from personactl.anam.liveset import LiveSet
from personactl.core.errors import OutcomeUnknown, PersonactlError
from personactl.core.records import Live, StateEntry
from personactl.core.refs import ref as made_ref
from personactl.core.secrets import has_secret, sentinel
from personactl.core.serialize import to_json
from personactl.engine.apply import Applier
from personactl.engine.diff import diff_resource
from personactl.engine.plan import Plan
from personactl.engine.planner import Desired, build_plan
from personactl.engine.state import State, StateStore, load_state

LINEAGE = "00000000-0000-4000-8000-00000000beef"
# shared/ sits beside the repository (on a developer machine and in CI alike).
OPENAPI = Path(__file__).resolve().parents[1] / "reference" / "anam-openapi.json"

__all__ = [
    "LINEAGE",
    "OutcomeUnknown",
    "PersonactlError",
    "apply",
    "diff",
    "has_secret",
    "normalize",
    "plan",
    "put_keys",
    "read_state",
    "ref",
    "secret",
    "seed_sandbox",
    "to_response",
]


def _label(_key: str, value: Any) -> Any:
    """Labels as ids: the tables compare values, not how people see them."""
    return value


def _changes(changes: list[Any]) -> list[list[Any]]:
    return [[c.path, c.before, c.after, c.reason] for c in changes]


def _sensitive(changes: list[Any]) -> list[str]:
    return [c.path for c in changes if c.sensitive]


def ref(tool: str) -> str:
    """What a persona's toolIds hold for a tool the same apply creates."""
    return made_ref("Tool", tool)


def secret(name: str, value: str) -> str:
    """The sentinel a `{{ secret(NAME) }}` renders to in a plan made from state LINEAGE."""
    return sentinel(name, value, LINEAGE)


@functools.cache
def put_keys(kind: str) -> frozenset[str]:
    """The keys the official PUT schema of `kind` accepts (from the OpenAPI document)."""
    doc = json.loads(OPENAPI.read_text(encoding="utf-8"))
    path = f"{RESOURCE_PATHS[kind]}/{{id}}"
    schema = doc["paths"][path]["put"]["requestBody"]["content"]["application/json"]["schema"]
    return frozenset(schema["properties"])


def normalize(kind: str, response: dict[str, Any]) -> dict[str, Any]:
    """A GET response in request-body vocabulary, as the diff sees it."""
    return KINDS[kind].normalize(response)


def to_response(kind: str, body: dict[str, Any], ident: str) -> dict[str, Any]:
    """A GET response of the official shape holding `body` (request-body vocabulary)."""
    if kind != "Persona":
        return {"id": ident, **body}
    moved = {"avatarId", "voiceId", "systemPrompt", "toolIds"}
    out: dict[str, Any] = {"id": ident, **{k: v for k, v in body.items() if k not in moved}}
    if "avatarId" in body:
        out["avatar"] = {"id": body["avatarId"]}
    if "voiceId" in body:
        out["voice"] = {"id": body["voiceId"]}
    if "systemPrompt" in body:
        out["brain"] = {"systemPrompt": body["systemPrompt"]}
    if "toolIds" in body:
        out["tools"] = [{"id": t} for t in body["toolIds"]]
    return out


def diff(
    kind: str,
    desired: dict[str, Any],
    live: dict[str, Any] | None,
    applied: dict[str, Any] | None = None,
    observed: dict[str, Any] | None = None,
    ignore: list[str] | tuple[str, ...] = (),
) -> dict[str, Any]:
    """The diff of one existing resource; `ignore` in manifest paths (lifecycle.ignoreChanges)."""
    fp = diff_resource(
        KINDS[kind],
        desired,
        live,
        applied,
        observed,
        [KINDS[kind].body_path(path) for path in ignore],
        _label,
    )
    return {
        "fields": _changes(fp.fields),
        "drift": _changes(fp.drift),
        "body": fp.body,
        "notes": fp.notes,
        "sensitive": _sensitive(fp.fields) + _sensitive(fp.drift),
        "settled": fp.settled,
    }


def _entry(data: dict[str, Any]) -> StateEntry:
    return StateEntry(
        kind=data["kind"],
        name=data["name"],
        anam_name=data.get("anamName", data["name"]),
        id=data["id"],
        applied=data.get("applied", {}),
        observed=data.get("observed", {}),
        prevent_destroy=data.get("preventDestroy", False),
    )


def _live(kind: str, data: dict[str, Any]) -> Live:
    """`data`: {"id", "body" (request-body vocabulary), optional "usageCount"}."""
    raw = {"id": data["id"], **data["body"]}
    if "usageCount" in data:
        raw["usageCount"] = data["usageCount"]
    return Live.of(kind, raw, dict(data["body"]))


def plan(
    *,
    desired: list[dict[str, Any]],
    live: dict[str, dict[str, Any]] | None = None,
    orphans: dict[str, dict[str, Any] | None] | None = None,
    state: list[dict[str, Any]] | None = None,
    prune: bool = False,
) -> dict[str, Any]:
    """A plan as its JSON form. Keys of `live` and `orphans` are "Kind/name";
    `live` holds the resources the manifests matched (absent: to be created),
    `orphans` the state's resources the manifests no longer have (None: gone)."""
    live = live or {}
    entries = [_entry(e) for e in state] if state is not None else None
    by_key = {f"{e.kind}/{e.name}": e for e in entries or []}
    found = LiveSet()
    for d in desired:
        key = f"{d['kind']}/{d['name']}"
        found.matched[(d["kind"], d["name"])] = _live(d["kind"], live[key]) if key in live else None
    for key, item in (orphans or {}).items():
        kind = key.split("/", 1)[0]
        found.orphans.append((by_key[key], _live(kind, item) if item is not None else None))
    result = build_plan(
        environment="unit",
        backend="anam",
        api_url="http://api.test",
        state_path=".personactl/unit.json",
        state=State("unit", entries, lineage=LINEAGE) if entries is not None else None,
        desired=[
            Desired(
                kind=d["kind"],
                name=d["name"],
                anam_name=d["body"].get(KINDS[d["kind"]].name_key, d["name"]),
                body=d["body"],
                source=f"{d['kind'].lower()}s/{d['name']}.yaml:4:9",
                ignore=[KINDS[d["kind"]].body_path(p) for p in d.get("ignore", [])],
                prevent_destroy=d.get("preventDestroy", False),
            )
            for d in desired
        ],
        live=found,
        label=_label,
        prune=prune,
        lineage=LINEAGE,
        kinds=KINDS,
    )
    return result.to_dict()


def apply(
    plan_data: dict[str, Any],
    writer: Any,
    state_path: Path,
    *,
    parallelism: int = 1,
    cancel: threading.Event | None = None,
) -> list[dict[str, Any]]:
    """Carry out a plan (its JSON form) with `writer` (an `Api`), recording state at
    `state_path`; one dict per resource, in the order the Applier reports them."""
    store = StateStore(state_path, state_path.name, "unit", lineage=LINEAGE)
    with store:
        results = Applier(
            Plan.from_dict(plan_data), writer, store, KINDS, parallelism=parallelism, cancel=cancel
        ).run()
    return [
        {
            "kind": r.change.kind,
            "name": r.change.name,
            "ok": r.ok,
            "message": r.message,
            "id": r.id,
            "started": r.started,
        }
        for r in results
    ]


def read_state(state_path: Path) -> dict[str, Any]:
    """The state file's entries as JSON (observed in full, as the engine reads it, though
    the file stores only what differs from applied), keyed "Kind/name"."""
    state = load_state(state_path, state_path.name)
    assert state is not None, state_path
    return {f"{e.kind}/{e.name}": to_json(e) for e in state.resources}


def seed_sandbox(project: Path, kind: str, body: dict[str, Any]) -> str:
    """Create a resource in a project's sandbox emulator behind personactl's back; its id."""
    from personactl.emulator.inprocess import sandbox_client

    with sandbox_client(project / ".personactl" / "sandbox") as client:
        answer = client.post(RESOURCE_PATHS[kind], json=body)
        assert answer.status_code == 201, answer.text
        return str(answer.json()["id"])
