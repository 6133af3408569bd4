"""One declaration per resource kind: the types, and everything derived from them.

A `Kind` lists its `Field`s once: the manifest key and the API's body key,
where a GET response holds it, whether it names something else (a reference
resolved through the catalog or another manifest), is a set, an options object
sent whole, write-only, live-updatable or secret-bearing, what it is reset to
when it leaves the manifest, and which other fields the API resets when it
changes. Normalize, request bodies, read-back, diff order, import's reverse
mapping, session-config's live fields and the schema field lists are all
derived from it, so adding a field is one edit (the declarations themselves
live in `anam.kinds`, which knows the API; this module is the shape every
layer may import).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Final


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


# Absent: not in the manifest, not in a response (never the same as null).
MISSING: Final[Any] = _Missing()

# A step in a read path that means "every item of this list".
EACH = "[]"


@dataclass(frozen=True)
class Field:
    manifest: str  # the key under `spec`: "voice"
    body: str  # the key in POST/PUT bodies and in the normalized live form: "voiceId"
    # Where a GET response holds it: ("voice", "id"), ("brain", "systemPrompt"),
    # ("tools", EACH, "id"). Default: the body key at the top.
    read: tuple[str, ...] = ()
    # What a manifest value names: a catalog entry (avatar, voice, llm) or a Kind ("Tool").
    ref: str | None = None
    is_set: bool = False  # order irrelevant: compared and sent sorted
    nested: bool = False  # an options object: sent whole when any key changes
    write_only: bool = False  # not in the documented GET response: compared with applied
    live: bool = False  # settable in a running session (persona_config)
    secret_bearing: bool = False  # strings here may hold {{ secret() }} values
    reset: Any = MISSING  # its value once removed from the manifest; MISSING: unmanaged
    on_create: bool = True  # in the POST schema (else sent by a PUT right after)
    resets: tuple[str, ...] = ()  # body keys the API resets when this one changes
    # An options object naming knowledge folders: (key of the names, key of their ids).
    folders: tuple[str, str] = ("", "")
    # The PUT body takes this list as one string, under this key: the value of that key
    # in the list's only item (an LLM's `urls` -> `url`). A list the PUT cannot say
    # (more items, other keys) means the resource must be replaced.
    put_single: str = ""
    # The values the PUT schema accepts, when it accepts fewer than the POST (empty: any).
    put_enum: tuple[str, ...] = ()

    @property
    def path(self) -> tuple[str, ...]:
        return self.read or (self.body,)

    def read_from(self, response: Mapping[str, Any]) -> Any:
        """This field's value in a GET response, in body vocabulary; MISSING if absent."""
        head, *rest = self.path
        if head not in response:
            return MISSING
        value = _walk(response[head], rest)
        if self.is_set and isinstance(value, list):
            return sorted(value)
        return value


def _walk(value: Any, steps: list[str]) -> Any:
    """Follow `steps` into `value`: a key of an object (MISSING when absent, None when
    the value is not an object), or EACH item of a list (those that hold the rest)."""
    for i, step in enumerate(steps):
        if step == EACH:
            items = value if isinstance(value, list) else []
            found = (_walk(item, steps[i + 1 :]) for item in items if isinstance(item, dict))
            return [x for x in found if x is not MISSING]
        if not isinstance(value, dict):
            return None
        if step not in value:
            return MISSING
        value = value[step]
    return value


@dataclass(frozen=True)
class Kind:
    """A resource kind: its fields and its place in the API (path relative to the base)."""

    name: str  # "Persona"
    path: str  # the collection, e.g. "/v1/personas"
    fields: tuple[Field, ...] = field(default_factory=tuple)
    # The response key counting the live resources that use this one (a tool's users).
    usage: str | None = None
    # The body key of the resource's name in Anam (its identity): an LLM's `displayName`.
    name_key: str = "name"

    # -- derived ----------------------------------------------------------------------

    @cached_property
    def by_body(self) -> dict[str, Field]:
        return {f.body: f for f in self.fields}

    @cached_property
    def by_manifest(self) -> dict[str, Field]:
        return {f.manifest: f for f in self.fields}

    @cached_property
    def order(self) -> list[str]:
        """Body keys in the order plans show them: the name first."""
        return [self.name_key, *(f.body for f in self.fields)]

    @cached_property
    def put_keys(self) -> frozenset[str]:
        """The keys of a PUT body (a field the PUT takes as one string under its own key)."""
        return frozenset([self.name_key, *(f.put_single or f.body for f in self.fields)])

    @cached_property
    def post_keys(self) -> frozenset[str]:
        return frozenset([self.name_key, *(f.body for f in self.fields if f.on_create)])

    def put_request(self, body: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
        """A change in body vocabulary as the PUT body that makes it, and why a part of it
        cannot be made by a PUT (then the resource must be replaced)."""
        put: dict[str, Any] = {}
        problems: list[str] = []
        for key, value in body.items():
            f = self.by_body.get(key)
            if f is None:
                put[key] = value
                continue
            if f.put_enum and value not in f.put_enum:
                problems.append(
                    f"{f.manifest} {value!r} cannot be set by a PUT (it takes "
                    f"{', '.join(f.put_enum)})"
                )
            if not f.put_single:
                put[key] = value
            elif (
                isinstance(value, list)
                and len(value) == 1
                and isinstance(value[0], dict)
                and set(value[0]) == {f.put_single}
            ):
                put[f.put_single] = value[0][f.put_single]
            else:
                problems.append(
                    f"{f.manifest} cannot be changed by a PUT (it takes one "
                    f"{f.put_single} string: a single item with no other key)"
                )
        return put, problems

    def from_put(self, sent: Mapping[str, Any]) -> dict[str, Any]:
        """A PUT body back in body vocabulary (`url` -> `urls: [{url}]`)."""
        singles = {f.put_single: f.body for f in self.fields if f.put_single}
        return {singles.get(k, k): [{k: v}] if k in singles else v for k, v in sent.items()}

    @cached_property
    def nested(self) -> frozenset[str]:
        return frozenset(f.body for f in self.fields if f.nested)

    @cached_property
    def sets(self) -> frozenset[str]:
        return frozenset(f.body for f in self.fields if f.is_set)

    @cached_property
    def resets(self) -> dict[str, Any]:
        return {f.body: f.reset for f in self.fields if f.reset is not MISSING}

    @cached_property
    def companions(self) -> list[tuple[str, str]]:
        """(changed body key, body key the API resets because of it)."""
        return [(f.body, other) for f in self.fields for other in f.resets]

    @cached_property
    def live_fields(self) -> list[Field]:
        return [f for f in self.fields if f.live]

    def manifest_path(self, body_key: str) -> str:
        """`voiceGenerationOptions` -> `voiceGeneration` (unknown keys stay as they are)."""
        f = self.by_body.get(body_key)
        return f.manifest if f else body_key

    def body_path(self, manifest_path: str) -> tuple[str, ...]:
        """`voiceDetection.speechEnhancementLevel` -> (voiceDetectionOptions, ...)."""
        head, *rest = manifest_path.split(".")
        f = self.by_manifest.get(head)
        return (f.body if f else head, *rest)

    def normalize(self, response: Mapping[str, Any]) -> dict[str, Any]:
        """A GET response in body vocabulary: only the fields it holds (a missing key
        means the API did not return it, never "unset")."""
        out: dict[str, Any] = {self.name_key: response.get(self.name_key)}
        for f in self.fields:
            value = f.read_from(response)
            if value is not MISSING:
                out[f.body] = value
        return out
