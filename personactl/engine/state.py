"""The state file: what personactl last sent and saw, per environment.

JSON with a version field, the environment it belongs to, a `lineage` (a
random id fixed when the state is created; it also salts the secret
sentinels) and a `serial` that grows by one on every write. Per resource:
`kind`, `name` (metadata.name), `anamName`, `id`, `applied` (exactly the
fields of the request bodies personactl sent, accumulated field by field),
`observed` (what the server answered to those requests for those fields),
and `fingerprint` (`updatedAt` and a hash of the last response). Secrets
appear only as sentinels. `StateStore` writes it during apply: locked,
atomically.
"""

from __future__ import annotations

import contextlib
import json
import re
import uuid
from glob import escape as glob_escape
from pathlib import Path
from typing import Any

from personactl.core.errors import PersonactlError
from personactl.core.files import atomic_write
from personactl.core.records import Fingerprint, StateEntry
from personactl.core.serialize import camel, from_json, to_json
from personactl.engine.plan import ResourceChange

STATE_VERSION = 2
# An unsalted sentinel, as version-1 states wrote them (in the file's text, where
# JSON may have escaped the brackets).
LEGACY_SENTINEL = re.compile(
    r"(?:⟦|\\u27e6)secret:[A-Za-z_][A-Za-z0-9_]*:[0-9a-f]{12}(?:⟧|\\u27e7)", re.IGNORECASE
)
READABLE_VERSIONS = (1, 2)  # version 1 had no lineage or serial: both are added on load


class State:
    """Entries by (kind, name): lookups, records and forgets are O(1), so planning
    or applying N resources stays linear in N."""

    def __init__(
        self,
        environment: str,
        resources: list[StateEntry] | None = None,
        version: int = STATE_VERSION,
        lineage: str | None = None,
        serial: int = 0,
    ) -> None:
        self.environment = environment
        self.version = version
        self.lineage = lineage  # None until the state is first written (or read from v1)
        self.serial = serial
        # Whether the file held an unsalted sentinel of a version-1 state: only then is
        # every entry walked to upgrade them (a plan should not pay for it otherwise).
        self.legacy_sentinels = False
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

    def upgrade_legacy_sentinels(self, salt: str) -> bool:
        """Replace the unsalted sentinels of a version-1 state by salted ones, where the
        environment still holds the value they stand for; True if any changed."""
        from personactl.core.secrets import upgrade_legacy

        if not self.legacy_sentinels:
            return False
        changed = False
        for entry in self.resources:
            applied = upgrade_legacy(entry.applied, salt)
            observed = upgrade_legacy(entry.observed, salt)
            if applied != entry.applied or observed != entry.observed:
                entry.applied, entry.observed = applied, observed
                changed = True
        return changed

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "environment": self.environment,
            "lineage": self.lineage,
            "serial": self.serial,
            "resources": [
                entry_json(r) for r in sorted(self.resources, key=lambda r: (r.kind, r.name))
            ],
        }


def entry_json(entry: StateEntry) -> dict[str, Any]:
    """An entry's JSON form; `documents` only where there are some (a knowledge group's)."""
    data: dict[str, Any] = to_json(entry)
    if not data.get("documents"):
        data.pop("documents", None)
    return data


def new_lineage() -> str:
    return str(uuid.uuid4())


def _entry(data: Any, where: str) -> StateEntry:
    """A state entry from its JSON form, or one sentence saying what is wrong where."""
    problem = None
    if not isinstance(data, dict):
        problem = "an entry is not an object"
    else:
        for key in ("kind", "name", "anamName", "id"):
            if not isinstance(data.get(key), str):
                problem = f"an entry's {key} is not a string"
                break
        else:
            for key in ("applied", "observed", "fingerprint"):
                if not isinstance(data.get(key, {}), dict):
                    problem = f"the {key} of {data['kind']} {data['name']!r} is not an object"
                    break
            unknown = set(data) - {camel(name) for name in StateEntry.__dataclass_fields__}
            if problem is None and unknown:
                problem = f"an entry has unknown keys ({', '.join(sorted(unknown))})"
    if problem is not None:
        raise PersonactlError(f"{where} is malformed: {problem}; restore it from version control")
    return from_json(StateEntry, data)


