"""Real servers for the state backends' tests: a throwaway PostgreSQL, and an HTTP server
that speaks Terraform's documented http backend protocol.

PostgreSQL: `initdb` into a temporary folder, `pg_ctl` serving on a unix socket in
that folder only (no TCP port), stopped and removed at the end. As root, the server
binaries run as the `postgres` user (`runuser -u postgres --`), which owns the
folder. Binaries: on PATH, else /usr/lib/postgresql/*/bin (`.ci/run` installs the
Debian package when they are missing). Without them the tests skip, saying why,
unless PERSONACTL_REQUIRE_POSTGRES is set (CI), where that is a failure.

HTTP: GET/POST the state at /state/NAME (POST carries ?ID=<lock id> while locked,
and is refused with 409/423 under another lock); the lock with LOCK/UNLOCK on the
state's URL (Terraform's default) or POST/DELETE on /state/NAME/lock (GitLab's);
a locked state answers 423 (or 409, as GitLab) with the holder's lock info;
/state/NAME/versions/N serves old versions, as GitLab does. Basic auth.
"""

from __future__ import annotations

import base64
import glob
import json
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

REQUIRE_ENV = "PERSONACTL_REQUIRE_POSTGRES"


def pg_binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    versions = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return versions[-1] if versions else None


class PgUnavailable(Exception):
    pass


