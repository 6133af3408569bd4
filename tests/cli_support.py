"""Run the real CLI, in a subprocess or in-process, and write projects for tests."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "acme-personas"


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def lines(self) -> list[str]:
        return self.out.splitlines()


def run_cli(args: list[str], cwd: Path, env: dict[str, str] | None = None, **kw: object) -> Result:
    """Run `python -m personactl ARGS` as a separate process, as a user would."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("ACME_")}
    full_env.update(env or {})
    full_env.setdefault("NO_COLOR", "1")
    proc = subprocess.run(
        [sys.executable, "-m", "personactl", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
        **kw,  # type: ignore[arg-type]
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def run_inprocess(args: list[str], cwd: Path) -> Result:
    """The same entry point in this process: for property tests that run it hundreds of times."""
    from personactl.cli import main

    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.chdir(cwd), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(args)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    return Result(code, out.getvalue(), err.getvalue())


WriteFiles = Callable[[dict[str, str | bytes]], Path]
