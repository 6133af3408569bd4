"""Custom LLM resources: create, partial update, delete and the response shape (schemas.LLM).

The stock catalog's LLMs are the "default LLMs (not owned by your
organization)" of the PUT description: they answer 403 to PUT and DELETE. The
`secret` is write-only: only its SHA-256 digest is stored (the emulator never
calls the upstream LLM), and no response ever carries it.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from personactl.emulator.catalog import ORGANIZATION_ID
from personactl.emulator.errors import ApiError
from personactl.emulator.store import Doc, Txn
from personactl.emulator.validation import (
    LLM_EXAMPLE_FIELDS,
    LLM_POST_FIELDS,
    LLM_POST_REQUIRED,
    LLM_PUT_FIELDS,
    check_fields,
    is_http_url,
    raise_if,
    require_object,
)

# Keys copied from a request body into the stored record as they are.
_PLAIN_KEYS = (
    "displayName",
    "description",
    "llmFormat",
    "modelName",
    "metadata",
    "reasoningEffort",
    "reasoningFormat",
    "temperature",
)
_SECRET_DIGEST = "_secretSha256"  # internal keys start with "_" and are never rendered


def is_default(doc: Doc) -> bool:
    """A stock LLM: global, created by no organization."""
    return doc.get("createdByOrganizationId") is None


def render_llm(doc: Doc) -> Doc:
    return {key: value for key, value in doc.items() if not key.startswith("_")}


def _url_problems(prefix: str, url: Any) -> list[str]:
    if not isinstance(url, str) or not is_http_url(url):
        return [f"{prefix} must be an http or https URL"]
    return []


def _urls(value: list[dict[str, Any]]) -> tuple[list[Doc], list[str]]:
    """The stored `urls` (LlmUrl: url, optional region) and the problems found."""
    urls: list[Doc] = []
    problems: list[str] = []
    for n, item in enumerate(value):
        problems += _url_problems(f"urls[{n}].url", item.get("url"))
        region = item.get("region")
        if region is not None and not isinstance(region, str):
            problems.append(f"urls[{n}].region must be a string")
        urls.append({"url": item.get("url"), **({"region": region} if region else {})})
    return urls, problems


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_llm(txn: Txn, body: Any) -> Doc:
    body = require_object(body)
    # keys outside the POST schema are ignored: that schema does not forbid them
    problems = [f"{key} is required" for key in LLM_POST_REQUIRED if key not in body]
    problems += check_fields(body, {**LLM_POST_FIELDS, **LLM_EXAMPLE_FIELDS}, strict=False)
    raise_if(problems)
    urls, problems = _urls(body["urls"])
    raise_if(problems)
    llm: Doc = {
        "id": str(uuid.uuid4()),
        "description": None,
        "temperature": None,
        "maxTokens": None,
        "deploymentName": None,
        "apiVersion": None,
        "metadata": {},
        "displayTags": [],
        "isDefault": False,
        "isGlobal": False,
        "isZdr": False,
        "createdByOrganizationId": ORGANIZATION_ID,
        "createdAt": txn.next_timestamp(),
        "updatedAt": None,  # as the LlmResponse example: null until the first update
    }
    llm.update({key: body[key] for key in _PLAIN_KEYS if key in body}, urls=urls)
    llm[_SECRET_DIGEST] = _digest(body["secret"])
    txn.put("llm", llm, llm["displayName"])
    return render_llm(llm)


def update_llm(txn: Txn, current: Doc, body: Any) -> Doc:
    if is_default(current):
        raise ApiError(
            403,
            f"LLM '{current['displayName']}' is a default LLM and cannot be modified; "
            "create your own with POST /v1/llms instead",
        )
    body = require_object(body)
    problems = check_fields(body, {**LLM_PUT_FIELDS, **LLM_EXAMPLE_FIELDS}, strict=False)
    if "url" in body and not problems:
        problems = _url_problems("url", body["url"])
    raise_if(problems)
    llm = dict(current)
    llm.update({key: body[key] for key in _PLAIN_KEYS if key in body})
    if "url" in body:  # PUT takes one URL: it replaces the whole list
        llm["urls"] = [{"url": body["url"]}]
    if "secret" in body:  # rotating replaces the stored credential
        llm[_SECRET_DIGEST] = _digest(body["secret"])
    llm["updatedAt"] = txn.next_timestamp()
    txn.put("llm", llm, llm["displayName"])
    return render_llm(llm)


def delete_llm(txn: Txn, current: Doc) -> None:
    if is_default(current):
        raise ApiError(
            403, f"LLM '{current['displayName']}' is a default LLM and cannot be deleted"
        )
    txn.delete("llm", current["id"])
