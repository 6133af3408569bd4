"""personactl.anam.api: the one module that knows the Anam API's paths.

Each call against the emulator over real HTTP, with exactly the requests the
server received; and no other module of personactl spells a `/v1/` path.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_support import KEY, Emulator, emulator

from personactl.anam.api import AnamApi
from personactl.anam.client import AnamClient, ClientConfig
from personactl.core.errors import PersonactlError

PACKAGE = Path(__file__).resolve().parents[1] / "personactl"
PAGE = "page=1&perPage=100"


@pytest.fixture
def emu(tmp_path: Path) -> Iterator[Emulator]:
    with emulator(tmp_path / "emu") as e:
        yield e


@pytest.fixture
def api(emu: Emulator) -> Iterator[AnamApi]:
    with AnamClient(ClientConfig(emu.url, KEY)) as client:
        yield AnamApi(client)


def sent(emu: Emulator) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in emu.log]


def test_writes_send_exactly_one_request_each_to_the_kind_s_path(
    api: AnamApi, emu: Emulator
) -> None:
    tool = api.create("Tool", {"name": "show", "type": "CLIENT", "description": "Shows."})
    persona = api.create("Persona", {"name": "cara", "description": "Tier 1"})
    updated = api.update("Persona", persona["id"], {"description": "Tier 2"})
    api.delete("Tool", tool["id"])
    api.delete("Tool", tool["id"])  # already gone: not an error

    assert updated["description"] == "Tier 2"
    pid, tid = persona["id"], tool["id"]
    assert sent(emu) == [
        ("POST", "/v1/tools"),
        ("POST", "/v1/personas"),
        ("PUT", f"/v1/personas/{pid}"),
        ("DELETE", f"/v1/tools/{tid}"),
        ("DELETE", f"/v1/tools/{tid}"),
    ]
    assert [r.body for r in emu.log[:3]] == [
        {"name": "show", "type": "CLIENT", "description": "Shows."},
        {"name": "cara", "description": "Tier 1"},
        {"description": "Tier 2"},
    ]


def test_reads_by_id_and_by_name(api: AnamApi, emu: Emulator) -> None:
    cara = api.create("Persona", {"name": "cara"})
    api.create("Persona", {"name": "cara-2"})  # the API's search matches it too
    emu.reset_log()

    assert api.persona(cara["id"])["name"] == "cara"
    assert [p["id"] for p in api.find_by_name("Persona", "cara")] == [cara["id"]]
    assert sent(emu) == [
        ("GET", f"/v1/personas/{cara['id']}"),
        ("GET", f"/v1/personas?search=cara&{PAGE}"),
    ]


def test_every_list_by_its_name(api: AnamApi, emu: Emulator) -> None:
    for read in (api.personas, api.tools, api.avatars, api.voices, api.llms, api.knowledge_groups):
        read()
    api.listing("voices", "Lucy")
    api.listing("knowledge", "docs")  # this endpoint takes no search: none is sent
    assert sent(emu) == [
        ("GET", f"/v1/personas?{PAGE}"),
        ("GET", f"/v1/tools?{PAGE}"),
        ("GET", f"/v1/avatars?{PAGE}"),
        ("GET", f"/v1/voices?{PAGE}"),
        ("GET", f"/v1/llms?{PAGE}"),
        ("GET", f"/v1/knowledge/groups?{PAGE}"),
        ("GET", f"/v1/voices?search=Lucy&{PAGE}"),
        ("GET", f"/v1/knowledge/groups?{PAGE}"),
    ]


def test_a_session_token_for_a_persona(api: AnamApi, emu: Emulator) -> None:
    cara = api.create("Persona", {"name": "cara"})
    emu.reset_log()
    answer = api.session_token(cara["id"])
    assert isinstance(answer, dict) and answer.get("sessionToken")
    assert [(r.method, r.path, r.body) for r in emu.log] == [
        ("POST", "/v1/auth/session-token", {"personaConfig": {"personaId": cara["id"]}})
    ]


def test_a_missing_persona_is_not_found_naming_the_request(api: AnamApi) -> None:
    with pytest.raises(PersonactlError) as caught:
        api.persona("00000000-0000-4000-8000-000000000000")
    assert str(caught.value) == (
        "the Anam API answered 404 Not Found to GET "
        "/v1/personas/00000000-0000-4000-8000-000000000000: Persona not found"
    )


def _v1_literals(path: Path) -> list[str]:
    """The string literals of a module (f-string parts included) that begin a /v1/ path."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        f"{path.relative_to(PACKAGE.parent)}:{node.lineno}: {node.value!r}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and node.value.startswith("/v1/")
    ]


def test_no_module_but_the_api_module_spells_a_v1_path() -> None:
    # The emulator is the server: it keeps its own routes.
    modules = [
        p
        for p in sorted(PACKAGE.rglob("*.py"))
        if p != PACKAGE / "anam" / "api.py" and PACKAGE / "emulator" not in p.parents
    ]
    assert [hit for p in modules for hit in _v1_literals(p)] == []
