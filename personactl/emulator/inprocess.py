"""Mount the emulator in-process: the `sandbox` backend and the tests use this.

    transport = sandbox_transport(project / ".personactl" / "sandbox")
    client = httpx.Client(transport=transport, base_url=SANDBOX_BASE_URL,
                          headers={"Authorization": f"Bearer {transport.api_key}"})

Closing the client closes the transport, which closes the SQLite database.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from personactl.emulator.app import EmulatorApp
from personactl.emulator.errors import DropConnection
from personactl.emulator.settings import EmulatorSettings

SANDBOX_BASE_URL = "http://sandbox.local"


class SandboxTransport(httpx.BaseTransport):
    """`httpx.WSGITransport` over an `EmulatorApp`, with dropped connections made real."""

    def __init__(self, app: EmulatorApp) -> None:
        self.app = app
        self._wsgi = httpx.WSGITransport(app=app)

    @property
    def api_key(self) -> str:
        """The Bearer key this emulator expects."""
        return self.app.settings.api_key

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return self._wsgi.handle_request(request)
        except DropConnection as exc:
            # what httpx raises when a real server closes the socket without answering
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a response.", request=request
            ) from exc

    def close(self) -> None:
        self.app.close()


def sandbox_transport(data_dir: Path, settings: EmulatorSettings | None = None) -> SandboxTransport:
    """An in-process emulator persisted under `data_dir` (created if missing)."""
    return SandboxTransport(EmulatorApp(data_dir, settings))


def sandbox_client(
    data_dir: Path, settings: EmulatorSettings | None = None, **client_options: Any
) -> httpx.Client:
    """An `httpx.Client` already pointed at, and authenticated to, an in-process emulator."""
    transport = sandbox_transport(data_dir, settings)
    headers = {"Authorization": f"Bearer {transport.api_key}", **client_options.pop("headers", {})}
    return httpx.Client(
        transport=transport, base_url=SANDBOX_BASE_URL, headers=headers, **client_options
    )
