"""The pre-commit hook, run exactly as pre-commit runs it: entry + file names."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import yaml
from cli_support import EXAMPLE, REPO


def hook(hook_id: str = "personactl-validate") -> dict[str, object]:
    hooks = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    (entry,) = [h for h in hooks if h["id"] == hook_id]
    assert isinstance(entry, dict)
    return entry


def run_hook(
    cwd: Path, files: list[str], hook_id: str = "personactl-validate"
) -> subprocess.CompletedProcess[str]:
    """As pre-commit runs a hook: from the repository root, PRE_COMMIT=1, the files."""
    entry = hook(hook_id)
    assert entry["pass_filenames"] is True
    argv = shlex.split(str(entry["entry"]))
    exe = shutil.which(argv[0], path=str(Path(sys.executable).parent)) or shutil.which(argv[0])
    assert exe, "the personactl console script is installed"
    env = {**os.environ, "PRE_COMMIT": "1"}
    return subprocess.run(
        [exe, *argv[1:], *files], cwd=cwd, env=env, capture_output=True, text=True, timeout=60
    )


def test_hook_definitions() -> None:
    hooks = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    assert [h["id"] for h in hooks] == ["personactl-validate", "personactl-validate-all"]
    assert hook()["types_or"] == ["yaml"]
    # -all runs for a commit that changes only a prompt template or partial.
    assert hook("personactl-validate-all")["types"] == ["text"]
    assert {h["language"] for h in hooks} == {"python"}


def test_hook_passes_good_files_and_skips_foreign_yaml(example: Path) -> None:
    (example / ".pre-commit-config.yaml").write_text("repos: []\n")
    files = [
        "personactl.yaml",
        "personas/support.yaml",
        "tools/orders.yaml",
        ".pre-commit-config.yaml",
    ]
    proc = run_hook(example, files)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout == "3 files checked: no errors (1 file skipped: no personactl documents)\n"


def test_hook_fails_bad_files(example: Path) -> None:
    path = example / "personas" / "support.yaml"
    path.write_text(path.read_text().replace("speed: 1.05", "speed: 3"))
    proc = run_hook(example, ["personas/support.yaml"])
    assert proc.returncode == 1
    assert proc.stdout.splitlines() == [
        "personas/support.yaml:31:12: spec.voiceGeneration: fits no voice provider (ElevenLabs "
        "V1: speed must be at most 1.2; ElevenLabs V2: speed must be at most 1.2; Cartesia "
        "Sonic-3: 'similarityBoost', 'stability' not supported; Fish Audio: 'similarityBoost', "
        "'stability' not supported) (in environments sandbox, staging)",
        "1 error in 1 file",
    ]


def repo_with_projects(root: Path, *projects: str) -> Path:
    """A repository whose personactl projects live below its root."""
    for sub in projects:
        shutil.copytree(EXAMPLE, root / sub, ignore=shutil.ignore_patterns(".personactl"))
    (root / "README.md").write_text("# infra\n")
    return root


def test_a_project_below_the_repository_root(tmp_path: Path) -> None:
    repo = repo_with_projects(tmp_path, "infra/personas")
    files = [
        "README.md",
        "infra/personas/personactl.yaml",
        "infra/personas/personas/support.yaml",
        "infra/personas/tools/orders.yaml",
    ]
    for hook_id in ("personactl-validate", "personactl-validate-all"):
        given = [f for f in files if hook_id.endswith("all") or f.endswith("yaml")]
        proc = run_hook(repo, given, hook_id)
        assert (proc.returncode, proc.stderr) == (0, ""), proc.stdout
    proc = run_hook(repo, files[1:])
    assert proc.stdout == "3 files checked: no errors\n"


def test_validate_all_runs_a_changed_template_against_its_project(tmp_path: Path) -> None:
    repo = repo_with_projects(tmp_path, "infra/personas")
    partial = repo / "infra" / "personas" / "prompts" / "partials" / "company.md.j2"
    partial.write_text(partial.read_text() + "Open {{ opening_hours }}.\n")
    changed = ["README.md", "infra/personas/prompts/partials/company.md.j2"]
    proc = run_hook(repo, changed, "personactl-validate-all")
    assert proc.returncode == 1
    assert proc.stdout.splitlines() == [
        "infra/personas/prompts/partials/company.md.j2:4:9: undefined variable 'opening_hours' "
        f"in the template for Persona '{name}'; define it in spec.prompt.vars, the "
        "environment's vars or the project's vars in personactl.yaml"
        for name in ("concierge-lea", "onboarding-mia", "onboarding-trainer", "support-cara")
    ] + ["4 errors in 1 file"]
    partial.write_text(partial.read_text().replace("{{ opening_hours }}", "all day"))
    proc = run_hook(repo, changed, "personactl-validate-all")
    assert (proc.returncode, proc.stdout) == (
        0,
        "11 files checked: no errors (1 file skipped: no personactl documents)\n",
    )


def test_a_broken_foreign_yaml_fails_and_says_how_to_exclude_it(tmp_path: Path) -> None:
    repo = repo_with_projects(tmp_path, "infra/personas")
    (repo / "charts").mkdir()
    (repo / "charts" / "values.yaml").write_text("image: {tag: 1.2\n")
    proc = run_hook(repo, ["charts/values.yaml", "infra/personas/personas/support.yaml"])
    assert proc.returncode == 1
    assert proc.stdout.splitlines() == [
        "charts/values.yaml:2:1: invalid YAML: did not find expected ',' or '}' while parsing a "
        "flow mapping (if it is not a personactl manifest, leave it out with "
        "`exclude: ^charts/values\\.yaml$` under the personactl hook in .pre-commit-config.yaml)",
        "1 error in 1 file",
    ]
