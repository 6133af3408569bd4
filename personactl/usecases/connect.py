"""Reaching an environment's API: the Anam API over HTTP, or the built-in emulator.

The choice of the emulator is made here, above the client, so that
`personactl.anam` never imports `personactl.emulator` (and the emulator
nothing of the client side).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from personactl.anam.client import AnamClient, Sandbox, client_for
from personactl.manifest.model import Environment

SANDBOX_DIR = Path(".personactl") / "sandbox"  # under the project's root


class Connect(Protocol):
    """How a use case gets its client (tests pass their own)."""

    def __call__(
        self,
        env: Environment,
        project_root: Path,
        *,
        api_key: str | None = ...,
        api_url: str | None = ...,
        parallelism: int = ...,
        debug: bool = ...,
    ) -> AnamClient: ...


def connect(env: Environment, project_root: Path, **options: Any) -> AnamClient:
    """The client for an environment of the project at `project_root`; `options` as for
    `client_for` (api_key, api_url, parallelism, debug, environ, `ClientConfig` fields).

    `backend: sandbox` talks to the in-process emulator kept under
    `.personactl/sandbox`.
    """
    return client_for(env, sandbox=lambda: sandbox(project_root), **options)


@dataclass(frozen=True)
class ApiOptions:
    """Which environment (-e) and how to reach its API (--api-key, --api-url,
    --parallelism, --debug): what every command that talks to the API is given."""

    env_name: str | None = None
    api_key: str | None = None
    api_url: str | None = None
    parallelism: int = 8
    debug: bool = False

    def client(
        self, env: Environment, project_root: Path, connect: Connect = connect
    ) -> AnamClient:
        """The client for `env` with these options (`connect`: tests pass their own)."""
        return connect(
            env,
            project_root,
            api_key=self.api_key,
            api_url=self.api_url,
            parallelism=self.parallelism,
            debug=self.debug,
        )


def sandbox(project_root: Path) -> Sandbox:
    """The project's emulator, mounted in this process (its data created if missing)."""
    from personactl.emulator.inprocess import SANDBOX_BASE_URL, sandbox_transport

    transport = sandbox_transport(project_root / SANDBOX_DIR)
    return Sandbox(transport, transport.api_key, SANDBOX_BASE_URL)
