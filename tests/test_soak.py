"""The reliability soak's short form: fault schedules and SIGKILLs, in CI."""

from __future__ import annotations

import subprocess
import sys

from cli_support import REPO


def test_soak_short_form_survives_every_schedule_and_kill() -> None:
    proc = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "soak.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.splitlines()[-1] == (
        "Soak (20 personas): 5/5 fault schedules and 3/3 SIGKILLs survived."
    )
    assert "Traceback" not in proc.stderr
