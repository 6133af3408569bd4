"""The CI recipes in examples/ci run commands and flags that exist."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import click
import pytest
import yaml
from cli_support import REPO, run_cli

from personactl.cli import cli

RECIPES = sorted((REPO / "examples" / "ci").glob("*.yml"))


def scripts(node: object) -> list[str]:
    """Every shell line of a GitHub (`run:`) or GitLab (`script:`) file."""
    out: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "run" and isinstance(value, str):
                out += value.splitlines()
            elif key in ("script", "before_script") and isinstance(value, list):
                out += [str(v) for v in value]
            else:
                out += scripts(value)
    elif isinstance(node, list):
        for item in node:
            out += scripts(item)
    return out


def invocations(lines: list[str]) -> list[list[str]]:
    found = []
    for line in lines:
        for part in re.split(r"\|\||&&|;|\|", line):
            words = shlex.split(part.split(">")[0].strip().rstrip("\\"))
            if words and words[0] == "personactl":
                found.append(words[1:])
    return found


def check(args: list[str]) -> None:
    """Parse the arguments with the real click commands, as the shell would pass them."""
    root = click.Context(cli, info_name="personactl", obj={})
    command = cli.get_command(root, args[0])
    assert command is not None, args
    command.make_context(args[0], list(args[1:]), parent=root)


def test_recipes_exist() -> None:
    assert [p.name for p in RECIPES] == ["github-actions.yml", "gitlab-ci.yml"]


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.name)
def test_every_personactl_command_parses(recipe: Path) -> None:
    calls = invocations(scripts(yaml.safe_load(recipe.read_text())))
    assert calls, recipe
    for args in calls:
        check(args)
    commands = {args[0] for args in calls}
    assert {"validate", "plan", "apply"} <= commands
    flags = {flag for args in calls for flag in args}
    assert {"--out", "--detailed-exitcode"} <= flags


def test_github_recipe_covers_the_four_jobs() -> None:
    doc = yaml.safe_load((REPO / "examples" / "ci" / "github-actions.yml").read_text())
    assert set(doc["jobs"]) == {"validate", "plan", "apply", "drift"}
    plan_lines = " ".join(scripts(doc["jobs"]["plan"]))
    assert "-o markdown" in plan_lines and "gh pr comment" in plan_lines
    assert "apply plan.json" in " ".join(scripts(doc["jobs"]["apply"]))
    assert "cron" in str(doc[True]["schedule"])  # YAML 1.1 reads `on:` as True


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.name)
def test_the_scheduled_drift_check_reads_every_persona(recipe: Path) -> None:
    # --refresh=auto trusts updatedAt; the drift check reads everything, whatever the API does.
    calls = invocations(scripts(yaml.safe_load(recipe.read_text())))
    checks = [args for args in calls if "--detailed-exitcode" in args]
    assert checks and all("--refresh=full" in args for args in checks), checks


def test_a_wrong_flag_would_be_caught() -> None:
    with pytest.raises(click.UsageError):
        check(["plan", "--detailed-exit-code"])


def state_snippet(recipe: Path) -> dict[str, Any]:
    """The `environments:` block the recipe's header tells to put in personactl.yaml."""
    lines = recipe.read_text().splitlines()
    start = lines.index("#   environments:")
    block = []
    for line in lines[start:]:
        if not line.startswith("#   "):
            break
        block.append(line[4:])
    parsed: dict[str, Any] = yaml.safe_load("\n".join(block))
    return parsed


@pytest.mark.parametrize(
    ("recipe", "backend"), [("github-actions.yml", "postgres"), ("gitlab-ci.yml", "http")]
)
def test_the_state_is_remote_and_nothing_is_committed_back(
    recipe: str, backend: str, tmp_path: Path
) -> None:
    path = REPO / "examples" / "ci" / recipe
    text = path.read_text()
    assert "git push" not in text and "git commit" not in text
    environments = state_snippet(path)["environments"]
    assert environments["production"]["state"]["backend"] == backend
    # The snippet is a valid environment of a project.
    project = {
        "apiVersion": "personactl/v1",
        "kind": "Project",
        "metadata": {"name": "ci"},
        "spec": {"environments": environments},
    }
    (tmp_path / "personactl.yaml").write_text(yaml.safe_dump(project))
    (tmp_path / "tools").mkdir()
    (tmp_path / "tools" / "end.yaml").write_text(
        (REPO / "examples" / "acme-personas" / "tools" / "system.yaml").read_text()
    )
    r = run_cli(["validate"], tmp_path)
    assert (r.code, r.err) == (0, ""), r.err


def test_github_reads_the_state_url_from_a_secret_in_every_job_that_plans() -> None:
    doc = yaml.safe_load((REPO / "examples" / "ci" / "github-actions.yml").read_text())
    for job in ("plan", "apply", "drift"):
        env = doc["jobs"][job]["env"]
        assert env["PERSONACTL_STATE_URL"] == "${{ secrets.PERSONACTL_STATE_URL }}", job
    installs = [line for line in scripts(doc) if "pip install" in line]
    assert installs and all("personactl[postgres]" in line for line in installs)


def test_gitlab_authenticates_the_state_with_the_job_token() -> None:
    path = REPO / "examples" / "ci" / "gitlab-ci.yml"
    doc = yaml.safe_load(path.read_text())
    state = state_snippet(path)["environments"]["production"]["state"]
    assert (state["lockMethod"], state["unlockMethod"]) == ("POST", "DELETE")
    assert (state["usernameEnv"], state["passwordEnv"]) == ("PERSONACTL_STATE_USER", "CI_JOB_TOKEN")
    assert doc["variables"]["PERSONACTL_STATE_USER"] == "gitlab-ci-token"
    assert state["lockAddress"] == state["unlockAddress"] == state["address"] + "/lock"
