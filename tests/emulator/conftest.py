"""Fixtures: in-process and real-HTTP emulators whose every response is contract-checked."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from emulator_support import (
    CONTRACT,
    ServedEmulator,
    checked_client,
    settings_flags,
    start_server,
)

from personactl.emulator.inprocess import sandbox_client
from personactl.emulator.settings import EmulatorSettings


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[Callable[..., ServedEmulator]]:
    """Start servers for one test; each must exit 0 on SIGTERM at teardown."""
    started: list[ServedEmulator] = []

    def start(*flags: str, data_dir: Path | None = None) -> ServedEmulator:
        server = start_server(data_dir or tmp_path / f"data{len(started)}", *flags)
        started.append(server)
        return server

    yield start
    for server in started:
        if server.process.poll() is None:
            code, _ = server.stop()
            assert code == 0


@pytest.fixture(scope="session")
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedEmulator]:
    server = start_server(tmp_path_factory.mktemp("shared-emulator"))
    yield server
    code, elapsed = server.stop()
    assert code == 0 and elapsed < 3


Factory = Callable[..., httpx.Client]


@pytest.fixture(params=["inprocess", "http"])
def emulator(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    server_factory: Callable[..., ServedEmulator],
) -> Iterator[Factory]:
    """A factory of contract-checked clients, run once in-process and once over real HTTP.

    `emulator()` gives a client with default settings (over HTTP: a server
    shared by the session, so tests must not rely on an empty database);
    `emulator(settings)` starts a fresh emulator with those settings.
    """
    clients: list[httpx.Client] = []

    def make(settings: EmulatorSettings | None = None, *, auth: bool = True) -> httpx.Client:
        key = (settings or EmulatorSettings()).api_key
        headers = {"Authorization": f"Bearer {key}"} if auth else {}
        if request.param == "inprocess":
            client = sandbox_client(
                tmp_path / f"sandbox{len(clients)}",
                settings,
                headers=headers,
                event_hooks={"response": [CONTRACT]},
            )
            if not auth:
                client.headers.pop("Authorization")
        else:
            if settings is None:
                url = request.getfixturevalue("shared_server").url
            else:
                url = server_factory(*settings_flags(settings)).url
            client = checked_client(base_url=url, headers=headers, timeout=10)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def client(emulator: Factory) -> httpx.Client:
    return emulator()
