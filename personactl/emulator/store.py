"""SQLite persistence for the emulator: one table of JSON documents plus persona->tool links,
and the knowledge documents with their bytes and extracted text.

Thread safety: one connection guarded by a lock, so threads never see
"database is locked"; writes run in `BEGIN IMMEDIATE` and WAL mode with a busy
timeout, so two processes sharing a data directory (the sandbox backend and
`emulator serve`) serialise instead of failing.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from personactl.emulator import catalog

Doc = dict[str, Any]
Clock = Callable[[], float]  # seconds since the epoch, as time.time()

CATALOG_KINDS = ("avatar", "voice", "llm")
KINDS = (*CATALOG_KINDS, "knowledge_group", "tool", "persona")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS resources (
    kind TEXT NOT NULL, id TEXT NOT NULL, name TEXT NOT NULL,
    created_at TEXT NOT NULL, doc TEXT NOT NULL, PRIMARY KEY (kind, id));
CREATE INDEX IF NOT EXISTS resources_order ON resources (kind, created_at, id);
CREATE TABLE IF NOT EXISTS persona_tools (
    persona_id TEXT NOT NULL, tool_id TEXT NOT NULL, position INTEGER NOT NULL,
    PRIMARY KEY (persona_id, tool_id));
CREATE INDEX IF NOT EXISTS persona_tools_tool ON persona_tools (tool_id);
CREATE TABLE IF NOT EXISTS knowledge_documents (
    id TEXT PRIMARY KEY, folder_id TEXT NOT NULL, created_at TEXT NOT NULL,
    doc TEXT NOT NULL, content BLOB NOT NULL, text TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS knowledge_documents_folder
    ON knowledge_documents (folder_id, created_at, id);
"""


def format_timestamp(epoch_ms: int) -> str:
    """Millisecond ISO-8601 in UTC with a `Z`, as the Anam API writes them."""
    moment = datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000:03d}Z"


def _casefold(value: str | None) -> str:
    return (value or "").casefold()


def _dumps(doc: Doc) -> str:
    return json.dumps(doc, ensure_ascii=False)


