"""Secrets inside plans and state: sentinels instead of values.

While planning, `{{ secret("X") }}` renders to `⟦secret:X:<hash>⟧`, where the
hash is the first 12 hex digits of sha256("personactl:X:" + value). Plans and
state files hold only sentinels, so they can be committed; a rotated secret
changes the hash and so shows as a change. `reveal()` substitutes the real
values from the environment just before a request is sent.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from typing import Any

SENSITIVE = "(sensitive)"
SENTINEL = re.compile(r"⟦secret:([A-Za-z_][A-Za-z0-9_]*):([0-9a-f]{12})⟧")


def sentinel(name: str, value: str) -> str:
    digest = hashlib.sha256(f"personactl:{name}:{value}".encode()).hexdigest()[:12]
    return f"⟦secret:{name}:{digest}⟧"


def has_secret(value: Any) -> bool:
    """True if a sentinel appears anywhere in `value` (strings, lists, dicts)."""
    if isinstance(value, str):
        return "⟦secret:" in value and SENTINEL.search(value) is not None
    if isinstance(value, dict):
        return any(has_secret(v) for v in value.values())
    if isinstance(value, list):
        return any(has_secret(v) for v in value)
    return False


def mask(value: Any) -> Any:
    """The value with every string that holds a sentinel replaced by (sensitive)."""
    if isinstance(value, str):
        return SENSITIVE if has_secret(value) else value
    if isinstance(value, dict):
        return {k: mask(v) for k, v in value.items()}
    if isinstance(value, list):
        return [mask(v) for v in value]
    return value


class SecretChanged(Exception):
    """The environment's value no longer matches the hash the plan was made with."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def reveal(value: Any, environ: Mapping[str, str] | None = None) -> Any:
    """Substitute real secret values for sentinels (only for sending a request)."""
    env = os.environ if environ is None else environ
    if isinstance(value, str):
        if "⟦secret:" not in value:
            return value

        def sub(m: re.Match[str]) -> str:
            name = m.group(1)
            real = env.get(name)
            if real is None or sentinel(name, real) != m.group(0):
                raise SecretChanged(name)
            return real

        return SENTINEL.sub(sub, value)
    if isinstance(value, dict):
        return {k: reveal(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [reveal(v, env) for v in value]
    return value


CHANGED_SECRET = "⟦secret changed⟧"


def sentinelize(desired: Any, live: Any, environ: Mapping[str, str] | None = None) -> Any:
    """`live` with real secret values turned back into the desired sentinels.

    Where the desired value holds a sentinel and the live value equals it once
    revealed, the live value becomes the sentinel form; where they differ it
    becomes a marker, never the live secret. Everything else is unchanged.
    """
    if isinstance(desired, str) and has_secret(desired):
        try:
            return desired if reveal(desired, environ) == live else CHANGED_SECRET
        except SecretChanged:
            return CHANGED_SECRET
    if isinstance(desired, dict) and isinstance(live, dict):
        return {
            k: sentinelize(desired[k], v, environ) if k in desired else v for k, v in live.items()
        }
    if isinstance(desired, list) and isinstance(live, list) and len(desired) == len(live):
        return [sentinelize(d, v, environ) for d, v in zip(desired, live, strict=True)]
    return live