@dataclass
class PgServer:
    folder: Path
    url: str
    _as: list[str] = field(default_factory=list)

    def stop(self) -> None:
        pg_ctl = pg_binary("pg_ctl")
        subprocess.run(
            [*self._as, str(pg_ctl), "-D", str(self.folder / "data"), "-m", "immediate", "stop"],
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(self.folder, ignore_errors=True)


def start_postgres() -> PgServer:
    initdb, pg_ctl = pg_binary("initdb"), pg_binary("pg_ctl")
    if not initdb or not pg_ctl:
        raise PgUnavailable(
            "PostgreSQL server binaries (initdb, pg_ctl) not found: apt-get install postgresql"
        )
    folder = Path(tempfile.mkdtemp(prefix="personactl-pg-"))
    runner: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
        runner = ["runuser", "-u", "postgres", "--"]
    data = folder / "data"
    quiet = {"capture_output": True, "text": True, "timeout": 120}
    made = subprocess.run(
        [*runner, initdb, "-D", str(data), "-A", "trust", "-U", "postgres", "-N", "-E", "UTF8"],
        **quiet,  # type: ignore[call-overload]
    )
    if made.returncode != 0:
        shutil.rmtree(folder, ignore_errors=True)
        raise PgUnavailable(f"initdb failed: {made.stderr.strip()[-300:]}")
    options = f"-k {folder} -c listen_addresses='' -F -c full_page_writes=off"
    started = subprocess.run(
        [*runner, pg_ctl, "-D", str(data), "-o", options, "-w", "-l", str(folder / "log"), "start"],
        **quiet,  # type: ignore[call-overload]
    )
    if started.returncode != 0:
        log = (
            (folder / "log").read_text(errors="replace")[-500:] if (folder / "log").exists() else ""
        )
        shutil.rmtree(folder, ignore_errors=True)
        raise PgUnavailable(f"pg_ctl start failed: {started.stderr.strip()} {log}")
    return PgServer(folder, f"postgresql://postgres@/postgres?host={folder}", runner)


# -- the HTTP state server -----------------------------------------------------------------


@dataclass
class Stored:
    versions: dict[int, str] = field(default_factory=dict)  # serial -> document
    current: str | None = None
    lock: dict[str, Any] | None = None


@dataclass
class Seen:
    method: str
    path: str
    query: str
    body: str
    authorization: str


class HttpStateServer:
    """Terraform's http backend protocol on 127.0.0.1; `gitlab`: locks with POST/DELETE on
    /lock and answers 409 when locked (else LOCK/UNLOCK on the state URL, 423)."""

    def __init__(self, gitlab: bool, user: str = "ci", password: str = "s3cret-token") -> None:
        self.gitlab = gitlab
        self.user, self.password = user, password
        self.states: dict[str, Stored] = {}
        self.log: list[Seen] = []
        self.mutex = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def state_config(self, name: str) -> dict[str, str]:
        """The `state:` block of an environment whose state is NAME on this server."""
        address = f"{self.url}/state/{name}"
        config = {"backend": "http", "address": address}
        if self.gitlab:
            config |= {
                "lockAddress": f"{address}/lock",
                "unlockAddress": f"{address}/lock",
                "lockMethod": "POST",
                "unlockMethod": "DELETE",
            }
        return config | {"usernameEnv": "STATE_USER", "passwordEnv": "STATE_PASSWORD"}

    @property
    def env(self) -> dict[str, str]:
        return {"STATE_USER": self.user, "STATE_PASSWORD": self.password}

    def __enter__(self) -> HttpStateServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as real servers
            wbufsize = 1 << 16  # headers and body in one write: no Nagle stall

            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self, code: int, body: str = "") -> None:
                data = body.encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _serve(self) -> None:
                size = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(size).decode() if size else ""
                parts = urlsplit(self.path)
                auth = self.headers.get("Authorization", "")
                with server.mutex:
                    server.log.append(Seen(self.command, parts.path, parts.query, body, auth))
                    expected = (
                        "Basic "
                        + base64.b64encode(f"{server.user}:{server.password}".encode()).decode()
                    )
                    if auth != expected:
                        return self._answer(401, '{"message": "401 Unauthorized"}')
                    code, text = server.route(self.command, parts.path, parts.query, body)
                self._answer(code, text)

            do_GET = do_POST = do_DELETE = do_LOCK = do_UNLOCK = do_PUT = _serve

        return Handler

    def route(self, method: str, path: str, query: str, body: str) -> tuple[int, str]:
        bits = path.strip("/").split("/")
        if len(bits) < 2 or bits[0] != "state":
            return 404, ""
        stored = self.states.setdefault(bits[1], Stored())
        rest = bits[2:]
        locked = 409 if self.gitlab else 423
        if rest[:1] == ["versions"] and len(rest) == 2 and method == "GET":
            doc = stored.versions.get(int(rest[1]))
            return (200, doc) if doc else (404, "")
        is_lock = (method == "LOCK" and not rest) or (
            self.gitlab and rest == ["lock"] and method == "POST"
        )
        is_unlock = (method == "UNLOCK" and not rest) or (
            self.gitlab and rest == ["lock"] and method == "DELETE"
        )
        if is_lock:
            info = json.loads(body or "{}")
            if stored.lock is not None and (stored.lock.get("ID") != info.get("ID") or self.gitlab):
                # GitLab refuses even the same ID again; Terraform-style servers
                # take it as the holder renewing its lease.
                return locked, json.dumps(stored.lock)
            stored.lock = info
            return 200, ""
        if is_unlock:
            info = json.loads(body or "{}")
            if stored.lock is not None and info.get("ID") not in (None, stored.lock.get("ID")):
                return locked, json.dumps(stored.lock)
            stored.lock = None
            return 200, ""
        if rest:
            return 404, ""
        if method == "GET":
            return (200, stored.current) if stored.current is not None else (204, "")
        if method == "POST":
            lock_id = parse_qs(query).get("ID", [None])[0]
            if stored.lock is not None and lock_id != stored.lock.get("ID"):
                return locked, json.dumps(stored.lock)
            serial = json.loads(body).get("serial", 0)
            stored.versions[int(serial)] = body
            stored.current = body  # whole, at once: the previous version or this one
            return 200, ""
        return 405, ""


@contextmanager
def http_state_server(gitlab: bool) -> Iterator[HttpStateServer]:
    with HttpStateServer(gitlab) as server:
        yield server


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """The URL of a throwaway PostgreSQL server, one for the whole session."""
    try:
        server = start_postgres()
    except PgUnavailable as exc:
        if os.environ.get(REQUIRE_ENV):
            pytest.fail(f"{exc} ({REQUIRE_ENV} is set: CI must run the PostgreSQL tests)")
        pytest.skip(str(exc))
    try:
        yield server.url
    finally:
        server.stop()
