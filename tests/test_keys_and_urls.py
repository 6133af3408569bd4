"""API keys and API URLs: cleaned or refused up front, never shown, and named by
where they came from (--api-key, the key's variable, --api-url, ANAM_API_URL or
apiUrl in personactl.yaml).

The CLI runs in-process (`run_inprocess`) against the emulator over real HTTP;
retry budgets are made small through `connect(**options)` where a test
would otherwise wait for them.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cli_support import Result, run_inprocess
from e2e_support import KEY, TOKEN, Emulator, emulator
from test_client import closed_port, env_named

from personactl.anam.errors import ApiError, Unreachable, redact_url
from personactl.usecases.connect import connect

USER, PASSWORD, QUERY_VALUE = "alice-user", "hunter2-password", "query-secret-42"
SECRETS = (USER, PASSWORD, QUERY_VALUE)


@pytest.fixture
def emu(tmp_path: Path) -> Iterator[Emulator]:
    with emulator(tmp_path / "emu-data") as e:
        yield e


def cli(project: Path, monkeypatch: pytest.MonkeyPatch, *args: str, **environ: str) -> Result:
    """The CLI in this process, with the example's secret and these variables only."""
    monkeypatch.delenv("ANAM_API_URL", raising=False)
    monkeypatch.setenv("ACME_ORDERS_TOKEN", TOKEN)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    return run_inprocess(list(args), cwd=project)


def with_credentials(url: str) -> str:
    return url.replace("http://", f"http://{USER}:{PASSWORD}@") + f"/?api_key={QUERY_VALUE}"


def assert_hidden(*texts: str) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text, f"{secret!r} shown in {text!r}"


FAST = {"connect_retry_seconds": 0.3, "max_retry_seconds": 0.3, "sleep": lambda s: None}


# -- API keys ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variable", "flag"),
    [(f"{KEY}\n", None), (f"  {KEY}\t", None), ("", f" {KEY}\r\n")],
    ids=["newline-in-variable", "blanks-in-variable", "newline-in-flag"],
)
def test_white_space_around_a_key_is_stripped(
    project: Path,
    emu: Emulator,
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
    flag: str | None,
) -> None:
    args = ["plan", *(["--api-key", flag] if flag else [])]
    r = cli(project, monkeypatch, *args, EMU_KEY=variable)
    assert r.code == 0, r.err
    assert r.lines[-1].startswith("Plan: 10 to create, 0 to update, 0 to delete")
    assert emu.log  # the requests went out, with the key the emulator expects


@pytest.mark.parametrize(
    ("key", "flag", "said"),
    [
        ("sk-é-abcdef", False, "EMU_KEY has a non-ASCII character (character 4)"),
        ("sk-abc def", False, "EMU_KEY has a white-space character (character 7)"),
        ("sk-\x01abcdef", False, "EMU_KEY has a control character (character 4)"),
        ("sk-abc\u00a0def", True, "--api-key has a non-ASCII character (character 7)"),
        ("sk-abc\ndef", True, "--api-key has a white-space character (character 7)"),
    ],
    ids=["non-ascii", "inner-space", "control", "nbsp-in-flag", "inner-newline-in-flag"],
)
def test_a_key_no_header_can_carry_is_refused_without_showing_it(
    project: Path, emu: Emulator, monkeypatch: pytest.MonkeyPatch, key: str, flag: bool, said: str
) -> None:
    args = ["plan", "--api-key", key] if flag else ["plan"]
    r = cli(project, monkeypatch, *args, EMU_KEY=KEY if flag else key)
    assert (r.code, r.out) == (1, "")
    assert r.err == (
        f"error: the API key from {said}, which an HTTP header cannot carry; copy the key again\n"
    )
    assert "abc" not in r.err
    assert emu.log == []  # refused before anything was sent


# -- credentials in the API URL ------------------------------------------------------------


def test_redact_url_hides_user_info_and_every_query_value() -> None:
    assert redact_url("http://u:p@h:8/v?api_key=s&a=1&bare#frag") == (
        "http://***@h:8/v?api_key=***&a=***&***#***"
    )
    assert redact_url("https://api.anam.ai") == "https://api.anam.ai"
    assert redact_url("http://[::1") == "(an invalid URL)"


