"""Reaching an environment's API: the Anam API over HTTP, or the built-in emulator.

The choice of the emulator is made here, above the client, so that
`personactl.anam` never imports `personactl.emulator` (and the emulator
nothing of the client side).
"""

from __future__ import annotations

from collections.abc import Mapping
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


def connect(
    env: Environment,
    project_root: Path,
    *,
    api_key: str | None = None,
    api_url: str | None = None,
    parallelism: int = 8,
    debug: bool = False,
    environ: Mapping[str, str] | None = None,
    **options: Any,
) -> AnamClient:
    """The client for an environment of the project at `project_root`.

    `backend: sandbox` talks to the in-process emulator kept under
    `.personactl/sandbox`; `options` go to `ClientConfig` (see `client_for`).
    """
    return client_for(
        env,
        api_key=api_key,
        api_url=api_url,
        parallelism=parallelism,
        debug=debug,
        environ=environ,
        sandbox=lambda: sandbox(project_root),
        **options,
    )


def sandbox(project_root: Path) -> Sandbox:
    """The project's emulator, mounted in this process (its data created if missing)."""
    from personactl.emulator.inprocess import SANDBOX_BASE_URL, sandbox_transport

    transport = sandbox_transport(project_root / SANDBOX_DIR)
    return Sandbox(transport, transport.api_key, SANDBOX_BASE_URL)
