"""Helpers for the emulator tests: spec contract checks, subprocess servers, factories."""

from __future__ import annotations

import json
import os
import re
import select
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import jsonschema

from personactl.emulator.app import FILES_PREFIX, EmulatorApp
from personactl.emulator.inprocess import SANDBOX_BASE_URL, SandboxTransport
from personactl.emulator.settings import DEFAULT_API_KEY, EmulatorSettings

HERE = Path(__file__).resolve().parent
SCHEMAS = json.loads((HERE / "anam_response_schemas.json").read_text(encoding="utf-8"))
AUTH = {"Authorization": f"Bearer {DEFAULT_API_KEY}"}

# ids from the seed pages of the Anam docs
CARA_AVATAR = "30fa96d0-26c4-4e55-94a0-517025942e18"
LIV_HOME_AVATAR = "071b0286-4cce-4808-bee2-e642f1062de3"
CARA_VOICE = "6bfbe25a-979d-40f3-a92b-5394170af54b"  # ElevenLabs V1
LUCY_VOICE = "de23e340-1416-4dd8-977d-065a7ca11697"  # ElevenLabs V2
GPT_4O_MINI = "0934d97d-0c3a-4f33-91b0-5e136a0ef466"
GPT_4O = "a7cf662c-2ace-4de1-a21e-ef0fbf144bb7"

_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")
FORMATS = jsonschema.FormatChecker(formats=())


@FORMATS.checks("date-time")
def _is_date_time(value: object) -> bool:
    return not isinstance(value, str) or _DATE_TIME.fullmatch(value) is not None


