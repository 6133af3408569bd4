"""The state file: what personactl last sent and saw, per environment.

JSON with a version field, the environment it belongs to, a `lineage` (a
random id fixed when the state is created; it also salts the secret
sentinels) and a `serial` that grows by one on every write. Per resource:
`kind`, `name` (metadata.name), `anamName`, `id`, `applied` (exactly the
fields of the request bodies personactl sent, accumulated field by field),
`observed` (what the server answered to those requests for those fields),
and `fingerprint` (`updatedAt` and a hash of the last response). Secrets
appear only as sentinels. From version 3, `observed` holds only the keys
whose value differs from `applied` (`unobserved` lists the applied keys the
server did not return); versions 1 and 2 are still read. `StateStore` writes
it during apply through a backend (personactl/backends): locked, journaled,
atomically.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from personactl.backends import (
    Backend,
    Held,
    LockInfo,
    LockLost,
    Snapshot,
    StateLocked,
    Version,
    iso,
    lease_seconds,
    new_lock,
    now,
)
from personactl.backends.file import FileBackend
from personactl.core.errors import PersonactlError
from personactl.core.records import Fingerprint, StateEntry
from personactl.core.serialize import camel, from_json, to_json
from personactl.engine.plan import ResourceChange

STATE_VERSION = 3
# An unsalted sentinel, as version-1 states wrote them (in the file's text, where
# JSON may have escaped the brackets).
LEGACY_SENTINEL = re.compile(
    r"(?:⟦|\\u27e6)secret:[A-Za-z_][A-Za-z0-9_]*:[0-9a-f]{12}(?:⟧|\\u27e7)", re.IGNORECASE
)
# Version 1 had no lineage or serial: both are added on load. Version 2 kept every
# observed key; version 3 only those that differ from the applied value.
READABLE_VERSIONS = (1, 2, 3)


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
                compact_entry(entry_json(r))
                for r in sorted(self.resources, key=lambda r: (r.kind, r.name))
            ],
        }

    def document(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"


def same(a: Any, b: Any) -> bool:
    """Equal as JSON values, types included (True is not 1, 1 is not 1.0)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(v, b[k]) for k, v in a.items())
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def compact_entry(data: dict[str, Any]) -> dict[str, Any]:
    """An entry's JSON form as version 3 stores it: `observed` only where it differs
    from `applied`, and the applied keys the server did not return as `unobserved`."""
    applied, observed = data.get("applied") or {}, data.get("observed") or {}
    data["observed"] = {
        k: v for k, v in observed.items() if k not in applied or not same(applied[k], v)
    }
    unobserved = sorted(k for k in applied if k not in observed)
    if unobserved:
        data["unobserved"] = unobserved
    return data


def expand_entry(data: Any) -> Any:
    """The inverse of `compact_entry` (version 3 entries only)."""
    if not isinstance(data, dict) or not isinstance(data.get("applied", {}), dict):
        return data
    unobserved = data.pop("unobserved", [])
    observed = data.get("observed", {})
    if not isinstance(unobserved, list) or not isinstance(observed, dict):
        return data
    applied = data.get("applied", {})
    data["observed"] = {
        **{k: v for k, v in applied.items() if k not in unobserved},
        **observed,
    }
    return data


def entry_json(entry: StateEntry) -> dict[str, Any]:
    """An entry's JSON form; `documents` only where there are some (a knowledge group's)."""
    data: dict[str, Any] = to_json(entry)
    if not data.get("documents"):
        data.pop("documents", None)
    return data


def new_lineage() -> str:
    return str(uuid.uuid4())


def _entry(
    data: Any, where: str, version: int = 2, restore: str = "restore it from version control"
) -> StateEntry:
    """A state entry from its JSON form, or one sentence saying what is wrong where."""
    problem = None
    if version >= 3:
        data = expand_entry(data)
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
        raise PersonactlError(f"{where} is malformed: {problem}; {restore}")
    return from_json(StateEntry, data)


def load_state(path: Path, display: str, environment: str | None = None) -> State | None:
    """The state file at `path` with its journal, or None when there is none yet.

    With `environment`, a state recorded for another environment is refused: a
    copy of one environment's state used by another would plan to rename and
    prune the first environment's resources.
    """
    return read_state(FileBackend(path, display), environment)


def read_state(backend: Backend, environment: str | None = None) -> State | None:
    """The current state of a backend with its journal replayed, or None when there is none."""
    return state_of(backend.read(), backend, environment)


def state_of(snapshot: Snapshot, backend: Backend, environment: str | None) -> State | None:
    if snapshot.document is None:
        # A first apply killed before its end leaves only a journal.
        fresh = State(environment=environment or "")
        return fresh if replay(fresh, snapshot.journal, backend) else None
    state = parse_state(snapshot.document, backend, environment)
    replay(state, snapshot.journal, backend)
    return state


