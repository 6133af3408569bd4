"""The file backend (default): `<state>`, `<state>.journal`, `<state>.lock` and
`<state-stem>.history/`, beside each other.

The lock is an exclusive `flock` on `<state>.lock`, which also holds the lock info
(JSON) while it is held; a clean release empties it. The kernel drops a flock when
its process dies, so a killed holder never blocks the next run, which finds the
info left behind and says whose lock it took over. A flock held by a live process
cannot be broken from outside: `state unlock` clears only a lock whose process is
gone. History keeps the last `HISTORY_KEEP` versions in `<state-stem>.history/`
(git keeps the older ones when the state file is committed).
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from glob import escape as glob_escape
from pathlib import Path
from typing import IO, Any

from personactl.backends import Held, LockInfo, Snapshot, Version
from personactl.core.errors import PersonactlError
from personactl.core.files import atomic_write

HISTORY_KEEP = 20


class FileBackend:
    kind = "file"
    journaled = True
    restore_hint = "restore it from version control"

    def __init__(self, path: Path, display: str) -> None:
        self.path = path
        self.display = display
        self.lock_path = path.with_name(path.name + ".lock")
        self.journal_path = path.with_name(path.name + ".journal")
        self.history_dir = path.with_name(path.stem + ".history")
        self._lock_file: IO[str] | None = None
        self._journal: IO[str] | None = None
        self._mutex = threading.Lock()

    # -- reading ----------------------------------------------------------------------

    def read(self) -> Snapshot:
        try:
            document: str | None = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            document = None
        except OSError as exc:
            raise PersonactlError(
                f"cannot read state file {self.display}: {exc.strerror}"
            ) from None
        try:
            journal: str | None = self.journal_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            journal = None
        return Snapshot(document, journal)

    def history(self) -> list[Version]:
        out = []
        for file in self.history_dir.glob("*.json"):
            with contextlib.suppress(OSError, ValueError):
                found = Version.from_json(json.loads(file.read_text(encoding="utf-8")))
                if found is not None:
                    out.append(found)
        return sorted(out, key=lambda v: v.serial)

    def document_at(self, serial: int) -> str | None:
        try:
            data = json.loads((self.history_dir / f"{serial}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return json.dumps(data.get("state"), indent=2, ensure_ascii=False) + "\n"

    # -- the lock ---------------------------------------------------------------------

    def lock(self, info: LockInfo, lease: float) -> LockInfo | None:
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.lock_path, "a+", encoding="utf-8")  # noqa: SIM115
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _info_in(handle)
            handle.close()
            raise Held(holder) from None
        previous = _info_in(handle)  # left by a holder that died without releasing
        self._lock_file = handle
        self._put_info(info)
        # A run killed in the middle of a write leaves its temporary file; only a
        # holder of the lock writes one, so any that exist now are debris.
        for debris in self.path.parent.glob(f".{glob_escape(self.path.name)}.*.tmp"):
            with contextlib.suppress(OSError):
                debris.unlink()
        return previous

    def renew(self, info: LockInfo, lease: float) -> None:
        self._put_info(info.renewed(lease))

    def unlock(self, info: LockInfo) -> None:
        with self._mutex:
            if self._journal is not None:
                self._journal.close()
                self._journal = None
            if self._lock_file is not None:
                with contextlib.suppress(OSError):
                    self._lock_file.truncate(0)
                self._lock_file.close()
                self._lock_file = None

    def force_unlock(self, lock_id: str) -> LockInfo:
        import fcntl

        try:
            handle = open(self.lock_path, "r+", encoding="utf-8")  # noqa: SIM115
        except FileNotFoundError:
            raise PersonactlError(
                f"no lock {lock_id} on {self.display}: it is not locked"
            ) from None
        with handle:
            holder = _info_in(handle)
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if holder is None or holder.id != lock_id:
                    raise PersonactlError(
                        f"no lock {lock_id} on {self.display}"
                        + (
                            f": it is locked by {holder.describe()}, lock id {holder.id}"
                            if holder
                            else ""
                        )
                    ) from None
                raise PersonactlError(
                    f"lock {lock_id} on {self.display} is held by a running process of "
                    f"{holder.who}: a file lock ends with its process, so stop that run "
                    "(it releases the lock as it exits)"
                ) from None
            if holder is None or holder.id != lock_id:
                raise PersonactlError(f"no lock {lock_id} on {self.display}: it is not locked")
            handle.truncate(0)
            return holder

    def _put_info(self, info: LockInfo) -> None:
        with self._mutex:
            if self._lock_file is None:
                return
            self._lock_file.seek(0)
            self._lock_file.truncate(0)
            self._lock_file.write(json.dumps(info.to_json()) + "\n")
            self._lock_file.flush()

    # -- writing ----------------------------------------------------------------------

    def append(self, records: list[str]) -> None:
        with self._mutex:
            if self._journal is None:
                self._journal = open(self.journal_path, "a", encoding="utf-8")  # noqa: SIM115
            self._journal.write("".join(line + "\n" for line in records))
            self._journal.flush()
            os.fsync(self._journal.fileno())

    def write(self, document: str, version: Version) -> None:
        """The new state file (atomically), its copy in the history, then no journal."""
        with self._mutex:
            if self._journal is not None:
                self._journal.close()
                self._journal = None
        atomic_write(self.path, document)
        with contextlib.suppress(OSError, ValueError):
            self._keep(document, version)
        with contextlib.suppress(FileNotFoundError):
            self.journal_path.unlink()

    def _keep(self, document: str, version: Version) -> None:
        self.history_dir.mkdir(exist_ok=True)
        entry = {**version.to_json(), "state": json.loads(document)}
        atomic_write(
            self.history_dir / f"{version.serial}.json",
            json.dumps(entry, ensure_ascii=False) + "\n",
        )
        old = sorted(
            (p for p in self.history_dir.glob("*.json") if p.stem.isdigit()),
            key=lambda p: int(p.stem),
        )
        for stale in old[:-HISTORY_KEEP]:
            stale.unlink()

    def close(self) -> None:
        pass


def _info_in(handle: IO[str]) -> LockInfo | None:
    handle.seek(0)
    text = handle.read()
    try:
        data: Any = json.loads(text) if text.strip() else None
    except ValueError:
        return None
    return LockInfo.from_json(data)
