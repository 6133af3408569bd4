"""Where an environment's state lives: a file (default), PostgreSQL, or an HTTP server
speaking Terraform's http backend protocol (GitLab-managed state).

Every backend stores the same JSON state document (engine/state.py reads and
writes it) and offers the same small protocol (`Backend`): read the current
version and its journal, take / renew / release a lock that records its
holder and a lease, append journal records durably, write a new version
atomically, and list the versions (history). The engine's `StateStore` drives
it; `open_backend` picks one from an environment's `state:` setting. The
PostgreSQL and HTTP modules are imported only when an environment uses them.
"""

from __future__ import annotations

import getpass
import os
import socket
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

from personactl.core.errors import PersonactlError
from personactl.manifest.model import StateConfig

DEFAULT_LEASE = 60.0  # seconds; PERSONACTL_LOCK_LEASE overrides (tests use 1-2 s)
LEASE_ENV = "PERSONACTL_LOCK_LEASE"


def lease_seconds(environ: Mapping[str, str] = os.environ) -> float:
    raw = environ.get(LEASE_ENV, "")
    if not raw:
        return DEFAULT_LEASE
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if not 0.2 <= value <= 86400:
        raise PersonactlError(
            f"{LEASE_ENV}={raw!r} is not a lease in seconds between 0.2 and 86400"
        )
    return value


