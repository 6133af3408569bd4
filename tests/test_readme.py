"""The README's two commands are the ones CI and users run."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from cli_support import REPO, run_cli


def readme_commands() -> list[str]:
    text = (REPO / "README.md").read_text()
    section = text.split("## Two commands", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.+?)\n```", section, flags=re.S)


def test_exactly_two_setup_commands() -> None:
    main_job, tests = readme_commands()
    assert "personactl apply -e sandbox --auto-approve" in main_job
    assert "cd examples/acme-personas" in main_job
    assert "pytest" in tests and ".[test]" in tests


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    _, tests = readme_commands()
    ci = (REPO / ".ci" / "run").read_text()
    assert tests in ci


def test_the_main_job_twice_reports_no_changes(example: Path) -> None:
    """The README's main job, on a copy of the example: the second run changes nothing."""
    main_job, _ = readme_commands()
    personactl_part = main_job.split("&& ", 3)[-1]  # after venv, install and cd
    env_part, command = personactl_part.split(" ../../.venv/bin/personactl ")
    env = dict(assignment.split("=", 1) for assignment in shlex.split(env_part))
    # It sets every secret the example reads (the webhook's token, the LLM's key).
    read = {
        m
        for path in example.rglob("*.yaml")
        for m in re.findall(r'secret\("([A-Z_]+)"\)', path.read_text())
    }
    assert set(env) == read == {"ACME_ORDERS_TOKEN", "ACME_LLM_KEY"}
    args = shlex.split(command)
    first = run_cli(args, cwd=example, env=env)
    assert first.code == 0, first.err
    assert first.out.splitlines()[-1] == (
        "Apply complete! Resources: 10 created, 0 updated, 0 deleted, 0 failed."
    )
    second = run_cli(args, cwd=example, env=env)
    assert second.code == 0, second.err
    assert "No changes. The live resources match the manifests." in second.out
    for value in env.values():
        assert value not in first.out + first.err + second.out + second.err
