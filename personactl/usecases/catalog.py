"""The catalog use case: what manifests can reference (avatars, voices, LLMs, tools,
knowledge folders), as the environment's API lists it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from personactl.anam.api import UNSEARCHABLE, AnamApi
from personactl.anam.kinds import NO_LLM as NO_LLM_ID
from personactl.core.errors import PersonactlError
from personactl.manifest.loader import find_project_root, load_project
from personactl.manifest.model import PROJECT_FILE, Environment
from personactl.usecases.connect import ApiOptions, Connect, connect

KINDS = ("avatars", "voices", "llms", "tools", "knowledge")

Item = dict[str, Any]

# what `llm: CUSTOMER_CLIENT_V1` means; the API does not list it
NO_LLM: Item = {
    "displayName": "no LLM (the client brings its own)",
    "modelName": None,
    "llmFormat": None,
    "id": NO_LLM_ID,
}


@dataclass
class Listed:
    env: Environment
    items: list[Item]


def catalog(
    kind: str, api: ApiOptions, *, search: str | None = None, connect: Connect = connect
) -> Listed:
    """Every entry of `kind` (one of KINDS) whose name or id contains `search`."""
    env, root = _environment(api.env_name)
    with api.client(env, root, connect) as client:
        items = AnamApi(client).listing(kind, search)
    if kind == "llms":
        items = [*items, NO_LLM]
    # The API filtered the others (their name only, as here); these it cannot.
    if search and (kind in UNSEARCHABLE or kind == "llms"):
        items = [item for item in items if _matches(item, search)]
    return Listed(env, items)


def _matches(item: Item, search: str) -> bool:
    needle = search.casefold()
    names = (item.get("displayName"), item.get("name"), item.get("id"))
    return any(isinstance(n, str) and needle in n.casefold() for n in names)


def _environment(env_name: str | None) -> tuple[Environment, Path]:
    """The environment to ask and the project root, from the personactl.yaml above cwd."""
    root = find_project_root(Path.cwd())
    if root is None:
        raise PersonactlError(
            f"no {PROJECT_FILE} in {Path.cwd()} or its parents; "
            "run in a personactl project or pass -C DIR"
        )
    project, _ = load_project(root)  # the manifests themselves are not needed here
    return project.require_environment(env_name), project.root