def now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime, precise: bool = False) -> str:
    """UTC, to the second (to the microsecond with `precise`: lease ends)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S" + (".%fZ" if precise else "Z"))


def parse_iso(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        return None


@dataclass(frozen=True)
class LockInfo:
    """Who holds a state's lock, for what, since when, until when (the lease).

    Its JSON form is Terraform's lock info (ID, Operation, Info, Who, Version,
    Created, Path) plus `Expires`, so an HTTP server made for Terraform keeps it
    and shows it."""

    id: str
    who: str
    operation: str
    created: str
    expires: str = ""
    info: str = ""  # the CI job's URL, when there is one
    path: str = ""

    def to_json(self) -> dict[str, str]:
        return {
            "ID": self.id,
            "Operation": self.operation,
            "Info": self.info,
            "Who": self.who,
            "Version": "personactl",
            "Created": self.created,
            "Expires": self.expires,
            "Path": self.path,
        }

    @classmethod
    def from_json(cls, data: Any) -> LockInfo | None:
        if not isinstance(data, dict) or not isinstance(data.get("ID"), str):
            return None
        text = {k: v if isinstance(v, str) else "" for k, v in data.items()}
        return cls(
            id=text["ID"],
            who=text.get("Who", "") or "someone",
            operation=text.get("Operation", ""),
            created=text.get("Created", ""),
            expires=text.get("Expires", ""),
            info=text.get("Info", ""),
            path=text.get("Path", ""),
        )

    def renewed(self, lease: float) -> LockInfo:
        return LockInfo(
            self.id,
            self.who,
            self.operation,
            self.created,
            iso(now() + timedelta(seconds=lease), precise=True),
            self.info,
            self.path,
        )

    def expired(self, at: datetime | None = None) -> bool:
        end = parse_iso(self.expires)
        return end is not None and end <= (at or now())

    def describe(self) -> str:
        """`alice@build-7 (apply since 2026-…Z, job https://…)`"""
        bits = [f"{self.operation or 'a run'} since {self.created or 'an unknown time'}"]
        if self.info:
            bits.append(f"job {self.info}")
        return f"{self.who} ({', '.join(bits)})"


def ci_job_url(environ: Mapping[str, str] = os.environ) -> str:
    if environ.get("CI_JOB_URL"):
        return environ["CI_JOB_URL"]
    server, repo, run = (
        environ.get("GITHUB_SERVER_URL"),
        environ.get("GITHUB_REPOSITORY"),
        environ.get("GITHUB_RUN_ID"),
    )
    if server and run:
        return f"{server}/{repo or '-'}/actions/runs/{run}"
    return ""


def new_lock(operation: str, lease: float, path: str = "") -> LockInfo:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    created = now()
    return LockInfo(
        id=str(uuid.uuid4()),
        who=f"{user}@{socket.gethostname()}",
        operation=operation,
        created=iso(created),
        expires=iso(created + timedelta(seconds=lease), precise=True),
        info=ci_job_url(),
        path=path,
    )


class StateLocked(PersonactlError):
    """Another run holds the lock: one sentence naming it and its lock id."""

    def __init__(self, environment: str, holder: LockInfo | None, where: str) -> None:
        if holder is None:
            text = (
                f"the state of environment {environment!r} is locked by another run "
                f"({where}); wait for it to finish"
            )
        else:
            text = (
                f"the state of environment {environment!r} is locked by {holder.describe()}, "
                f"lock id {holder.id}; wait for it to finish, or if that run is gone, "
                f"run `personactl state unlock {holder.id} -e {environment}`"
            )
        super().__init__(text)
        self.holder = holder


class Held(PersonactlError):
    """Raised by a backend whose lock another run holds (`holder`: its info, if known)."""

    def __init__(self, holder: LockInfo | None) -> None:
        super().__init__(
            f"the state is locked by {holder.describe()}, lock id {holder.id}"
            if holder
            else "the state is locked by another run"
        )
        self.holder = holder


class LockLost(PersonactlError):
    """The lease ran out and another run took the lock over: this run must stop writing."""

    @classmethod
    def of(cls, info: LockInfo | None, display: str, holder: LockInfo | None = None) -> LockLost:
        mine = f" {info.id}" if info else ""
        other = holder.describe() if holder else "another run"
        return cls(
            f"this run lost its lock{mine} on {display}: its lease ran out and {other} took "
            "it over; nothing more is written, run again"
        )


@dataclass(frozen=True)
class Version:
    """One version of the state, as `state history` lists it."""

    serial: int
    at: str
    who: str
    operation: str
    resources: int
    changes: int

    def to_json(self) -> dict[str, Any]:
        return {
            "serial": self.serial,
            "at": self.at,
            "who": self.who,
            "operation": self.operation,
            "resources": self.resources,
            "changes": self.changes,
        }

    @classmethod
    def from_json(cls, data: Any) -> Version | None:
        if not isinstance(data, dict) or not isinstance(data.get("serial"), int):
            return None
        return cls(
            serial=data["serial"],
            at=str(data.get("at", "")),
            who=str(data.get("who", "")),
            operation=str(data.get("operation", "")),
            resources=int(data.get("resources") or 0),
            changes=int(data.get("changes") or 0),
        )


@dataclass
class Snapshot:
    """The current version's JSON text (None: no state yet) and the journal after it
    (records of a run in progress or killed; `journal` is None when there is none)."""

    document: str | None
    journal: str | None = None
    history: list[Version] = field(default_factory=list)


class Backend(Protocol):
    """What the StateStore needs from a place that keeps state."""

    display: str  # how messages name it: a path, "PostgreSQL schema.env", an URL
    kind: str  # "file" | "postgres" | "http"
    restore_hint: str  # what to do about a malformed state
    journaled: bool  # False: every durable record is a whole new version (http)

    def read(self) -> Snapshot: ...
    def lock(self, info: LockInfo, lease: float) -> LockInfo | None:
        """Take the lock, or raise StateLocked naming the holder. Returns the lock it
        took over (its lease had expired) or None."""
        ...

    def renew(self, info: LockInfo, lease: float) -> None: ...
    def unlock(self, info: LockInfo) -> None: ...
    def force_unlock(self, lock_id: str) -> LockInfo: ...
    def append(self, records: list[str]) -> None: ...
    def write(self, document: str, version: Version) -> None: ...
    def history(self) -> list[Version]: ...
    def document_at(self, serial: int) -> str | None: ...
    def close(self) -> None: ...


def redact(url: str) -> str:
    """`url` without its password and query values, for messages."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(an invalid URL)"
    netloc = parts.netloc.rpartition("@")
    host = f"***@{netloc[2]}" if netloc[1] else netloc[2]
    query = "&".join(p.partition("=")[0] + "=***" for p in parts.query.split("&") if p)
    return urlunsplit((parts.scheme, host, parts.path, query, ""))


def display_of(config: StateConfig, environment: str, display_path: str) -> str:
    """How messages name a state (without opening it): its file, schema.env, or URL."""
    if config.backend == "postgres":
        return f"PostgreSQL state {config.schema}.{environment}"
    if config.backend == "http":
        return f"HTTP state {redact(config.address)}"
    return display_path


def open_backend(
    config: StateConfig,
    environment: str,
    path: Path,
    display_path: str,
    environ: Mapping[str, str] = os.environ,
) -> Backend:
    """The backend an environment's state setting names (`path`, shown as `display_path`:
    the state file of the file backend)."""
    if config.backend == "postgres":
        from personactl.backends.postgres import PostgresBackend

        return PostgresBackend.from_config(config, environment, environ)
    if config.backend == "http":
        from personactl.backends.http import HttpBackend

        return HttpBackend.from_config(config, environment, environ)
    from personactl.backends.file import FileBackend

    return FileBackend(path, display_path)
