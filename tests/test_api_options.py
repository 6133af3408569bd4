"""The flags that reach the API (-e, --api-key, --api-url, --parallelism, --debug) get
there in every command that talks to it, whichever the command.

The project's `emu` environment is not the default, its apiUrl is a closed port and
its key variable is empty: a command succeeds only when -e, --api-url and --api-key
all reach its client, and its --debug lines must be exactly the requests the
emulator received.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from e2e_support import KEY, Emulator, Recorded, emulator, pc

CLOSED = "http://127.0.0.1:9"  # the discard port: nothing listens there
DEBUG_LINE = re.compile(r"(GET|POST|PUT|DELETE) (\S+) -> (\d+) \(\d+ ms\)")
HOLD = 0.05  # each session-token request is held this long, so concurrent ones overlap


class InFlight:
    """The most requests the emulator was handling at once."""

    def __init__(self) -> None:
        self.now = self.most = 0
        self.lock = threading.Lock()

    def hook(self, record: Recorded) -> None:
        if record.path != "/v1/auth/session-token":
            return
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
        time.sleep(HOLD)
        with self.lock:
            self.now -= 1


@pytest.fixture
def in_flight() -> InFlight:
    return InFlight()


@pytest.fixture
def emu(tmp_path: Path, in_flight: InFlight) -> Iterator[Emulator]:
    with emulator(tmp_path / "emu-data", hook=in_flight.hook) as e:
        yield e


@pytest.fixture
def unreachable_by_default(applied: Path) -> Path:
    """The applied project, whose `emu` environment only the flags can reach."""
    path = applied / "personactl.yaml"
    config = yaml.safe_load(path.read_text())
    config["spec"]["environments"]["emu"]["apiUrl"] = CLOSED
    config["spec"]["defaultEnvironment"] = "staging"
    path.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
    return applied


COMMANDS = {
    "plan": ["plan"],
    "diff": ["diff"],
    "apply": ["apply", "--auto-approve"],
    "import": ["import", "--all"],
    "smoke": ["smoke"],
    "catalog": ["catalog", "voices"],
    "session-config": ["session-config", "support-cara", "--set", "voiceGeneration.speed=1.1"],
    "export": ["export", "support-cara", "--format", "deepgram"],
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_the_api_flags_reach_the_client_of_every_command(
    command: str, unreachable_by_default: Path, emu: Emulator
) -> None:
    flags = ["-e", "emu", "--api-url", emu.url, "--api-key", KEY, "--debug"]
    r = pc(
        unreachable_by_default,
        *COMMANDS[command],
        *flags,
        env={"EMU_KEY": "", "ANAM_API_URL": ""},
    )
    assert r.code == 0, r.err
    logged = [m.groups() for m in map(DEBUG_LINE.fullmatch, r.err.splitlines()) if m]
    received = [(req.method, req.path) for req in emu.log]
    assert received, "no request reached the emulator"
    assert Counter((method, path) for method, path, _ in logged) == Counter(received)
    assert {status for _, _, status in logged} <= {"200", "201"}
    assert KEY not in r.out + r.err


@pytest.mark.parametrize(("flags", "most"), [(["--parallelism", "1"], 1), ([], 4)])
def test_smoke_asks_as_many_at_once_as_parallelism_allows(
    flags: list[str], most: int, applied: Path, in_flight: InFlight
) -> None:
    r = pc(applied, "smoke", *flags)
    assert r.code == 0, r.err
    assert r.err == "All 4 personas can start a session.\n"
    assert in_flight.most == most
