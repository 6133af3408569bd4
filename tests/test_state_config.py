"""The `state:` setting (a path, or a backend object) in personactl.yaml: validation,
what a missing driver, variable or credential says, the PostgreSQL tables' migrations,
and that locks of different schemas or environments never block each other."""

from __future__ import annotations

import shutil
import sys
import textwrap
import threading
from pathlib import Path

import psycopg
import pytest
from cli_support import EXAMPLE, run_cli
from state_servers import HttpStateServer

from personactl.backends import StateLocked
from personactl.backends.http import HttpBackend
from personactl.backends.postgres import MIGRATIONS, PostgresBackend
from personactl.core.errors import PersonactlError
from personactl.core.records import StateEntry
from personactl.engine.state import StateStore, read_state
from personactl.manifest.model import StateConfig

PROJECT = """\
apiVersion: personactl/v1
kind: Project
metadata:
  name: teams
spec:
  environments:
    production:
      backend: anam
      state:
{state}
"""


def entry(name: str) -> StateEntry:
    return StateEntry("Persona", name, name, f"id-{name}", {"name": name}, {"name": name})


def project(tmp_path: Path, state: str) -> Path:
    body = textwrap.indent(textwrap.dedent(state).strip("\n"), " " * 8)
    (tmp_path / "personactl.yaml").write_text(PROJECT.format(state=body))
    (tmp_path / "tools").mkdir()
    shutil.copy(EXAMPLE / "tools" / "system.yaml", tmp_path / "tools")
    return tmp_path


def test_the_issue_configurations_validate(tmp_path: Path) -> None:
    root = project(
        tmp_path,
        """
        backend: postgres
        urlEnv: PERSONACTL_STATE_URL
        schema: personactl
        """,
    )
    text = (root / "personactl.yaml").read_text()
    text += textwrap.indent(
        textwrap.dedent("""\
        staging:
          backend: anam
          state:
            backend: http
            address: https://gitlab.example.com/api/v4/projects/42/terraform/state/p
            lockAddress: https://gitlab.example.com/api/v4/projects/42/terraform/state/p/lock
            unlockAddress: https://gitlab.example.com/api/v4/projects/42/terraform/state/p/lock
            lockMethod: POST
            unlockMethod: DELETE
            usernameEnv: GITLAB_USER
            passwordEnv: GITLAB_TOKEN
        sandbox:
          backend: sandbox
          state: .personactl/dev.json
        """),
        "    ",
    )
    (root / "personactl.yaml").write_text(text)
    r = run_cli(["validate"], root)
    assert (r.code, r.err) == (0, ""), r.err


@pytest.mark.parametrize(
    ("state", "message"),
    [
        (
            "backend: postgress\nurlEnv: DB",
            "personactl.yaml:10:18: spec.environments.production.state.backend: 'postgress' "
            "is not one of file, postgres, http",
        ),
        (
            "backend: http\nlockMethod: POST",
            "personactl.yaml:10:9: spec.environments.production.state: missing required "
            "field 'address'",
        ),
        (
            "backend: postgres\nurl: postgresql://u:pw@db/x",
            "personactl.yaml:11:9: spec.environments.production.state: unknown field 'url' "
            "(allowed: backend, schema, urlEnv)",
        ),
        (
            "backend: http\naddress: ftp://x\n",
            "personactl.yaml:11:18: spec.environments.production.state.address: 'ftp://x' "
            "is not an http:// or https:// URL",
        ),
    ],
)
def test_a_wrong_state_setting_is_one_sentence_at_its_line(
    tmp_path: Path, state: str, message: str
) -> None:
    r = run_cli(["validate"], project(tmp_path, state))
    assert r.code == 1
    assert message in r.out + r.err, r.out + r.err
    assert "pw" not in r.out + r.err


def test_without_the_driver_a_postgres_state_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = project(tmp_path, "backend: postgres\nurlEnv: DB_URL")
    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if not installed
    r = run_cli(["state", "list", "-e", "production"], root, {"DB_URL": "postgresql:///x"})
    assert (r.code, r.err) == (
        1,
        "error: a postgres state needs the PostgreSQL driver: pip install 'personactl[postgres]'\n",
    )


