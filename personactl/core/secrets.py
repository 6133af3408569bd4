"""Secrets inside plans and state: sentinels instead of values.

While planning, `{{ secret("X") }}` renders to `⟦secret:X:<hash>⟧`. Plans and
state files hold only sentinels, so they can be committed; a rotated secret
changes the hash and so shows as a change. `reveal()` substitutes the real
values from the environment just before a request is sent.

The hash is scrypt (N=2^16, r=8, p=1: 64 MiB and about 0.1-0.2 s of one core
per guess), salted with the state's lineage (a random id fixed when the state
is created) and the secret's name, truncated to 128 bits. A leaked state or
plan file therefore costs an attacker more than a day of one core to test a
million candidates (every 6-digit PIN), and no table computed for one state
works for another. A keyed hash would be cheaper to compute but needs a key
kept somewhere other than the state, which a pipeline would have to manage;
a slow salted hash needs nothing. Each (name, value, salt) is hashed once per
process. Sentinels of state files written before the lineage existed
(`sha256-12`, unsalted) are still recognised, and upgraded when the value in
the environment matches them.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
from collections.abc import Callable, Mapping
from typing import Any

SENSITIVE = "(sensitive)"
SENTINEL = re.compile(r"⟦secret:([A-Za-z_][A-Za-z0-9_]*):([0-9a-f]{32}|[0-9a-f]{12})⟧")
# A live value where a secret was that matches neither the manifest nor what was
# last applied stands as `⟦secret:_:<hash of the live value>⟧`: masked like any
# secret, never shown, never sent, and different for every different live value.
UNKNOWN = "_"

# scrypt's work factor (see the module docstring); tests read them from here.
SCRYPT_N = 2**16
SCRYPT_R = 8
SCRYPT_P = 1


@functools.lru_cache(maxsize=4096)
def _digest(name: str, value: str, salt: str) -> str:
    return hashlib.scrypt(
        value.encode(),
        salt=f"personactl/v2:{salt}:{name}".encode(),
        n=SCRYPT_N,
        r=SCRYPT_R,
        p=SCRYPT_P,
        maxmem=128 * 2**20,
        dklen=16,
    ).hex()


def _legacy_digest(name: str, value: str) -> str:
    return hashlib.sha256(f"personactl:{name}:{value}".encode()).hexdigest()[:12]


def sentinel(name: str, value: str, salt: str) -> str:
    """The sentinel that stands for `value` of secret `name` in the state salted `salt`."""
    return f"⟦secret:{name}:{_digest(name, value, salt)}⟧"


def matches(token: str, value: str, salt: str) -> bool:
    """Whether `value` is the secret the sentinel `token` stands for."""
    m = SENTINEL.fullmatch(token)
    if m is None:
        return False
    name, digest = m.group(1), m.group(2)
    if len(digest) == 12:
        return _legacy_digest(name, value) == digest
    return _digest(name, value, salt) == digest


def has_secret(value: Any) -> bool:
    """True if a sentinel appears anywhere in `value` (strings, lists, dicts)."""
    if isinstance(value, str):
        return "⟦secret:" in value and SENTINEL.search(value) is not None
    if isinstance(value, dict):
        return any(has_secret(v) for v in value.values())
    if isinstance(value, list):
        return any(has_secret(v) for v in value)
    return False


def map_strings(value: Any, fn: Callable[[str], str]) -> Any:
    """`value` (JSON) with `fn` applied to every string in it."""
    if isinstance(value, str):
        return fn(value)
    if isinstance(value, dict):
        return {k: map_strings(v, fn) for k, v in value.items()}
    if isinstance(value, list):
        return [map_strings(v, fn) for v in value]
    return value


def mask(value: Any) -> Any:
    """The value with every string that holds a sentinel replaced by (sensitive)."""
    return map_strings(value, lambda text: SENSITIVE if has_secret(text) else text)


class SecretChanged(Exception):
    """The environment's value no longer matches the hash the plan was made with."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def reveal(value: Any, salt: str, environ: Mapping[str, str] | None = None) -> Any:
    """Substitute real secret values for sentinels (only for sending a request)."""
    env = os.environ if environ is None else environ

    def sub(m: re.Match[str]) -> str:
        name = m.group(1)
        real = env.get(name)
        if real is None or not matches(m.group(0), real, salt):
            raise SecretChanged(name)
        return real

    return map_strings(value, lambda text: SENTINEL.sub(sub, text) if "⟦secret:" in text else text)


def matches_template(template: str, live: str, salt: str) -> bool:
    """Whether `live` is `template` with each sentinel replaced by the secret it stands for.

    Works without the secret's current value, so a live value that still holds a
    secret since rotated is recognised as what was applied.
    """
    parts = SENTINEL.split(template)
    # split() yields literal, name, digest, literal, name, digest, ..., literal
    literals, tokens = parts[0::3], []
    for i in range(1, len(parts), 3):
        tokens.append(f"⟦secret:{parts[i]}:{parts[i + 1]}⟧")
    if not tokens:
        return template == live
    pattern = "(.*?)".join(re.escape(lit) for lit in literals)
    found = re.fullmatch(pattern, live, re.DOTALL)
    return found is not None and all(
        matches(token, got, salt) for token, got in zip(tokens, found.groups(), strict=True)
    )


def sentinelize(live: Any, templates: list[Any], salt: str) -> Any:
    """`live` with real secret values turned back into sentinels.

    `templates` are the forms this field had with sentinels in them (what the
    manifest wants now, what was last applied, what was observed). Where a
    string template holds a sentinel and the live value is that template with
    its secrets filled in, the live value becomes the template; where no such
    template matches, it becomes a sentinel of the live value itself (named `_`),
    never the value: a field that held a secret stays masked whatever the
    manifest says now. Objects and lists are walked key by key and item by item.
    """
    if isinstance(live, str):
        secret_forms = [t for t in templates if isinstance(t, str) and has_secret(t)]
        if not secret_forms:
            return live
        for t in secret_forms:
            if matches_template(t, live, salt):
                return t
        return sentinel(UNKNOWN, live, salt)
    if isinstance(live, dict):
        return {
            k: sentinelize(v, [t[k] for t in templates if isinstance(t, dict) and k in t], salt)
            for k, v in live.items()
        }
    if isinstance(live, list):
        return [
            sentinelize(
                v,
                [t[i] for t in templates if isinstance(t, list) and len(t) == len(live)],
                salt,
            )
            for i, v in enumerate(live)
        ]
    return live


def upgrade_legacy(value: Any, salt: str, environ: Mapping[str, str] | None = None) -> Any:
    """`value` with each unsalted sentinel of an older state replaced by the salted one,
    where the environment's value of that secret still matches it (else left as it is)."""
    env = os.environ if environ is None else environ

    def sub(m: re.Match[str]) -> str:
        name, digest = m.group(1), m.group(2)
        real = env.get(name)
        if len(digest) == 12 and real is not None and matches(m.group(0), real, salt):
            return sentinel(name, real, salt)
        return m.group(0)

    return map_strings(value, lambda text: SENTINEL.sub(sub, text) if "⟦secret:" in text else text)
