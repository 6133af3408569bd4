"""`personactl init`: a new project that validates and applies to the sandbox as written."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import yaml
from cli_support import REPO, run_inprocess

FILES = [
    "personactl.yaml",
    "personas/assistant.yaml",
    "prompts/assistant.md.j2",
    ".gitignore",
]


def test_init_then_validate_and_apply_to_the_sandbox(tmp_path: Path) -> None:
    r = run_inprocess(["init", "demo"], tmp_path)
    assert r.code == 0, r.err
    project = tmp_path / "demo"
    assert sorted(str(p.relative_to(project)) for p in project.rglob("*") if p.is_file()) == sorted(
        FILES
    )
    assert r.out == (
        "Wrote a new personactl project in demo:\n"
        "  personactl.yaml          the project: environments, vars, manifest globs\n"
        "  personas/assistant.yaml  a persona\n"
        "  prompts/assistant.md.j2  its prompt (a Jinja template)\n"
        "  .gitignore               keeps locks, journals and the sandbox's data out of git\n"
        "\n"
        "Next:\n"
        "  cd demo\n"
        "  personactl validate            # offline checks\n"
        "  personactl apply -e sandbox    # to the built-in emulator: no account needed\n"
        "  personactl catalog voices      # voices to choose from (also avatars, llms)\n"
        "  export ANAM_API_KEY=...        # then uncomment production in personactl.yaml\n"
        "  personactl plan -e production\n"
    )
    assert r.err == ""

    checked = run_inprocess(["validate"], project)
    assert (checked.code, checked.err) == (0, "")
    assert checked.out == "2 files checked: no errors\n"

    first = run_inprocess(["apply", "-e", "sandbox", "--auto-approve"], project)
    assert first.code == 0, first.err
    assert first.out.splitlines()[-1] == (
        "Apply complete! Resources: 1 created, 0 updated, 0 deleted, 0 failed."
    )
    second = run_inprocess(["apply", "-e", "sandbox", "--auto-approve"], project)
    assert second.code == 0, second.err
    assert "No changes. The live resources match the manifests." in second.out
    assert second.out.splitlines()[-1] == (
        "Apply complete! Resources: 0 created, 0 updated, 0 deleted, 0 failed."
    )


def test_files_carry_schema_modelines_that_validate_them(tmp_path: Path) -> None:
    r = run_inprocess(["init"], tmp_path)
    assert r.code == 0
    assert r.lines[0] == "Wrote a new personactl project in this directory:"
    assert r.lines[6:8] == ["Next:", "  personactl validate            # offline checks"]
    for rel, kind in [("personactl.yaml", "project"), ("personas/assistant.yaml", "persona")]:
        path = tmp_path / rel
        first = path.read_text().splitlines()[0]
        shipped = json.loads((REPO / "schemas" / f"{kind}.schema.json").read_text())
        # The schema's public address: never a path into this machine's installation,
        # which would be wrong for everyone else once the project is committed.
        assert first == f"# yaml-language-server: $schema={shipped['$id']}", rel
        validator = jsonschema.Draft202012Validator(shipped)
        assert list(validator.iter_errors(yaml.safe_load(path.read_text()))) == [], rel


def test_production_is_there_commented_out(tmp_path: Path) -> None:
    assert run_inprocess(["init"], tmp_path).code == 0
    text = (tmp_path / "personactl.yaml").read_text()
    config = yaml.safe_load(text)
    assert list(config["spec"]["environments"]) == ["sandbox"]
    uncommented = text.replace("    # production:", "    production:").replace("    #   ", "      ")
    envs = yaml.safe_load(uncommented)["spec"]["environments"]
    assert envs["production"] == {
        "backend": "anam",
        "apiUrl": "https://api.anam.ai",
        "apiKeyEnv": "ANAM_API_KEY",
    }


def test_gitignore_keeps_state_files_and_drops_locks_journals_and_sandbox_data(
    tmp_path: Path,
) -> None:
    assert run_inprocess(["init"], tmp_path).code == 0
    patterns = [
        line
        for line in (tmp_path / ".gitignore").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert patterns == [
        ".personactl/*.lock",
        ".personactl/*.journal",
        ".personactl/*.history/",
        ".personactl/sandbox/",
    ]


def test_init_refuses_to_overwrite_and_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "assistant.md.j2").write_text("mine\n")
    (tmp_path / ".gitignore").write_text("*.pyc\n")
    r = run_inprocess(["init", str(tmp_path)], tmp_path.parent)
    assert (r.code, r.out) == (1, "")
    assert r.err == (
        f"error: {tmp_path}/prompts/assistant.md.j2 and {tmp_path}/.gitignore already exist: "
        "init writes new files only, so nothing was written; move them away or choose another "
        "directory\n"
    )
    written = sorted(p.name for p in tmp_path.rglob("*"))
    assert written == [".gitignore", "assistant.md.j2", "prompts"]
    assert (tmp_path / ".gitignore").read_text() == "*.pyc\n"


def test_init_into_a_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("")
    r = run_inprocess(["init", "taken"], tmp_path)
    assert (r.code, r.out) == (1, "")
    assert r.err == "error: taken is a file, not a directory: choose another directory\n"


def test_init_twice_names_every_file_it_would_overwrite(tmp_path: Path) -> None:
    assert run_inprocess(["init"], tmp_path).code == 0
    before = {p: p.read_text() for p in tmp_path.rglob("*") if p.is_file()}
    r = run_inprocess(["init"], tmp_path)
    assert (r.code, r.out) == (1, "")
    assert r.err == (
        "error: personactl.yaml, personas/assistant.yaml, prompts/assistant.md.j2 and "
        ".gitignore already exist: init writes new files only, so nothing was written; "
        "move them away or choose another directory\n"
    )
    assert {p: p.read_text() for p in tmp_path.rglob("*") if p.is_file()} == before
