"""The LLM kind in the planner and the Applier, as tables (DESIGN.md §3 and issue #13):
what a PUT can say is an update in PUT vocabulary (`url`, the PUT's llmFormat enum);
anything else replaces the LLM (-/+), its planned personas move to the successor,
and the old one goes last. Pure: plans from plain data, an in-memory API for apply.

Plan rows: [action, kind, name, [method, path, body] or None] as in test_planner.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import engine_adapter as eng
import pytest

KEY = eng.secret("LLM_KEY", "k-1")
ROTATED = eng.secret("LLM_KEY", "k-2")
URL = "https://llm.example/v1/chat/completions"
GW = {
    "displayName": "t-gw",
    "llmFormat": "openai",
    "urls": [{"url": URL}],
    "modelName": "gpt-4o",
    "secret": KEY,
}
LIVE_GW = {"id": "llm-1", "body": {k: v for k, v in GW.items() if k != "secret"}}
COACH = {"name": "t-coach", "llmId": "llm-1"}
GW_STATE = {
    "kind": "LLM",
    "name": "gw",
    "anamName": "t-gw",
    "id": "llm-1",
    "applied": GW,
    "observed": LIVE_GW["body"],
}
COACH_STATE = {
    "kind": "Persona",
    "name": "coach",
    "anamName": "t-coach",
    "id": "p-1",
    "applied": COACH,
    "observed": COACH,
}
STATE = [GW_STATE, COACH_STATE]
LIVE = {"LLM/gw": LIVE_GW, "Persona/coach": {"id": "p-1", "body": COACH}}


def llm(**fields: Any) -> dict[str, Any]:
    return {"kind": "LLM", "name": "gw", "body": {**GW, **fields}}


def coach(llm_id: str = "llm-1") -> dict[str, Any]:
    return {"kind": "Persona", "name": "coach", "body": {**COACH, "llmId": llm_id}}


def rows(plan: dict[str, Any]) -> list[list[Any]]:
    out = []
    for c in plan["changes"]:
        req = c["request"]
        out.append(
            [
                c["action"],
                c["kind"],
                c["name"],
                [req["method"], req["path"], req["body"]] if req else None,
            ]
        )
    return out


ROWS: list[dict[str, Any]] = [
    dict(
        id="create: the LLM before the persona that names it (a reference until created)",
        desired=[coach(eng.made_ref("LLM", "gw")), llm()],
        live={},
        state=None,
        changes=[
            ["create", "LLM", "gw", ["POST", "/v1/llms", GW]],
            [
                "create",
                "Persona",
                "coach",
                ["POST", "/v1/personas", {**COACH, "llmId": "⟦ref:LLM:gw⟧"}],
            ],
        ],
    ),
    dict(
        id="no-op: the secret is compared with what was applied (never returned)",
        desired=[llm(), coach()],
        changes=[["no-op", "LLM", "gw", None], ["no-op", "Persona", "coach", None]],
    ),
    dict(
        id="a rotated secret: a minimal PUT of the secret alone",
        desired=[llm(secret=ROTATED), coach()],
        changes=[
            ["update", "LLM", "gw", ["PUT", "/v1/llms/llm-1", {"secret": ROTATED}]],
            ["no-op", "Persona", "coach", None],
        ],
    ),
    dict(
        id="one url for another: the PUT says it as `url`",
        desired=[llm(urls=[{"url": "https://b.example/v1"}]), coach()],
        changes=[
            ["update", "LLM", "gw", ["PUT", "/v1/llms/llm-1", {"url": "https://b.example/v1"}]],
            ["no-op", "Persona", "coach", None],
        ],
    ),
    dict(
        id="an llmFormat both enums have: a PUT",
        desired=[llm(llmFormat="groq_openai"), coach()],
        changes=[
            ["update", "LLM", "gw", ["PUT", "/v1/llms/llm-1", {"llmFormat": "groq_openai"}]],
            ["no-op", "Persona", "coach", None],
        ],
    ),
    dict(
        id="an llmFormat only the POST takes: replace, and the persona moves to the new one",
        desired=[llm(llmFormat="gemini"), coach()],
        changes=[
            ["replace", "LLM", "gw", ["POST", "/v1/llms", {**GW, "llmFormat": "gemini"}]],
            ["update", "Persona", "coach", ["PUT", "/v1/personas/p-1", {"llmId": "⟦ref:LLM:gw⟧"}]],
        ],
    ),
    dict(
        id="a region (or a second url): no PUT can say it, so replace",
        desired=[coach(), llm(urls=[{"url": URL, "region": "eu"}])],
        changes=[
            [
                "replace",
                "LLM",
                "gw",
                ["POST", "/v1/llms", {**GW, "urls": [{"url": URL, "region": "eu"}]}],
            ],
            ["update", "Persona", "coach", ["PUT", "/v1/personas/p-1", {"llmId": "⟦ref:LLM:gw⟧"}]],
        ],
    ),
    dict(
        id="prune: the persona leaves the LLM first, then the LLM goes",
        desired=[coach("llm-stock")],
        orphans={"LLM/gw": LIVE_GW},
        prune=True,
        changes=[
            ["update", "Persona", "coach", ["PUT", "/v1/personas/p-1", {"llmId": "llm-stock"}]],
            ["delete", "LLM", "gw", ["DELETE", "/v1/llms/llm-1", None]],
        ],
    ),
    dict(
        id="prune never deletes an LLM a persona of the manifests still uses",
        desired=[coach()],
        orphans={"LLM/gw": LIVE_GW},
        prune=True,
        changes=[["no-op", "Persona", "coach", None]],
        warnings=["LLM 'gw' (t-gw) is still used by a persona: not deleted"],
    ),
    dict(
        id="prune never deletes an LLM with lifecycle.preventDestroy",
        desired=[coach("llm-stock")],
        state=[{**GW_STATE, "preventDestroy": True}, COACH_STATE],
        orphans={"LLM/gw": LIVE_GW},
        prune=True,
        changes=[
            ["update", "Persona", "coach", ["PUT", "/v1/personas/p-1", {"llmId": "llm-stock"}]],
        ],
        warnings=["LLM 'gw' (t-gw) has lifecycle.preventDestroy: not deleted"],
    ),
    dict(
        id="the old half of a replace cut short: deleted without --prune, users first",
        desired=[llm(), coach("llm-2")],
        live={**LIVE, "LLM/gw": {**LIVE_GW, "id": "llm-2"}},
        state=[{**GW_STATE, "id": "llm-2"}, COACH_STATE, {**GW_STATE, "name": "gw#deposed"}],
        orphans={"LLM/gw#deposed": LIVE_GW},
        changes=[
            ["no-op", "LLM", "gw", None],
            ["update", "Persona", "coach", ["PUT", "/v1/personas/p-1", {"llmId": "llm-2"}]],
            ["delete", "LLM", "gw#deposed", ["DELETE", "/v1/llms/llm-1", None]],
        ],
    ),
    dict(
        id="a deposed entry a manifest still matches (its successor was never made): kept",
        desired=[llm(), coach()],
        state=[*STATE, {**GW_STATE, "name": "gw#deposed"}],
        orphans={"LLM/gw#deposed": LIVE_GW},
        changes=[["no-op", "LLM", "gw", None], ["no-op", "Persona", "coach", None]],
    ),
]


@pytest.mark.parametrize("row", ROWS, ids=[r["id"] for r in ROWS])
def test_llm_plan_rows(row: dict[str, Any]) -> None:
    desired = row["desired"]
    wanted = {f"{d['kind']}/{d['name']}" for d in desired}
    plan = eng.plan(
        desired=desired,
        live={k: v for k, v in row.get("live", LIVE).items() if k in wanted},
        orphans=row.get("orphans"),
        state=row.get("state", STATE),
        prune=row.get("prune", False),
    )
    assert rows(plan) == row["changes"]
    assert plan["warnings"] == row.get("warnings", [])


def test_a_replace_says_why_and_shows_the_change() -> None:
    plan = eng.plan(desired=[llm(llmFormat="none"), coach()], live=LIVE, state=STATE)
    gw = plan["changes"][0]
    assert gw["id"] == "llm-1"  # the old one, deleted last
    assert [[f["path"], f["before"], f["after"]] for f in gw["fields"]] == [
        ["llmFormat", "openai", "none"]
    ]
    assert gw["notes"][0] == (
        "must be replaced: llmFormat 'none' cannot be set by a PUT (it takes openai, "
        "azure_openai, groq_openai, anthropic, custom)"
    )
    assert plan["summary"] == {"create": 0, "update": 1, "replace": 1, "delete": 0, "unchanged": 0}


# -- apply ------------------------------------------------------------------------------------


class LlmApi:
    """An in-memory API of LLMs (named by displayName) and personas, as engine.apply.Api."""

    def __init__(self) -> None:
        self.items: dict[str, dict[str, dict[str, Any]]] = {"LLM": {}, "Persona": {}}
        self.log: list[tuple[str, str, Any]] = []
        self.fail_persona_puts = False
        self.fail_llm_posts = False
        self.n = 0

    def _path(self, kind: str) -> str:
        return {"LLM": "/v1/llms", "Persona": "/v1/personas"}[kind]

    def _shown(self, kind: str, ident: str) -> dict[str, Any]:
        body = {k: v for k, v in self.items[kind][ident].items() if k != "secret"}
        return {"id": ident, **body}

    def create(self, kind: str, body: dict[str, Any]) -> dict[str, Any]:
        self.log.append(("POST", self._path(kind), body))
        if kind == "LLM" and self.fail_llm_posts:
            raise eng.PersonactlError("the API answered 400 Bad Request: urls[0].url is not valid")
        self.n += 1
        ident = f"{kind.lower()}-new-{self.n}"
        self.items[kind][ident] = dict(body)
        return self._shown(kind, ident)

    def update(self, kind: str, ident: str, body: dict[str, Any]) -> dict[str, Any]:
        self.log.append(("PUT", f"{self._path(kind)}/{ident}", body))
        if kind == "Persona" and self.fail_persona_puts:
            raise eng.PersonactlError("the API answered 500 Internal Server Error")
        item = self.items[kind][ident]
        if "url" in body:
            item["urls"] = [{"url": body["url"]}]
        item.update({k: v for k, v in body.items() if k != "url"})
        return self._shown(kind, ident)

    def delete(self, kind: str, ident: str) -> None:
        self.log.append(("DELETE", f"{self._path(kind)}/{ident}", None))
        del self.items[kind][ident]

    def find_by_name(self, kind: str, name: str) -> list[dict[str, Any]]:
        key = "displayName" if kind == "LLM" else "name"
        return [self._shown(kind, i) for i, b in self.items[kind].items() if b.get(key) == name]


def _seeded() -> LlmApi:
    api = LlmApi()
    api.items["LLM"]["llm-1"] = dict(GW, secret="k-1")
    api.items["Persona"]["p-1"] = dict(COACH)
    return api


def _write_state(path: Path) -> None:
    import json

    doc = {
        "version": 1,
        "environment": "unit",
        "lineage": eng.LINEAGE,
        "serial": 1,
        "resources": [{**e, "fingerprint": {}, "preventDestroy": False} for e in STATE],
    }
    path.write_text(json.dumps(doc))


@pytest.mark.parametrize("persona_fails", [False, True], ids=["moved", "move-fails"])
def test_apply_replaces_create_move_delete_in_that_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, persona_fails: bool
) -> None:
    monkeypatch.setenv("LLM_KEY", "k-1")
    state = tmp_path / "unit.json"
    _write_state(state)
    plan = eng.plan(desired=[llm(llmFormat="gemini"), coach()], live=LIVE, state=STATE)
    api = _seeded()
    api.fail_persona_puts = persona_fails
    results = eng.apply(plan, api, state)
    post = ("POST", "/v1/llms", {**GW, "secret": "k-1", "llmFormat": "gemini"})
    move = ("PUT", "/v1/personas/p-1", {"llmId": "llm-new-1"})
    recorded = eng.read_state(state)
    if not persona_fails:
        assert api.log == [post, move, ("DELETE", "/v1/llms/llm-1", None)]
        assert [r["message"] for r in results] == [
            "created to replace llm-1",
            "updated",
            "deleted the old llm-1",
        ]
        assert sorted(recorded) == ["LLM/gw", "Persona/coach"]
    else:
        # The old LLM is kept (a persona still runs on it) and recorded as deposed.
        assert api.log == [post, move]
        assert results[-1]["message"] == (
            "old LLM llm-1 kept: persona 'coach' still use it "
            "(the next apply deletes it once they move)"
        )
        assert recorded["LLM/gw#deposed"]["id"] == "llm-1"
    assert recorded["LLM/gw"]["id"] == "llm-new-1"
    assert recorded["LLM/gw"]["applied"]["secret"] == KEY  # a sentinel, never the key


def test_a_replace_keeps_the_old_llm_while_a_persona_left_out_of_the_plan_uses_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`apply --target gw`: the persona is not in the plan, so it is not moved; the state
    says it still runs on the old LLM, which is therefore kept (deposed) for the next run."""
    monkeypatch.setenv("LLM_KEY", "k-1")
    state = tmp_path / "unit.json"
    _write_state(state)
    plan = eng.plan(desired=[llm(llmFormat="none")], live=LIVE, state=STATE)
    api = _seeded()
    results = eng.apply(plan, api, state)
    assert [(m, p) for m, p, _ in api.log] == [("POST", "/v1/llms")]
    assert results[-1]["message"] == (
        "old LLM llm-1 kept: persona 'coach' still use it "
        "(the next apply deletes it once they move)"
    )
    recorded = eng.read_state(state)
    assert (recorded["LLM/gw"]["id"], recorded["LLM/gw#deposed"]["id"]) == ("llm-new-1", "llm-1")


def test_a_replace_whose_new_llm_fails_keeps_everything_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One failure, reported once; the persona is not moved (it would point at nothing)
    and nothing is deleted; the state still names the old LLM, with no deposed entry."""
    monkeypatch.setenv("LLM_KEY", "k-1")
    state = tmp_path / "unit.json"
    _write_state(state)
    plan = eng.plan(desired=[llm(llmFormat="gemini"), coach()], live=LIVE, state=STATE)
    api = _seeded()
    api.fail_llm_posts = True
    results = eng.apply(plan, api, state)
    assert [(m, p) for m, p, _ in api.log] == [("POST", "/v1/llms")]
    assert [(r["name"], r["ok"], r["message"]) for r in results] == [
        ("gw", False, "the API answered 400 Bad Request: urls[0].url is not valid"),
        ("coach", False, "not applied: it uses llm 'gw', which failed"),
    ]
    recorded = eng.read_state(state)
    assert sorted(recorded) == ["LLM/gw", "Persona/coach"]
    assert recorded["LLM/gw"]["id"] == "llm-1"
