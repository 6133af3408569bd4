"""The JSON Schemas for each kind, and validation with readable messages."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

from personactl.core.errors import Diagnostic, Location
from personactl.manifest.yamlsource import KeyPath

KINDS = {
    "project": "Project",
    "persona": "Persona",
    "tool": "Tool",
    "llm": "LLM",
    "knowledgegroup": "KnowledgeGroup",
}


def schema_dir() -> Path:
    """Schemas ship inside the wheel (personactl/schemas); in a checkout they sit beside it."""
    here = Path(__file__).resolve().parent.parent
    for candidate in (here / "schemas", here.parent / "schemas"):
        if (candidate / "persona.schema.json").is_file():
            return candidate
    raise FileNotFoundError("personactl's JSON Schemas are missing from the installation")


def schema_path(kind: str) -> Path:
    return schema_dir() / f"{kind.lower()}.schema.json"


def schema_text(kind: str) -> str:
    return schema_path(kind).read_text(encoding="utf-8")


@cache
def fmt_path(path: KeyPath) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _value(v: Any) -> str:
    text = json.dumps(v, ensure_ascii=False) if not isinstance(v, str) else repr(v)
    # One line, always: escape line separators and other unprintable characters.
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


def _branch_problem(err: Any) -> str:
    """The first problem of one anyOf/oneOf branch, as a short phrase."""
    if err.validator == "additionalProperties":
        extra = sorted(set(err.instance) - set(err.schema.get("properties", {})))
        return f"{', '.join(repr(e) for e in extra)} not supported"
    if err.validator in ("minimum", "maximum"):
        key = err.path[-1] if err.path else "value"
        bound = "at least" if err.validator == "minimum" else "at most"
        return f"{key} must be {bound} {err.validator_value}"
    if err.validator == "enum":
        key = err.path[-1] if err.path else "value"
        return f"{key} must be one of {', '.join(map(str, err.validator_value))}"
    if err.validator == "type":
        key = err.path[-1] if err.path else "value"
        return f"{key} must be a {err.validator_value}"
    return str(err.message)


_UUID = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
_PATTERN_WORDS = {
    _UUID: "is not a UUID",
    "^[a-zA-Z0-9_.-]+$": "may contain only letters, digits, '_', '.' and '-'",
    "^(https?://[^\\s/$.?#][^\\s]*|.*\\{\\{.*\\}\\}.*)$": "is not an http:// or https:// URL",
    "^[a-z]{2}$": "is not a two-letter ISO 639-1 code (e.g. en, fr)",
    "^https?://": "is not an http:// or https:// URL",
    "^\\S([\\s\\S]*\\S)?$": "must not start or end with white space",
}
# $defs.printable: characters that would hide what a name or label really says.
_HIDDEN_CHARS = "[\\u0000-\\u001f\\u007f-\\u009f\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069]"


def _hidden_char(value: Any) -> str:
    """'U+202E (RIGHT-TO-LEFT OVERRIDE)': the first character $defs.printable refuses."""
    import re
    import unicodedata

    found = re.search(_HIDDEN_CHARS, value) if isinstance(value, str) else None
    if found is None:  # pragma: no cover - the schema matched it
        return "a character"
    char = found.group()
    name = unicodedata.name(char, "")  # control characters have no name
    return f"U+{ord(char):04X}" + (f" ({name})" if name else "")


def _message(err: Any, field: str, bool_word: bool) -> str:
    v = err.validator
    where = f"{field}: " if field else ""
    if v == "required":
        missing = err.message.split("'")[1] if "'" in err.message else err.message
        return f"{where}missing required field {missing!r}"
    if v == "additionalProperties":
        allowed = sorted(err.schema.get("properties", {}))
        extra = sorted(set(err.instance) - set(allowed))
        return (
            f"{where}unknown field {', '.join(repr(e) for e in extra)} "
            f"(allowed: {', '.join(allowed)})"
        )
    if v == "type":
        hint = ""
        if bool_word:
            hint = " (YAML reads yes/no/on/off as booleans: quote the value)"
        expected = err.validator_value
        expected = " or ".join(expected) if isinstance(expected, list) else expected
        return f"{where}expected {expected}, got {_value(err.instance)}{hint}"
    if v == "enum":
        return (
            f"{where}{_value(err.instance)} is not one of "
            f"{', '.join(str(x) for x in err.validator_value)}"
        )
    if v == "const":
        return f"{where}must be {_value(err.validator_value)}, got {_value(err.instance)}"
    if v in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        word = {"minimum": "below the minimum", "maximum": "above the maximum"}.get(v, v)
        return f"{where}{_value(err.instance)} is {word} {err.validator_value}"
    if v == "pattern" and err.validator_value in _PATTERN_WORDS:
        return f"{where}{_value(err.instance)} {_PATTERN_WORDS[err.validator_value]}"
    if v == "pattern":
        return f"{where}{_value(err.instance)} does not match the pattern {err.validator_value}"
    if v == "minLength" and err.validator_value == 1:
        return f"{where}must not be empty"
    if v in ("minLength", "maxLength"):
        bound = "at least" if v == "minLength" else "at most"
        return f"{where}must be {bound} {err.validator_value} characters long"
    if v in ("minItems", "minProperties"):
        return f"{where}must not be empty"
    if v == "uniqueItems":
        return f"{where}has duplicate entries"
    if v in ("anyOf", "oneOf") and err.context:
        titles = [s.get("title") for s in err.validator_value]
        if all(titles) and field.endswith("voiceGeneration"):
            by_branch: dict[int, Any] = {}
            for sub in err.context:
                by_branch.setdefault(sub.relative_schema_path[0], sub)
            parts = [f"{titles[i]}: {_branch_problem(e)}" for i, e in sorted(by_branch.items())]
            return f"{where}fits no voice provider ({'; '.join(parts)})"
        required = [s["required"] for s in err.validator_value if "required" in s]
        if required and isinstance(err.instance, dict):
            options = " or ".join(repr(r[0]) for r in required)
            return f"{where}set exactly one of {options}"
        if all(titles):
            return f"{where}must be one of: {', '.join(str(t) for t in titles)}"
    if v == "not" and err.validator_value == {"pattern": _HIDDEN_CHARS}:
        return (
            f"{where}{_value(err.instance)} contains {_hidden_char(err.instance)}, a control or "
            "bidirectional formatting character; remove it"
        )
    if v == "not":
        return f"{where}has a field that is not allowed here"
    return f"{where}{err.message}"


def fitting_branches(err: Any, rules_out: Callable[[Any], bool]) -> list[list[Any]]:
    """The errors of each branch of the oneOf/anyOf failure `err`, for the branches none
    of whose errors `rules_out` (says the value was not meant as that branch)."""
    branches: dict[object, list[Any]] = {}
    for sub in err.context:
        branches.setdefault(sub.relative_schema_path[0], []).append(sub)
    return [errs for errs in branches.values() if not any(rules_out(e) for e in errs)]


def _leaf_errors(err: Any, prefix: KeyPath) -> Iterator[Any]:
    """Errors to report for `err`. For a oneOf/anyOf whose alternatives differ in
    shape ({id} or {name}, a string or an object), report the problems of the
    one alternative the value was evidently meant as, not the union."""
    if err.validator in ("oneOf", "anyOf") and err.context:
        path = prefix + tuple(err.absolute_path)
        if path and path[-1] == "voiceGeneration":
            yield err  # every provider is a candidate: one message lists them all
            return
        viable = fitting_branches(
            err,
            lambda e: e.validator in ("type", "required", "const", "not") and not e.relative_path,
        )
        if len(viable) == 1:
            for sub in viable[0]:
                yield from _leaf_errors(sub, prefix)
            return
    yield err


# Persona spec fields whose values are often shared between personas (the same
# avatar, voice, LLM, options): validated on their own and memoised by value.
_MEMO_FIELDS = {"Persona": ("avatar", "voice", "llm", "voiceGeneration", "voiceDetection", "tools")}


@cache
def _split(kind: str) -> tuple[Any, dict[str, Any]]:
    """A validator for the document without the memoised fields, and one per field."""
    from jsonschema import Draft202012Validator

    full = json.loads(schema_text(kind))
    fields = _MEMO_FIELDS.get(kind, ())
    spec_props = full["properties"]["spec"]["properties"]
    per_field = {
        name: Draft202012Validator({**spec_props[name], "$defs": full.get("$defs", {})})
        for name in fields
    }
    for name in fields:
        spec_props[name] = True
    return Draft202012Validator(full), per_field


_memo: dict[tuple[str, str, str], list[Any]] = {}


def _errors(kind: str, data: Any) -> Iterator[tuple[KeyPath, Any]]:
    """(prefix, error) for every schema error of `data`."""
    top, per_field = _split(kind)
    for err in top.iter_errors(data):
        yield (), err
    spec = data.get("spec") if isinstance(data, dict) else None
    if not isinstance(spec, dict):
        return
    for name, validator in per_field.items():
        if name not in spec:
            continue
        value = spec[name]
        key = (kind, name, json.dumps(value, sort_keys=True, default=repr))
        found = _memo.get(key)
        if found is None:
            found = _memo[key] = list(validator.iter_errors(value))
        for err in found:
            yield ("spec", name), err


_fast: dict[str, Callable[[Any], bool] | None] = {}


def fast_valid(kind: str, data: Any) -> bool:
    """True when `data` is certainly valid, without importing jsonschema (fastschema.py);
    False means "ask jsonschema", which finds and explains the errors."""
    if kind not in _fast:
        from personactl.manifest.fastschema import Unsupported, compile_schema

        try:
            _fast[kind] = compile_schema(json.loads(schema_text(kind)))
        except Unsupported:
            _fast[kind] = None
    check = _fast[kind]
    return check is not None and check(data)


def validate_document(
    kind: str,
    data: Any,
    loc: Any,  # Callable[[KeyPath], Location]
    key_loc: Any,  # Callable[[KeyPath], Location]
    bool_words: set[KeyPath],
) -> list[Diagnostic]:
    """All schema errors of one document, each at the location of the bad value."""
    if fast_valid(kind, data):
        return []
    out: list[Diagnostic] = []
    for prefix, top in _errors(kind, data):
        for err in _leaf_errors(top, prefix):
            path = prefix + tuple(err.absolute_path)
            at: Location = loc(path)
            field = fmt_path(path)
            if "propertyNames" in err.absolute_schema_path:
                at = key_loc(path + (err.instance,))  # the key itself is at fault
            elif err.validator == "additionalProperties" and isinstance(err.instance, dict):
                extra = sorted(set(err.instance) - set(err.schema.get("properties", {})))
                if extra:
                    at = key_loc(path + (extra[0],))
            elif err.validator == "anyOf" and err.context:
                # The providers that accept these keys all object to one value: point at it.
                by_branch: dict[int, set[KeyPath]] = {}
                for e in err.context:
                    by_branch.setdefault(e.relative_schema_path[0], set()).add(
                        tuple(e.relative_path)
                    )
                fitting = [p for p in by_branch.values() if () not in p]
                subpaths = set().union(*fitting) if fitting else set()
                if len(subpaths) == 1:
                    at = loc(path + subpaths.pop())
            msg = _message(err, field, path in bool_words)
            out.append(Diagnostic.at(at, msg, f"schema-{err.validator}"))
    return out


def modeline(kind: str, folder: Path) -> str:
    """The YAML language server's schema modeline for a manifest written in `folder`: a
    relative path to a copy of personactl's schemas in the folder or above it (a
    checkout, as the examples have), else the schema's public address (its `$id`);
    never a path into this machine's installation, which would be wrong once committed."""
    import os

    file = f"{kind.lower()}.schema.json"
    public = json.loads(schema_text(kind))["$id"]
    here = folder.resolve()
    for base in (here, *here.parents):
        candidate = base / "schemas" / file
        try:
            found = json.loads(candidate.read_text(encoding="utf-8")).get("$id")
        except (OSError, ValueError, AttributeError):
            continue
        if found == public:
            return f"# yaml-language-server: $schema={os.path.relpath(candidate, here)}"
    return f"# yaml-language-server: $schema={public}"
