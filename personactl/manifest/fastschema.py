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


_OBJECT = frozenset(
    {
        "properties",
        "additionalProperties",
        "patternProperties",
        "required",
        "propertyNames",
        "minProperties",
        "maxProperties",
    }
)
_STRING = frozenset({"minLength", "maxLength", "pattern"})
_NUMBER = frozenset({"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"})
_ARRAY = frozenset({"items", "minItems", "maxItems", "uniqueItems"})
_OTHER = frozenset({"$ref", "type", "enum", "const", "allOf", "anyOf", "oneOf", "not", "if"})
_INF = float("inf")


def _true(v: Any) -> bool:
    return True


def _false(v: Any) -> bool:
    return False


def _all(checks: list[Check]) -> Check:
    if not checks:
        return _true
    if len(checks) == 1:
        return checks[0]

    def all_of(v: Any) -> bool:
        for c in checks:  # noqa: SIM110 - a loop, not a generator: this is the hot path
            if not c(v):
                return False
        return True

    return all_of


def _typed(name: str, own: Check | None, rest: Check) -> Check:
    """A schema of one JSON type: that type's test, its keywords (`own`, which may
    assume the type), then the keywords for every value (`rest`)."""
    test = _TYPES[name]
    if name == "object" and own is not None and rest is _true:
        return lambda v: isinstance(v, dict) and own(v)
    if name == "string" and own is not None and rest is _true:
        return lambda v: isinstance(v, str) and own(v)
    if own is None:
        return test if rest is _true else lambda v: test(v) and rest(v)
    if rest is _true:
        return lambda v: test(v) and own(v)
    return lambda v: test(v) and own(v) and rest(v)