def test_an_unset_url_variable_is_named(tmp_path: Path) -> None:
    r = run_cli(["state", "list", "-e", "production"], project(tmp_path, "backend: postgres"))
    assert (r.code, r.err) == (
        1,
        "error: PERSONACTL_STATE_URL is not set: it holds the postgresql:// URL of the state "
        "of environment 'production'; set it (in CI, from a secret)\n",
    )


def test_credentials_never_appear_in_messages(tmp_path: Path) -> None:
    url = f"postgresql://app:pg-pass-123@/x?host={tmp_path}/nowhere"
    with pytest.raises(PersonactlError) as pg:
        PostgresBackend(url, "personactl", "prod", "DB_URL").read()
    assert pg.value.message.startswith(
        "cannot connect to PostgreSQL state personactl.prod (the URL in DB_URL): "
    )
    assert "pg-pass-123" not in pg.value.message
    with HttpStateServer(gitlab=True) as server:
        config = StateConfig(
            backend="http",
            address=f"http://me:url-pass-9@{server.url.removeprefix('http://')}/state/x?k=v",
            username_env="U",
            password_env="P",
        )
        backend = HttpBackend.from_config(config, "prod", {"U": "ci", "P": "wrong-token-77"})
        assert backend.display == f"HTTP state http://***@{server.url[7:]}/state/x?k=***"
        with pytest.raises(PersonactlError) as http:
            backend.read()
    assert http.value.message == (
        f"{backend.display} refused the credentials (HTTP 401 to GET); check U/P"
    )
    for secret in ("url-pass-9", "wrong-token-77"):
        assert secret not in http.value.message


def _tables(url: str, schema: str) -> list[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
            (schema,),
        ).fetchall()
    return sorted(r[0] for r in rows)


def test_tables_are_created_on_first_use_once_even_by_two_at_once(pg_url: str) -> None:
    assert _tables(pg_url, "fresh") == []
    errors: list[BaseException] = []

    def first_use() -> None:
        try:
            PostgresBackend(pg_url, "fresh", "prod").read()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=first_use) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert _tables(pg_url, "fresh") == ["journal", "locks", "meta", "versions"]
    with psycopg.connect(pg_url) as conn:
        version = conn.execute("SELECT value FROM fresh.meta").fetchone()
        assert version == (str(len(MIGRATIONS)),)
        conn.execute("UPDATE fresh.meta SET value = '99'")
    with pytest.raises(PersonactlError) as newer:
        PostgresBackend(pg_url, "fresh", "prod").read()
    assert newer.value.message == (
        "cannot set up the tables of PostgreSQL state fresh.prod: PostgreSQL state fresh.prod "
        f"uses tables of schema version 99, made by a newer personactl (this one knows up to "
        f"{len(MIGRATIONS)}); upgrade personactl"
    ) or newer.value.message == (
        "PostgreSQL state fresh.prod uses tables of schema version 99, made by a newer "
        f"personactl (this one knows up to {len(MIGRATIONS)}); upgrade personactl"
    )


def test_locks_of_other_schemas_or_environments_never_block(pg_url: str) -> None:
    held = [
        StateStore(PostgresBackend(pg_url, schema, env), environment=env)
        for schema, env in [("team_a", "prod"), ("team_a", "staging"), ("team_b", "prod")]
    ]
    try:
        for store in held:
            store.lock()
        with pytest.raises(StateLocked):
            StateStore(PostgresBackend(pg_url, "team_a", "prod"), environment="prod").lock()
    finally:
        for store in held:
            store.unlock()
            store.close()


def test_a_lost_connection_keeps_the_lock_and_the_run_goes_on(pg_url: str) -> None:
    """Why the lock is a row: a session advisory lock would die with the connection."""
    backend = PostgresBackend(pg_url, "blip", "prod")
    with StateStore(backend, environment="prod") as store:
        store.record(entry("cara"))
        pids = [conn.info.backend_pid for conn in backend._conns.values()]
        with psycopg.connect(pg_url, autocommit=True) as admin:
            for pid in pids:  # a restart, a pooler, a network blip
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        with pytest.raises(StateLocked):  # still held: by the row, not by a session
            StateStore(PostgresBackend(pg_url, "blip", "prod"), environment="prod").lock()
        store.record(entry("lea"))  # on a new connection
    state = read_state(PostgresBackend(pg_url, "blip", "prod"), "prod")
    assert state is not None and [e.name for e in state.resources] == ["cara", "lea"]
