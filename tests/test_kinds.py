"""The kind declarations (personactl.anam.kinds) against the official OpenAPI document and
our own JSON Schemas: every place that lists fields is derived from them, so they must be
right. Pure: no HTTP."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from personactl.anam.kinds import KINDS, KNOWLEDGE_GROUP, PERSONA, TOOL
from personactl.core.kinds import MISSING, Kind

REPO = Path(__file__).resolve().parent.parent
OPENAPI = json.loads(
    (REPO.parent / "shared" / "reference" / "anam-openapi.json").read_text(encoding="utf-8")
)


def _schema(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = OPENAPI["components"]["schemas"][node["$ref"].split("/")[-1]]
    return node


def _body(path: str, method: str) -> dict[str, Any]:
    op = OPENAPI["paths"][path][method]
    return _schema(op["requestBody"]["content"]["application/json"]["schema"])


def _response(path: str) -> dict[str, Any]:
    op = OPENAPI["paths"][path]["get"]
    return _schema(op["responses"]["200"]["content"]["application/json"]["schema"])


@pytest.mark.parametrize("kind", [PERSONA, TOOL, KNOWLEDGE_GROUP], ids=lambda k: k.name)
def test_post_and_put_keys_are_the_documents(kind: Kind) -> None:
    item = f"{kind.path}/{{id}}"
    assert kind.put_keys == set(_body(item, "put")["properties"])
    assert kind.post_keys == set(_body(kind.path, "post")["properties"])


def test_the_persona_put_schema_refuses_other_keys_so_bodies_never_hold_them() -> None:
    assert _body("/v1/personas/{id}", "put").get("additionalProperties") is False


@pytest.mark.parametrize("kind", [PERSONA, TOOL, KNOWLEDGE_GROUP], ids=lambda k: k.name)
def test_each_field_is_read_from_where_the_response_documents_it(kind: Kind) -> None:
    documented = set(_response(f"{kind.path}/{{id}}")["properties"])
    for f in kind.fields:
        head = f.path[0]
        # Write-only: exactly the fields the documented response lacks.
        assert (head not in documented) == f.write_only, f.body


def test_resets_are_null_where_the_document_allows_it_else_the_documented_default() -> None:
    props = _body("/v1/personas/{id}", "put")["properties"]
    for f in PERSONA.fields:
        if f.reset is MISSING:
            continue
        spec = props[f.body]
        if f.reset is None:
            assert spec.get("nullable") is True, f.body
        elif spec.get("type") == "boolean":
            assert f.reset is False, f.body
        elif spec.get("type") == "array":
            assert f.reset == [], f.body
        else:
            assert spec.get("type") == "string" and f.reset == "", f.body


@pytest.mark.parametrize(("kind", "schema"), [(PERSONA, "persona"), (TOOL, "tool")])
def test_our_manifest_schemas_list_exactly_the_declared_fields(kind: Kind, schema: str) -> None:
    doc = json.loads((REPO / "schemas" / f"{schema}.schema.json").read_text(encoding="utf-8"))
    assert set(doc["properties"]["spec"]["properties"]) == set(kind.by_manifest)


def test_the_knowledgegroup_schema_adds_only_documents_and_upload_parameters() -> None:
    path = REPO / "schemas" / "knowledgegroup.schema.json"
    spec = json.loads(path.read_text(encoding="utf-8"))["properties"]["spec"]["properties"]
    upload = OPENAPI["paths"]["/v1/knowledge/groups/{id}/documents"]["post"]["requestBody"]
    form = upload["content"]["multipart/form-data"]["schema"]["properties"]
    assert set(spec) - set(KNOWLEDGE_GROUP.by_manifest) == {"documents", *(set(form) - {"file"})}


def test_normalize_reads_a_response_into_body_vocabulary() -> None:
    raw = {
        "id": "p1",
        "name": "dev-cara",
        "avatar": {"id": "a1", "displayName": "Liv"},
        "voice": None,
        "brain": {"systemPrompt": "Hi"},
        "tools": [{"id": "t2"}, {"id": "t1"}, {"name": "no id"}],
        "voiceGenerationOptions": {"speed": 1.0},
    }
    assert PERSONA.normalize(raw) == {
        "name": "dev-cara",
        "avatarId": "a1",
        "voiceId": None,
        "systemPrompt": "Hi",
        "toolIds": ["t1", "t2"],
        "voiceGenerationOptions": {"speed": 1.0},
    }


def test_derived_views_of_the_declarations() -> None:
    assert PERSONA.companions == [
        ("avatarId", "avatarModel"),
        ("voiceId", "voiceGenerationOptions"),
    ]
    assert PERSONA.sets == {"toolIds"}
    assert PERSONA.nested == {"voiceGenerationOptions", "voiceDetectionOptions", "widgetConfig"}
    assert PERSONA.put_keys - PERSONA.post_keys == {"widgetConfig"}
    assert [f.body for f in PERSONA.live_fields] == [
        "languageCode",
        "voiceGenerationOptions",
        "voiceDetectionOptions",
    ]
    assert PERSONA.body_path("voiceDetection.speechEnhancementLevel") == (
        "voiceDetectionOptions",
        "speechEnhancementLevel",
    )
    assert PERSONA.manifest_path("systemPrompt") == "prompt"
    # what is referred to before its users
    assert list(KINDS) == ["KnowledgeGroup", "Tool", "Persona"]
