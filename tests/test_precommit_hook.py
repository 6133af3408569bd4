"""The pre-commit hook, run exactly as pre-commit runs it: entry + file names."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import yaml
from cli_support import REPO


def hook() -> dict[str, object]:
    (entry,) = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    assert isinstance(entry, dict)
    return entry


def run_hook(cwd: Path, files: list[str]) -> subprocess.CompletedProcess[str]:
    entry = hook()
    assert entry["pass_filenames"] is True
    argv = shlex.split(str(entry["entry"]))
    exe = shutil.which(argv[0], path=str(Path(sys.executable).parent)) or shutil.which(argv[0])
    assert exe, "the personactl console script is installed"
    return subprocess.run(
        [exe, *argv[1:], *files], cwd=cwd, capture_output=True, text=True, timeout=60
    )


def test_hook_definition() -> None:
    entry = hook()
    assert entry["id"] == "personactl-validate"
    assert entry["types_or"] == ["yaml"]
    assert entry["language"] == "python"


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
