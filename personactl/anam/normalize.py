"""Normalize stage: a live response as plan and apply compare it.

In request-body vocabulary (the kind's declaration says how each field is
read from a response), as a `core.records.Live`; `observe` also turns the
secrets the API returns in clear back into sentinels. Pure: no HTTP.
"""

from __future__ import annotations

from typing import Any

from personactl.anam.kinds import KINDS
from personactl.core.records import Live


def normalize(kind: str, raw: dict[str, Any]) -> Live:
    return Live.of(kind, raw, KINDS[kind].normalize(raw))


def observe(kind: str, raw: dict[str, Any], templates: list[dict[str, Any]], salt: str) -> Live:
    """`normalize`, with the secrets the response holds in clear as sentinels."""
    return normalize(kind, raw).with_sentinels(templates, salt)
