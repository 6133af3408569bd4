"""The Plan: plain data that says exactly what apply will do.

A Plan is built by `engine.planner`, shown by the views in `output/`, saved
by `plan --out FILE` and consumed by `apply`. It serialises to JSON with a
versioned schema (`formatVersion`); the text, JSON and Markdown outputs are
views of the same object, so they never disagree.

Secret values never enter a Plan: a value rendered from `{{ secret("X") }}`
holds a sentinel `⟦secret:X:<hash>⟧` in its place (see `engine.secrets`), and
the field is marked sensitive so views print `(sensitive)`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from personactl.core.records import Fingerprint

# 2: lineage, serial, digest and display; salted secret sentinels.
FORMAT_VERSION = 2

# Field change reasons.
CHANGED = "changed"  # the manifest differs from what personactl last applied (or from live)
DRIFT = "drift"  # changed outside personactl; the plan restores the manifest's value
RESET = "reset"  # removed from the manifest after being applied: back to the default
CREATE = "create"  # a field of a resource being created
DELETE = "delete"  # a resource being deleted
WRITE_ONLY = "write-only"  # the API does not return it and no state says what was sent
REPLACED_BY_API = "resent"  # re-sent because another change resets it (voice, avatar)

# Resource actions.
ACTIONS = ("create", "update", "delete", "no-op")


@dataclass
class FieldChange:
    """One field of one resource. `path` is in manifest vocabulary
    (`voiceGeneration.speed`, `prompt`, `tools`, `config.url`)."""

    path: str
    before: Any
    after: Any
    reason: str
    sensitive: bool = False


@dataclass
class Request:
    """The exact HTTP request apply will send (secrets as sentinels)."""

    method: str
    path: str
    body: dict[str, Any] | None = None


@dataclass
class ResourceChange:
    kind: str  # "Persona" | "Tool"
    name: str  # metadata.name
    anamName: str  # noqa: N815 - the name in Anam (with the environment's prefix/suffix)
    action: str  # one of ACTIONS
    id: str | None = None  # live id; None when it will be created
    fields: list[FieldChange] = field(default_factory=list)
    drift: list[FieldChange] = field(default_factory=list)  # changed outside personactl
    request: Request | None = None
    fingerprint: Fingerprint | None = None
    source: str | None = None  # "personas/support.yaml:4:9"
    notes: list[str] = field(default_factory=list)
    # Every field the manifest sets (a create PUTs what its POST could not carry).
    desired: dict[str, Any] | None = None
    preventDestroy: bool = False  # noqa: N815 - lifecycle.preventDestroy, kept in the state


@dataclass
class Plan:
    environment: str
    backend: str  # "sandbox" | "anam"
    apiUrl: str  # noqa: N815
    threeWay: bool  # noqa: N815 - a state file was read
    statePath: str  # noqa: N815
    changes: list[ResourceChange] = field(default_factory=list)
    prune: bool = False
    warnings: list[str] = field(default_factory=list)
    # State entries whose resource no longer exists anywhere: apply drops them.
    forget: list[dict[str, str]] = field(default_factory=list)
    formatVersion: int = FORMAT_VERSION  # noqa: N815
    # The state the plan was made from: its lineage (which also salts the plan's
    # secret sentinels) and serial. apply refuses a plan of another lineage or an
    # older serial.
    lineage: str | None = None
    serial: int = 0
    # A saved plan (`plan --out`) carries a digest of its content, so apply can refuse
    # one edited by hand; the `-o json` view is marked display (its secrets are masked).
    digest: str | None = None
    display: bool = False

    def counts(self) -> dict[str, int]:
        out = {action: 0 for action in ACTIONS}
        for change in self.changes:
            out[change.action] += 1
        return out

    @property
    def has_changes(self) -> bool:
        return any(c.action != "no-op" for c in self.changes)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["summary"] = {
            "create": self.counts()["create"],
            "update": self.counts()["update"],
            "delete": self.counts()["delete"],
            "unchanged": self.counts()["no-op"],
        }
        return data

    def sealed(self) -> dict[str, Any]:
        """The saved form: to_dict() with the digest of its content."""
        data = self.to_dict()
        data["display"] = False
        data["digest"] = content_digest(data)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Plan:
        version = data.get("formatVersion")
        if version != FORMAT_VERSION:
            from personactl.core.errors import PersonactlError

            raise PersonactlError(
                f"plan file has formatVersion {version!r}; this personactl reads "
                f"formatVersion {FORMAT_VERSION}: run `personactl plan --out FILE` again"
            )
        changes = []
        for c in data.get("changes", []):
            req = c.get("request")
            fp = c.get("fingerprint")
            changes.append(
                ResourceChange(
                    kind=c["kind"],
                    name=c["name"],
                    anamName=c["anamName"],
                    action=c["action"],
                    id=c.get("id"),
                    fields=[FieldChange(**f) for f in c.get("fields", [])],
                    drift=[FieldChange(**f) for f in c.get("drift", [])],
                    request=Request(**req) if req else None,
                    fingerprint=Fingerprint(**fp) if fp else None,
                    source=c.get("source"),
                    notes=list(c.get("notes", [])),
                    desired=c.get("desired"),
                    preventDestroy=bool(c.get("preventDestroy", False)),
                )
            )
        return cls(
            environment=data["environment"],
            backend=data["backend"],
            apiUrl=data["apiUrl"],
            threeWay=data["threeWay"],
            statePath=data["statePath"],
            changes=changes,
            prune=data.get("prune", False),
            warnings=list(data.get("warnings", [])),
            forget=list(data.get("forget", [])),
            lineage=data.get("lineage"),
            serial=int(data.get("serial", 0)),
            digest=data.get("digest"),
            display=bool(data.get("display", False)),
        )


def content_digest(data: dict[str, Any]) -> str:
    """sha256 of a plan's JSON form without its digest: edited by hand, it no longer matches."""
    body = {k: v for k, v in data.items() if k != "digest"}
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()
