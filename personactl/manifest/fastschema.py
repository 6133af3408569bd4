"""A yes/no validator compiled from our JSON Schemas: the fast path for valid documents.

Importing jsonschema (and `referencing`, `attrs`, `rpds` behind it) costs more than
the rest of `personactl validate` of one file put together, yet nearly every
document a pre-commit hook sees is valid. `compile_schema` turns a schema into
nested closures that answer only "valid or not", with jsonschema's semantics
(draft 2020-12, no format assertions) for the keywords our schemas use. An
invalid document goes to jsonschema, which explains it: the messages are the
ones jsonschema's errors make, unchanged.

A schema using a keyword this module does not know raises `Unsupported` at
compile time, and the caller uses jsonschema for everything: never a wrong
"valid". A property test compares the two on mutated documents.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

Check = Callable[[Any], bool]

# Keywords that never change whether a value is valid (annotations, containers).
_ANNOTATIONS = frozenset(
    {
        "$schema",
        "$id",
        "$defs",
        "$comment",
        "title",
        "description",
        "default",
        "examples",
        "deprecated",
        "readOnly",
        "writeOnly",
        "format",  # an annotation in 2020-12 unless a format checker is asked for
        "then",  # read with "if"
        "else",
    }
)


class Unsupported(Exception):
    """The schema uses a keyword the fast path does not implement."""


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _is_integer(v: Any) -> bool:
    if isinstance(v, bool):
        return False
    return isinstance(v, int) or (isinstance(v, float) and v.is_integer())


_TYPES: dict[str, Check] = {
    "null": lambda v: v is None,
    "boolean": lambda v: isinstance(v, bool),
    "integer": _is_integer,
    "number": _is_number,
    "string": lambda v: isinstance(v, str),
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
}


def equal(a: Any, b: Any) -> bool:
    """jsonschema's equality: booleans are not numbers, 1 == 1.0, deep for containers."""
    if a is b:
        return True
    if isinstance(a, str) or isinstance(b, str):
        return bool(a == b)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(equal(a[k], b[k]) for k in a)
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    return bool(a == b)