@FORMATS.checks("uuid")
def _is_uuid(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        return str(uuid.UUID(value)) == value.lower()
    except ValueError:
        return False


@FORMATS.checks("uri")
def _is_uri(value: object) -> bool:
    if not isinstance(value, str):
        return True
    parts = urlsplit(value)
    return bool(parts.scheme and parts.netloc)


# the body every error response must have (official clients read `message`, then `error`)
ERROR_BODY = {
    "type": "object",
    "required": ["message", "error", "statusCode"],
    "properties": {
        "message": {"type": "string", "minLength": 1},
        "error": {"type": "string", "minLength": 1},
        "statusCode": {"type": "integer"},
    },
    "additionalProperties": False,
}


def _operation(method: str, path: str) -> str | None:
    for key in SCHEMAS["responses"]:
        op_method, template = key.split(" ", 1)
        pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
        if op_method == method and re.fullmatch(pattern, path):
            return key
    return None


def validate_against(schema: dict[str, Any], instance: Any) -> None:
    root = {**SCHEMAS, **schema}  # so "#/components/schemas/X" resolves against the vendored doc
    jsonschema.Draft202012Validator(root, format_checker=FORMATS).validate(instance)


@dataclass
class ContractChecker:
    """Checks one response against the official spec; counts what it checked."""

    checked: int = 0
    seen: set[str] = field(default_factory=set)

    def __call__(self, response: httpx.Response) -> None:
        response.read()
        request = response.request
        status = response.status_code
        operation = _operation(request.method, request.url.path)
        self.checked += 1
        if request.url.path.startswith(FILES_PREFIX) and status < 400:
            # a presigned download URL: file storage, not an operation of the API
            assert int(response.headers["content-length"]) == len(response.content)
            return
        if status >= 400:
            assert response.headers["content-type"].startswith("application/json")
            validate_against(ERROR_BODY, response.json())
            assert response.json()["statusCode"] == status
            return
        assert operation is not None, f"{request.method} {request.url.path} answered {status}"
        documented = SCHEMAS["responses"][operation]
        assert str(status) in documented, f"{operation} answered undocumented {status}"
        self.seen.add(f"{operation} {status}")
        schema = documented[str(status)]
        if schema is None:
            assert response.content == b"", f"{operation} {status} must have no body"
        else:
            validate_against(schema, response.json())
        assert int(response.headers["content-length"]) == len(response.content)


CONTRACT = ContractChecker()


def checked_client(**options: Any) -> httpx.Client:
    hooks = options.pop("event_hooks", {})
    hooks.setdefault("response", []).append(CONTRACT)
    return httpx.Client(event_hooks=hooks, **options)


class FakeClock:
    """A `time.time` stand-in that moves only when told to."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, ms: float) -> None:
        self.now += ms / 1000


def clocked_client(
    data_dir: Path, clock: FakeClock, settings: EmulatorSettings | None = None
) -> httpx.Client:
    """A contract-checked in-process client whose emulator reads `clock`."""
    transport = SandboxTransport(EmulatorApp(data_dir, settings, clock=clock))
    hooks = {"response": [CONTRACT]}
    return httpx.Client(
        transport=transport, base_url=SANDBOX_BASE_URL, headers=AUTH, event_hooks=hooks
    )


def settings_flags(settings: EmulatorSettings) -> list[str]:
    flags = ["--api-key", settings.api_key, "--retry-after", str(settings.retry_after_seconds)]
    if settings.hide_write_only:
        flags.append("--hide-write-only")
    if settings.latency_ms:
        flags += ["--latency-ms", str(settings.latency_ms)]
    if settings.fail_rates:
        flags += ["--fail", ",".join(f"{s}={r}" for s, r in settings.fail_rates.items())]
    if settings.drop_after_commit:
        flags += ["--drop-after-commit", str(settings.drop_after_commit)]
    if settings.seed is not None:
        flags += ["--seed", str(settings.seed)]
    if settings.processing_ms != EmulatorSettings().processing_ms:
        flags += ["--processing-ms", str(settings.processing_ms)]
    return flags


@dataclass
class ServedEmulator:
    """`personactl emulator serve` running as a subprocess."""

    process: subprocess.Popen[str]
    url: str

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 5.0) -> tuple[int, float]:
        """Send `sig`; return (exit code, seconds it took to exit)."""
        started = time.monotonic()
        self.process.send_signal(sig)
        code = self.process.wait(timeout=timeout)
        return code, time.monotonic() - started


def start_server(data_dir: Path, *flags: str) -> ServedEmulator:
    command = [sys.executable, "-m", "personactl", "emulator", "serve", "--port", "0"]
    process = subprocess.Popen(
        [*command, "--data", str(data_dir), *flags],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], 15)
    if not ready:
        process.kill()
        raise AssertionError("emulator did not print its URL within 15 s")
    line = process.stdout.readline().strip()
    if not line.startswith("http://127.0.0.1:"):
        process.kill()
        _, err = process.communicate()
        raise AssertionError(f"unexpected first line {line!r}; stderr: {err}")
    return ServedEmulator(process, line)


def unique(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def make_persona(client: httpx.Client, **fields: Any) -> dict[str, Any]:
    body = {
        "name": unique("persona"),
        "avatarId": LIV_HOME_AVATAR,
        "voiceId": LUCY_VOICE,
        "llmId": GPT_4O_MINI,
        "systemPrompt": "You are helpful.",
        **fields,
    }
    response = client.post("/v1/personas", json=body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def make_group(client: httpx.Client) -> dict[str, Any]:
    response = client.post("/v1/knowledge/groups", json={"name": unique("kg")})
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def upload(
    client: httpx.Client,
    group_id: str,
    filename: str,
    content: bytes,
    content_type: str = "application/octet-stream",
    **params: str,
) -> httpx.Response:
    return client.post(
        f"/v1/knowledge/groups/{group_id}/documents",
        files={"file": (filename, content, content_type)},
        data=params,
    )


def make_tool(client: httpx.Client, **fields: Any) -> dict[str, Any]:
    body = {"name": unique("tool"), "description": "Does a thing.", "type": "CLIENT", **fields}
    response = client.post("/v1/tools", json=body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def assert_error(response: httpx.Response, status: int, message: str) -> None:
    assert response.status_code == status, response.text
    assert response.json() == {
        "message": message,
        "error": httpx.codes.get_reason_phrase(status),
        "statusCode": status,
    }