def test_a_401_and_the_debug_lines_never_show_the_url_credentials(
    project: Path, emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = with_credentials(emu.url)
    r = cli(project, monkeypatch, "--debug", "plan", "--api-url", url, EMU_KEY="wrong-key-1234")
    assert r.code == 1
    shown = redact_url(url)
    assert shown == emu.url.replace("http://", "http://***@") + "/?api_key=***"
    assert r.err.splitlines()[-1] == (
        f"error: the Anam API at {shown} rejected the API key from EMU_KEY (401 Unauthorized); "
        "check the key"
    )
    debug = [line for line in r.err.splitlines() if " -> " in line]
    assert debug and all(
        re.fullmatch(r"GET /v1/[\w/]+\?page=1&perPage=100 -> 401 \(\d+ ms\)", line)
        for line in debug
    ), debug
    assert_hidden(r.out, r.err)


def test_an_unreachable_url_never_shows_its_credentials(tmp_path: Path) -> None:
    url = with_credentials(f"http://127.0.0.1:{closed_port()}")
    lines: list[str] = []
    environ = {"ANAM_API_KEY_STAGING": KEY}
    client = connect(
        env_named("staging"), tmp_path, api_url=url, environ=environ, debug=True,
        log=lines.append, rng=random.Random(1), **FAST,
    )  # fmt: skip
    with client, pytest.raises(Unreachable) as caught:
        client.get("/v1/personas")
    assert re.fullmatch(
        rf"cannot reach the Anam API at {re.escape(redact_url(url))} \(connection refused; "
        r"\d+ attempts over 0\.3 s\); check --api-url and your network",
        str(caught.value),
    ), str(caught.value)
    assert lines and all(line.startswith("GET /v1/personas -> ConnectError") for line in lines)
    assert_hidden(str(caught.value), *lines, repr(client), repr(client.config))


def test_a_5xx_that_outlasts_the_budget_never_shows_the_url_credentials(
    tmp_path: Path,
) -> None:
    lines: list[str] = []
    with emulator(tmp_path / "failing", fail_rates={503: 1.0}) as failing:
        url = with_credentials(failing.url)
        environ = {"ANAM_API_KEY_STAGING": KEY}
        client = connect(
            env_named("staging"), tmp_path, api_url=url, environ=environ, debug=True,
            log=lines.append, **FAST,
        )  # fmt: skip
        with client, pytest.raises(ApiError) as caught:
            client.get("/v1/llms")
        # the URL's own query goes on every request, but is never shown
        assert {r.path for r in failing.log} == {f"/v1/llms?api_key={QUERY_VALUE}"}
    assert re.fullmatch(
        rf"the Anam API at {re.escape(redact_url(url))} still answered 503 Service Unavailable "
        r"to GET /v1/llms after \d+ attempts over 0\.\d s; try again later or lower --parallelism",
        str(caught.value),
    ), str(caught.value)
    assert lines and all(line.startswith("GET /v1/llms -> 503") for line in lines)
    assert_hidden(str(caught.value), *lines, repr(client.requests))


def test_the_plan_and_its_file_show_the_url_without_its_query_values(
    project: Path, emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"{emu.url}/?api_key={QUERY_VALUE}"
    r = cli(project, monkeypatch, "plan", "--api-url", url, "--out", "plan.json", EMU_KEY=KEY)
    assert r.code == 0, r.err
    assert r.lines[0] == f'Environment "emu" ({emu.url}/?api_key=***)'
    saved: dict[str, Any] = json.loads((project / "plan.json").read_text())
    assert saved["apiUrl"] == f"{emu.url}/?api_key=***"
    assert_hidden(r.out, r.err, (project / "plan.json").read_text())
    assert all(f"api_key={QUERY_VALUE}" in r.path for r in emu.log)


# -- where the URL came from ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flag", "variable", "in_manifest", "source"),
    [
        (True, False, False, "--api-url"),
        (False, True, False, "ANAM_API_URL"),
        (True, True, False, "ANAM_API_URL"),  # click's --api-url reads the variable itself
        (False, False, True, "apiUrl of environment 'staging' in personactl.yaml"),
    ],
    ids=["flag", "variable", "flag-from-variable", "manifest"],
)
def test_an_unreachable_api_names_where_its_url_came_from(
    tmp_path: Path, flag: bool, variable: bool, in_manifest: bool, source: str
) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    environ = {"ANAM_API_KEY_STAGING": KEY, **({"ANAM_API_URL": url} if variable else {})}
    env = env_named("staging", api_url=url if in_manifest else "https://api.anam.ai")
    client = connect(env, tmp_path, api_url=url if flag else None, environ=environ, **FAST)
    with client, pytest.raises(Unreachable) as caught:
        client.get("/v1/personas")
    assert str(caught.value).endswith(f"; check {source} and your network")


def test_api_url_for_the_sandbox_is_refused(example: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    r = cli(example, monkeypatch, "plan", "-e", "sandbox", "--api-url", "http://127.0.0.1:9")
    assert (r.code, r.out) == (1, "")
    assert r.err == (
        "error: environment 'sandbox' uses the built-in sandbox emulator; --api-url does not "
        "apply: leave it out, or choose an environment with `backend: anam` with -e\n"
    )


def test_anam_api_url_exported_for_the_sandbox_is_ignored_with_a_warning(
    example: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    r = cli(example, monkeypatch, "plan", ANAM_API_URL="http://127.0.0.1:9")
    assert r.code == 0, r.err
    assert r.lines[-1].startswith("Plan: 10 to create, 0 to update, 0 to delete")
    assert r.err == (
        "warning: ANAM_API_URL is ignored: environment 'sandbox' uses the built-in sandbox "
        "emulator\n"
    )
