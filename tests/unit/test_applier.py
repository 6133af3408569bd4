"""The Applier against an in-memory fake of the API, with a real StateStore on disk.

Plans are made by the real planner from what the fake holds (identity by the
state's id, else by name, as fetch does); every engine call goes through
engine_adapter. What is checked is what a user would check: the requests the
API received, in order; each resource's outcome and message; the state file.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import engine_adapter as eng
import pytest
from fake_api import Call, FakeApi

SYSTEM = {"type": "SYSTEM", "description": "End the call.", "config": {"action": "end_call"}}


def tool(name: str, **fields: Any) -> dict[str, Any]:
    return {"kind": "Tool", "name": name, "body": {"name": f"t-{name}", **SYSTEM, **fields}}


def persona(name: str, tools: tuple[str, ...] = (), **fields: Any) -> dict[str, Any]:
    body = {"name": f"t-{name}", "description": f"{name} persona", **fields}
    return {"kind": "Persona", "name": name, "body": body, "tools": tools}


def _find(fake: FakeApi, kind: str, anam_name: str) -> str | None:
    return next((i for i, b in fake.items[kind].items() if b["name"] == anam_name), None)


def plan_for(
    fake: FakeApi, desired: list[dict[str, Any]], state_path: Path, prune: bool = False
) -> dict[str, Any]:
    """What `personactl plan` would make of the fake's resources, the state file and
    `desired`: identity by the state's id, else by name; tool names resolved to live
    ids or to references to tools the same apply creates."""
    entries = eng.read_state(state_path) if state_path.exists() else None
    live, orphans, bodies = {}, {}, []
    for d in desired:
        key = f"{d['kind']}/{d['name']}"
        entry = (entries or {}).get(key)
        ident = entry["id"] if entry and entry["id"] in fake.items[d["kind"]] else None
        ident = ident or _find(fake, d["kind"], d["body"]["name"])
        if ident:
            live[key] = fake.live(d["kind"], ident)
        body = dict(d["body"])
        if d["kind"] == "Persona" and d["tools"]:
            ids = [_find(fake, "Tool", f"t-{t}") or eng.ref(t) for t in d["tools"]]
            body["toolIds"] = sorted(ids)
        bodies.append({**d, "body": body})
    for key, entry in (entries or {}).items():
        if not any(f"{d['kind']}/{d['name']}" == key for d in desired):
            gone = entry["id"] not in fake.items[entry["kind"]]
            orphans[key] = None if gone else fake.live(entry["kind"], entry["id"])
    state = list(entries.values()) if entries is not None else None
    return eng.plan(desired=bodies, live=live, orphans=orphans, state=state, prune=prune)


def outcomes(results: list[dict[str, Any]]) -> dict[str, tuple[bool, str]]:
    return {f"{r['kind']}/{r['name']}": (r["ok"], r["message"]) for r in results}


@pytest.fixture
def state_path(tmp_path: Path) -> Path:
    return tmp_path / ".personactl" / "unit.json"


EVERYTHING = [
    tool("orders"),
    tool("end"),
    persona("cara", tools=("orders", "end")),
    persona("mia", tools=("end",)),
]


# -- ordering ----------------------------------------------------------------------------


def _mixed_run(state_path: Path, parallelism: int) -> FakeApi:
    """Tools and personas to create, update and delete in one plan."""
    fake = FakeApi()
    eng.apply(plan_for(fake, EVERYTHING, state_path), fake, state_path)
    fake.log.clear()
    desired = [
        tool("end", description="Hang up."),
        tool("search"),
        persona("cara", tools=("end", "search"), description="v2"),
        persona("lea", tools=("search",)),
    ]
    plan = plan_for(fake, desired, state_path, prune=True)
    eng.apply(plan, fake, state_path, parallelism=parallelism)
    return fake


def test_order_tools_then_personas_then_deletes_in_reverse(state_path: Path) -> None:
    fake = _mixed_run(state_path, parallelism=1)
    assert fake.writes() == [
        "PUT /v1/tools/tool-2",
        "LIST /v1/tools?search=t-search",  # each create looks its name up once more
        "POST /v1/tools",
        "PUT /v1/personas/persona-1",
        "LIST /v1/personas?search=t-lea",
        "POST /v1/personas",
        "DELETE /v1/personas/persona-2",
        "DELETE /v1/tools/tool-1",
    ]


def test_order_holds_between_phases_with_parallel_writes(state_path: Path) -> None:
    fake = _mixed_run(state_path, parallelism=8)
    phase = {
        ("PUT", "/v1/tools"): 0,
        ("LIST", "/v1/tools"): 0,
        ("POST", "/v1/tools"): 0,
        ("PUT", "/v1/personas"): 1,
        ("LIST", "/v1/personas"): 1,
        ("POST", "/v1/personas"): 1,
        ("DELETE", "/v1/personas"): 2,
        ("DELETE", "/v1/tools"): 3,
    }
    seen = [
        phase[(c.method, "/" + "/".join(c.path.split("?")[0].split("/")[1:3]))] for c in fake.log
    ]
    assert seen == sorted(seen) and sorted(seen) == [0, 0, 0, 1, 1, 1, 2, 3]


# -- tool references ---------------------------------------------------------------------


def test_tool_refs_become_the_ids_created_in_the_same_run(state_path: Path) -> None:
    fake = FakeApi()
    existing = fake.seed("Tool", {"name": "t-end", **SYSTEM})
    plan = plan_for(
        fake, [tool("orders"), tool("end"), persona("cara", tools=("orders", "end"))], state_path
    )
    cara_post = next(c for c in plan["changes"] if c["kind"] == "Persona")["request"]["body"]
    assert cara_post["toolIds"] == sorted([existing, eng.ref("orders")])
    eng.apply(plan, fake, state_path)
    sent = next(c for c in fake.log if c.path == "/v1/personas").body
    assert sent is not None and sent["toolIds"] == ["tool-1", "tool-2"]
    state = eng.read_state(state_path)
    assert state["Persona/cara"]["applied"]["toolIds"] == ["tool-1", "tool-2"]
    assert state["Persona/cara"]["observed"]["toolIds"] == ["tool-1", "tool-2"]


# -- partial failure ---------------------------------------------------------------------


def test_one_failure_leaves_the_others_applied_and_recorded(state_path: Path) -> None:
    fake = FakeApi(fail=frozenset({"t-orders"}))
    results = eng.apply(plan_for(fake, EVERYTHING, state_path), fake, state_path, parallelism=4)
    assert outcomes(results) == {
        "Tool/orders": (
            False,
            "the API answered 500 Internal Server Error to POST /v1/tools",
        ),
        "Tool/end": (True, "created"),
        "Persona/cara": (False, "not applied: it uses tool 'orders', which failed"),
        "Persona/mia": (True, "created"),
    }
    assert fake.names("Persona") == ["t-mia"] and fake.names("Tool") == ["t-end"]
    assert sorted(eng.read_state(state_path)) == ["Persona/mia", "Tool/end"]


def test_a_failed_update_keeps_the_state_it_had(state_path: Path) -> None:
    fake = FakeApi()
    eng.apply(plan_for(fake, EVERYTHING, state_path), fake, state_path)
    before = eng.read_state(state_path)
    fake.fail = frozenset({"t-cara"})
    desired = [
        *EVERYTHING[:2],
        persona("cara", tools=("orders", "end"), description="v2"),
        EVERYTHING[3],
    ]
    desired[3] = persona("mia", tools=("end",), description="v2")
    results = eng.apply(plan_for(fake, desired, state_path), fake, state_path)
    assert outcomes(results)["Persona/cara"] == (
        False,
        "the API answered 500 Internal Server Error to PUT /v1/personas/persona-1",
    )
    after = eng.read_state(state_path)
    assert after["Persona/cara"] == before["Persona/cara"]
    assert after["Persona/mia"]["applied"]["description"] == "v2"


# -- a create whose outcome is unknown -----------------------------------------------------


def test_a_create_committed_then_dropped_is_adopted_never_duplicated(state_path: Path) -> None:
    fake = FakeApi(drop_after_commit={"t-cara": 1})
    results = eng.apply(plan_for(fake, [persona("cara")], state_path), fake, state_path)
    assert outcomes(results) == {
        "Persona/cara": (True, "created (adopted after a dropped connection)")
    }
    assert fake.writes() == [
        "LIST /v1/personas?search=t-cara",
        "POST /v1/personas",
        "LIST /v1/personas?search=t-cara",
        "PUT /v1/personas/persona-1",
    ]
    assert fake.names("Persona") == ["t-cara"]
    assert eng.read_state(state_path)["Persona/cara"]["id"] == "persona-1"


def test_a_create_dropped_before_commit_is_sent_again_once(state_path: Path) -> None:
    fake = FakeApi(drop_before_commit={"t-cara": 1})
    results = eng.apply(plan_for(fake, [persona("cara")], state_path), fake, state_path)
    assert outcomes(results) == {"Persona/cara": (True, "created")}
    assert fake.writes() == [
        "LIST /v1/personas?search=t-cara",
        "POST /v1/personas",
        "LIST /v1/personas?search=t-cara",
        "POST /v1/personas",
    ]
    assert fake.names("Persona") == ["t-cara"]


def test_two_found_after_an_unknown_outcome_is_an_error(state_path: Path) -> None:
    fake = FakeApi(drop_after_commit={"t-cara": 1})
    plan = plan_for(fake, [persona("cara")], state_path)

    def beside(call: Call) -> None:  # someone else makes the name as our POST goes out
        if call.method == "POST":
            fake.seed("Persona", {"name": "t-cara"})

    fake.on_write = beside
    results = eng.apply(plan, fake, state_path)
    assert outcomes(results) == {
        "Persona/cara": (
            False,
            "the create's outcome was unknown and 2 personas now have its name "
            "(persona-1, persona-2)",
        )
    }
    assert not state_path.exists() or "Persona/cara" not in eng.read_state(state_path)


def test_a_name_created_live_after_the_plan_is_adopted_not_created_again(
    state_path: Path,
) -> None:
    """Two runs that share no lock: the name is looked up as the create starts."""
    fake = FakeApi()
    plan = plan_for(fake, [persona("cara")], state_path)
    fake.seed("Persona", {"name": "t-cara"})  # the other run created it after our plan
    results = eng.apply(plan, fake, state_path)
    assert outcomes(results) == {
        "Persona/cara": (True, "created (adopted: it existed live when the create started)")
    }
    assert fake.writes() == ["LIST /v1/personas?search=t-cara", "PUT /v1/personas/persona-1"]
    assert fake.names("Persona") == ["t-cara"]
    assert eng.read_state(state_path)["Persona/cara"]["id"] == "persona-1"


def test_an_outcome_unknown_three_times_gives_up(state_path: Path) -> None:
    fake = FakeApi(drop_before_commit={"t-cara": 3})
    results = eng.apply(plan_for(fake, [persona("cara")], state_path), fake, state_path)
    assert outcomes(results) == {
        "Persona/cara": (False, "the create's outcome stayed unknown after 3 tries")
    }
    assert fake.names("Persona") == []


# -- read-back -----------------------------------------------------------------------------


@pytest.mark.parametrize("action", ["create", "update"])
def test_a_field_not_persisted_fails_and_stays_out_of_the_state(
    state_path: Path, action: str
) -> None:
    fake = FakeApi()
    if action == "update":
        eng.apply(plan_for(fake, [persona("cara")], state_path), fake, state_path)
    fake.not_persisted = frozenset({"description"})
    desired = [persona("cara", description="v2", skipGreeting=True)]
    results = eng.apply(plan_for(fake, desired, state_path), fake, state_path)
    assert outcomes(results) == {
        "Persona/cara": (
            False,
            f"the API did not persist description as sent (read-back after {action}); "
            "the next plan sends it again",
        )
    }
    entry = eng.read_state(state_path)["Persona/cara"]
    assert "description" not in entry["applied"] and "description" not in entry["observed"]
    assert entry["applied"]["skipGreeting"] is True  # what was persisted is recorded
    again = plan_for(fake, desired, state_path)["changes"][0]["request"]
    assert again == {
        "method": "PUT",
        "path": "/v1/personas/persona-1",
        "body": {"description": "v2"},
    }


def test_write_only_fields_not_returned_are_not_read_back(state_path: Path) -> None:
    fake = FakeApi(hide_write_only=True)
    desired = [persona("cara", languageCode="fr", initialMessage="Bonjour")]
    results = eng.apply(plan_for(fake, desired, state_path), fake, state_path)
    assert outcomes(results) == {"Persona/cara": (True, "created")}


# -- what the state records ----------------------------------------------------------------


def test_the_state_records_what_was_sent_and_the_answer_to_it(state_path: Path) -> None:
    fake = FakeApi(hide_write_only=True, trim_text=True)
    desired = [persona("cara", description="Tier-1 \n", languageCode="en", widgetConfig={"x": 1})]
    eng.apply(plan_for(fake, desired, state_path), fake, state_path)
    entry = eng.read_state(state_path)["Persona/cara"]
    # applied: the POST body and the PUT that carried what POST does not accept.
    assert entry["applied"] == {
        "name": "t-cara",
        "description": "Tier-1 \n",
        "languageCode": "en",
        "widgetConfig": {"x": 1},
    }
    # observed: the answer for those fields; a write-only field has none.
    assert entry["observed"] == {
        "name": "t-cara",
        "description": "Tier-1",
        "widgetConfig": {"x": 1},
    }
    assert fake.writes() == [
        "LIST /v1/personas?search=t-cara",
        "POST /v1/personas",
        "PUT /v1/personas/persona-1",
    ]
    assert fake.log[2].body == {"widgetConfig": {"x": 1}}


def test_an_update_records_only_what_it_sent_accumulated_field_by_field(
    state_path: Path,
) -> None:
    fake = FakeApi()
    fake.seed("Persona", {"name": "t-cara", "description": "old", "zeroDataRetention": True})
    desired = [persona("cara", description="v2", skipGreeting=False)]
    eng.apply(plan_for(fake, desired, state_path), fake, state_path)  # adopted by name
    # skipGreeting is false live already: not sent, so not recorded
    assert fake.log[-1] == Call("PUT", "/v1/personas/persona-1", {"description": "v2"})
    entry = eng.read_state(state_path)["Persona/cara"]
    sent: dict[str, Any] = {"description": "v2"}
    assert entry["applied"] == sent and entry["observed"] == sent
    desired = [persona("cara", description="v2", skipGreeting=True)]
    eng.apply(plan_for(fake, desired, state_path), fake, state_path)
    assert fake.log[-1] == Call("PUT", "/v1/personas/persona-1", {"skipGreeting": True})
    entry = eng.read_state(state_path)["Persona/cara"]
    sent = {"description": "v2", "skipGreeting": True}
    # never `name` (not sent) nor zeroDataRetention (set in the Lab, never sent)
    assert entry["applied"] == sent and entry["observed"] == sent


def test_a_noop_records_identity_and_adopts_by_name_with_an_empty_record(
    state_path: Path,
) -> None:
    fake = FakeApi()
    fake.seed("Persona", {"name": "t-cara", "description": "cara persona"})
    results = eng.apply(plan_for(fake, [persona("cara")], state_path), fake, state_path)
    assert outcomes(results) == {"Persona/cara": (True, "unchanged")}
    assert fake.writes() == []
    entry = eng.read_state(state_path)["Persona/cara"]
    assert (entry["id"], entry["applied"], entry["observed"]) == ("persona-1", {}, {})


def test_deletes_and_forgets_leave_the_state(state_path: Path) -> None:
    fake = FakeApi()
    eng.apply(plan_for(fake, EVERYTHING, state_path), fake, state_path)
    del fake.items["Persona"]["persona-2"]  # mia deleted in the Lab: forgotten
    results = eng.apply(plan_for(fake, EVERYTHING[:1], state_path, prune=True), fake, state_path)
    assert outcomes(results) == {
        "Tool/orders": (True, "unchanged"),
        "Persona/cara": (True, "deleted"),
        "Tool/end": (True, "deleted"),
    }
    assert sorted(eng.read_state(state_path)) == ["Tool/orders"]


def test_secrets_are_sent_in_clear_and_recorded_as_sentinels(
    state_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORDERS_TOKEN", "token-one")
    fake = FakeApi()
    header = f"Bearer {eng.secret('ORDERS_TOKEN', 'token-one')}"
    config = {"url": "https://orders.test", "method": "POST", "headers": {"Authorization": header}}
    desired = [tool("orders", type="SERVER_WEBHOOK", config=config)]
    results = eng.apply(plan_for(fake, desired, state_path), fake, state_path)
    assert outcomes(results) == {"Tool/orders": (True, "created")}
    assert fake.log[1].body is not None
    assert fake.log[1].body["config"]["headers"] == {"Authorization": "Bearer token-one"}
    text = state_path.read_text()
    assert "token-one" not in text and header in text
    monkeypatch.setenv("ORDERS_TOKEN", "token-two")  # rotated after the plan was made
    fake.log.clear()
    desired[0]["body"]["description"] = "v2"
    results = eng.apply(plan_for(fake, desired, state_path), fake, state_path)
    assert outcomes(results) == {
        "Tool/orders": (
            False,
            "secret 'ORDERS_TOKEN' is not set or changed since the plan was made; "
            "set it, or plan again",
        )
    }
    assert fake.writes() == []


# -- Ctrl-C ----------------------------------------------------------------------------------


def test_ctrl_c_lets_the_write_in_flight_finish_and_starts_nothing_new(
    state_path: Path,
) -> None:
    cancel = threading.Event()
    fake = FakeApi(on_write=lambda call: cancel.set())
    results = eng.apply(plan_for(fake, EVERYTHING, state_path), fake, state_path, cancel=cancel)
    assert [(r["name"], r["ok"], r["started"], r["message"]) for r in results] == [
        ("orders", True, True, "created"),
        ("end", False, False, "not started: interrupted"),
        ("cara", False, False, "not started: interrupted"),
        ("mia", False, False, "not started: interrupted"),
    ]
    assert fake.writes() == ["LIST /v1/tools?search=t-orders", "POST /v1/tools"]
    assert sorted(eng.read_state(state_path)) == ["Tool/orders"]
