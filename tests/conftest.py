"""Fixtures shared by the CLI tests (helpers live in cli_support.py)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
from cli_support import EXAMPLE, EXAMPLE_LLM_KEY, REPO, Result, WriteFiles, run_cli
from e2e_support import Emulator, emulator, make_project, pc
from state_servers import pg_url  # noqa: F401  (the state tests' PostgreSQL, per session)

from personactl.emulator.settings import EmulatorSettings


@pytest.fixture(autouse=True)
def _example_llm_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """The example's LLM key for the tests that run personactl with os.environ as it is
    (cli_support.cli_environment sets it for the others)."""
    monkeypatch.setenv("ACME_LLM_KEY", EXAMPLE_LLM_KEY)


# A lineage salts the secrets' sentinels (scrypt, ~0.25 s per secret per process): with
# a fresh uuid4 for every state, each in-process plan of a new project paid that for
# both of the example's secrets, a third of the suite's time. Here the n-th state a test
# creates in this process gets the session's n-th lineage (uuid4s drawn once), so the
# hashes are computed once per session (core.secrets caches them per process). Within
# a test every new state still gets a lineage of its own, so a lineage regenerated
# where it must be kept, or one state's sentinels taken for another's, still fails.
_LINEAGES: list[str] = []


@pytest.fixture(autouse=True)
def _session_lineages(monkeypatch: pytest.MonkeyPatch) -> None:
    import personactl.engine.state
    import personactl.usecases.plan

    made = 0

    def new_lineage() -> str:
        nonlocal made
        if made == len(_LINEAGES):
            _LINEAGES.append(str(uuid.uuid4()))
        made += 1
        return _LINEAGES[made - 1]

    monkeypatch.setattr(personactl.engine.state, "new_lineage", new_lineage)
    monkeypatch.setattr(personactl.usecases.plan, "new_lineage", new_lineage)


@pytest.fixture
def cli() -> Callable[..., Result]:
    return run_cli


@pytest.fixture
def write(tmp_path: Path) -> WriteFiles:
    """Write {relative path: content} under a fresh project directory; returns it."""

    def _write(files: dict[str, str | bytes]) -> Path:
        for rel, content in files.items():
            path = tmp_path / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(textwrap.dedent(content).lstrip("\n"), encoding="utf-8")
        return tmp_path

    return _write


@pytest.fixture
def example(tmp_path: Path) -> Path:
    """A private copy of the example project."""
    dest = tmp_path / "acme-personas"
    shutil.copytree(EXAMPLE, dest, ignore=shutil.ignore_patterns(".personactl"))
    # The examples' schema modelines point into the repo; keep the same depth.
    return dest


# -- end to end: a project pointed at an emulator ------------------------------------
# Each e2e module defines its own `emu` fixture (one or both response modes).


@pytest.fixture
def project(emu: Emulator, tmp_path: Path) -> Path:
    """A copy of the example project with an environment `emu` pointed at the emulator."""
    return make_project(tmp_path / "proj", emu.url)


class AppliedTemplates:
    """The example project applied once per emulator settings, for tests to copy.

    A copy (the emulator's data directory and the project's `.personactl/`) is
    what a fresh apply would leave: the same personas and tools under the same
    ids, and a state file that names them.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.made: dict[str, tuple[Path, Path]] = {}

    def apply_to(self, project: Path, emu: Emulator) -> None:
        """Make `project` and `emu` (no request in flight) a copy of the applied template."""
        data, state = self._template(emu.app.settings)
        copy = emu.data_dir / "applied"  # where tests look for the emulator's files
        shutil.copytree(data, copy)
        emu.serve(copy)
        shutil.copytree(state, project / ".personactl")

    def _template(self, settings: EmulatorSettings) -> tuple[Path, Path]:
        key = repr(settings)
        if key not in self.made:
            base = self.root / str(len(self.made))
            options = {f.name: getattr(settings, f.name) for f in fields(settings)}
            del options["api_key"]  # emulator() sets it
            with emulator(base / "data", **options) as emu:
                project = make_project(base / "proj", emu.url)
                r = pc(project, "apply", "--auto-approve")
                assert r.code == 0, r.err
            self.made[key] = (base / "data", project / ".personactl")
        return self.made[key]


@pytest.fixture(scope="session")
def applied_templates(tmp_path_factory: pytest.TempPathFactory) -> AppliedTemplates:
    return AppliedTemplates(tmp_path_factory.mktemp("applied-templates"))


@pytest.fixture
def applied(project: Path, emu: Emulator, applied_templates: AppliedTemplates) -> Path:
    """The project, applied once; the emulator's request log then starts empty."""
    applied_templates.apply_to(project, emu)
    emu.reset_log()
    return project


# -- the soak, beside the rest -----------------------------------------------------------

# The state in PostgreSQL: the soak's one run against that backend (a file without it).
SOAK = [sys.executable, str(REPO / "benchmarks" / "soak.py"), "--quick", "--state", "postgres"]
_SOAK_RUN = pytest.StashKey[subprocess.Popen[str]]()


def _start_soak() -> subprocess.Popen[str]:
    return subprocess.Popen(
        SOAK, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _xdist_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Under pytest-xdist (pyproject's addopts: two workers, a file per worker at a time)
    # the soak's file comes first: the worker that takes it starts the soak at once and
    # waits for it while the other worker runs the rest (every worker sorts alike).
    if _xdist_worker(config):
        items.sort(key=lambda item: item.path.name != "test_soak.py")


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """A file per worker at a time (`--dist loadfile`), tests/emulator/ as one unit: its
    last file checks the contract coverage of all the others, in the same process."""
    from xdist.scheduler import LoadFileScheduling

    class Scheduling(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            scope: str = super()._split_scope(nodeid)
            return "tests/emulator" if scope.startswith("tests/emulator/") else scope

    return Scheduling(config, log)


def pytest_collection_finish(session: pytest.Session) -> None:
    # The soak is its own process: started with the session when it is selected, its
    # ~15 s overlap the in-process tests, which leave the second core idle. Under
    # xdist each worker collects every test: the one that runs test_soak starts it.
    if session.config.option.collectonly or _xdist_worker(session.config):
        return
    if any(item.path.name == "test_soak.py" for item in session.items):
        session.config.stash[_SOAK_RUN] = _start_soak()


def pytest_sessionfinish(session: pytest.Session) -> None:
    proc = session.config.stash.get(_SOAK_RUN, None)
    if proc is not None and proc.poll() is None:  # the session stopped before test_soak
        proc.kill()
        proc.communicate()


@pytest.fixture
def soak_run(request: pytest.FixtureRequest) -> subprocess.Popen[str]:
    """`benchmarks/soak.py --quick`, started when the session's tests were collected."""
    return request.config.stash.get(_SOAK_RUN, None) or _start_soak()