class _Compiler:
    """Each schema becomes one closure: the keywords for one JSON type are checked
    together, after one test of the value's type (the keywords of other types do not
    apply to it), then the keywords that apply to every value."""

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
            return _true
        if schema is False:
            return _false
        if not isinstance(schema, dict):
            raise Unsupported(f"schema {schema!r}")
        for key in schema:
            if key not in _ANNOTATIONS and key not in _OTHER | _OBJECT | _STRING | _NUMBER | _ARRAY:
                raise Unsupported(key)
        obj = self.object_keywords(schema) if _OBJECT & schema.keys() else None
        text = self.string_keywords(schema) if _STRING & schema.keys() else None
        num = self.number_keywords(schema) if _NUMBER & schema.keys() else None
        arr = self.array_keywords(schema) if _ARRAY & schema.keys() else None
        typed = schema.get("type")
        if isinstance(typed, str) and typed in _TYPES:
            # One type (most schemas): test it first, then only that type's keywords.
            rest = _all([self.other(key, schema) for key in schema if key in _OTHER - {"type"}])
            own = {"object": obj, "string": text, "array": arr, "number": num, "integer": num}
            return _typed(typed, own.get(typed), rest)
        rest = _all([self.other(key, schema) for key in schema if key in _OTHER])
        if obj is None and text is None and num is None and arr is None:
            return rest

        def check(v: Any) -> bool:
            if isinstance(v, dict):
                if obj is not None and not obj(v):
                    return False
            elif isinstance(v, str):
                if text is not None and not text(v):
                    return False
            elif isinstance(v, list):
                if arr is not None and not arr(v):
                    return False
            elif (
                num is not None
                and isinstance(v, int | float)
                and not isinstance(v, bool)
                and not num(v)
            ):
                return False
            return rest(v)

        return check

    # -- every type ------------------------------------------------------------------

    def other(self, key: str, schema: dict[str, Any]) -> Check:
        value = schema[key]
        if key == "$ref":
            return self.ref(value)
        if key == "type":
            names = [value] if isinstance(value, str) else value
            if any(n not in _TYPES for n in names):
                raise Unsupported(f"type {value!r}")
            if len(names) == 1:
                return _TYPES[names[0]]
            tests = [_TYPES[n] for n in names]
            return lambda v: any(t(v) for t in tests)
        if key == "enum":
            if all(isinstance(e, str) for e in value):
                strings = frozenset(value)
                return lambda v: isinstance(v, str) and v in strings
            return lambda v: any(equal(v, e) for e in value)
        if key == "const":
            return lambda v: equal(v, value)
        subs = [self.compile(s) for s in value] if key in ("allOf", "anyOf", "oneOf") else []
        if key == "allOf":
            return _all(subs)
        if key == "anyOf":

            def any_of(v: Any) -> bool:
                for sub in subs:  # noqa: SIM110 - a loop, not a generator: the hot path
                    if sub(v):
                        return True
                return False

            return any_of
        if key == "oneOf":

            def one_of(v: Any) -> bool:
                found = 0
                for sub in subs:
                    if sub(v):
                        found += 1
                        if found > 1:
                            return False
                return found == 1

            return one_of
        if key == "not":
            negated = self.compile(value)
            return lambda v: not negated(v)
        # "if", with its "then" and "else"
        cond = self.compile(value)
        then = self.compile(schema.get("then", True))
        other = self.compile(schema.get("else", True))
        return lambda v: then(v) if cond(v) else other(v)

    # -- one type each ---------------------------------------------------------------

    def object_keywords(self, schema: dict[str, Any]) -> Check:
        props = {k: self.compile(s) for k, s in schema.get("properties", {}).items()}
        patterns = [
            (re.compile(p).search, self.compile(s))
            for p, s in schema.get("patternProperties", {}).items()
        ]
        extra = schema.get("additionalProperties")
        additional = None if extra is None else self.compile(extra)
        names = self.compile(schema["propertyNames"]) if "propertyNames" in schema else None
        required = tuple(schema.get("required", ()))
        low, high = schema.get("minProperties", 0), schema.get("maxProperties", _INF)

        if names is None and not patterns:  # the usual object: a cheaper loop

            def plain(v: dict[str, Any]) -> bool:
                if not low <= len(v) <= high:
                    return False
                for name in required:
                    if name not in v:
                        return False
                for key, item in v.items():
                    sub = props.get(key)
                    if sub is None:
                        if additional is not None and not additional(item):
                            return False
                    elif not sub(item):
                        return False
                return True

            return plain

        def check(v: dict[str, Any]) -> bool:
            if not low <= len(v) <= high:
                return False
            for name in required:
                if name not in v:
                    return False
            for key, item in v.items():
                if names is not None and not names(key):
                    return False
                sub = props.get(key)
                if sub is not None and not sub(item):
                    return False
                matched = False
                for search, pattern_sub in patterns:
                    if search(key):
                        matched = True
                        if not pattern_sub(item):
                            return False
                if sub is None and not matched and additional is not None and not additional(item):
                    return False
            return True

        return check

    def string_keywords(self, schema: dict[str, Any]) -> Check:
        low, high = schema.get("minLength", 0), schema.get("maxLength", _INF)
        search = re.compile(schema["pattern"]).search if "pattern" in schema else None
        if search is None:
            return lambda v: low <= len(v) <= high
        return lambda v: low <= len(v) <= high and search(v) is not None

    def number_keywords(self, schema: dict[str, Any]) -> Check:
        # Written as jsonschema tests them (`not v < bound`), so NaN behaves the same.
        lo, hi = schema.get("minimum"), schema.get("maximum")
        xlo, xhi = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")

        def check(v: float) -> bool:
            if lo is not None and v < lo:
                return False
            if hi is not None and v > hi:
                return False
            if xlo is not None and v <= xlo:
                return False
            return not (xhi is not None and v >= xhi)

        return check

    def array_keywords(self, schema: dict[str, Any]) -> Check:
        if "prefixItems" in schema:
            raise Unsupported("prefixItems")
        items = self.compile(schema["items"]) if "items" in schema else None
        low, high = schema.get("minItems", 0), schema.get("maxItems", _INF)
        unique = schema.get("uniqueItems") is True

        def check(v: list[Any]) -> bool:
            if not low <= len(v) <= high:
                return False
            if items is not None:
                for item in v:
                    if not items(item):
                        return False
            if unique:
                for i, a in enumerate(v):
                    for b in v[i + 1 :]:
                        if equal(a, b):
                            return False
            return True

        return check


def compile_schema(schema: Any) -> Check:
    """A function saying whether a value is valid against `schema`; raises Unsupported."""
    return _Compiler(schema).compile(schema)