def _what(backend: Backend) -> str:
    return f"state file {backend.display}" if backend.kind == "file" else backend.display


def parse_state(text: str, backend: Backend, environment: str | None = None) -> State:
    """A state document (JSON text), or one sentence saying what is wrong with it."""
    what, restore = _what(backend), backend.restore_hint
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PersonactlError(
            f"{what} is not valid JSON (line {exc.lineno}, column {exc.colno}); {restore}"
        ) from None
    if not isinstance(data, dict) or data.get("version") not in READABLE_VERSIONS:
        got = data.get("version") if isinstance(data, dict) else None
        raise PersonactlError(
            f"{what} has version {got!r}; this personactl reads version {STATE_VERSION}"
        )
    resources = data.get("resources", [])
    if not isinstance(resources, list):
        raise PersonactlError(f"{what} is malformed: resources is not a list; {restore}")
    lineage, serial = data.get("lineage"), data.get("serial", 0)
    if not (lineage is None or isinstance(lineage, str)) or not isinstance(serial, int):
        raise PersonactlError(
            f"{what} is malformed: lineage or serial has the wrong type; {restore}"
        )
    recorded = str(data.get("environment", ""))
    if environment is not None and recorded and recorded != environment:
        hint = (
            f"give environment {environment!r} its own state file in personactl.yaml"
            if backend.kind == "file"
            else f"give environment {environment!r} its own state in personactl.yaml"
        )
        raise PersonactlError(
            f"{what} belongs to environment {recorded!r}, not {environment!r}; {hint}"
        )
    version = int(data["version"])
    state = State(
        environment=recorded or environment or "",
        resources=[_entry(r, what, version, restore) for r in resources],
        version=version,
        lineage=lineage,
        serial=serial,
    )
    state.legacy_sentinels = LEGACY_SENTINEL.search(text) is not None
    return state


def journal_path(path: Path) -> Path:
    return path.with_name(path.name + ".journal")


def replay(state: State, journal: str | None, backend: Backend) -> bool:
    """Apply a journal left by an apply in progress or killed; True if there was one."""
    if journal is None:
        return False
    lines = journal.splitlines()
    name = (
        f"state journal {backend.display}.journal"
        if backend.kind == "file"
        else f"the journal of {backend.display}"
    )
    for number, line in enumerate(lines, 1):
        where = f"{name}, line {number},"
        try:
            op = json.loads(line)
            if not isinstance(op, dict) or op.get("op") not in ("record", "forget"):
                raise ValueError(line)
        except ValueError:
            if number == len(lines) and not journal.endswith("\n"):
                break  # the last line of a run killed mid-append: that write never finished
            raise PersonactlError(
                f"{where} is not a journal record; remove that line, or restore the "
                "state file from version control and delete the journal"
            ) from None
        # A first apply killed before its end leaves no state to hold the lineage that
        # salted its sentinels: each record carries it.
        if state.lineage is None and isinstance(op.get("lineage"), str):
            state.lineage = op["lineage"]
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


Notify = Callable[[str], None]


