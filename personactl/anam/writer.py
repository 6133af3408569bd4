"""The writes apply needs, over the Anam API client (engine.apply.Api)."""

from __future__ import annotations

import contextlib
from typing import Any

from personactl.anam.client import AnamClient
from personactl.anam.errors import NotFound
from personactl.anam.kinds import KINDS


class AnamWriter:
    def __init__(self, client: AnamClient) -> None:
        self.client = client

    def create(self, kind: str, body: dict[str, Any]) -> dict[str, Any]:
        path = KINDS[kind].path
        answer = self.client.post(path, body)  # OutcomeUnknown when it may have happened
        # Created or not, this resource fails alone (the Applier goes on with the others).
        hint = f"the {kind.lower()} may exist all the same: the next plan adopts it by name"
        return self.client.check_resource("POST", path, answer, hint=hint)

    def update(self, kind: str, ident: str, body: dict[str, Any]) -> dict[str, Any]:
        path = f"{KINDS[kind].path}/{ident}"
        return self.client.check_resource("PUT", path, self.client.put(path, body))

    def delete(self, kind: str, ident: str) -> None:
        with contextlib.suppress(NotFound):  # already gone: the goal is reached
            self.client.delete(f"{KINDS[kind].path}/{ident}")

    def find_by_name(self, kind: str, name: str) -> list[dict[str, Any]]:
        items = self.client.list_all(KINDS[kind].path, {"search": name})
        return [i for i in items if i.get("name") == name]