def load_state(path: Path, display: str, environment: str | None = None) -> State | None:
    """The state at `path`, or None when there is none yet.

    With `environment`, a state recorded for another environment is refused: a
    copy of one environment's state used by another would plan to rename and
    prune the first environment's resources.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        # A first apply killed before its end leaves only a journal.
        fresh = State(environment=environment or "")
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
    if not isinstance(data, dict) or data.get("version") not in READABLE_VERSIONS:
        got = data.get("version") if isinstance(data, dict) else None
        raise PersonactlError(
            f"state file {display} has version {got!r}; this personactl reads version "
            f"{STATE_VERSION}"
        )
    resources = data.get("resources", [])
    if not isinstance(resources, list):
        raise PersonactlError(
            f"state file {display} is malformed: resources is not a list; "
            "restore it from version control"
        )
    lineage, serial = data.get("lineage"), data.get("serial", 0)
    if not (lineage is None or isinstance(lineage, str)) or not isinstance(serial, int):
        raise PersonactlError(
            f"state file {display} is malformed: lineage or serial has the wrong type; "
            "restore it from version control"
        )
    recorded = str(data.get("environment", ""))
    if environment is not None and recorded and recorded != environment:
        raise PersonactlError(
            f"state file {display} belongs to environment {recorded!r}, not {environment!r}; "
            f"give environment {environment!r} its own state file in personactl.yaml"
        )
    state = State(
        environment=recorded or environment or "",
        resources=[_entry(r, f"state file {display}") for r in resources],
        version=int(data["version"]),
        lineage=lineage,
        serial=serial,
    )
    state.legacy_sentinels = LEGACY_SENTINEL.search(text) is not None
    replay(state, journal_path(path), display)
    return state


def journal_path(path: Path) -> Path:
    return path.with_name(path.name + ".journal")


def replay(state: State, journal: Path, display: str) -> bool:
    """Apply a journal left by an apply in progress or killed; True if there was one."""
    try:
        text = journal.read_text(encoding="utf-8")
    except FileNotFoundError:
        return False
    lines = text.splitlines()
    for number, line in enumerate(lines, 1):
        where = f"state journal {display}.journal, line {number},"
        try:
            op = json.loads(line)
            if not isinstance(op, dict) or op.get("op") not in ("record", "forget"):
                raise ValueError(line)
        except ValueError:
            if number == len(lines) and not text.endswith("\n"):
                break  # the last line of a run killed mid-append: that write never finished
            raise PersonactlError(
                f"{where} is not a journal record; remove that line, or restore the "
                "state file from version control and delete the journal"
            ) from None
        if op["op"] == "record":
            state.put(_entry(op.get("entry"), where))
        elif isinstance(op.get("kind"), str) and isinstance(op.get("name"), str):
            state.drop(op["kind"], op["name"])
        else:
            raise PersonactlError(f"{where} is malformed: a forget without kind and name")
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
        anam_name=change.anam_name,
        id=ident,
        applied=applied,
        observed=observed,
        fingerprint={"updatedAt": fingerprint.updated_at, "hash": fingerprint.hash}
        if fingerprint
        else {},
        prevent_destroy=change.prevent_destroy,
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

    def __init__(
        self, path: Path, display: str, environment: str, lineage: str | None = None
    ) -> None:
        """`lineage`: the one a state that has none yet takes (a saved plan's), else a new one."""
        import threading

        self.path = path
        self.display = display
        self.environment = environment
        self._lineage = lineage
        self.state = self._read() or State(environment=environment)
        self._mutex = threading.Lock()
        self._lock_file: Any = None
        self._journal: Any = None
        self._dirty = False  # the state changed without a journal line (a migration)

    def _read(self) -> State | None:
        state = load_state(self.path, self.display, self.environment)
        if state is not None:
            state.environment = state.environment or self.environment
        return state

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
        self.state = self._read() or self.state
        if self.state.lineage is None:
            self.state.lineage = self._lineage or new_lineage()
            # so that the unsalted sentinels of a version-1 state leave the disk
            self._dirty = self.state.upgrade_legacy_sentinels(self.state.lineage)
        if journal_path(self.path).exists():
            self._compact()

    def unlock(self) -> None:
        if self._lock_file is not None:
            try:
                if self._journal is not None or self._dirty:
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
            self._append({"op": "record", "entry": entry_json(entry)})

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
        self.state.serial += 1
        self._dirty = False
        text = json.dumps(self.state.to_dict(), indent=2, ensure_ascii=False, sort_keys=False)
        atomic_write(self.path, text + "\n")
