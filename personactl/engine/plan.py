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
# 3: long strings (prompts) once, in `values`, referred to as {"$value": "vN"}; the
#    replace action (and its count in the summary).
FORMAT_VERSION = 3
# Strings this long or longer are kept once, in the plan's `values` table.
VALUE_MIN_CHARS = 256


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
    # Terraform's -/+: a change no PUT can make. Apply creates the new resource,
    # moves its users to it, then deletes the old one (`id`).
    REPLACE = "replace"
    DELETE = "delete"
    NO_OP = "no-op"


# The state name of a replaced resource not deleted yet (a crash, or a user that could
# not be moved): the next apply deletes it once nothing planned uses it.
DEPOSED = "#deposed"


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
class DocumentChange:
    """One document of a knowledge group (engine.documents): identified by `filename`
    in its group, read from `path` (relative to the project root) with this size and
    sha256, which apply checks again before it uploads. Actions: `create` and
    `replace` upload (a replace deletes the `replaces` ids once the upload is READY),
    `delete` deletes the `replaces` ids (once `after` is READY, when set); `adopt` and
    `forget` only update the state."""

    action: str  # "create" | "replace" | "delete" | "adopt" | "forget"
    filename: str
    shown: str  # as plans show it: relative to the folder the group's files share
    reason: str = ""
    path: str | None = None
    size: int | None = None
    sha256: str | None = None
    before_size: int | None = None
    replaces: list[str] = field(default_factory=list)
    params: dict[str, int] = field(default_factory=dict)  # chunkSize, chunkOverlap
    # A delete of older copies waits until this live document is READY (and keeps them
    # if it FAILED): the group is never without the file.
    after: str | None = None


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
    # False: a live resource no manifest manages (a persona moved off a replaced LLM so
    # it keeps working): apply writes and reads it back, and never records it.
    record: bool = True
    documents: list[DocumentChange] = field(default_factory=list)  # a KnowledgeGroup's


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
        """The JSON form (camelCase keys, docs/plan-format.md), with its summary, each
        long string still in place: `pack` makes the form that is written out."""
        data: dict[str, Any] = to_json(self)
        counts = self.counts()
        data["summary"] = {
            "create": counts[Action.CREATE],
            "update": counts[Action.UPDATE],
            "replace": counts[Action.REPLACE],
            "delete": counts[Action.DELETE],
            "unchanged": counts[Action.NO_OP],
        }
        return data

    def sealed(self) -> dict[str, Any]:
        """The saved form: to_dict(), packed, with the digest of its content."""
        data = pack(self.to_dict())
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
        return from_json(cls, unpack(data))


def content_digest(data: dict[str, Any]) -> str:
    """sha256 of a plan's JSON form without its digest: edited by hand, it no longer matches."""
    body = {k: v for k, v in data.items() if k != "digest"}
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


# -- each long string once: the `values` table ----------------------------------------------
# A prompt is in a plan up to four times (before and after in `fields`, the request body,
# `desired`), and the same prompt may serve many personas. The written form keeps every
# string of VALUE_MIN_CHARS or more once, in `values`, and puts {"$value": "vN"} wherever
# it was. An object of the plan's own that has the single key "$value" or "$literal" is
# written as {"$literal": {...}}, so a reference is never ambiguous.
_REF = "$value"
_LITERAL = "$literal"


def pack(data: dict[str, Any]) -> dict[str, Any]:
    """`data` (a plan's JSON form) with its long strings moved into `values`."""
    ids: dict[str, str] = {}

    def walk(value: Any) -> Any:
        if isinstance(value, str):
            if len(value) < VALUE_MIN_CHARS:
                return value
            ref = ids.get(value)
            if ref is None:
                ref = ids[value] = f"v{len(ids) + 1}"
            return {_REF: ref}
        if isinstance(value, dict):
            out = {k: walk(v) for k, v in value.items()}
            return {_LITERAL: out} if len(out) == 1 and (_REF in out or _LITERAL in out) else out
        if isinstance(value, list):
            return [walk(v) for v in value]
        return value

    packed = {k: walk(v) if k == "changes" else v for k, v in data.items() if k != "values"}
    packed["values"] = {ref: text for text, ref in ids.items()}
    return packed


def unpack(data: dict[str, Any]) -> dict[str, Any]:
    """The inverse of `pack`; a reference to no value is a ValueError."""
    values = data.get("values", {})
    if not isinstance(values, dict):
        raise ValueError("values must be an object")

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            if len(value) == 1 and _REF in value:
                ref = value[_REF]
                if not isinstance(ref, str) or not isinstance(values.get(ref), str):
                    raise ValueError(f"{_REF} {ref!r} names no entry of values")
                return values[ref]
            if len(value) == 1 and _LITERAL in value and isinstance(value[_LITERAL], dict):
                return {k: walk(v) for k, v in value[_LITERAL].items()}
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        return value

    return {k: walk(v) if k == "changes" else v for k, v in data.items() if k != "values"}
