"""The harness: personactl run in this process behaves as the same run in a subprocess,
and leaves this process as it found it."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from cli_support import WriteFiles, run_cli

BAD_PERSONA = """
apiVersion: personactl/v1
kind: Persona
metadata:
  name: p
spec:
  languageCode: english
"""


@pytest.mark.parametrize(
    ("args", "project"),
    [
        (["validate"], "example"),
        (["validate", "personas/p.yaml"], "broken"),
        (["render", "-o", "json"], "example"),
        (["--help"], "example"),
        (["nonsense"], "example"),
    ],
    ids=["validate", "validate-error", "render", "help", "usage-error"],
)
def test_in_process_and_subprocess_runs_agree(
    example: Path, write: WriteFiles, args: list[str], project: str
) -> None:
    root = example if project == "example" else write({"personas/p.yaml": BAD_PERSONA})
    env = {"ACME_ORDERS_TOKEN": "token-for-the-harness"}
    inside = run_cli(args, root, env)
    outside = run_cli(args, root, env, subprocess=True)
    assert (inside.code, inside.out, inside.err) == (outside.code, outside.out, outside.err)
    assert inside.code == (1 if project == "broken" or args == ["nonsense"] else 0)


def test_an_in_process_run_leaves_this_process_as_it_was(example: Path, tmp_path: Path) -> None:
    cwd, environ = os.getcwd(), dict(os.environ)
    streams = (sys.stdin, sys.stdout, sys.stderr)
    os.environ["ACME_ORDERS_TOKEN"] = "from-the-parent"
    try:
        # -C changes directory; the variable is set for the run only; ACME_* are not inherited.
        r = run_cli(["-C", str(example), "render", "-o", "json"], tmp_path, {"NO_COLOR": "1"})
        assert r.code == 1
        assert r.err.startswith("error: ") and "ACME_ORDERS_TOKEN" in r.err, r.err
        assert os.environ["ACME_ORDERS_TOKEN"] == "from-the-parent"
    finally:
        del os.environ["ACME_ORDERS_TOKEN"]
    assert os.getcwd() == cwd
    assert dict(os.environ) == environ
    assert (sys.stdin, sys.stdout, sys.stderr) == streams


def test_options_only_a_process_has_need_subprocess_true(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match=r"in-process runs take no \['preexec_fn'\]"):
        run_cli(["validate"], tmp_path, preexec_fn=lambda: None)
