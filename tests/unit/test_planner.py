"""DESIGN.md §3 at the level of a whole plan, as tables: order, creates, updates,
two-way vs three-way, prune, and identity.

Plan rows: desired resources (request-body vocabulary), the live resources the
manifests matched ("Kind/name": {"id", "body", "usageCount"}), the state's
orphans, the state, --prune; and the plan's changes as
[action, kind, name, [method, path, body] or None], its warnings and forgets.
Identity rows run the real CLI in-process against the sandbox emulator, since
identity is decided by fetch from what is live.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import engine_adapter as eng
import pytest
from cli_support import run_inprocess

HOOK = {
    "name": "t-orders",
    "type": "SYSTEM",
    "description": "End.",
    "config": {"action": "end_call"},
}
CARA = {"name": "t-cara", "description": "Tier-1", "toolIds": ["tl-1"]}
MIA = {"name": "t-mia", "description": "Onboarding", "toolIds": ["tl-1"]}
TOOL = {"kind": "Tool", "name": "orders", "body": HOOK}
PERSONA = {"kind": "Persona", "name": "cara", "body": CARA}
LIVE_TOOL = {"id": "tl-1", "body": HOOK, "usageCount": 1}
LIVE_CARA = {"id": "p-1", "body": CARA}


def state_of(
    kind: str, name: str, ident: str, body: dict[str, Any], **extra: Any
) -> dict[str, Any]:
    """A state entry for a resource applied as `body` and observed as such."""
    return {
        "kind": kind,
        "name": name,
        "anamName": body["name"],
        "id": ident,
        "applied": body,
        "observed": body,
        **extra,
    }


CARA_STATE = state_of("Persona", "cara", "p-1", CARA)
MIA_STATE = state_of("Persona", "mia", "p-2", MIA)
TOOL_STATE = state_of("Tool", "orders", "tl-1", HOOK)

ROWS: list[dict[str, Any]] = [
    # -- what each resource becomes --------------------------------------------------
    dict(
        id="create: tools before personas, a new tool referenced by name",
        desired=[{**PERSONA, "body": {**CARA, "toolIds": [eng.ref("orders")]}}, TOOL],
        changes=[
            ["create", "Tool", "orders", ["POST", "/v1/tools", HOOK]],
            [
                "create",
                "Persona",
                "cara",
                ["POST", "/v1/personas", {**CARA, "toolIds": [eng.ref("orders")]}],
            ],
        ],
    ),
    dict(
        id="create: widgetConfig is not accepted by POST, apply PUTs it after",
        desired=[{**PERSONA, "body": {**CARA, "widgetConfig": {"theme": "dark"}}}],
        changes=[["create", "Persona", "cara", ["POST", "/v1/personas", CARA]]],
        desired_kept={"cara": {**CARA, "widgetConfig": {"theme": "dark"}}},
        notes={
            "cara": ["widgetConfig is not accepted on create: apply sets it with a PUT right after"]
        },
    ),
    dict(
        id="update: a minimal PUT to the resource's path",
        desired=[TOOL, {**PERSONA, "body": {**CARA, "description": "Tier-2"}}],
        live={"Tool/orders": LIVE_TOOL, "Persona/cara": LIVE_CARA},
        state=[CARA_STATE, TOOL_STATE],
        changes=[
            ["no-op", "Tool", "orders", None],
            ["update", "Persona", "cara", ["PUT", "/v1/personas/p-1", {"description": "Tier-2"}]],
        ],
    ),
    dict(
        id="two-way without a state file: a live edit is a change, not drift",
        desired=[PERSONA],
        live={"Persona/cara": {"id": "p-1", "body": {**CARA, "description": "Lab"}}},
        changes=[
            ["update", "Persona", "cara", ["PUT", "/v1/personas/p-1", {"description": "Tier-1"}]]
        ],
        three_way=False,
    ),
    dict(
        id="three-way: the same live edit is drift",
        desired=[PERSONA],
        live={"Persona/cara": {"id": "p-1", "body": {**CARA, "description": "Lab"}}},
        state=[CARA_STATE],
        changes=[
            ["update", "Persona", "cara", ["PUT", "/v1/personas/p-1", {"description": "Tier-1"}]]
        ],
        drift={"cara": [["description", "Tier-1", "Lab", "drift"]]},
    ),
    dict(
        id="three-way only with the state of this very resource (another id: two-way)",
        desired=[PERSONA],
        live={"Persona/cara": {"id": "p-9", "body": {**CARA, "description": "Lab"}}},
        state=[CARA_STATE],
        changes=[
            ["update", "Persona", "cara", ["PUT", "/v1/personas/p-9", {"description": "Tier-1"}]]
        ],
    ),
    # -- prune -------------------------------------------------------------------------
    dict(
        id="prune: without --prune a dropped resource is only a warning",
        desired=[TOOL],
        live={"Tool/orders": LIVE_TOOL},
        orphans={"Persona/cara": LIVE_CARA},
        state=[CARA_STATE, TOOL_STATE],
        changes=[["no-op", "Tool", "orders", None]],
        warnings=[
            "Persona 'cara' (t-cara) is in the state but no longer in the manifests; "
            "run with --prune to delete it"
        ],
    ),
    dict(
        id="prune: deletes what the state recorded and the manifests dropped",
        desired=[TOOL],
        live={"Tool/orders": LIVE_TOOL},
        orphans={"Persona/cara": LIVE_CARA},
        state=[CARA_STATE, TOOL_STATE],
        prune=True,
        changes=[
            ["no-op", "Tool", "orders", None],
            ["delete", "Persona", "cara", ["DELETE", "/v1/personas/p-1", None]],
        ],
        fields={"cara": [["name", "t-cara", None, "delete"]]},
    ),
    dict(
        id="prune: never a resource with lifecycle.preventDestroy",
        desired=[TOOL],
        live={"Tool/orders": LIVE_TOOL},
        orphans={"Persona/cara": LIVE_CARA},
        state=[{**CARA_STATE, "preventDestroy": True}, TOOL_STATE],
        prune=True,
        changes=[["no-op", "Tool", "orders", None]],
        warnings=["Persona 'cara' (t-cara) has lifecycle.preventDestroy: not deleted"],
    ),
    dict(
        id="prune: a resource already gone is forgotten, not deleted",
        desired=[TOOL],
        live={"Tool/orders": LIVE_TOOL},
        orphans={"Persona/cara": None},
        state=[CARA_STATE, TOOL_STATE],
        prune=True,
        changes=[["no-op", "Tool", "orders", None]],
        forget=[{"kind": "Persona", "name": "cara"}],
    ),
    dict(
        id="prune: never a tool a desired persona still references",
        desired=[PERSONA],
        live={"Persona/cara": LIVE_CARA},
        orphans={"Tool/orders": LIVE_TOOL},
        state=[CARA_STATE, TOOL_STATE],
        prune=True,
        changes=[["no-op", "Persona", "cara", None]],
        warnings=["Tool 'orders' (t-orders) is still used by a persona: not deleted"],
    ),
    dict(
        id="prune: never a tool a persona outside the manifests uses (usageCount)",
        desired=[{**PERSONA, "body": {**CARA, "toolIds": []}}],
        live={"Persona/cara": {"id": "p-1", "body": {**CARA, "toolIds": []}}},
        orphans={"Tool/orders": LIVE_TOOL},
        state=[state_of("Persona", "cara", "p-1", {**CARA, "toolIds": []}), TOOL_STATE],
        prune=True,
        changes=[["no-op", "Persona", "cara", None]],
        warnings=["Tool 'orders' (t-orders) is still used by a persona: not deleted"],
    ),
    dict(
        id="prune: a tool used only by a persona deleted in the same run goes after it",
        desired=[],
        orphans={"Tool/orders": LIVE_TOOL, "Persona/cara": LIVE_CARA},
        state=[TOOL_STATE, CARA_STATE],
        prune=True,
        changes=[
            ["delete", "Persona", "cara", ["DELETE", "/v1/personas/p-1", None]],
            ["delete", "Tool", "orders", ["DELETE", "/v1/tools/tl-1", None]],
        ],
    ),
    dict(
        id="prune: a tool dropped by the only persona's update is deleted",
        desired=[{**PERSONA, "body": {**CARA, "toolIds": []}}],
        live={"Persona/cara": LIVE_CARA},
        orphans={"Tool/orders": LIVE_TOOL},
        state=[CARA_STATE, TOOL_STATE],
        prune=True,
        changes=[
            ["update", "Persona", "cara", ["PUT", "/v1/personas/p-1", {"toolIds": []}]],
            ["delete", "Tool", "orders", ["DELETE", "/v1/tools/tl-1", None]],
        ],
    ),
    dict(
        id="prune: a tool two deleted personas used goes after both",
        desired=[],
        orphans={
            "Tool/orders": {**LIVE_TOOL, "usageCount": 2},
            "Persona/cara": LIVE_CARA,
            "Persona/mia": {"id": "p-2", "body": MIA},
        },
        state=[TOOL_STATE, CARA_STATE, MIA_STATE],
        prune=True,
        changes=[
            ["delete", "Persona", "cara", ["DELETE", "/v1/personas/p-1", None]],
            ["delete", "Persona", "mia", ["DELETE", "/v1/personas/p-2", None]],
            ["delete", "Tool", "orders", ["DELETE", "/v1/tools/tl-1", None]],
        ],
    ),
    dict(
        id="prune: a resource renamed since shows its live name, and that as drift",
        desired=[],
        orphans={"Persona/cara": {"id": "p-1", "body": {**CARA, "name": "t-cara-old"}}},
        state=[CARA_STATE],
        prune=True,
        changes=[["delete", "Persona", "cara", ["DELETE", "/v1/personas/p-1", None]]],
        fields={"cara": [["name", "t-cara-old", None, "delete"]]},
        drift={"cara": [["name", "t-cara", "t-cara-old", "drift"]]},
    ),
]


def _summary(change: dict[str, Any]) -> list[Any]:
    req = change["request"]
    request = [req["method"], req["path"], req["body"]] if req else None
    return [change["action"], change["kind"], change["name"], request]


def _by_name(plan: dict[str, Any], key: str) -> dict[str, Any]:
    return {
        c["name"]: [[f["path"], f["before"], f["after"], f["reason"]] for f in c[key]]
        for c in plan["changes"]
        if c[key]
    }


@pytest.mark.parametrize("row", [pytest.param(r, id=r["id"]) for r in ROWS])
def test_plan_rule(row: dict[str, Any]) -> None:
    plan = eng.plan(
        desired=row["desired"],
        live=row.get("live"),
        orphans=row.get("orphans"),
        state=row.get("state"),
        prune=row.get("prune", False),
    )
    assert [_summary(c) for c in plan["changes"]] == row["changes"]
    assert plan["warnings"] == row.get("warnings", [])
    assert plan["forget"] == row.get("forget", [])
    assert plan["threeWay"] is row.get("three_way", "state" in row)
    assert _by_name(plan, "drift") == row.get("drift", {})
    if "fields" in row:
        assert {k: v for k, v in _by_name(plan, "fields").items() if k in row["fields"]} == row[
            "fields"
        ]
    notes = {c["name"]: c["notes"] for c in plan["changes"] if c["notes"]}
    assert notes == row.get("notes", {})
    for name, body in row.get("desired_kept", {}).items():
        assert next(c for c in plan["changes"] if c["name"] == name)["desired"] == body
    for change in plan["changes"]:
        if change["request"] and change["request"]["method"] == "PUT":
            assert set(change["request"]["body"]) <= eng.put_keys(change["kind"])


def test_every_row_id_is_unique() -> None:
    ids = [r["id"] for r in ROWS]
    assert len(ids) == len(set(ids))


# -- identity, decided by fetch against what is live: the real CLI, in-process ---------

PROJECT = """\
apiVersion: personactl/v1
kind: Project
metadata: {name: identity}
spec:
  manifests: [personas/*.yaml]
  defaultEnvironment: sandbox
  environments:
    sandbox: {backend: sandbox, namePrefix: "dev-"}
"""
PERSONA_YAML = """\
apiVersion: personactl/v1
kind: Persona
metadata:
  name: cara
{pin}spec:
  description: Tier-1
"""
# An entry of the state file (format version 2) for persona `cara` with a given id.
STATE_ENTRY = {
    "kind": "Persona",
    "name": "cara",
    "anamName": "dev-cara",
    "applied": {"name": "dev-cara", "description": "Tier-1"},
    "observed": {"name": "dev-cara", "description": "Tier-1"},
    "fingerprint": {},
    "preventDestroy": False,
}

# live: names of personas created in the sandbox before the plan ("{0}" etc. in the
# expectations are their ids, in that order); state: which of them the state records
# for `cara` ("gone": an id that no longer exists); pin: which metadata.id pins.
IDENTITY_ROWS: list[dict[str, Any]] = [
    dict(
        id="identity: by exact name, adopted with a note",
        live=["dev-cara"],
        expect=["update", "{0}", ["adopts the existing persona {0} by name"]],
    ),
    dict(
        id="identity: the state's id wins over the name",
        live=["dev-renamed", "dev-cara"],
        state=0,
        expect=["update", "{0}", []],
    ),
    dict(
        id="identity: a pinned metadata.id wins over the state and the name",
        live=["dev-cara", "dev-other"],
        state=0,
        pin=1,
        expect=["update", "{1}", []],
    ),
    dict(
        id="identity: the state's resource is gone, created again with a note",
        live=[],
        state="gone",
        expect=[
            "create",
            None,
            [
                "the persona recorded in the state (0e0e0e0e-0000-4000-8000-000000000000) no "
                "longer exists; it will be created again"
            ],
        ],
    ),
    dict(
        id="identity: two live personas with the name and no pin, both ids listed",
        live=["dev-cara", "dev-cara"],
        error=(
            "error: personas/cara.yaml:4:9: 2 live personas are named 'dev-cara' ({0}, {1}); "
            "pin one with metadata.id or rename the others"
        ),
    ),
    dict(
        id="identity: a pinned id that does not exist",
        live=["dev-cara"],
        pin="missing",
        error=(
            "error: personas/cara.yaml:5:7: Persona id '0f0f0f0f-0000-4000-8000-000000000000' "
            "(metadata.id) does not exist in this environment; remove the pin to create it, "
            "or fix the id"
        ),
    ),
]
GONE = "0e0e0e0e-0000-4000-8000-000000000000"
MISSING = "0f0f0f0f-0000-4000-8000-000000000000"


def _identity_project(root: Path, row: dict[str, Any]) -> list[str]:
    (root / "personas").mkdir(parents=True)
    (root / "personactl.yaml").write_text(PROJECT)
    ids = [
        eng.seed_sandbox(root, "Persona", {"name": n, "description": "Lab"}) for n in row["live"]
    ]
    pin = row.get("pin")
    pinned = MISSING if pin == "missing" else ids[pin] if pin is not None else None
    text = PERSONA_YAML.format(pin=f"  id: {pinned}\n" if pinned else "")
    (root / "personas" / "cara.yaml").write_text(text)
    if "state" in row:
        ident = GONE if row["state"] == "gone" else ids[row["state"]]
        state = {
            "version": 2,
            "environment": "sandbox",
            "lineage": eng.LINEAGE,
            "serial": 1,
            "resources": [{**STATE_ENTRY, "id": ident}],
        }
        (root / ".personactl").mkdir(exist_ok=True)
        (root / ".personactl" / "sandbox.json").write_text(json.dumps(state))
    return ids


def _fill(value: Any, ids: list[str]) -> Any:
    if isinstance(value, str):
        return value.format(*ids)
    if isinstance(value, list):
        return [_fill(v, ids) for v in value]
    return value


@pytest.mark.parametrize("row", [pytest.param(r, id=r["id"]) for r in IDENTITY_ROWS])
def test_identity(row: dict[str, Any], tmp_path: Path) -> None:
    ids = _identity_project(tmp_path, row)
    r = run_inprocess(["plan", "-o", "json"], tmp_path)
    if "error" in row:
        assert (r.code, r.out, r.err.strip()) == (1, "", _fill(row["error"], ids))
        return
    assert r.code == 0, r.err
    (change,) = json.loads(r.out)["changes"]
    assert [change["action"], change["id"], change["notes"]] == _fill(row["expect"], ids)


def test_prune_never_touches_a_persona_personactl_never_managed(tmp_path: Path) -> None:
    row: dict[str, Any] = {"live": ["dev-cara", "dev-someone-elses"], "state": 0}
    ids = _identity_project(tmp_path, row)
    r = run_inprocess(["plan", "--prune", "-o", "json"], tmp_path)
    assert r.code == 0, r.err
    plan = json.loads(r.out)
    assert [(c["action"], c["id"]) for c in plan["changes"]] == [("update", ids[0])]
    assert plan["warnings"] == []


def test_prune_refuses_an_empty_manifest_set(tmp_path: Path) -> None:
    ids = _identity_project(tmp_path, {"live": ["dev-cara"], "state": 0})
    (tmp_path / "personas" / "cara.yaml").unlink()
    r = run_inprocess(["plan", "--prune", "-o", "json"], tmp_path)
    assert (r.code, r.out, r.err) == (
        1,
        "",
        "error: no manifests found by personas/*.yaml in personactl.yaml; "
        "check spec.manifests in personactl.yaml\n",
    )
    assert ids  # the persona is still live and in the state: nothing would have saved it
