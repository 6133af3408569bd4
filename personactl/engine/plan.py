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
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from personactl.core.records import Fingerprint
from personactl.core.serialize import from_json, to_json

# 2: lineage, serial, digest and display; salted secret sentinels.
FORMAT_VERSION = 2



class Reason(StrEnum):
    """Why a field is in the plan."""

    CHANGED = "changed"  # the manifest differs from what was last applied (or from live)
    DRIFT = "drift"  # changed outside personactl; the plan restores the manifest's value
    RESET = "reset"  # removed from the manifest after being applied: back to the default
    CREATE = "create"  # a field of a resource being created
    DELETE = "delete"  # a resource being deleted
    WRITE_ONLY = "write-only"  # the API does not return it and no state says what was sent
    RESENT = "resent"  # re-sent because another change resets it (voice, avatar)


class Action(StrEnum):
    """What apply does to a resource."""

    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    NO_OP = "no-op"


@dataclass
class FieldChange:
    """One field of one resource. `path` is in manifest vocabulary
    (`voiceGeneration.speed`, `prompt`, `tools`, `config.url`)."""

    path: str
    before: Any
    after: Any
    reason: Reason
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
    anam_name: str  # the name in Anam (with the environment's prefix/suffix)
    action: Action
    id: str | None = None  # live id; None when it will be created
    fields: list[FieldChange] = field(default_factory=list)
    drift: list[FieldChange] = field(default_factory=list)  # changed outside personactl
    request: Request | None = None
    fingerprint: Fingerprint | None = None
    source: str | None = None  # "personas/support.yaml:4:9"
    notes: list[str] = field(default_factory=list)
    # Every field the manifest sets (a create PUTs what its POST could not carry).
    desired: dict[str, Any] | None = None
    # Fields changed outside personactl to what the manifest wants (body key -> live
    # value): nothing is sent for them, and apply records them as in the state.
    settled: dict[str, Any] = field(default_factory=dict)
    prevent_destroy: bool = False  # lifecycle.preventDestroy, kept in the state


@dataclass
class Plan:
    environment: str
    backend: str  # "sandbox" | "anam"
    api_url: str
    three_way: bool  # a state file was read
    state_path: str
    changes: list[ResourceChange] = field(default_factory=list)
    prune: bool = False
    warnings: list[str] = field(default_factory=list)
    # State entries whose resource no longer exists anywhere: apply drops them.
    forget: list[dict[str, str]] = field(default_factory=list)
    format_version: int = FORMAT_VERSION
    # The state the plan was made from: its lineage (which also salts the plan's
    # secret sentinels) and serial. apply refuses a plan of another lineage or an
    # older serial.
    lineage: str | None = None
    serial: int = 0
    # A saved plan (`plan --out`) carries a digest of its content, so apply can refuse
    # one edited by hand; the `-o json` view is marked display (its secrets are masked).
    digest: str | None = None
    display: bool = False
    # How the live personas were read (--refresh): "full" reads every one; "auto" takes
    # from the state, unread, those whose listed updatedAt the state recorded (their
    # manifest names in `unread`; a saved plan's check compares only their updatedAt).
    refresh: str = "full"
    unread: list[str] = field(default_factory=list)
    # Personas whose state fingerprint apply leaves as it was: their observed values
    # will not describe the live persona in full (it changed outside personactl in what
    # the diff does not compare), so the next plan reads them again.
    keep_fingerprint: list[str] = field(default_factory=list)

    def counts(self) -> dict[Action, int]:
        out = {action: 0 for action in Action}
        for change in self.changes:
            out[change.action] += 1
        return out

    @property
    def has_changes(self) -> bool:
        return any(c.action != Action.NO_OP for c in self.changes)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (camelCase keys, docs/plan-format.md), with its summary."""
        data: dict[str, Any] = to_json(self)
        counts = self.counts()
        data["summary"] = {
            "create": counts[Action.CREATE],
            "update": counts[Action.UPDATE],
            "delete": counts[Action.DELETE],
            "unchanged": counts[Action.NO_OP],
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
        return from_json(cls, data)


def content_digest(data: dict[str, Any]) -> str:
    """sha256 of a plan's JSON form without its digest: edited by hand, it no longer matches."""
    body = {k: v for k, v in data.items() if k != "digest"}
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()
