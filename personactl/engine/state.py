"""The state file: what personactl last sent and saw, per environment.

JSON with a version field. Per resource: `kind`, `name` (metadata.name),
`anamName`, `id`, `applied` (the body fields last sent), `observed` (the same
fields as the server returned them right after), and `fingerprint`
(`updatedAt` and a hash of the observed resource). Secrets appear only as
sentinels. Reading is here; atomic, locked writing arrives with apply.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from personactl.errors import PersonactlError

STATE_VERSION = 1


@dataclass
class StateEntry:
    kind: str
    name: str
    anamName: str  # noqa: N815 - JSON field name
    id: str
    applied: dict[str, Any] = field(default_factory=dict)
    observed: dict[str, Any] = field(default_factory=dict)
    fingerprint: dict[str, Any] = field(default_factory=dict)
    preventDestroy: bool = False  # noqa: N815 - kept from the manifest: prune must honour it


@dataclass
class State:
    environment: str
    resources: list[StateEntry] = field(default_factory=list)
    version: int = STATE_VERSION

    def find(self, kind: str, name: str) -> StateEntry | None:
        for entry in self.resources:
            if entry.kind == kind and entry.name == name:
                return entry
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "environment": self.environment,
            "resources": [
                asdict(r) for r in sorted(self.resources, key=lambda r: (r.kind, r.name))
            ],
        }


def load_state(path: Path, display: str) -> State | None:
    """The state at `path`, or None when there is none yet."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise PersonactlError(f"cannot read state file {display}: {exc.strerror}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PersonactlError(
            f"state file {display} is not valid JSON (line {exc.lineno}, column {exc.colno}); "
            "restore it from version control"
        ) from None
    if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
        got = data.get("version") if isinstance(data, dict) else None
        raise PersonactlError(
            f"state file {display} has version {got!r}; this personactl reads version "
            f"{STATE_VERSION}"
        )
    try:
        resources = [StateEntry(**r) for r in data.get("resources", [])]
    except TypeError as exc:
        raise PersonactlError(f"state file {display} is malformed: {exc}") from None
    return State(environment=str(data.get("environment", "")), resources=resources)
