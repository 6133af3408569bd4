"""The vendored spec copy is current, the emulator's tables match it, and the checker bites."""

from __future__ import annotations

import json

import httpx
import jsonschema
import pytest
import vendor_schemas
from emulator_support import CONTRACT, HERE, SCHEMAS

from personactl.emulator import validation


def test_vendored_schemas_are_current() -> None:
    if not vendor_schemas.DEFAULT_SPEC.exists():
        pytest.skip("the reference spec is not available on this machine")
    committed = (HERE / "anam_response_schemas.json").read_text(encoding="utf-8")
    assert vendor_schemas.render(vendor_schemas.DEFAULT_SPEC) == committed


def test_strip_keeps_properties_named_description() -> None:
    schema = {"description": "x", "properties": {"description": {"type": "string", "example": "e"}}}
    assert vendor_schemas.strip(schema) == {"properties": {"description": {"type": "string"}}}
    assert "description" in SCHEMAS["components"]["schemas"]["Persona"]["properties"]


@pytest.mark.parametrize(
    ("operation", "fields"),
    [
        ("POST /v1/personas", validation.PERSONA_POST_FIELDS),
        ("PUT /v1/personas/{id}", validation.PERSONA_PUT_FIELDS),
        ("POST /v1/tools", validation.TOOL_FIELDS),
    ],
)
def test_request_tables_match_the_spec(operation: str, fields: dict[str, object]) -> None:
    properties = SCHEMAS["requests"][operation]["properties"]
    assert set(fields) == set(properties)
    for name, spec in fields.items():
        enum = properties[name].get("enum")
        assert spec.enum == (tuple(enum) if enum else None), name
    if operation.startswith("PUT"):
        assert SCHEMAS["requests"][operation]["additionalProperties"] is False
        widget = SCHEMAS["requests"][operation]["properties"]["widgetConfig"]["properties"]
        assert set(validation.WIDGET_CONFIG_FIELDS) == set(widget)
    detection = SCHEMAS["components"]["schemas"]["VoiceDetectionOptions"]["properties"]
    assert {k: (v.minimum, v.maximum) for k, v in validation.VOICE_DETECTION_FIELDS.items()} == {
        k: (v["minimum"], v["maximum"]) for k, v in detection.items()
    }


def _response(method: str, path: str, status: int, body: object) -> httpx.Response:
    content = json.dumps(body).encode()
    return httpx.Response(
        status,
        content=content,
        headers={"content-type": "application/json", "content-length": str(len(content))},
        request=httpx.Request(method, f"http://x{path}"),
    )


def test_the_checker_rejects_off_spec_responses() -> None:
    with pytest.raises(jsonschema.ValidationError):
        CONTRACT(_response("GET", "/v1/personas/abc", 200, {"id": "not-a-uuid"}))
    with pytest.raises(jsonschema.ValidationError):
        CONTRACT(_response("GET", "/v1/voices", 200, {"data": [{"provider": "ACME"}]}))
    with pytest.raises(jsonschema.ValidationError):
        CONTRACT(_response("GET", "/v1/tools/x", 200, {"createdAt": "2026-01-01 10:00"}))
    with pytest.raises(AssertionError, match="undocumented 200"):
        CONTRACT(_response("POST", "/v1/personas", 200, {}))
    with pytest.raises(jsonschema.ValidationError):
        CONTRACT(_response("GET", "/v1/personas/x", 404, {"message": "Not found"}))
    CONTRACT(_response("GET", "/v1/knowledge/groups", 200, []))


@pytest.mark.parametrize(
    ("operation", "fields"),
    [
        ("POST /v1/llms", validation.LLM_POST_FIELDS),
        ("PUT /v1/llms/{id}", validation.LLM_PUT_FIELDS),
        ("POST /v1/knowledge/groups", validation.KNOWLEDGE_GROUP_FIELDS),
        ("PUT /v1/knowledge/groups/{id}", validation.KNOWLEDGE_GROUP_FIELDS),
        ("PUT /v1/knowledge/documents/{id}", validation.DOCUMENT_PUT_FIELDS),
        ("POST /v1/knowledge/groups/{id}/search", validation.SEARCH_FIELDS),
    ],
)
def test_llm_and_knowledge_tables_match_the_spec(
    operation: str, fields: dict[str, validation.Field]
) -> None:
    properties = SCHEMAS["requests"][operation]["properties"]
    assert set(fields) == set(properties)
    for name, spec in fields.items():
        schema = properties[name]
        kind = {"object-array": "array"}.get(spec.kind, spec.kind)
        assert (kind, spec.enum) == (schema["type"], tuple(schema.get("enum", ())) or None), name
        assert (spec.minimum, spec.maximum) == (schema.get("minimum"), schema.get("maximum"))


def test_required_fields_and_defaults_match_the_spec() -> None:
    requests = SCHEMAS["requests"]
    assert list(validation.LLM_POST_REQUIRED) == requests["POST /v1/llms"]["required"]
    assert requests["POST /v1/knowledge/groups"]["required"] == ["name"]
    search = requests["POST /v1/knowledge/groups/{id}/search"]
    assert search["required"] == ["query"]
    assert search["properties"]["limit"]["default"] == validation.SEARCH_DEFAULT_LIMIT
    upload = requests["POST /v1/knowledge/groups/{id}/documents"]
    assert upload["required"] == ["file"]
    assert set(upload["properties"]) == {"file", *validation.UPLOAD_PARAMETERS}
    for name, value in validation.UPLOAD_DEFAULTS.items():
        assert upload["properties"][name] == {"type": "integer", "default": value}
    # `temperature`, from the request examples, is in neither schema but in the LLM response
    assert not set(validation.LLM_EXAMPLE_FIELDS) & set(requests["POST /v1/llms"]["properties"])
    assert set(validation.LLM_EXAMPLE_FIELDS) <= set(
        SCHEMAS["components"]["schemas"]["LLM"]["properties"]
    )
