"""The PostgreSQL backend: `state: {backend: postgres, urlEnv: VAR, schema: NAME}`.

Three tables in the configured schema, created on first use (numbered
migrations under a transaction-scoped advisory lock, recorded in `meta`):

- `versions`: one row per version of an environment's state (serial, lineage,
  the JSON document, when, who, operation, counts): the history, and the
  current state is the row with the highest serial;
- `journal`: the records of a run in progress (or killed), per environment;
- `locks`: one row per locked environment, with the holder's info and the
  lease's end, by the server's clock.

The lock is a row, not a session advisory lock: a pooled or restarted
connection (PgBouncer in transaction mode, a network blip) silently loses an
advisory lock, while a row survives, names its holder, expires by its lease,
and fences the writes: every journal append and new version checks, in its
own transaction, that this run still holds the lock. Locks are per schema and
environment, so different schemas or environments never block each other.
psycopg 3 is imported only here (`pip install 'personactl[postgres]'`).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from typing import Any, cast

from personactl.backends import (
    Held,
    LockInfo,
    LockLost,
    Snapshot,
    Version,
    display_of,
    iso,
    redact,
)
from personactl.core.errors import PersonactlError
from personactl.manifest.model import StateConfig

# Each migration moves the schema one version up; applied in order, once.
MIGRATIONS = [
    """
    CREATE TABLE {s}.versions (
        environment text NOT NULL,
        serial bigint NOT NULL,
        lineage text NOT NULL,
        document text NOT NULL,
        written_at timestamptz NOT NULL DEFAULT clock_timestamp(),
        who text NOT NULL DEFAULT '',
        operation text NOT NULL DEFAULT '',
        resources integer NOT NULL DEFAULT 0,
        changes integer NOT NULL DEFAULT 0,
        PRIMARY KEY (environment, serial)
    );
    CREATE TABLE {s}.journal (
        seq bigserial PRIMARY KEY,
        environment text NOT NULL,
        record text NOT NULL
    );
    CREATE INDEX journal_environment ON {s}.journal (environment, seq);
    CREATE TABLE {s}.locks (
        environment text PRIMARY KEY,
        id text NOT NULL,
        info jsonb NOT NULL,
        expires timestamptz NOT NULL
    );
    """,
]
EXTRA = "pip install 'personactl[postgres]'"


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError:
        raise PersonactlError(f"a postgres state needs the PostgreSQL driver: {EXTRA}") from None
    return psycopg


class PostgresBackend:
    kind = "postgres"
    journaled = True
    restore_hint = (
        "find a good version with `personactl state history` and `state show --serial N`, "
        "and push it with `personactl state push FILE --force`"
    )

    def __init__(self, url: str, schema: str, environment: str, url_env: str = "") -> None:
        self.url = url
        self.schema = schema
        self.environment = environment
        self.url_env = url_env
        self.display = display_of(StateConfig("postgres", schema=schema), environment, "")
        self._conns: dict[str, Any] = {}
        self._mutexes = {"data": threading.Lock(), "lock": threading.Lock()}
        self._ready = False
        self._holding: LockInfo | None = None

    @classmethod
    def from_config(
        cls, config: StateConfig, environment: str, environ: Mapping[str, str]
    ) -> PostgresBackend:
        url = environ.get(config.url_env, "")
        if not url:
            raise PersonactlError(
                f"{config.url_env} is not set: it holds the postgresql:// URL of the state of "
                f"environment {environment!r}; set it (in CI, from a secret)"
            )
        return cls(url, config.schema, environment, config.url_env)

    # -- connections --------------------------------------------------------------------

    def _conn(self, which: str) -> Any:
        conn = self._conns.get(which)
        if conn is not None and not conn.closed and not conn.broken:
            return conn
        psycopg = _psycopg()
        try:
            conn = psycopg.connect(self.url, autocommit=True, connect_timeout=10)
        except psycopg.Error as exc:
            raise PersonactlError(
                f"cannot connect to {self.display} ({self._where()}): {self._clean(exc)}"
            ) from None
        self._conns[which] = conn
        if not self._ready:
            self._migrate(conn)
            self._ready = True
        return conn

    def _where(self) -> str:
        return f"the URL in {self.url_env}" if self.url_env else redact(self.url)

    def _clean(self, exc: BaseException) -> str:
        """The driver's message, first line, without anything of the URL's password."""
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        try:
            password = _psycopg().conninfo.conninfo_to_dict(self.url).get("password")
        except Exception:
            password = None
        if password:
            text = text.replace(str(password), "***")
        return text.replace(self.url, redact(self.url))

    def _run(self, which: str, work: Any, *, again: bool = True) -> Any:
        """`work(connection)` inside one transaction, errors as one sentence. A connection
        lost before or during it (a restart, a pooler, a network blip) is opened again and
        the transaction run once more when `again` (it is idempotent): the lock, being a
        row, is still this run's."""
        psycopg = _psycopg()
        with self._mutexes[which]:
            for attempt in (1, 2):
                conn = self._conn(which)
                try:
                    with conn.transaction():
                        return work(conn)
                except psycopg.OperationalError as exc:
                    if attempt == 1 and again and (conn.closed or conn.broken):
                        continue
                    raise PersonactlError(f"{self.display}: {self._clean(exc)}") from None
                except psycopg.Error as exc:
                    raise PersonactlError(f"{self.display}: {self._clean(exc)}") from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _sql(self, text: str) -> Any:
        psycopg = _psycopg()
        return psycopg.sql.SQL(text).format(s=psycopg.sql.Identifier(self.schema))

    def _migrate(self, conn: Any) -> None:
        psycopg = _psycopg()
        try:
            with conn.transaction():
                conn.execute(
                    "SELECT pg_advisory_xact_lock(hashtext(%s))", (f"personactl:{self.schema}",)
                )
                conn.execute(self._sql("CREATE SCHEMA IF NOT EXISTS {s}"))
                conn.execute(
                    self._sql(
                        "CREATE TABLE IF NOT EXISTS {s}.meta (key text PRIMARY KEY, value text)"
                    )
                )
                row = conn.execute(
                    self._sql("SELECT value FROM {s}.meta WHERE key = 'schema_version'")
                ).fetchone()
                current = int(row[0]) if row else 0
                if current > len(MIGRATIONS):
                    raise PersonactlError(
                        f"{self.display} uses tables of schema version {current}, made by a "
                        f"newer personactl (this one knows up to {len(MIGRATIONS)}); upgrade "
                        "personactl"
                    )
                for number in range(current, len(MIGRATIONS)):
                    conn.execute(self._sql(MIGRATIONS[number]))
                if current < len(MIGRATIONS):
                    conn.execute(
                        self._sql(
                            "INSERT INTO {s}.meta VALUES ('schema_version', %s) ON CONFLICT "
                            "(key) DO UPDATE SET value = excluded.value"
                        ),
                        (str(len(MIGRATIONS)),),
                    )
        except psycopg.Error as exc:
            raise PersonactlError(
                f"cannot set up the tables of {self.display}: {self._clean(exc)}"
            ) from None

    # -- reading ------------------------------------------------------------------------

    def read(self) -> Snapshot:
        def work(conn: Any) -> Snapshot:
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            row = conn.execute(
                self._sql(
                    "SELECT document FROM {s}.versions WHERE environment = %s "
                    "ORDER BY serial DESC LIMIT 1"
                ),
                (self.environment,),
            ).fetchone()
            records = conn.execute(
                self._sql("SELECT record FROM {s}.journal WHERE environment = %s ORDER BY seq"),
                (self.environment,),
            ).fetchall()
            journal = "".join(r[0] + "\n" for r in records) if records else None
            return Snapshot(row[0] if row else None, journal)

        result: Snapshot = self._run("data", work)
        return result

    def history(self) -> list[Version]:
        rows = self._run(
            "data",
            lambda conn: conn.execute(
                self._sql(
                    "SELECT serial, written_at, who, operation, resources, changes "
                    "FROM {s}.versions WHERE environment = %s ORDER BY serial"
                ),
                (self.environment,),
            ).fetchall(),
        )
        return [Version(int(r[0]), iso(r[1]), r[2], r[3], r[4], r[5]) for r in rows]

    def document_at(self, serial: int) -> str | None:
        row = self._run(
            "data",
            lambda conn: conn.execute(
                self._sql(
                    "SELECT document FROM {s}.versions WHERE environment = %s AND serial = %s"
                ),
                (self.environment, serial),
            ).fetchone(),
        )
        return str(row[0]) if row else None

    # -- the lock -----------------------------------------------------------------------

    def lock(self, info: LockInfo, lease: float) -> LockInfo | None:
        def work(conn: Any) -> tuple[bool, LockInfo | None]:
            taken = conn.execute(
                self._sql(
                    "INSERT INTO {s}.locks VALUES (%s, %s, %s, "
                    "clock_timestamp() + make_interval(secs => %s)) "
                    "ON CONFLICT (environment) DO NOTHING RETURNING id"
                ),
                (self.environment, info.id, json.dumps(info.to_json()), lease),
            ).fetchone()
            if taken:
                return True, None
            row = conn.execute(
                self._sql(
                    "SELECT info, expires <= clock_timestamp() FROM {s}.locks "
                    "WHERE environment = %s FOR UPDATE"
                ),
                (self.environment,),
            ).fetchone()
            if row is None:
                return False, None  # released in between: try again
            holder = LockInfo.from_json(row[0])
            if holder is not None and holder.id == info.id:
                return True, None  # ours: a retry after the answer to the insert was lost
            if not row[1]:
                raise Held(holder)
            conn.execute(
                self._sql(
                    "UPDATE {s}.locks SET id = %s, info = %s, "
                    "expires = clock_timestamp() + make_interval(secs => %s) "
                    "WHERE environment = %s"
                ),
                (info.id, json.dumps(info.to_json()), lease, self.environment),
            )
            return True, holder

        for _ in range(5):
            done, previous = self._run("lock", work)
            previous = cast(LockInfo | None, previous)
            if done:
                self._holding = info
                return previous
        raise Held(None)

    def renew(self, info: LockInfo, lease: float) -> None:
        renewed = info.renewed(lease)
        count = self._run(
            "lock",
            lambda conn: (
                conn.execute(
                    self._sql(
                        "UPDATE {s}.locks SET info = %s, "
                        "expires = clock_timestamp() + make_interval(secs => %s) "
                        "WHERE environment = %s AND id = %s"
                    ),
                    (json.dumps(renewed.to_json()), lease, self.environment, info.id),
                ).rowcount
            ),
        )
        if not count:
            raise self._lost(info)

    def _lost(self, info: LockInfo) -> LockLost:
        return LockLost.of(info, self.display)

    def unlock(self, info: LockInfo) -> None:
        self._holding = None
        self._run(
            "lock",
            lambda conn: conn.execute(
                self._sql("DELETE FROM {s}.locks WHERE environment = %s AND id = %s"),
                (self.environment, info.id),
            ),
        )

    def force_unlock(self, lock_id: str) -> LockInfo:
        def work(conn: Any) -> tuple[Any, Any]:
            gone = conn.execute(
                self._sql(
                    "DELETE FROM {s}.locks WHERE environment = %s AND id = %s RETURNING info"
                ),
                (self.environment, lock_id),
            ).fetchone()
            now_held = conn.execute(
                self._sql("SELECT info FROM {s}.locks WHERE environment = %s"),
                (self.environment,),
            ).fetchone()
            return gone, now_held

        gone, held = self._run("lock", work)
        if gone is None:
            holder = LockInfo.from_json(held[0]) if held else None
            raise PersonactlError(
                f"no lock {lock_id} on {self.display}"
                + (
                    f": it is locked by {holder.describe()}, lock id {holder.id}"
                    if holder
                    else ": it is not locked"
                )
            )
        found = LockInfo.from_json(gone[0])
        return found or LockInfo(lock_id, "someone", "", "")

    # -- writing ------------------------------------------------------------------------

    def _fence(self, conn: Any) -> None:
        """In the writing transaction: this run still holds the lock."""
        info = self._holding
        row = (
            conn.execute(
                self._sql("SELECT 1 FROM {s}.locks WHERE environment = %s AND id = %s FOR SHARE"),
                (self.environment, info.id),
            ).fetchone()
            if info
            else None
        )
        if row is None:
            raise (
                self._lost(info)
                if info
                else PersonactlError(f"{self.display} is written only under its lock")
            )

    def append(self, records: list[str]) -> None:
        def work(conn: Any) -> None:
            self._fence(conn)
            with conn.cursor() as cur:
                cur.executemany(
                    self._sql("INSERT INTO {s}.journal (environment, record) VALUES (%s, %s)"),
                    [(self.environment, r) for r in records],
                )

        self._run("data", work)

    def write(self, document: str, version: Version) -> None:
        lineage = json.loads(document).get("lineage") or ""

        def work(conn: Any) -> None:
            self._fence(conn)
            conn.execute(
                self._sql(
                    "INSERT INTO {s}.versions (environment, serial, lineage, document, who, "
                    "operation, resources, changes) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
                ),
                (
                    self.environment,
                    version.serial,
                    lineage,
                    document,
                    version.who,
                    version.operation,
                    version.resources,
                    version.changes,
                ),
            )
            conn.execute(
                self._sql("DELETE FROM {s}.journal WHERE environment = %s"), (self.environment,)
            )

        self._run("data", work, again=False)

    def close(self) -> None:
        for conn in self._conns.values():
            conn.close()
        self._conns.clear()
