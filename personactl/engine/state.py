"""The state file: what personactl last sent and saw, per environment.

JSON with a version field. Per resource: `kind`, `name` (metadata.name),
`anamName`, `id`, `applied` (the body fields last sent), `observed` (the same
fields as the server returned them right after), and `fingerprint`
(`updatedAt` and a hash of the observed resource). Secrets appear only as
sentinels. `StateStore` writes it during apply: locked, atomically.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import asdict, dataclass, field
from glob import escape as glob_escape
from pathlib import Path
from typing import Any

from personactl.errors import PersonactlError

STATE_VERSION = 1


@dataclass
class StateEntry:
    kind: str
    name: str
    anamName: str  # noqa: N815 - JSON field name
    id: str
    applied: dict[str, Any] = field(default_factory=dict)
    observed: dict[str, Any] = field(default_factory=dict)
    fingerprint: dict[str, Any] = field(default_factory=dict)
    preventDestroy: bool = False  # noqa: N815 - kept from the manifest: prune must honour it


@dataclass
class State:
    environment: str
    resources: list[StateEntry] = field(default_factory=list)
    version: int = STATE_VERSION

    def find(self, kind: str, name: str) -> StateEntry | None:
        for entry in self.resources:
            if entry.kind == kind and entry.name == name:
                return entry
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "environment": self.environment,
            "resources": [
                asdict(r) for r in sorted(self.resources, key=lambda r: (r.kind, r.name))
            ],
        }


def load_state(path: Path, display: str) -> State | None:
    """The state at `path`, or None when there is none yet."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise PersonactlError(f"cannot read state file {display}: {exc.strerror}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PersonactlError(
            f"state file {display} is not valid JSON (line {exc.lineno}, column {exc.colno}); "
            "restore it from version control"
        ) from None
    if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
        got = data.get("version") if isinstance(data, dict) else None
        raise PersonactlError(
            f"state file {display} has version {got!r}; this personactl reads version "
            f"{STATE_VERSION}"
        )
    try:
        resources = [StateEntry(**r) for r in data.get("resources", [])]
    except TypeError as exc:
        raise PersonactlError(f"state file {display} is malformed: {exc}") from None
    return State(environment=str(data.get("environment", "")), resources=resources)


class StateLocked(PersonactlError):
    pass


class StateStore:
    """The state of one environment during an apply: locked, written atomically.

    The lock (an exclusive `flock` on `<state>.lock`, held for the whole run)
    makes a second concurrent apply fail at once instead of interleaving. Each
    `record`/`forget` rewrites the file through a temporary file, fsync and
    rename, so a crash at any moment leaves the old or the new state, whole.
    """

    def __init__(self, path: Path, display: str, environment: str) -> None:
        import threading

        self.path = path
        self.display = display
        self.state = load_state(path, display) or State(environment=environment)
        self._mutex = threading.Lock()
        self._lock_file: Any = None

    def lock(self) -> None:
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path.with_name(self.path.name + ".lock"), "a+")  # noqa: SIM115
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise StateLocked(
                f"another apply is running for environment {self.state.environment!r} "
                f"(it holds {self.display}.lock); wait for it to finish"
            ) from None
        self._lock_file = handle
        # A run killed in the middle of a write leaves its temporary file; only a
        # holder of the lock writes one, so any that exist now are debris.
        for debris in self.path.parent.glob(f".{glob_escape(self.path.name)}.*.tmp"):
            with contextlib.suppress(OSError):
                debris.unlink()
        # The state may have changed while we waited for nothing: read it again.
        self.state = load_state(self.path, self.display) or self.state

    def unlock(self) -> None:
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None

    def __enter__(self) -> StateStore:
        self.lock()
        return self

    def __exit__(self, *exc: object) -> None:
        self.unlock()

    def record(self, entry: StateEntry) -> None:
        with self._mutex:
            if self.state.find(entry.kind, entry.name) == entry:
                return  # already recorded as it is: no need to rewrite the file
            self.state.resources = [
                r
                for r in self.state.resources
                if not (r.kind == entry.kind and r.name == entry.name)
            ] + [entry]
            self._write()

    def forget(self, kind: str, name: str) -> None:
        with self._mutex:
            before = len(self.state.resources)
            self.state.resources = [
                r for r in self.state.resources if not (r.kind == kind and r.name == name)
            ]
            if len(self.state.resources) != before:
                self._write()

    def _write(self) -> None:
        import os
        import tempfile

        text = json.dumps(self.state.to_dict(), indent=2, ensure_ascii=False, sort_keys=False)
        fd, tmp = tempfile.mkstemp(
            dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp"
        )
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text + "\n")
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
