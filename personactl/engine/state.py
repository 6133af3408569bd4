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

from personactl.engine.plan import Fingerprint, ResourceChange
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


class State:
    """Entries by (kind, name): lookups, records and forgets are O(1), so planning
    or applying N resources stays linear in N."""

    def __init__(
        self,
        environment: str,
        resources: list[StateEntry] | None = None,
        version: int = STATE_VERSION,
    ) -> None:
        self.environment = environment
        self.version = version
        self._entries: dict[tuple[str, str], StateEntry] = {
            (e.kind, e.name): e for e in resources or []
        }

    @property
    def resources(self) -> list[StateEntry]:
        return list(self._entries.values())

    def find(self, kind: str, name: str) -> StateEntry | None:
        return self._entries.get((kind, name))

    def put(self, entry: StateEntry) -> None:
        self._entries[(entry.kind, entry.name)] = entry

    def drop(self, kind: str, name: str) -> bool:
        return self._entries.pop((kind, name), None) is not None

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
        # A first apply killed before its end leaves only a journal.
        fresh = State(environment="")
        return fresh if replay(fresh, journal_path(path), display) else None
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
    state = State(environment=str(data.get("environment", "")), resources=resources)
    replay(state, journal_path(path), display)
    return state


def journal_path(path: Path) -> Path:
    return path.with_name(path.name + ".journal")


def replay(state: State, journal: Path, display: str) -> bool:
    """Apply a journal left by an apply in progress or killed; True if there was one."""
    try:
        lines = journal.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return False
    for number, line in enumerate(lines, 1):
        try:
            op = json.loads(line)
            if op["op"] == "record":
                state.put(StateEntry(**op["entry"]))
            elif op["op"] == "forget":
                state.drop(op["kind"], op["name"])
        except (json.JSONDecodeError, KeyError, TypeError):
            if number == len(lines):
                break  # the last line of a run killed mid-append: that write never finished
            raise PersonactlError(
                f"state journal {display}.journal is malformed at line {number}; "
                "restore the state file from version control"
            ) from None
    return True


def entry_for(
    change: ResourceChange,
    ident: str,
    applied: dict[str, Any],
    observed: dict[str, Any],
    fingerprint: Fingerprint | None,
) -> StateEntry:
    """What the state records for a resource of a plan once it is as desired."""
    return StateEntry(
        kind=change.kind,
        name=change.name,
        anamName=change.anamName,
        id=ident,
        applied=applied,
        observed=observed,
        fingerprint={"updatedAt": fingerprint.updatedAt, "hash": fingerprint.hash}
        if fingerprint
        else {},
        preventDestroy=change.preventDestroy,
    )


class StateLocked(PersonactlError):
    pass


class StateStore:
    """The state of one environment during an apply: locked, crash-safe, linear.

    The lock (an exclusive `flock` on `<state>.lock`, held for the whole run)
    makes a second concurrent apply fail at once instead of interleaving.
    Each success is appended to `<state>.journal` and fsynced at once (the
    state file itself holds every prompt, so rewriting it per success would
    cost O(N^2) for N resources); closing compacts the journal into the state
    file through a temporary file, fsync and rename, then removes it. A crash
    at any moment leaves a state file and a journal that together hold every
    success; readers and the next lock holder replay the journal.
    """

    def __init__(self, path: Path, display: str, environment: str) -> None:
        import threading

        self.path = path
        self.display = display
        self.environment = environment
        self.state = load_state(path, display) or State(environment=environment)
        self.state.environment = self.state.environment or environment
        self._mutex = threading.Lock()
        self._lock_file: Any = None
        self._journal: Any = None

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
        # The state may have changed while we waited for nothing: read it again,
        # with any journal a killed run left, and fold that journal in.
        self.state = load_state(self.path, self.display) or self.state
        self.state.environment = self.state.environment or self.environment
        if journal_path(self.path).exists():
            self._compact()

    def unlock(self) -> None:
        if self._lock_file is not None:
            try:
                if self._journal is not None:
                    self._compact()
            finally:
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
                return  # already recorded as it is: nothing to write
            self.state.put(entry)
            self._append({"op": "record", "entry": asdict(entry)})

    def forget(self, kind: str, name: str) -> None:
        with self._mutex:
            if self.state.drop(kind, name):
                self._append({"op": "forget", "kind": kind, "name": name})

    def _append(self, op: dict[str, Any]) -> None:
        import os

        if self._journal is None:
            self._journal = open(journal_path(self.path), "a", encoding="utf-8")  # noqa: SIM115
        self._journal.write(json.dumps(op, ensure_ascii=False) + "\n")
        self._journal.flush()
        os.fsync(self._journal.fileno())

    def _compact(self) -> None:
        """Write the whole state, then drop the journal it now contains."""
        if self._journal is not None:
            self._journal.close()
            self._journal = None
        self._write()
        with contextlib.suppress(FileNotFoundError):
            journal_path(self.path).unlink()

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
