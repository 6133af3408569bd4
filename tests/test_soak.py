"""The reliability soak's short form: fault schedules and SIGKILLs, in CI.

Its process starts with the session (tests/conftest.py `soak_run`) and runs
beside the other tests; this test waits for it and reads what it printed.
"""

from __future__ import annotations

import os
import subprocess

from state_servers import REQUIRE_ENV


def test_soak_short_form_survives_every_schedule_and_kill(
    soak_run: subprocess.Popen[str],
) -> None:
    out, err = soak_run.communicate(timeout=600)
    assert soak_run.returncode == 0, out + err
    # Its state is in a throwaway PostgreSQL (in a file where the server binaries are
    # missing, which CI does not allow).
    in_file = "state in a file" in err and not os.environ.get(REQUIRE_ENV)
    where = "" if in_file else ", state in PostgreSQL"
    assert out.splitlines()[-1] == (
        f"Soak (20 personas{where}): 5/5 fault schedules and 3/3 SIGKILLs survived."
    )
    assert "Traceback" not in err
