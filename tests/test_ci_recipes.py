"""The CI recipes in examples/ci run commands and flags that exist."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest
import yaml
from cli_support import REPO

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
