"""Vendor the parts of the official Anam OpenAPI spec the emulator tests need.

    python tests/emulator/vendor_schemas.py [path/to/anam-openapi.json]

writes `anam_response_schemas.json` next to this file: the component schemas,
each emulated operation's response schemas by status, and its request body
schema (JSON; multipart/form-data for the upload). Annotation keywords
(`description`, `example`, `examples`) are stripped; a *property named*
`description` is kept.

Deviations from the spec, applied here so they are visible in one place
(the spec cannot be satisfied as written):
- `voiceGenerationOptions`: the four option schemas overlap (no `required`,
  no `additionalProperties: false`), so any object matches several of them and
  `oneOf` can never pass; it is vendored as `anyOf`.
- Tool `config`: same overlap (ClientToolConfig matches every object); `anyOf`.
- `Persona.llmId` is typed `format: uuid`, yet the request schemas document
  `CUSTOMER_CLIENT_V1` as a valid llmId; that one literal is allowed too.
- `LLM.llmFormat`: PUT /v1/llms/{id} accepts `anthropic` and `custom`, which
  the LLM response enum (POST's) lacks; an LLM updated to one of them must
  still be answered, so the response enum is the union of the two.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
OUTPUT = HERE / "anam_response_schemas.json"
DEFAULT_SPEC = HERE.parent / "reference" / "anam-openapi.json"

OPERATIONS: list[tuple[str, str]] = [
    ("GET", "/v1/personas"),
    ("POST", "/v1/personas"),
    ("GET", "/v1/personas/{id}"),
    ("PUT", "/v1/personas/{id}"),
    ("DELETE", "/v1/personas/{id}"),
    ("GET", "/v1/tools"),
    ("POST", "/v1/tools"),
    ("GET", "/v1/tools/{id}"),
    ("PUT", "/v1/tools/{id}"),
    ("DELETE", "/v1/tools/{id}"),
    ("GET", "/v1/avatars"),
    ("GET", "/v1/avatars/{id}"),
    ("GET", "/v1/voices"),
    ("GET", "/v1/voices/{id}"),
    ("GET", "/v1/llms"),
    ("POST", "/v1/llms"),
    ("GET", "/v1/llms/{id}"),
    ("PUT", "/v1/llms/{id}"),
    ("DELETE", "/v1/llms/{id}"),
    ("GET", "/v1/knowledge/groups"),
    ("POST", "/v1/knowledge/groups"),
    ("GET", "/v1/knowledge/groups/{id}"),
    ("PUT", "/v1/knowledge/groups/{id}"),
    ("DELETE", "/v1/knowledge/groups/{id}"),
    ("POST", "/v1/knowledge/groups/{id}/search"),
    ("GET", "/v1/knowledge/groups/{id}/documents"),
    ("POST", "/v1/knowledge/groups/{id}/documents"),
    ("GET", "/v1/knowledge/documents/{id}"),
    ("PUT", "/v1/knowledge/documents/{id}"),
    ("DELETE", "/v1/knowledge/documents/{id}"),
    ("GET", "/v1/knowledge/documents/{id}/download"),
    ("POST", "/v1/auth/session-token"),
]
ANNOTATIONS = frozenset({"description", "example", "examples"})


def strip(node: Any) -> Any:
    """Drop annotation keywords; the keys of a `properties` map are names, not keywords."""
    if isinstance(node, list):
        return [strip(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ANNOTATIONS or key.startswith("x-"):
            continue
        if key in ("properties", "patternProperties", "$defs") and isinstance(value, dict):
            out[key] = {name: strip(schema) for name, schema in value.items()}
        else:
            out[key] = strip(value)
    return out


def _refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"].rsplit("/", 1)[-1]} if isinstance(node.get("$ref"), str) else set()
        for value in node.values():
            found |= _refs(value)
        return found
    if isinstance(node, list):
        return set().union(*(_refs(item) for item in node)) if node else set()
    return set()


def _one_of_to_any_of(schema: dict[str, Any]) -> None:
    if "oneOf" in schema:
        schema["anyOf"] = schema.pop("oneOf")


def build(spec: dict[str, Any]) -> dict[str, Any]:
    responses: dict[str, dict[str, Any]] = {}
    requests: dict[str, Any] = {}
    for method, path in OPERATIONS:
        operation = spec["paths"][path][method.lower()]
        key = f"{method} {path}"
        responses[key] = {}
        for status, response in operation["responses"].items():
            content = response.get("content", {}).get("application/json", {})
            responses[key][status] = strip(content["schema"]) if "schema" in content else None
        content_types = operation.get("requestBody", {}).get("content", {})
        body = content_types.get("application/json") or content_types.get("multipart/form-data")
        if body:
            requests[key] = strip(body["schema"])
    all_schemas = spec["components"]["schemas"]
    wanted = _refs([responses, requests])
    while True:  # close over nested $refs
        more = _refs([all_schemas[name] for name in wanted]) - wanted
        if not more:
            break
        wanted |= more
    schemas = {name: strip(all_schemas[name]) for name in sorted(wanted)}

    # deviations (see the module docstring)
    _one_of_to_any_of(schemas["Persona"]["properties"]["voiceGenerationOptions"])
    for key in ("POST /v1/personas", "PUT /v1/personas/{id}"):
        _one_of_to_any_of(requests[key]["properties"]["voiceGenerationOptions"])
    for key in ("POST /v1/tools", "PUT /v1/tools/{id}"):
        _one_of_to_any_of(requests[key]["properties"]["config"])
    llm_id = schemas["Persona"]["properties"]["llmId"]
    schemas["Persona"]["properties"]["llmId"] = {"anyOf": [llm_id, {"const": "CUSTOMER_CLIENT_V1"}]}
    formats = schemas["LLM"]["properties"]["llmFormat"]["enum"]
    put_formats = requests["PUT /v1/llms/{id}"]["properties"]["llmFormat"]["enum"]
    formats += [name for name in put_formats if name not in formats]

    return {
        "source": "anam-openapi.json (Anam AI API 1.0), see tests/emulator/vendor_schemas.py",
        "components": {"schemas": schemas},
        "responses": responses,
        "requests": requests,
    }


def render(spec_path: Path) -> str:
    spec = json.loads(spec_path.read_text(encoding="utf-8"))
    return json.dumps(build(spec), indent=1, ensure_ascii=False, sort_keys=True) + "\n"


if __name__ == "__main__":
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_SPEC
    OUTPUT.write_text(render(source), encoding="utf-8")
    print(f"wrote {OUTPUT}")
