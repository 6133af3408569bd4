"""Fixtures shared by the CLI tests (helpers live in cli_support.py)."""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from cli_support import EXAMPLE, Result, WriteFiles, run_cli
from e2e_support import Emulator, make_project, pc


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


@pytest.fixture
def applied(project: Path, emu: Emulator) -> Path:
    """The project, applied once; the emulator's request log then starts empty."""
    r = pc(project, "apply", "--auto-approve")
    assert r.code == 0, r.err
    emu.reset_log()
    return project
