"""Run the real CLI, in this process or in a subprocess, and write projects for tests."""

from __future__ import annotations

import contextlib
import io
import os
import ssl
import subprocess as sp
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


EXAMPLE_LLM_KEY = "llm-key-for-tests-3e1d"


def cli_environment(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The variables personactl runs with: ours less the example's secrets, plus `env`."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("ACME_")}
    # The key of the example's LLM (llms/acme-gateway.yaml), as CI would provide it: the
    # tests of a missing secret are about ACME_ORDERS_TOKEN (test_llm_kind uses its own).
    full["ACME_LLM_KEY"] = EXAMPLE_LLM_KEY
    full.update(env or {})
    full.setdefault("NO_COLOR", "1")
    # No test speaks TLS, yet httpx builds two TLS contexts for every client, each
    # parsing a whole CA bundle (SSL_CERT_FILE's or certifi's): 60% of the CPU of a
    # plan run in-process. A CA directory is read a certificate at a time, when needed.
    full.pop("SSL_CERT_FILE", None)
    full.setdefault("SSL_CERT_DIR", ssl.get_default_verify_paths().capath or "/etc/ssl/certs")
    return full


def run_cli(
    args: list[str],
    cwd: Path,
    env: Mapping[str, str] | None = None,
    *,
    subprocess: bool = False,
    **kw: Any,
) -> Result:
    """Run `personactl ARGS` in `cwd` with `cli_environment(env)`, as a user would.

    In this process by default: the same entry point, with its own environment,
    working directory, stdin and stdout/stderr, restored afterwards. A
    subprocess (`subprocess=True`) where only a real process proves the point:
    the entry point, signals, a lock between processes, resource limits
    (`preexec_fn=`); `kw` goes to `subprocess.run` then.
    """
    full_env = cli_environment(env)
    if subprocess:
        proc = sp.run(
            [sys.executable, "-m", "personactl", *args],
            cwd=cwd,
            env=full_env,
            capture_output=True,
            text=True,
            timeout=120,
            **kw,
        )
        return Result(proc.returncode, proc.stdout, proc.stderr)
    stdin = kw.pop("stdin", sp.DEVNULL)
    if kw or stdin != sp.DEVNULL:
        raise TypeError(f"in-process runs take no {sorted(kw) or ['stdin']}: pass subprocess=True")
    # A subprocess whose stdout is a pipe sizes click's help for 80 columns.
    full_env.setdefault("COLUMNS", "80")
    return run_inprocess(args, cwd, env=full_env)


def spawn(
    args: list[str], cwd: Path, env: Mapping[str, str] | None = None, **kw: Any
) -> sp.Popen[str]:
    """`python -m personactl ARGS` started in a separate process and not waited for
    (stdin closed, text output): for tests that signal it, kill it or run it beside
    another. `kw` goes to `subprocess.Popen` (stdout=, stderr=)."""
    return sp.Popen(
        [sys.executable, "-m", "personactl", *args],
        cwd=cwd,
        env=cli_environment(env),
        stdin=sp.DEVNULL,
        text=True,
        **kw,
    )


@contextlib.contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    """os.environ is exactly `values` inside, and what it was before afterwards."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def run_inprocess(args: list[str], cwd: Path, env: Mapping[str, str] | None = None) -> Result:
    """The same entry point in this process, stdin empty and not a terminal (as in CI);
    `env` replaces os.environ for the run when given."""
    from personactl.cli import main

    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.ExitStack() as stack:
        if env is not None:
            stack.enter_context(environment(env))
        stack.enter_context(contextlib.chdir(cwd))
        stack.enter_context(_stdin(io.StringIO()))
        stack.enter_context(contextlib.redirect_stdout(out))
        stack.enter_context(contextlib.redirect_stderr(err))
        try:
            main(args)
        except SystemExit as exc:
            code = _exit_code(exc, err)
    return Result(code, out.getvalue(), err.getvalue())


@contextlib.contextmanager
def _stdin(stream: io.StringIO) -> Iterator[None]:
    saved = sys.stdin
    sys.stdin = stream
    try:
        yield
    finally:
        sys.stdin = saved


def _exit_code(exc: SystemExit, err: io.StringIO) -> int:
    """What the interpreter would exit with: None is 0, any other non-int is printed, 1."""
    if exc.code is None or isinstance(exc.code, int):
        return exc.code or 0
    print(exc.code, file=err)
    return 1


WriteFiles = Callable[[dict[str, str | bytes]], Path]