class StateStore:
    """The state of one environment during an apply: locked, crash-safe, linear.

    The lock (taken from the backend with this run's holder info and a lease,
    renewed by a thread while the run works) makes a second concurrent apply
    fail at once, naming the holder and the lock id, instead of interleaving.
    Each success is appended to the backend's journal and made durable before
    `record` returns; records that arrive while a flush is under way are
    flushed together by the next one (group commit: one fsync or one
    transaction for many records under parallel writes, and never a success
    reported before it is durable). Closing compacts the journal into a new
    version of the state (serial + 1), atomically. A crash at any moment leaves
    a state and a journal that together hold every success; readers and the
    next lock holder replay the journal. A backend without a journal (http)
    writes a whole new version per flush instead.
    """

    def __init__(
        self,
        where: Path | Backend,
        display: str = "",
        environment: str = "",
        lineage: str | None = None,
        *,
        operation: str = "apply",
        notify: Notify | None = None,
    ) -> None:
        """`where`: a state file's path (shown as `display`) or a backend. `lineage`: the
        one a state that has none yet takes (a saved plan's), else a new one."""
        self.backend: Backend = FileBackend(where, display) if isinstance(where, Path) else where
        self.display = self.backend.display
        self.environment = environment
        self.operation = operation
        self.notify = notify or (lambda message: None)
        self._lineage = lineage
        self.state = self._read() or State(environment=environment)
        self.info: LockInfo | None = None
        self.took_over: LockInfo | None = None
        self._cond = threading.Condition()
        self._pending: list[str] = []
        self._queued = 0  # records queued so far (a sequence number)
        self._durable = 0  # records made durable so far
        self._flushing = False
        # (first, last, error) of each flush that failed: its records are not durable
        self._failures: list[tuple[int, int, BaseException]] = []
        self._changes = 0  # records and forgets since the last version
        self._dirty = False  # the state changed without a journal line (a migration)
        self._journal = False  # a journal exists after the current version
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None
        self._lost: LockLost | None = None

    def _read(self, snapshot: Snapshot | None = None) -> State | None:
        state = state_of(snapshot or self.backend.read(), self.backend, self.environment)
        if state is not None:
            state.environment = state.environment or self.environment
        return state

    # -- the lock -----------------------------------------------------------------------

    def lock(self) -> None:
        lease = lease_seconds()
        info = new_lock(self.operation, lease, self.display)
        try:
            previous = self.backend.lock(info, lease)
        except Held as held:
            raise StateLocked(
                self.state.environment or self.environment, held.holder, self.display
            ) from None
        self.info = info
        try:
            if previous is not None and previous.id != info.id:
                self.took_over = previous
                self.notify(
                    f"Took over the lock of {previous.describe()} (lock id {previous.id}): "
                    "that run ended without releasing it"
                )
            # The state may have changed while we waited for nothing: read it again,
            # with any journal a killed run left, and fold that journal in.
            snapshot = self.backend.read()
            self.state = self._read(snapshot) or self.state
            if self.state.lineage is None:
                self.state.lineage = self._lineage or new_lineage()
                # so that the unsalted sentinels of a version-1 state leave the disk
                self._dirty = self.state.upgrade_legacy_sentinels(self.state.lineage)
            if snapshot.journal is not None:
                self._journal = True
                self._compact()
        except BaseException:
            self.backend.unlock(info)
            self.info = None
            raise
        self._stop.clear()
        self._renewer = threading.Thread(
            target=self._renew, args=(info, lease), name="personactl-lease", daemon=True
        )
        self._renewer.start()

    def _renew(self, info: LockInfo, lease: float) -> None:
        while not self._stop.wait(lease / 3):
            try:
                self.backend.renew(info, lease)
            except LockLost as exc:
                self._lost = exc
                return
            except Exception:  # a passing network error: the next renewal tries again
                continue

    def unlock(self) -> None:
        if self.info is None:
            return
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join()
            self._renewer = None
        try:
            if (self._journal or self._dirty) and self._lost is None:
                self._compact()
        finally:
            info, self.info = self.info, None
            self.backend.unlock(info)

    def close(self) -> None:
        self.backend.close()

    def __enter__(self) -> StateStore:
        self.lock()
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.unlock()
        finally:
            self.close()

    # -- writing ------------------------------------------------------------------------

    def record(self, entry: StateEntry) -> None:
        with self._cond:
            if self.state.find(entry.kind, entry.name) == entry:
                return  # already recorded as it is: nothing to write
            self.state.put(entry)
            self._changes += 1
            self._append_locked(
                {"op": "record", "entry": entry_json(entry), "lineage": self.state.lineage}
            )

    def forget(self, kind: str, name: str) -> None:
        with self._cond:
            if self.state.drop(kind, name):
                self._changes += 1
                self._append_locked(
                    {"op": "forget", "kind": kind, "name": name, "lineage": self.state.lineage}
                )

    def _append_locked(self, op: dict[str, Any]) -> None:
        """Queue a record and return once it is durable (the condition's lock is held)."""
        if self._lost is not None:
            raise self._lost
        self._pending.append(json.dumps(op, ensure_ascii=False))
        self._queued += 1
        mine = self._queued
        while self._durable < mine:
            if self._flushing:
                self._cond.wait()
                continue
            batch, upto = self._pending, self._queued
            self._pending = []
            self._flushing = True
            document = None if self.backend.journaled else self._next_version()
            try:
                self._cond.release()
                try:
                    if document is None:
                        self.backend.append(batch)
                    else:
                        self.backend.write(*document)
                finally:
                    self._cond.acquire()
            except BaseException as failed:
                self._failures.append((upto - len(batch) + 1, upto, failed))
                self._dirty = True  # the closing version holds them, if it can be written
            else:
                self._journal = self._journal or document is None
            self._durable = upto
            self._flushing = False
            self._cond.notify_all()
        for first, last, error in self._failures:
            if first <= mine <= last:
                raise error

    def _next_version(self) -> tuple[str, Version]:
        """The state as a new version: serial + 1, with its history line."""
        self.state.serial += 1
        version = Version(
            serial=self.state.serial,
            at=iso(now()),
            who=self.info.who if self.info else "",
            operation=self.operation,
            resources=len(self.state.resources),
            changes=self._changes,
        )
        self._changes = 0
        self._dirty = False
        return self.state.document(), version

    def _compact(self) -> None:
        """Write the whole state as a new version, which drops the journal it contains."""
        with self._cond:
            document, version = self._next_version()
        self.backend.write(document, version)
        self._journal = False

    def replace(self, state: State) -> None:
        """Make `state` the next version as it is (state push): serial + 1."""
        with self._cond:
            self.state = state
            self._changes = len(state.resources)
            document, version = self._next_version()
        self.backend.write(document, version)
        self._journal = False
