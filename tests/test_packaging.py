"""The wheel ships the schemas, the console script and `python -m personactl`."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from cli_support import REPO


def test_wheel_contains_schemas_and_entry_point(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(REPO)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("personactl-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for kind in ("project", "persona", "tool", "llm"):
        assert f"personactl/schemas/{kind}.schema.json" in names
    assert "personactl/__main__.py" in names
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "personactl = personactl.cli:main" in text