class _Compiler:
    def __init__(self, root: Any) -> None:
        self.root = root
        self.refs: dict[str, list[Check]] = {}  # a cell per $ref, for recursive schemas

    def ref(self, ref: str) -> Check:
        if not ref.startswith("#"):
            raise Unsupported(f"$ref {ref!r}")
        cell = self.refs.get(ref)
        if cell is None:
            cell = self.refs[ref] = []
            node: Any = self.root
            for part in ref[1:].split("/")[1:] if ref != "#" else []:
                part = part.replace("~1", "/").replace("~0", "~")
                if not isinstance(node, dict) or part not in node:
                    raise Unsupported(f"$ref {ref!r} names nothing")
                node = node[part]
            cell.append(self.compile(node))
        return lambda v: cell[0](v)

    def compile(self, schema: Any) -> Check:
        if schema is True:
            return lambda v: True
        if schema is False:
            return lambda v: False
        if not isinstance(schema, dict):
            raise Unsupported(f"schema {schema!r}")
        checks: list[Check] = []
        for key, value in schema.items():
            if key in _ANNOTATIONS:
                continue
            make = getattr(self, "k_" + key.lstrip("$"), None)
            if make is None:
                raise Unsupported(key)
            checks.append(make(value, schema))
        if not checks:
            return lambda v: True
        if len(checks) == 1:
            return checks[0]
        return lambda v: all(c(v) for c in checks)

    # -- any type --------------------------------------------------------------------

    def k_ref(self, value: str, _: dict[str, Any]) -> Check:
        return self.ref(value)

    def k_type(self, value: str | list[str], _: dict[str, Any]) -> Check:
        names = [value] if isinstance(value, str) else value
        if any(n not in _TYPES for n in names):
            raise Unsupported(f"type {value!r}")
        tests = [_TYPES[n] for n in names]
        return lambda v: any(t(v) for t in tests)

    def k_enum(self, value: list[Any], _: dict[str, Any]) -> Check:
        return lambda v: any(equal(v, e) for e in value)

    def k_const(self, value: Any, _: dict[str, Any]) -> Check:
        return lambda v: equal(v, value)

    def k_allOf(self, value: list[Any], _: dict[str, Any]) -> Check:  # noqa: N802
        subs = [self.compile(s) for s in value]
        return lambda v: all(s(v) for s in subs)

    def k_anyOf(self, value: list[Any], _: dict[str, Any]) -> Check:  # noqa: N802
        subs = [self.compile(s) for s in value]
        return lambda v: any(s(v) for s in subs)

    def k_oneOf(self, value: list[Any], _: dict[str, Any]) -> Check:  # noqa: N802
        subs = [self.compile(s) for s in value]
        return lambda v: sum(1 for s in subs if s(v)) == 1

    def k_not(self, value: Any, _: dict[str, Any]) -> Check:
        sub = self.compile(value)
        return lambda v: not sub(v)

    def k_if(self, value: Any, schema: dict[str, Any]) -> Check:
        cond = self.compile(value)
        then = self.compile(schema.get("then", True))
        other = self.compile(schema.get("else", True))
        return lambda v: then(v) if cond(v) else other(v)

    # -- numbers ---------------------------------------------------------------------

    # Written as jsonschema tests them (`not v < bound`), so NaN behaves the same.

    def k_minimum(self, bound: float, _: dict[str, Any]) -> Check:
        return lambda v: not _is_number(v) or not v < bound

    def k_maximum(self, bound: float, _: dict[str, Any]) -> Check:
        return lambda v: not _is_number(v) or not v > bound

    def k_exclusiveMinimum(self, bound: float, _: dict[str, Any]) -> Check:  # noqa: N802
        return lambda v: not _is_number(v) or not v <= bound

    def k_exclusiveMaximum(self, bound: float, _: dict[str, Any]) -> Check:  # noqa: N802
        return lambda v: not _is_number(v) or not v >= bound

    # -- strings ---------------------------------------------------------------------

    def k_minLength(self, n: int, _: dict[str, Any]) -> Check:  # noqa: N802
        return lambda v: not isinstance(v, str) or len(v) >= n

    def k_maxLength(self, n: int, _: dict[str, Any]) -> Check:  # noqa: N802
        return lambda v: not isinstance(v, str) or len(v) <= n

    def k_pattern(self, pattern: str, _: dict[str, Any]) -> Check:
        search = re.compile(pattern).search
        return lambda v: not isinstance(v, str) or search(v) is not None

    # -- arrays ----------------------------------------------------------------------

    def k_items(self, value: Any, schema: dict[str, Any]) -> Check:
        if "prefixItems" in schema:
            raise Unsupported("prefixItems")
        sub = self.compile(value)
        return lambda v: not isinstance(v, list) or all(sub(x) for x in v)

    def k_minItems(self, n: int, _: dict[str, Any]) -> Check:  # noqa: N802
        return lambda v: not isinstance(v, list) or len(v) >= n

    def k_maxItems(self, n: int, _: dict[str, Any]) -> Check:  # noqa: N802
        return lambda v: not isinstance(v, list) or len(v) <= n

    def k_uniqueItems(self, value: bool, _: dict[str, Any]) -> Check:  # noqa: N802
        if not value:
            return lambda v: True

        def unique(v: Any) -> bool:
            if not isinstance(v, list):
                return True
            return not any(equal(a, b) for i, a in enumerate(v) for b in v[i + 1 :])

        return unique

    # -- objects ---------------------------------------------------------------------

    def k_properties(self, value: dict[str, Any], _: dict[str, Any]) -> Check:
        subs = {k: self.compile(s) for k, s in value.items()}

        def properties(v: Any) -> bool:
            if not isinstance(v, dict):
                return True
            if len(v) < len(subs):
                return all(sub(v[k]) for k, sub in subs.items() if k in v)
            return all(subs[k](x) for k, x in v.items() if k in subs)

        return properties

    def k_patternProperties(self, value: dict[str, Any], _: dict[str, Any]) -> Check:  # noqa: N802
        subs = [(re.compile(p).search, self.compile(s)) for p, s in value.items()]
        return lambda v: (
            not isinstance(v, dict)
            or all(sub(x) for k, x in v.items() for search, sub in subs if search(k))
        )

    def k_additionalProperties(self, value: Any, schema: dict[str, Any]) -> Check:  # noqa: N802
        known = frozenset(schema.get("properties", {}))
        patterns = [re.compile(p).search for p in schema.get("patternProperties", {})]
        sub = self.compile(value)

        def additional(v: Any) -> bool:
            if not isinstance(v, dict):
                return True
            return all(
                sub(x)
                for k, x in v.items()
                if k not in known and not any(search(k) for search in patterns)
            )

        return additional

    def k_required(self, names: list[str], _: dict[str, Any]) -> Check:
        return lambda v: not isinstance(v, dict) or all(n in v for n in names)

    def k_propertyNames(self, value: Any, _: dict[str, Any]) -> Check:  # noqa: N802
        sub = self.compile(value)
        return lambda v: not isinstance(v, dict) or all(sub(k) for k in v)

    def k_minProperties(self, n: int, _: dict[str, Any]) -> Check:  # noqa: N802
        return lambda v: not isinstance(v, dict) or len(v) >= n

    def k_maxProperties(self, n: int, _: dict[str, Any]) -> Check:  # noqa: N802
        return lambda v: not isinstance(v, dict) or len(v) <= n


def compile_schema(schema: Any) -> Check:
    """A function saying whether a value is valid against `schema`; raises Unsupported."""
    return _Compiler(schema).compile(schema)
