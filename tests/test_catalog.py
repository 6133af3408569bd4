"""`personactl catalog`: the example project's sandbox, and an `anam` environment over HTTP."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_support import run_cli

from personactl.emulator.app import EmulatorApp
from personactl.emulator.inprocess import sandbox_client
from personactl.emulator.server import EmulatorHTTPServer, create_server
from personactl.output.table import format_table

SECRET = "sk-live-catalog-0123456789"
LUCY = ["Lucy - Fresh & Casual", "ELEVENLABS", "eleven_flash_v2_5", "GB", "ElevenLabs V2"]
LUCY_ID = "de23e340-1416-4dd8-977d-065a7ca11697"


def cells(line: str) -> list[str]:
    return re.split(r"\s{2,}", line.strip())


@pytest.fixture
def http_emulator(tmp_path: Path) -> Iterator[EmulatorHTTPServer]:
    """An emulator on a loopback port, served from this process, stopped after the test."""
    app = EmulatorApp(tmp_path / "served")
    server = create_server(app)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield server
    server.shutdown()
    thread.join(5)
    server.server_close()
    app.close()


def test_voices_table_lists_the_seeded_voices_aligned(example: Path) -> None:
    result = run_cli(["-C", str(example), "catalog", "voices"], cwd=example)
    assert (result.code, result.err) == (0, "")
    header, *rows = result.lines
    assert cells(header) == ["NAME", "PROVIDER", "MODEL", "COUNTRY", "FAMILY", "ID"]
    assert len(rows) == 13
    assert cells(rows[0]) == [*LUCY, LUCY_ID]
    assert cells(rows[-1])[-2:] == ["-", "a8e518cb-b9fa-5709-a8e1-b715d4320ba3"]  # no family
    id_column = header.rindex("ID")
    assert all(re.fullmatch(r"[0-9a-f-]{36}", row[id_column:]) for row in rows)
    assert (example / ".personactl" / "sandbox").is_dir()


def test_search_is_passed_to_the_api_and_json_is_a_list_of_objects(example: Path) -> None:
    result = run_cli(["catalog", "voices", "--search", "lucy", "-o", "json"], cwd=example)
    assert result.code == 0, result.err
    assert json.loads(result.out) == [
        dict(zip(["name", "provider", "model", "country", "family"], LUCY, strict=True))
        | {"id": LUCY_ID}
    ]


def test_llms_end_with_the_no_llm_row_and_search_filters_it(example: Path) -> None:
    every = run_cli(["catalog", "llms"], cwd=example)
    found = run_cli(["catalog", "llms", "--search", "GPT-4o", "-o", "json"], cwd=example)
    assert every.code == found.code == 0
    assert cells(every.lines[0]) == ["NAME", "MODEL", "FORMAT", "ID"]
    assert cells(every.lines[-1]) == [
        "no LLM (the client brings its own)", "-", "-", "CUSTOMER_CLIENT_V1"
    ]  # fmt: skip
    assert len(every.lines) == 1 + 8 + 1
    assert [o["name"] for o in json.loads(found.out)] == ["GPT-4o mini", "GPT-4o", "Azure GPT-4o"]


def test_avatars_tools_and_knowledge(example: Path) -> None:
    with sandbox_client(example / ".personactl" / "sandbox") as api:
        tool = api.post(
            "/v1/tools", json={"name": "show-product", "description": "Shows.", "type": "CLIENT"}
        ).json()
    avatars = run_cli(["catalog", "avatars", "--search", "Liv", "-o", "json"], cwd=example)
    tools = run_cli(["catalog", "tools"], cwd=example)
    knowledge = run_cli(["catalog", "knowledge", "--search", "PRODUCT"], cwd=example)
    assert json.loads(avatars.out) == [
        {
            "name": "Liv",
            "variant": "home",
            "availableVersions": ["cara-3", "cara-4"],
            "id": "071b0286-4cce-4808-bee2-e642f1062de3",
        },
        {
            "name": "Liv",
            "variant": "office",
            "availableVersions": ["cara-3"],
            "id": "593c8058-480f-5a33-947a-3e939abcb49e",
        },
    ]
    assert tools.out == format_table(
        ["NAME", "TYPE", "ID"], [["show-product", "CLIENT", tool["id"]]]
    )
    assert [cells(line) for line in knowledge.lines] == [
        ["NAME", "DOCUMENTS", "ID"],
        ["Product docs", "0", "e0867e26-f4b3-56bc-8450-d82fe46ec8fe"],
    ]


def test_nothing_found_prints_nothing_on_stdout(example: Path) -> None:
    table = run_cli(["catalog", "knowledge", "--search", "zzz"], cwd=example)
    as_json = run_cli(["catalog", "tools", "-o", "json"], cwd=example)
    assert (table.code, table.out) == (0, "")
    assert table.err == "no knowledge matching 'zzz' in environment 'sandbox'\n"
    assert (as_json.code, as_json.out) == (0, "[]\n")


def test_unknown_kind_exits_1(example: Path) -> None:
    result = run_cli(["catalog", "faces"], cwd=example)
    assert (result.code, result.out) == (1, "")
    assert (
        "Error: Invalid value for 'KIND': 'faces' is not one of "
        "'avatars', 'voices', 'llms', 'tools', 'knowledge'." in result.err
    )


def test_anam_environment_without_a_key(example: Path) -> None:
    result = run_cli(["catalog", "voices", "-e", "staging"], cwd=example)
    assert (result.code, result.out) == (1, "")
    assert result.err == (
        "error: no API key for environment 'staging': set ANAM_API_KEY_STAGING or pass --api-key\n"
    )


def test_anam_environment_over_http(example: Path, http_emulator: EmulatorHTTPServer) -> None:
    url = http_emulator.url
    ok = run_cli(
        ["catalog", "llms", "-e", "staging", "--search", "4o mini", "-o", "json"],
        cwd=example,
        env={"ANAM_API_URL": url, "ANAM_API_KEY_STAGING": "sandbox-key"},
    )
    flag = run_cli(
        ["catalog", "llms", "-e", "production", "--api-url", url, "--api-key", "sandbox-key"],
        cwd=example,
    )
    assert ok.code == 0, ok.err
    assert [o["id"] for o in json.loads(ok.out)] == ["0934d97d-0c3a-4f33-91b0-5e136a0ef466"]
    assert flag.code == 0, flag.err
    assert len(flag.lines) == 10


def test_rejected_key_is_one_sentence_without_the_key(
    example: Path, http_emulator: EmulatorHTTPServer
) -> None:
    env = {"ANAM_API_URL": http_emulator.url, "ANAM_API_KEY_STAGING": SECRET}
    result = run_cli(["--debug", "catalog", "voices", "-e", "staging"], cwd=example, env=env)
    plain = run_cli(["catalog", "voices", "-e", "staging"], cwd=example, env=env)
    expected = (
        f"error: the Anam API at {http_emulator.url} rejected the API key from "
        "ANAM_API_KEY_STAGING (401 Unauthorized); check the key\n"
    )
    assert (plain.code, plain.out, plain.err) == (1, "", expected)
    assert result.code == 1
    assert "Traceback" in result.err  # --debug shows where it came from...
    assert re.search(r"^GET /v1/voices\?page=1&perPage=100 -> 401 \(\d+ ms\)$", result.err, re.M)
    assert SECRET not in result.err + result.out  # ...but never the key


def test_project_without_environments(tmp_path: Path) -> None:
    (tmp_path / "personactl.yaml").write_text(
        "apiVersion: personactl/v1\nkind: Project\nmetadata: {name: bare}\nspec: {}\n"
    )
    result = run_cli(["catalog", "avatars"], cwd=tmp_path)
    assert (result.code, result.out) == (1, "")
    assert result.err == (
        "error: no environments are defined: add spec.environments to personactl.yaml "
        "(for example `sandbox: {backend: sandbox}`)\n"
    )
