"""The compiled yes/no validator agrees with jsonschema, so a valid document skips
jsonschema and an invalid one gets jsonschema's messages, unchanged."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from personactl.manifest import schemas
from personactl.manifest.fastschema import Unsupported, compile_schema

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "acme-personas"
KINDS = ("Persona", "Tool", "Project")


def _docs(kind: str) -> list[Any]:
    files = [EXAMPLE / "personactl.yaml"] if kind == "Project" else sorted(EXAMPLE.rglob("*.yaml"))
    out = []
    for f in files:
        for doc in yaml.safe_load_all(f.read_text()):
            if isinstance(doc, dict) and doc.get("kind") == kind:
                out.append(doc)
    return out


SCHEMAS = {k: json.loads(schemas.schema_text(k)) for k in KINDS}
FAST = {k: compile_schema(s) for k, s in SCHEMAS.items()}
SLOW = {k: Draft202012Validator(s) for k, s in SCHEMAS.items()}
SEEDS = {k: _docs(k) for k in KINDS}


def _enum_values(node: Any, out: list[Any]) -> list[Any]:
    """Every enum and const value in a schema: mutations that are often valid."""
    if isinstance(node, dict):
        out.extend(node.get("enum", []))
        if "const" in node:
            out.append(node["const"])
        for v in node.values():
            _enum_values(v, out)
    elif isinstance(node, list):
        for v in node:
            _enum_values(v, out)
    return out


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, 1, 1.0, 0.5, 2.0, -1, "", " x", "x ", "en", "zz", "home", "a\u202eb"]),
    st.sampled_from(
        sorted({json.dumps(v) for k in KINDS for v in _enum_values(SCHEMAS[k], [])})
    ).map(json.loads),
    st.text(max_size=8),
    st.sampled_from(["2b3c1d2e-0000-4000-8000-00000000000a", "https://x.example/a", "{{ a }}"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(
            st.sampled_from(["id", "name", "variant", "speed", "type", "url", "x", "text"]),
            inner,
            max_size=3,
        ),
    ),
    max_leaves=6,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, prefix + (i,))
    return out


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, Any]:
    kind = draw(st.sampled_from(KINDS))
    doc = copy.deepcopy(draw(st.sampled_from(SEEDS[kind])))
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_paths(doc)))
        if not path:
            continue
        parent = doc
        for part in path[:-1]:
            parent = parent[part]
        how = draw(st.sampled_from(["set", "delete", "add"]))
        if how == "set":
            parent[path[-1]] = draw(values)
        elif how == "delete" and isinstance(parent, dict):
            del parent[path[-1]]
        elif isinstance(parent[path[-1]], dict):
            key = draw(st.sampled_from(["id", "name", "speed", "bogus", "type", "variant"]))
            parent[path[-1]][key] = draw(values)
    return kind, doc


@settings(max_examples=150, deadline=None)
@given(mutated())
def test_fast_verdict_is_jsonschemas(case: tuple[str, Any]) -> None:
    kind, doc = case
    assert FAST[kind](doc) == SLOW[kind].is_valid(doc)


def test_every_example_document_is_valid_on_the_fast_path() -> None:
    for kind in KINDS:
        assert SEEDS[kind], kind
        for doc in SEEDS[kind]:
            assert FAST[kind](doc), doc


@pytest.mark.parametrize(
    ("schema", "good", "bad"),
    [
        ({"enum": [1, "a"]}, [1, 1.0, "a"], [True, "b", [1]]),
        ({"const": False}, [False], [0, None]),
        ({"minimum": 0}, [0, "x", math.nan], [-1, -0.5]),
        ({"type": "integer"}, [3, 3.0], [3.5, True, "3"]),
        (
            {"uniqueItems": True},
            [[1, True], [{"a": 1}, {"a": 2}]],
            [[1, 1.0], [{"a": 1}, {"a": 1}]],
        ),
        (
            {"properties": {"a": {"type": "string"}}, "additionalProperties": False},
            [{}, {"a": "x"}],
            [{"b": 1}, {"a": 1}],
        ),
        ({"oneOf": [{"type": "number"}, {"type": "integer"}]}, [1.5], [1]),
        ({"if": {"const": 1}, "then": False, "else": {"type": "integer"}}, [2], [1, "x"]),
    ],
)
def test_keywords_as_jsonschema_reads_them(schema: Any, good: list[Any], bad: list[Any]) -> None:
    fast, slow = compile_schema(schema), Draft202012Validator(schema)
    for v in good:
        assert fast(v) and slow.is_valid(v), v
    for v in bad:
        assert not fast(v) and not slow.is_valid(v), v


def test_an_unknown_keyword_sends_everything_to_jsonschema() -> None:
    with pytest.raises(Unsupported):
        compile_schema({"properties": {"a": {"dependentRequired": {"a": ["b"]}}}})
    with pytest.raises(Unsupported):
        compile_schema({"$ref": "https://example.com/other.json"})


def test_invalid_documents_keep_jsonschemas_messages() -> None:
    """The fast path answers only "valid": an invalid document is explained as before."""
    doc = copy.deepcopy(SEEDS["Persona"][0])
    doc["spec"]["voiceGeneration"] = {"speed": 9}
    doc["spec"]["languageCode"] = "english"
    assert not schemas.fast_valid("Persona", doc)
    diags = schemas.validate_document("Persona", doc, lambda p: _Loc(p), lambda p: _Loc(p), set())
    assert [d.message for d in diags] == [
        "spec.languageCode: 'english' is not a two-letter ISO 639-1 code (e.g. en, fr)",
        "spec.voiceGeneration: fits no voice provider (ElevenLabs V1: speed must be at most 1.2; "
        "ElevenLabs V2: speed must be at most 1.2; Cartesia Sonic-3: speed must be at most 1.5; "
        "Fish Audio: speed must be at most 2)",
    ]


class _Loc:
    def __init__(self, _: Any) -> None:
        self.path, self.line, self.column = "f.yaml", 1, 1