class Txn:
    """Operations valid inside one `Store.transaction()`."""

    def __init__(self, conn: sqlite3.Connection, clock: Clock) -> None:
        self._conn = conn
        self._clock = clock

    def get(self, kind: str, item_id: str) -> Doc | None:
        row = self._conn.execute(
            "SELECT doc FROM resources WHERE kind = ? AND id = ?", (kind, item_id)
        ).fetchone()
        return json.loads(row[0]) if row else None

    def existing_ids(self, kind: str, ids: Iterable[str]) -> set[str]:
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            return set()
        marks = ",".join("?" * len(wanted))
        rows = self._conn.execute(
            f"SELECT id FROM resources WHERE kind = ? AND id IN ({marks})", (kind, *wanted)
        )
        return {row[0] for row in rows}

    def page(self, kind: str, search: str | None, offset: int, limit: int) -> tuple[int, list[Doc]]:
        """(total matching, one page of docs) ordered by createdAt then id."""
        where, args = "kind = ?", [kind]
        if search:
            where += " AND instr(py_casefold(name), ?) > 0"
            args.append(search.casefold())
        total = self._conn.execute(f"SELECT count(*) FROM resources WHERE {where}", args)
        count = int(total.fetchone()[0])
        rows = self._conn.execute(
            f"SELECT doc FROM resources WHERE {where} ORDER BY created_at, id LIMIT ? OFFSET ?",
            (*args, limit, offset),
        )
        return count, [json.loads(row[0]) for row in rows]

    def all(self, kind: str) -> list[Doc]:
        rows = self._conn.execute(
            "SELECT doc FROM resources WHERE kind = ? ORDER BY created_at, id", (kind,)
        )
        return [json.loads(row[0]) for row in rows]

    def put(self, kind: str, doc: Doc, name: str) -> None:
        self._conn.execute(
            "INSERT OR REPLACE INTO resources (kind, id, name, created_at, doc) "
            "VALUES (?, ?, ?, ?, ?)",
            (kind, doc["id"], name, doc["createdAt"], _dumps(doc)),
        )

    def insert_if_absent(self, kind: str, doc: Doc, name: str) -> None:
        self._conn.execute(
            "INSERT OR IGNORE INTO resources (kind, id, name, created_at, doc) "
            "VALUES (?, ?, ?, ?, ?)",
            (kind, doc["id"], name, doc["createdAt"], _dumps(doc)),
        )

    def meta(self, key: str) -> str | None:
        row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return str(row[0]) if row else None

    def set_meta(self, key: str, value: str) -> None:
        self._conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def delete(self, kind: str, item_id: str) -> None:
        self._conn.execute("DELETE FROM resources WHERE kind = ? AND id = ?", (kind, item_id))
        if kind == "persona":
            self._conn.execute("DELETE FROM persona_tools WHERE persona_id = ?", (item_id,))
        elif kind == "tool":
            self._conn.execute("DELETE FROM persona_tools WHERE tool_id = ?", (item_id,))
        elif kind == "knowledge_group":
            self._conn.execute("DELETE FROM knowledge_documents WHERE folder_id = ?", (item_id,))

    # -- knowledge documents: the JSON record, the uploaded bytes and their text ----------

    def put_document(self, doc: Doc, content: bytes, text: str) -> None:
        self._conn.execute(
            "INSERT INTO knowledge_documents (id, folder_id, created_at, doc, content, text) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (doc["id"], doc["knowledgeFolderId"], doc["createdAt"], _dumps(doc), content, text),
        )

    def update_document(self, doc: Doc) -> None:
        self._conn.execute(
            "UPDATE knowledge_documents SET doc = ? WHERE id = ?", (_dumps(doc), doc["id"])
        )

    def get_document(self, document_id: str) -> Doc | None:
        row = self._conn.execute(
            "SELECT doc FROM knowledge_documents WHERE id = ?", (document_id,)
        ).fetchone()
        return json.loads(row[0]) if row else None

    def document_content(self, document_id: str) -> bytes:
        row = self._conn.execute(
            "SELECT content FROM knowledge_documents WHERE id = ?", (document_id,)
        ).fetchone()
        return bytes(row[0])

    def documents(self, folder_id: str) -> list[Doc]:
        rows = self._conn.execute(
            "SELECT doc FROM knowledge_documents WHERE folder_id = ? ORDER BY created_at, id",
            (folder_id,),
        )
        return [json.loads(row[0]) for row in rows]

    def documents_with_text(self, folder_id: str) -> list[tuple[Doc, str]]:
        rows = self._conn.execute(
            "SELECT doc, text FROM knowledge_documents WHERE folder_id = ? ORDER BY created_at, id",
            (folder_id,),
        )
        return [(json.loads(row[0]), str(row[1])) for row in rows]

    def delete_document(self, document_id: str) -> None:
        self._conn.execute("DELETE FROM knowledge_documents WHERE id = ?", (document_id,))

    def document_counts(self, folder_ids: Iterable[str]) -> dict[str, int]:
        return self._counts("knowledge_documents", "folder_id", folder_ids)

    def _counts(self, table: str, column: str, ids: Iterable[str]) -> dict[str, int]:
        """How many rows of `table` have each of `ids` in `column` (0 for none)."""
        wanted = list(dict.fromkeys(ids))
        counts = dict.fromkeys(wanted, 0)
        if not wanted:
            return counts
        marks = ",".join("?" * len(wanted))
        rows = self._conn.execute(
            f"SELECT {column}, count(*) FROM {table} WHERE {column} IN ({marks}) GROUP BY {column}",
            wanted,
        )
        counts.update({row[0]: int(row[1]) for row in rows})
        return counts

    def set_persona_tools(self, persona_id: str, tool_ids: list[str]) -> None:
        self._conn.execute("DELETE FROM persona_tools WHERE persona_id = ?", (persona_id,))
        self._conn.executemany(
            "INSERT INTO persona_tools (persona_id, tool_id, position) VALUES (?, ?, ?)",
            [(persona_id, tool_id, n) for n, tool_id in enumerate(tool_ids)],
        )

    def persona_tool_ids(self, persona_id: str) -> list[str]:
        rows = self._conn.execute(
            "SELECT tool_id FROM persona_tools WHERE persona_id = ? ORDER BY position",
            (persona_id,),
        )
        return [row[0] for row in rows]

    def usage_counts(self, tool_ids: Iterable[str]) -> dict[str, int]:
        return self._counts("persona_tools", "tool_id", tool_ids)

    def now_ms(self) -> int:
        return int(self._clock() * 1000)

    def next_ms(self) -> int:
        """A write time in ms strictly later than every earlier one, even in the same ms.

        The last value lives in the database, so it holds across restarts and
        across processes sharing the data directory.
        """
        now = max(self.now_ms(), int(self.meta("clock_ms") or 0) + 1)
        self.set_meta("clock_ms", str(now))
        return now

    def next_timestamp(self) -> str:
        return format_timestamp(self.next_ms())

    def signing_key(self) -> bytes:
        """The key that signs download URLs; shared by every process using this database."""
        return bytes.fromhex(self.meta("signing_key") or "")


class Store:
    """The emulator's database file; safe to share between threads."""

    def __init__(self, path: Path, clock: Clock = time.time) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._clock = clock
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(
            str(path), check_same_thread=False, isolation_level=None, timeout=30.0
        )
        self._conn.create_function("py_casefold", 1, _casefold, deterministic=True)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(_SCHEMA)
        self._seed()

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def transaction(self, write: bool = False) -> Iterator[Txn]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield Txn(self._conn, self._clock)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _seed(self) -> None:
        with self.transaction(write=True) as txn:
            # the stock catalog is read-only: refresh it so older data directories
            # pick up catalog changes
            for kind, docs in (
                ("avatar", catalog.avatars()),
                ("voice", catalog.voices()),
                ("llm", catalog.llms()),
            ):
                for doc in docs:
                    txn.put(kind, doc, doc["displayName"])
            # the knowledge group is user-editable: seed it only once, ever
            if txn.meta("seeded") is None:
                for doc in catalog.knowledge_groups():
                    txn.insert_if_absent("knowledge_group", doc, doc["name"])
                txn.set_meta("seeded", "1")
            if txn.meta("signing_key") is None:
                txn.set_meta("signing_key", secrets.token_hex(32))
