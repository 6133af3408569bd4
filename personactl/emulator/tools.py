"""Tool resources: create, partial update and the response shape (components.schemas.Tool)."""

from __future__ import annotations

import uuid
from typing import Any

from personactl.emulator.errors import bad_request
from personactl.emulator.store import Doc, Txn
from personactl.emulator.validation import (
    TOOL_FIELDS,
    check_fields,
    check_tool_basics,
    check_tool_config,
    require_object,
)

_STORED_KEYS = ("name", "description", "type", "disableInterruptions", "config")


def render_tool(doc: Doc, usage_count: int) -> Doc:
    return {
        "id": doc["id"],
        "name": doc["name"],
        "description": doc["description"],
        "type": doc["type"],
        "config": doc["config"],
        "disableInterruptions": doc["disableInterruptions"],
        "createdAt": doc["createdAt"],
        "updatedAt": doc["updatedAt"],
        "usageCount": usage_count,
    }


def _validated(txn: Txn, tool: dict[str, Any], body: dict[str, Any]) -> None:
    # unknown top-level keys are ignored: the tool schemas do not forbid them
    problems = check_fields(body, TOOL_FIELDS, strict=False)
    if not problems:
        problems = check_tool_basics(tool)
    if not problems:
        problems = check_tool_config(tool["type"], tool["config"])
    if not problems and tool["type"] == "SERVER_RAG":
        ids = tool["config"]["documentFolderIds"]
        known = txn.existing_ids("knowledge_group", ids)
        problems = [
            f"config.documentFolderIds contains unknown knowledge group '{group_id}'"
            for group_id in ids
            if group_id not in known
        ]
    if problems:
        raise bad_request("; ".join(problems))


def create_tool(txn: Txn, body: Any) -> Doc:
    body = require_object(body)
    tool: dict[str, Any] = {key: body[key] for key in _STORED_KEYS if key in body}
    tool.setdefault("config", {})
    tool.setdefault("disableInterruptions", False)
    _validated(txn, tool, body)
    tool.update(
        id=str(uuid.uuid4()),
        createdAt=txn.next_timestamp(),
        updatedAt=None,  # as in the spec's ToolResponse example: null until first update
    )
    txn.put("tool", tool, tool["name"])
    return render_tool(tool, 0)


def update_tool(txn: Txn, current: Doc, body: Any) -> Doc:
    body = require_object(body)
    tool = dict(current)
    # `config` is replaced whole, never merged: the spec documents no nested merge
    tool.update({key: body[key] for key in _STORED_KEYS if key in body})
    _validated(txn, tool, body)
    tool["updatedAt"] = txn.next_timestamp()
    txn.put("tool", tool, tool["name"])
    return render_tool(tool, txn.usage_counts([tool["id"]])[tool["id"]])
