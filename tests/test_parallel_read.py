"""A large project's manifests are parsed on several processes (parallel_read.py), with
exactly the results, errors and order of reading them one by one."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from personactl.manifest.parallel_read import MIN_SHARE
from tests.cli_support import run_cli

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="forks only on Linux")

TOOL = """\
apiVersion: personactl/v1
kind: Tool
metadata:
  name: tool-{i:04d}
spec:
  type: CLIENT
  description: Tool {i}
"""


def _project(root: Path, files: int) -> Path:
    (root / "tools").mkdir(parents=True)
    (root / "personactl.yaml").write_text(
        "apiVersion: personactl/v1\nkind: Project\nmetadata: {name: big}\nspec: {}\n"
    )
    for i in range(files):
        (root / "tools" / f"tool-{i:04d}.yaml").write_text(TOOL.format(i=i))
    return root


def test_validate_reads_in_two_processes_and_reports_exactly_what_one_process_does(
    tmp_path: Path,
) -> None:
    root = _project(tmp_path / "p", 2 * MIN_SHARE)
    # Errors in both halves: the first process's share and the forked child's.
    (root / "tools" / "tool-0003.yaml").write_text(TOOL.format(i=3).replace("CLIENT", "NOPE"))
    (root / "tools" / "tool-0790.yaml").write_text("kind: Tool\nmetadata: {name: [x}\n")
    # A duplicate across the shares: reported where a serial read reports it.
    (root / "tools" / "tool-0791.yaml").write_text(TOOL.format(i=5))
    one = run_cli(["validate"], root, env={"PERSONACTL_READ_PROCESSES": "1"}, subprocess=True)
    two = run_cli(["validate"], root, env={"PERSONACTL_READ_PROCESSES": "2"}, subprocess=True)
    assert (two.code, two.out, two.err) == (one.code, one.out, one.err)
    lines = one.out.splitlines()
    assert one.code == 1 and lines[-1] == "3 errors in 3 files"
    assert lines[0].startswith("tools/tool-0003.yaml:6:9: spec.type: 'NOPE' is not one of")
    assert lines[1].startswith("tools/tool-0790.yaml:2:20: invalid YAML: did not find")
    assert lines[2] == (
        "tools/tool-0791.yaml:4:9: duplicate Tool 'tool-0005': also defined at "
        "tools/tool-0005.yaml:4:9; metadata.name must be unique per kind"
    )


SCRIPT = """
import os, sys
from pathlib import Path
from personactl.manifest import parallel_read as pr

forks = []
real_fork = os.fork
def counting_fork():
    pid = real_fork()
    if pid:
        forks.append(pid)
    return pid
os.fork = counting_fork
paths = [Path(f"f{i}") for i in range(2 * pr.MIN_SHARE)]
mode = sys.argv[1]

def read(p):
    n = int(p.name[1:])
    if mode == "unpicklable" and n >= pr.MIN_SHARE and os.getpid() != PARENT:
        return lambda: n  # the child cannot send this: the parent reads its share
    if mode == "interrupt" and n == 10 and os.getpid() == PARENT:
        raise KeyboardInterrupt
    return (n, str(p))

PARENT = os.getpid()
try:
    got = pr.read_all(paths, read)
    assert got == [(i, f"f{i}") for i in range(len(paths))], got[:3]
    print("same", len(forks))
except KeyboardInterrupt:
    try:
        os.waitpid(-1, os.WNOHANG)
        print("a child is left")
    except ChildProcessError:
        print("no child left", len(forks))
"""


@pytest.mark.parametrize(
    ("mode", "said"),
    [
        ("plain", "same 1"),
        ("unpicklable", "same 1"),  # the child failed: its share is read here
        ("interrupt", "no child left 1"),  # Ctrl-C in the parent kills and reaps the child
    ],
)
def test_read_all_gives_the_serial_results_and_leaves_no_child(mode: str, said: str) -> None:
    env = {"PERSONACTL_READ_PROCESSES": "2", "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(SCRIPT), mode],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=60,
    )
    assert proc.stdout.strip() == said, proc.stderr
