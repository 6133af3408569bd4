"""Normalize stage: a live response as plan and apply compare it.

In request-body vocabulary (`anam.fields`), with the secrets the API returns
in clear (webhook headers) turned back into the desired sentinels, and
fingerprinted after that, so neither a hash, a diff, a plan nor a state file
ever holds a secret. Pure: no HTTP.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from personactl.anam import fields as api
from personactl.engine.plan import Fingerprint
from personactl.engine.secrets import sentinelize


def fingerprint(raw: dict[str, Any], normalized: dict[str, Any]) -> Fingerprint:
    canonical = json.dumps(normalized, sort_keys=True, ensure_ascii=False, default=str)
    return Fingerprint(
        updatedAt=raw.get("updatedAt"),
        hash="sha256:" + hashlib.sha256(canonical.encode()).hexdigest()[:32],
    )


@dataclass
class Live:
    kind: str
    id: str
    raw: dict[str, Any]
    normalized: dict[str, Any]
    fingerprint: Fingerprint


def normalize(kind: str, raw: dict[str, Any]) -> Live:
    norm = api.normalize(kind, raw)
    return Live(kind, str(raw["id"]), raw, norm, fingerprint(raw, norm))


def observe(kind: str, raw: dict[str, Any], templates: list[dict[str, Any]], salt: str) -> Live:
    """A live response as plan and apply compare it: in body vocabulary, with the
    secrets it returns in clear turned back into sentinels, and fingerprinted
    after that (so neither a hash nor a diff ever sees a secret).

    `templates` are the forms of the resource that hold sentinels: the desired
    body, and what the state says was applied and observed, so a value applied
    as a secret stays a sentinel even once the manifest stops using secret().
    """
    live = normalize(kind, raw)
    if templates:
        live.normalized = sentinelize(live.normalized, templates, salt)
        live.fingerprint = fingerprint(raw, live.normalized)
    return live
