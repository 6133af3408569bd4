"""`validate FILE` in a big project: the index of the other files' names, never stale.

Each case is checked twice: with the index (the project is "big": MIN_FILES is
lowered, and files are trusted to the index at once) and with a whole load, which
must print exactly the same.
"""

from __future__ import annotations

import json
import marshal
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cli_support import Result, WriteFiles, cli_environment, run_cli

from personactl.manifest import index, loader
from personactl.manifest.model import Project

PROJECT = """\
apiVersion: personactl/v1
kind: Project
metadata: {name: big}
spec:
  manifests: [personas/**/*.yaml, tools/*.yaml]
  environments: {sandbox: {backend: sandbox}}
"""
TOOL = "apiVersion: personactl/v1\nkind: Tool\nmetadata: {{name: {name}}}\nspec: {{type: CLIENT}}\n"
PERSONA = """\
apiVersion: personactl/v1
kind: Persona
metadata:
  name: {name}
spec:
  prompt: {{text: You help people.}}
  tools: [{tools}]
"""


@pytest.fixture
def indexed(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(index, "MIN_FILES", 3)
    monkeypatch.setattr(index, "RACY_NS", 0)  # trust a file written a moment ago
    yield


def both(root: Path, *args: str) -> Result:
    """validate ARGS with the index, after checking that a whole load says the same."""
    fast = run_cli(["validate", *args], cwd=root)
    saved = index.MIN_FILES
    index.MIN_FILES = 10**9
    try:
        whole = run_cli(["validate", *args], cwd=root)
    finally:
        index.MIN_FILES = saved
    assert (fast.code, fast.out, fast.err) == (whole.code, whole.out, whole.err)
    return fast


def project(write: WriteFiles) -> Path:
    return write(
        {
            "personactl.yaml": PROJECT,
            "tools/alpha.yaml": TOOL.format(name="alpha"),
            "personas/a.yaml": PERSONA.format(name="ann", tools="alpha"),
            "personas/b.yaml": PERSONA.format(name="bob", tools="alpha, beta"),
            "personas/deep/c.yaml": PERSONA.format(name="cy", tools="alpha"),
        }
    )


def index_file(root: Path) -> Path:
    return root / ".personactl" / "cache" / "index"


def recorded(root: Path) -> tuple[Any, ...]:
    """The index as stored: (format, root, globs, entries, persona name -> file, the
    other files)."""
    sizes, rest = index_file(root).read_bytes().split(b"\n", 1)
    first, second = (int(n) for n in sizes.split())
    assert len(rest) == first + second
    return (*marshal.loads(rest[:first]), *marshal.loads(rest[first:]))


def stored(*parts: Any) -> bytes:
    """An index file of (format, root, globs, entries, persona name -> file, the other
    files), as written."""
    first, views = marshal.dumps(parts[:4]), marshal.dumps(parts[4:])
    return b"%d %d\n" % (len(first), len(views)) + first + views


def entries(root: Path) -> dict[str, list[str]]:
    """What the index records of each file: kind, name, document, line and column."""
    return {rel: entry.split("\t")[1:] for rel, entry in recorded(root)[3].items()}


def test_added_edited_renamed_and_removed_files_are_seen(write: WriteFiles, indexed: None) -> None:
    root = project(write)
    undefined = (
        "personas/b.yaml:7:18: tool 'beta' is not defined by any Tool manifest; "
        "name a Tool manifest or use {id: <tool id>}"
    )
    r = both(root, "personas/b.yaml")
    assert (r.code, r.lines) == (1, [undefined, "1 error in 1 file"])
    assert entries(root) == {
        "personas/a.yaml": ["Persona", "ann", "0", "4", "9"],
        "personas/b.yaml": ["Persona", "bob", "0", "4", "9"],
        "personas/deep/c.yaml": ["Persona", "cy", "0", "4", "9"],
        "tools/alpha.yaml": ["Tool", "alpha", "0", "3", "18"],
    }
    assert (root / ".personactl" / "cache" / ".gitignore").read_text().endswith("\n*\n")
    # Added: the tool is now defined.
    (root / "tools" / "beta.yaml").write_text(TOOL.format(name="beta"))
    assert both(root, "personas/b.yaml").lines == ["1 file checked: no errors"]
    # Edited, same size (so only the timestamps and the content differ).
    (root / "tools" / "beta.yaml").write_text(TOOL.format(name="bet4"))
    r = both(root, "personas/b.yaml")
    assert r.lines == [
        "personas/b.yaml:7:18: tool 'beta' is not defined by any Tool manifest (did you mean "
        "'bet4'?); name a Tool manifest or use {id: <tool id>}",
        "1 error in 1 file",
    ]
    # Renamed: found under its new path, and the old one is dropped from the index.
    (root / "tools" / "beta.yaml").write_text(TOOL.format(name="beta"))
    (root / "tools" / "beta.yaml").rename(root / "tools" / "zeta.yaml")
    assert both(root, "personas/b.yaml").lines == ["1 file checked: no errors"]
    assert "tools/beta.yaml" not in entries(root) and "tools/zeta.yaml" in entries(root)
    # Removed.
    (root / "tools" / "zeta.yaml").unlink()
    assert both(root, "personas/b.yaml").lines == [undefined, "1 error in 1 file"]
    assert "tools/zeta.yaml" not in entries(root)


def test_validating_one_file_then_another_leaves_the_index_as_it_was(
    write: WriteFiles, indexed: None
) -> None:
    root = project(write)
    both(root, "personas/a.yaml")
    path = index_file(root)
    data, mtime = path.read_bytes(), path.stat().st_mtime_ns
    for name in ("personas/b.yaml", "personas/deep/c.yaml", "personas/a.yaml"):
        both(root, name)
        assert (path.read_bytes(), path.stat().st_mtime_ns) == (data, mtime), name


def test_duplicates_in_unread_files_name_both_places(write: WriteFiles, indexed: None) -> None:
    root = project(write)
    assert both(root, "personas/a.yaml").code == 0  # the index now holds b and c
    (root / "personas" / "deep" / "c.yaml").write_text(PERSONA.format(name="ann", tools="alpha"))
    # a.yaml comes first, so a whole load calls c.yaml the duplicate; a check of a.yaml
    # alone still says so, at a.yaml (pre-commit must not pass a file that clashes).
    r = both(root, "personas/a.yaml")
    assert r.lines == [
        "personas/a.yaml:4:9: duplicate Persona 'ann': also defined at "
        "personas/deep/c.yaml:4:9; metadata.name must be unique per kind",
        "1 error in 1 file",
    ]
    r = both(root, "personas/deep/c.yaml")
    assert r.lines == [
        "personas/deep/c.yaml:4:9: duplicate Persona 'ann': also defined at "
        "personas/a.yaml:4:9; metadata.name must be unique per kind",
        "1 error in 1 file",
    ]
    r = both(root, "personas/b.yaml", "personas/deep/c.yaml", "-o", "json")
    assert [d["rule"] for d in json.loads(r.out)] == ["tool-reference", "duplicate-name"]


def test_a_broken_file_is_never_indexed_and_stays_the_root_cause(
    write: WriteFiles, indexed: None
) -> None:
    root = project(write)
    (root / "tools" / "beta.yaml").write_text(
        "apiVersion: personactl/v1\nkind: Tool\nmetadata: {name: beta}\nspec: [unclosed\n"
    )
    for _ in range(2):  # the second run would use the index, were the file in it
        r = both(root, "personas/b.yaml")
        assert r.code == 1 and r.lines[0].startswith("tools/beta.yaml:"), r.lines
        assert "tools/beta.yaml" not in entries(root)


def test_a_damaged_or_foreign_index_is_ignored_and_rebuilt(
    write: WriteFiles, indexed: None
) -> None:
    root = project(write)
    both(root, "personas/b.yaml")
    path = index_file(root)
    form, where, globs, good, personas, others = recorded(root)
    assert (personas, others) == (
        {"ann": "personas/a.yaml", "bob": "personas/b.yaml", "cy": "personas/deep/c.yaml"},
        ["tools/alpha.yaml"],
    )
    rest = (personas, others)
    for bad in (
        b"not marshal",
        stored(form, where, globs, good, *rest)[:-20],  # cut short
        stored(form, where, globs, good, *rest).split(b"\n", 1)[1],  # no sizes
        stored((99, *form[1:]), where, globs, good, *rest),  # another personactl
        stored((form[0], 2, 7), where, globs, good, *rest),  # another Python
        stored(form, "/elsewhere", globs, good, *rest),
        stored(form, where, [*globs, "more/*.yaml"], good, *rest),  # other globs
        stored(form, where, "personas/*.yaml", good, *rest),
        stored(form, where, globs, good, personas, "tools/alpha.yaml"),
        # an entry that claims tools/alpha.yaml declares 'beta', with a wrong stat key
        stored(form, where, globs, {"tools/alpha.yaml": "1:2:3:4\tTool\tbeta\t0\t1\t1"}, *rest),
        # the right stat key, but entries of the wrong shape
        stored(form, where, globs, {k: key(v) + "\tTool\tbeta" for k, v in good.items()}, *rest),
        stored(
            form,
            where,
            globs,
            {k: key(v) + "\tTool\tbeta\tx\t1\t1" for k, v in good.items()},
            *rest,
        ),
        stored(form, where, globs, {k: ["a", "list"] for k in good}, *rest),
        # views of the wrong type
        stored(form, where, globs, good, {"bob": ["a", "list"]}, [["x"], 1]),
    ):
        path.write_bytes(bad)
        assert both(root, "personas/b.yaml").code == 1  # 'beta' is still undefined
        # A damaged entry is never used, and dropped when the index is next written:
        # its file is read again then.
        both(root, "personas/b.yaml")
        assert recorded(root)[3:] == (good, personas, others)


def key(entry: str) -> str:
    return entry.split("\t")[0]


def test_files_changed_in_the_last_two_seconds_are_not_trusted(
    write: WriteFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(index, "MIN_FILES", 3)
    root = project(write)
    old = 1_600_000_000
    os.utime(root / "personas" / "a.yaml", (old, old))
    both(root, "personas/b.yaml")
    # ctime is always now: nothing written a moment ago is trusted yet.
    assert not index_file(root).exists()


def test_an_index_that_cannot_be_written_is_done_without(write: WriteFiles, indexed: None) -> None:
    root = project(write)
    (root / ".personactl").mkdir()
    (root / ".personactl" / "cache").write_text("a file where the folder would go")
    assert both(root, "personas/b.yaml").code == 1
    assert both(root, "personas/a.yaml").lines == ["1 file checked: no errors"]


def test_fast_glob_finds_what_pathlib_finds(tmp_path: Path) -> None:
    for rel in (
        "personas/a.yaml",
        "personas/.hidden/b.yaml",
        "personas/.c.yaml",
        "personas/x/y/z.yml",
        "personas/x/notes.txt",
        "personas/.personactl/state.yaml",
        "personas/a-b/c.yaml",
        "personas/a.b.yaml",
        "tools/t.yaml",
        "tools/sub/u.yaml",
        "personactl.yaml",
    ):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x: 1\n")
    (tmp_path / "personas" / "dir.yaml").mkdir()
    (tmp_path / "personas" / "link.yaml").symlink_to(tmp_path / "tools" / "t.yaml")
    (tmp_path / "personas" / "x" / "loop").symlink_to(tmp_path / "personas" / "x" / "y")
    for globs in (
        ["personas/**/*.yaml", "tools/*.yaml"],
        ["**/*.y*ml", "*.yaml"],
        ["personas/*", "tools/**/*.yaml", "personas/a.yaml"],
        ["personas/[a-b]*.yaml"],
        ["personas/x/**/*.yml", "personas/*/y/*.yml"],
        ["personas/*.yaml", "personas/**/?.yaml", "tools/**/[tu].yaml"],
    ):
        project = Project(tmp_path, None, globs, [], {}, {}, None)
        assert loader.glob_files(project) == loader._glob_files_pathlib(project), globs
    # Patterns whose meaning could differ are left to pathlib.
    for globs in (
        ["personas/**"],
        ["../x/*.yaml"],
        [str(tmp_path / "*.yaml")],
        ["**/x/**/*.yaml"],
        ["./personas/*.yaml"],
    ):
        assert loader.glob_stats(Project(tmp_path, None, globs, [], {}, {}, None)) is None


def test_plain_validate_imports_neither_click_jinja_nor_jsonschema(write: WriteFiles) -> None:
    root = project(write)
    code = (
        "import sys\nfrom personactl.cli import main\n"
        "try:\n    main(['validate', 'personas/a.yaml'])\nexcept SystemExit as e:\n"
        "    assert e.code == 0, e.code\n"
        "print(sorted({'click', 'jinja2', 'jsonschema', 'httpx'} & set(sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=root,
        env=cli_environment(),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.splitlines()[-1] == "[]"


@pytest.mark.parametrize(
    "args",
    [
        ["validate"],
        ["validate", "personas/b.yaml", "-o", "json"],
        ["validate", "-o=github", "--", "personas/b.yaml"],
        ["--no-color", "validate", "--env", "sandbox", "personas/b.yaml", "--debug"],
        ["validate", "-e", "nope", "personas/b.yaml"],
        ["validate", "personas/missing.yaml", "tools"],
        ["validate", "-o", "yaml"],
        ["validate", "--help"],
        ["-C", "nowhere", "validate"],
    ],
)
def test_the_fast_path_prints_what_click_prints(
    write: WriteFiles, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    import personactl.cli as cli

    root = project(write)
    (root / "sub").mkdir()
    fast = run_cli(args, cwd=root)
    dash_c = run_cli(["-C", "..", *args], cwd=root / "sub") if "-C" not in args else None
    monkeypatch.setattr(cli, "_validate_args", lambda _: None)
    slow = run_cli(args, cwd=root)
    assert (fast.code, fast.out, fast.err) == (slow.code, slow.out, slow.err)
    if dash_c is not None:
        slow_c = run_cli(["-C", "..", *args], cwd=root / "sub")
        assert (dash_c.code, dash_c.out, dash_c.err) == (slow_c.code, slow_c.out, slow_c.err)


# -- the prescan child (manifest/prescan.py) ---------------------------------------------
# It runs only in a process of its own (the console script), so these run real ones.

SURVEY = """\
import marshal, os, sys
from personactl.manifest import globbing, index, prescan
named = [os.path.abspath(p) for p in sys.argv[1:]]
prescan.start(sys.argv[1:])
root = os.getcwd()
rec = index.load(root)
globs = rec.globs
taken = prescan.take(root, globs, rec.stamp)
found = globbing.glob_stats(root, globs, "personactl.yaml")
serial = index.survey(root, rec, found, named)
same = lambda a, b: marshal.loads(a.dump()) == marshal.loads(b.dump())
print(taken is not None, taken is not None and same(taken, serial))
print(prescan.take(root, globs, rec.stamp))  # taken once
print(sorted(taken.stale), taken.count, taken.gone)
"""


def big_project(write: WriteFiles) -> Path:
    """The project with 60 more personas, aged past the index's two seconds of doubt
    and indexed."""
    root = project(write)
    for i in range(60):
        (root / "personas" / f"p{i:02}.yaml").write_text(PERSONA.format(name=f"p{i}", tools=""))
    time.sleep(index.RACY_NS / 1e9 + 0.1)
    assert run_cli(["validate", "personas/a.yaml"], cwd=root).code == 0
    assert index_file(root).exists()
    return root


def test_the_prescan_child_surveys_what_the_parent_would(write: WriteFiles) -> None:
    root = big_project(write)
    (root / "personas" / "p07.yaml").write_text(PERSONA.format(name="ann", tools=""))  # stale
    (root / "personas" / "p08.yaml").unlink()  # gone
    out = subprocess.run(
        [sys.executable, "-c", SURVEY, "personas/b.yaml"],
        cwd=root,
        env=cli_environment(),
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert out == [
        "True True",
        "None",
        "['personas/p07.yaml'] 63 ['personas/p08.yaml']",
    ]
    # One process, or a project whose index records other globs: no child, no survey.
    for env, globs in (({"PERSONACTL_READ_PROCESSES": "1"}, ""), ({}, ", more/*.yaml")):
        (root / "personactl.yaml").write_text(
            PROJECT.replace("tools/*.yaml", f"tools/*.yaml{globs}")
        )
        code = SURVEY.replace("globs = rec.globs", "globs = rec.globs[:2]")
        got = subprocess.run(
            [sys.executable, "-c", code, "personas/b.yaml"],
            cwd=root,
            env=cli_environment(env),
            capture_output=True,
            text=True,
        ).stdout.splitlines()
        assert got[0] == ("False False" if env else "True True"), (env, got)


def test_validate_says_the_same_with_the_prescan_and_without(write: WriteFiles) -> None:
    root = big_project(write)

    def check(*args: str) -> Result:
        with_child = run_cli(["validate", *args], cwd=root, subprocess=True)
        alone = run_cli(
            ["validate", *args], cwd=root, env={"PERSONACTL_READ_PROCESSES": "1"}, subprocess=True
        )
        assert (with_child.code, with_child.out, with_child.err) == (
            alone.code,
            alone.out,
            alone.err,
        )
        return with_child

    assert check("personas/a.yaml").lines == ["1 file checked: no errors"]
    assert check("personas/p03.yaml", "personas/b.yaml").code == 1  # beta is undefined
    # An indexed file edited since: read again, and its new name is a duplicate.
    (root / "personas" / "p05.yaml").write_text(PERSONA.format(name="ann", tools=""))
    r = check("personas/a.yaml")
    assert (r.code, r.lines[0]) == (
        1,
        "personas/a.yaml:4:9: duplicate Persona 'ann': also defined at personas/p05.yaml:4:9; "
        "metadata.name must be unique per kind",
    ), r.lines
    # A tool removed: the reference to it no longer resolves.
    (root / "tools" / "alpha.yaml").unlink()
    assert "tool 'alpha' is not defined" in check("personas/a.yaml").out
    # From a folder below, and with -C: the paths are the user's.
    (root / "tools" / "alpha.yaml").write_text(TOOL.format(name="alpha"))
    (root / "personas" / "p05.yaml").write_text(PERSONA.format(name="p5", tools=""))
    r = run_cli(
        ["validate", "a.yaml", "../personas/p01.yaml"], cwd=root / "personas", subprocess=True
    )
    assert (r.code, r.lines) == (0, ["2 files checked: no errors"])
    r = run_cli(["-C", "personas", "validate", "personas/a.yaml"], cwd=root, subprocess=True)
    assert (r.code, r.lines) == (0, ["1 file checked: no errors"])
