"""End-to-end harness: a real emulator over HTTP and a project pointed at it.

The emulator runs in a thread on a loopback port; a WSGI wrapper records
every request the server receives (method, path, JSON body), so tests count
exactly what personactl sent, independently of personactl's own bookkeeping.
"""

from __future__ import annotations

import functools
import json
import shutil
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml
from cli_support import EXAMPLE, Result, run_cli, spawn

from personactl.emulator.app import EmulatorApp
from personactl.emulator.server import create_server
from personactl.emulator.settings import EmulatorSettings

KEY = "test-emulator-key-7f3a9c"
TOKEN = "orders-token-5d2e8b1f-unique"


@dataclass
class Recorded:
    method: str
    path: str
    body: Any


@dataclass
class Emulator:
    url: str
    app: EmulatorApp
    data_dir: Path
    log: list[Recorded] = field(default_factory=list)
    in_flight: int = 0  # requests received and not yet answered

    def client(self) -> httpx.Client:
        """A plain client for acting behind personactl's back."""
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {KEY}"}, verify=_ssl_context()
        )

    def writes(self) -> list[Recorded]:
        return [r for r in self.log if r.method != "GET"]

    def reset_log(self) -> None:
        self.log.clear()

    def wait_idle(self, timeout: float = 30.0) -> None:
        """Until every request received has been answered (one from a process killed
        mid-request is still handled, as a real server would)."""
        deadline = time.monotonic() + timeout
        while self.in_flight:
            assert time.monotonic() < deadline, f"{self.in_flight} requests still in flight"
            time.sleep(0.005)

    def serve(self, data_dir: Path) -> None:
        """Serve `data_dir` from now on: the same URL, settings and request log.

        For a copy of a template's data, made while no request is in flight.
        """
        previous = self.app
        self.app = EmulatorApp(data_dir, previous.settings)
        previous.close()

    def personas(self) -> list[dict[str, Any]]:
        with self.client() as c:
            return list(c.get("/v1/personas", params={"perPage": 100}).json()["data"])

    def tools(self) -> list[dict[str, Any]]:
        with self.client() as c:
            return list(c.get("/v1/tools", params={"perPage": 100}).json()["data"])

    def llms(self) -> list[dict[str, Any]]:
        """The custom LLMs (the stock catalog left out)."""
        with self.client() as c:
            query = {"perPage": 100, "includeDefaults": "false"}
            return list(c.get("/v1/llms", params=query).json()["data"])


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """One for every test-side client: httpx would parse a whole CA bundle for each (40 ms)."""
    return httpx.create_ssl_context()


# Called with each request before the emulator handles it (to act behind personactl's back).
Hook = Callable[[Recorded], None]


def slow_writes(seconds: float) -> Hook:
    """A hook that holds each POST, PUT and DELETE `seconds` before the emulator handles it:
    writes stay in flight that long, and reads (the plan before them) do not wait."""

    def hold(record: Recorded) -> None:
        if record.method != "GET":
            time.sleep(seconds)

    return hold


@contextmanager
def emulator(data_dir: Path, hook: Hook | None = None, **settings: Any) -> Iterator[Emulator]:
    app = EmulatorApp(data_dir, EmulatorSettings(api_key=KEY, **settings))
    emu = Emulator("", app, data_dir)
    lock = threading.Lock()

    def recorder(environ: dict[str, Any], start_response: Any) -> Any:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        import io

        environ["wsgi.input"] = io.BytesIO(raw)
        query = environ.get("QUERY_STRING")
        path = environ["PATH_INFO"] + (f"?{query}" if query else "")
        body = _body(environ.get("CONTENT_TYPE") or "", raw)
        record = Recorded(environ["REQUEST_METHOD"], path, body)
        with lock:
            emu.log.append(record)
            emu.in_flight += 1
        try:
            if hook is not None:
                hook(record)
            return emu.app(environ, start_response)
        finally:
            with lock:
                emu.in_flight -= 1

    server = create_server(recorder, "127.0.0.1", 0)
    # shutdown() waits for the loop to poll: 0.5 s by default, at every teardown
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    emu.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield emu
    finally:
        server.shutdown()
        server.server_close()
        emu.app.close()


def _body(content_type: str, raw: bytes) -> Any:
    """A request body as recorded: JSON decoded; a multipart upload as `{"multipart":
    parts}`, each part {name, filename, size} for a file or {name, value} for a text
    field (an object, as JSON bodies are: `body.get("name")` works on every write)."""
    if not raw:
        return None
    if not content_type.startswith("multipart/form-data"):
        return json.loads(raw)
    from personactl.emulator.multipart import parse_form

    parts = [
        {"name": part.name, "filename": part.filename, "size": len(part.content)}
        if part.filename is not None
        else {"name": part.name, "value": part.content.decode("utf-8", "replace")}
        for part in parse_form(content_type, raw)
    ]
    return {"multipart": parts}


def make_project(dest: Path, url: str, prefix: str = "t-") -> Path:
    """A copy of the example project with an environment `emu` pointed at `url`."""
    shutil.copytree(EXAMPLE, dest, ignore=shutil.ignore_patterns(".personactl"))
    config_path = dest / "personactl.yaml"
    config = yaml.safe_load(config_path.read_text())
    config["spec"]["environments"]["emu"] = {
        "backend": "anam",
        "apiUrl": url,
        "apiKeyEnv": "EMU_KEY",
        "namePrefix": prefix,
    }
    config["spec"]["defaultEnvironment"] = "emu"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
    return dest


def pc(
    project: Path,
    *args: str,
    env: dict[str, str] | None = None,
    subprocess: bool = False,
    **kw: Any,
) -> Result:
    """Run personactl in the project with the emulator's key and the example's secret
    (in this process unless `subprocess=True`: see `run_cli`)."""
    full = {"EMU_KEY": KEY, "ACME_ORDERS_TOKEN": TOKEN, **(env or {})}
    return run_cli(list(args), cwd=project, env=full, subprocess=subprocess, **kw)


def spawn_pc(project: Path, *args: str, **kw: Any) -> subprocess.Popen[str]:
    """`pc` in a separate process, not waited for (see `cli_support.spawn`)."""
    return spawn(list(args), project, {"EMU_KEY": KEY, "ACME_ORDERS_TOKEN": TOKEN}, **kw)


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def requests_summary(log: list[Recorded]) -> list[str]:
    """'GET /v1/personas?page=1&perPage=100'-style lines, ids replaced by {id}."""
    import re

    out = []
    for r in log:
        path = re.sub(
            r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "{id}", r.path
        )
        out.append(f"{r.method} {path}")
    return sorted(out)
