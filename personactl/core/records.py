"""What every layer says about a live resource and what the state keeps of it.

`Live` is a resource as fetched, in request-body vocabulary (see `core.kinds`),
with its secrets turned back into sentinels and a fingerprint; `StateEntry` is
what the state records of a resource personactl manages. Pure data.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from personactl.core.secrets import sentinelize


@dataclass
class Fingerprint:
    """What the live resource looked like when planned: apply refuses a plan
    whose fingerprints no longer match (someone changed it since)."""

    updated_at: str | None
    hash: str


def fingerprint(raw: dict[str, Any], normalized: dict[str, Any]) -> Fingerprint:
    canonical = json.dumps(normalized, sort_keys=True, ensure_ascii=False, default=str)
    return Fingerprint(
        updated_at=raw.get("updatedAt"),
        hash="sha256:" + hashlib.sha256(canonical.encode()).hexdigest()[:32],
    )


@dataclass
class Live:
    """A live resource: its raw response, the same in body vocabulary, a fingerprint."""

    kind: str
    id: str
    raw: dict[str, Any]
    normalized: dict[str, Any]
    fingerprint: Fingerprint

    @classmethod
    def of(cls, kind: str, raw: dict[str, Any], normalized: dict[str, Any]) -> Live:
        return cls(kind, str(raw["id"]), raw, normalized, fingerprint(raw, normalized))

    def with_sentinels(self, templates: list[dict[str, Any]], salt: str) -> Live:
        """The same resource with the secrets it returns in clear turned back into
        sentinels, and fingerprinted after that (so neither a hash nor a diff ever
        sees a secret). `templates` are the forms of the resource that hold
        sentinels: the desired body, and what the state says was applied and
        observed, so a value applied as a secret stays a sentinel even once the
        manifest stops using secret()."""
        if not templates:
            return self
        normalized = sentinelize(self.normalized, templates, salt)
        return Live(self.kind, self.id, self.raw, normalized, fingerprint(self.raw, normalized))


@dataclass
class StateEntry:
    """What the state records of one resource: exactly what personactl sent
    (`applied`, field by field) and what the server answered to it (`observed`)."""

    kind: str
    name: str
    anam_name: str
    id: str
    applied: dict[str, Any] = field(default_factory=dict)
    observed: dict[str, Any] = field(default_factory=dict)
    fingerprint: dict[str, Any] = field(default_factory=dict)
    prevent_destroy: bool = False  # kept from the manifest: prune must honour it
    # A KnowledgeGroup's documents personactl uploaded, by file name: {id, size, sha256,
    # params} (the API returns no hash, so the state keeps it).
    documents: dict[str, dict[str, Any]] = field(default_factory=dict)
