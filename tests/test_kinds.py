"""The kind declarations (personactl.anam.kinds) against the official OpenAPI document and
our own JSON Schemas: every place that lists fields is derived from them, so they must be
right. Pure: no HTTP."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from personactl.anam.kinds import KINDS, KNOWLEDGE_GROUP, LLM, LLM_PUT_FORMATS, PERSONA, TOOL
from personactl.core.kinds import MISSING, Kind

REPO = Path(__file__).resolve().parent.parent
OPENAPI = json.loads(
    (REPO / "tests" / "reference" / "anam-openapi.json").read_text(encoding="utf-8")
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


# In neither /v1/llms request schema, but in both request examples (LlmCreate, LlmUpdate)
# and in the LLM response: the emulator accepts it as the examples send it.
_EXAMPLE_ONLY = {"LLM": {"temperature"}}


def _example_keys(path: str, method: str) -> set[str]:
    op = OPENAPI["paths"][path][method]["requestBody"]["content"]["application/json"]
    name = op["examples"]["default"]["$ref"].split("/")[-1]
    return set(OPENAPI["components"]["examples"][name]["value"])


@pytest.mark.parametrize("kind", [PERSONA, TOOL, LLM, KNOWLEDGE_GROUP], ids=lambda k: k.name)
def test_post_and_put_keys_are_the_documents(kind: Kind) -> None:
    item = f"{kind.path}/{{id}}"
    extra = _EXAMPLE_ONLY.get(kind.name, set())
    assert kind.put_keys - extra == set(_body(item, "put")["properties"])
    assert kind.post_keys - extra == set(_body(kind.path, "post")["properties"])
    for key in extra:  # sent by both request examples
        assert key in _example_keys(kind.path, "post") & _example_keys(item, "put")


def test_only_the_organization_s_llms_are_llm_manifests_live() -> None:
    from personactl.anam.kinds import is_custom_llm

    # The document's LlmResponse example is a stock LLM: global and a default.
    stock = OPENAPI["components"]["examples"]["LlmResponse"]["value"]
    assert not is_custom_llm(stock)
    assert not is_custom_llm({**stock, "isDefault": False})  # global: every organization's
    assert is_custom_llm({**stock, "isDefault": False, "isGlobal": False})


def test_the_llm_post_and_put_bodies_differ_as_the_document_says() -> None:
    post = _body("/v1/llms", "post")["properties"]
    put = _body("/v1/llms/{id}", "put")["properties"]
    # POST: a `urls` list; PUT: one `url` string. The declaration translates.
    assert post["urls"]["type"] == "array" and put["url"]["type"] == "string"
    assert LLM.by_body["urls"].put_single == "url"
    assert LLM.by_body["llmFormat"].put_enum == LLM_PUT_FORMATS == tuple(put["llmFormat"]["enum"])
    assert LLM.name_key == "displayName" and "displayName" in post and "displayName" in put
    # What a PUT can say is translated; what it cannot makes the LLM be replaced.
    one = [{"url": "https://llm.example/v1"}]
    assert LLM.put_request({"urls": one, "secret": "s"}) == (
        {"url": "https://llm.example/v1", "secret": "s"},
        [],
    )
    assert LLM.from_put({"url": "https://llm.example/v1"}) == {"urls": one}
    for change in (
        {"urls": [{"url": "https://a.example", "region": "eu"}]},
        {"urls": one * 2},
        {"llmFormat": "gemini"},
    ):
        assert LLM.put_request(change)[1], change
    # and the manifest schema offers exactly the POST enum (every LLM is created first)
    doc = json.loads((REPO / "schemas" / "llm.schema.json").read_text(encoding="utf-8"))
    spec = doc["properties"]["spec"]["properties"]
    assert spec["llmFormat"]["enum"] == post["llmFormat"]["enum"]
    assert spec["reasoningEffort"]["enum"] == post["reasoningEffort"]["enum"]
    assert spec["reasoningFormat"]["enum"] == post["reasoningFormat"]["enum"]
    assert set(doc["properties"]["spec"]["required"]) == (
        set(_body("/v1/llms", "post")["required"]) - {"displayName"}
    )


def test_the_persona_put_schema_refuses_other_keys_so_bodies_never_hold_them() -> None:
    assert _body("/v1/personas/{id}", "put").get("additionalProperties") is False


@pytest.mark.parametrize("kind", [PERSONA, TOOL, LLM, KNOWLEDGE_GROUP], ids=lambda k: k.name)
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


@pytest.mark.parametrize(("kind", "schema"), [(PERSONA, "persona"), (TOOL, "tool"), (LLM, "llm")])
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
    assert list(KINDS) == ["LLM", "KnowledgeGroup", "Tool", "Persona"]
