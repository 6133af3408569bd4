"""An in-memory fake of the Anam API's writes, for the Applier (`engine.apply.Api`).

A fake of the API, not a mock of personactl: it keeps resources in dicts and
answers in the official response shapes (avatar.id, brain.systemPrompt,
tools[].id). Switches make it misbehave the way a real server can: answer
500, drop the connection before or after committing a create, not persist a
field, trim text, hide the write-only fields.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import engine_adapter as eng

PATHS = {"Persona": "/v1/personas", "Tool": "/v1/tools"}
WRITE_ONLY = ("languageCode", "initialMessage", "uninterruptibleGreeting")
# A full persona response has every field, set or not (as the emulator's does).
PERSONA_DEFAULTS: dict[str, Any] = {
    "description": None,
    "avatarId": None,
    "avatarModel": None,
    "voiceId": None,
    "llmId": None,
    "systemPrompt": None,
    "skipGreeting": False,
    "zeroDataRetention": False,
    "voiceGenerationOptions": None,
    "voiceDetectionOptions": None,
    "widgetConfig": {},
    "toolIds": [],
    "languageCode": None,
    "initialMessage": None,
    "uninterruptibleGreeting": False,
}


@dataclass
class Call:
    method: str  # POST, PUT, DELETE, or LIST (the look-up by name)
    path: str
    body: dict[str, Any] | None = None


@dataclass
class FakeApi:
    hide_write_only: bool = False
    trim_text: bool = False
    not_persisted: frozenset[str] = frozenset()  # body keys an update or create drops
    fail: frozenset[str] = frozenset()  # names whose writes answer 500
    drop_before_commit: dict[str, int] = field(default_factory=dict)  # name -> times
    drop_after_commit: dict[str, int] = field(default_factory=dict)  # name -> times
    on_write: Callable[[Call], None] | None = None  # called as each write arrives
    items: dict[str, dict[str, dict[str, Any]]] = field(
        default_factory=lambda: {"Persona": {}, "Tool": {}}
    )
    log: list[Call] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # -- set-up and inspection (the test's side) -------------------------------------

    def seed(self, kind: str, body: dict[str, Any]) -> str:
        """A resource that exists before the run; its id."""
        ident = f"{kind.lower()}-{len(self.items[kind]) + 1}"
        self.items[kind][ident] = dict(body)
        return ident

    def live(self, kind: str, ident: str) -> dict[str, Any]:
        """The resource as the planner sees it: {"id", "body" in request vocabulary}."""
        return {"id": ident, "body": eng.normalize(kind, self._response(kind, ident))}

    def writes(self) -> list[str]:
        return [f"{c.method} {c.path}" for c in self.log]

    def names(self, kind: str) -> list[str]:
        return sorted(str(b.get("name")) for b in self.items[kind].values())

    # -- the Api protocol --------------------------------------------------------------

    def create(self, kind: str, body: dict[str, Any]) -> dict[str, Any]:
        name = str(body.get("name"))
        self._arrive(Call("POST", PATHS[kind], body), name)
        with self._lock:
            if self._take(self.drop_before_commit, name):
                raise eng.OutcomeUnknown("POST", PATHS[kind], "connection dropped")
            ident = f"{kind.lower()}-{len(self.items[kind]) + 1}"
            self.items[kind][ident] = self._kept(body)
            if self._take(self.drop_after_commit, name):
                raise eng.OutcomeUnknown("POST", PATHS[kind], "connection dropped")
            return self._response(kind, ident)

    def update(self, kind: str, ident: str, body: dict[str, Any]) -> dict[str, Any]:
        name = str(self.items[kind][ident].get("name"))
        self._arrive(Call("PUT", f"{PATHS[kind]}/{ident}", body), name)
        with self._lock:
            self.items[kind][ident].update(self._kept(body))
            return self._response(kind, ident)

    def delete(self, kind: str, ident: str) -> None:
        name = str(self.items[kind][ident].get("name"))
        self._arrive(Call("DELETE", f"{PATHS[kind]}/{ident}"), name)
        with self._lock:
            del self.items[kind][ident]

    def find_by_name(self, kind: str, name: str) -> list[dict[str, Any]]:
        with self._lock:
            self.log.append(Call("LIST", f"{PATHS[kind]}?search={name}"))
            return [
                self._response(kind, i) for i, b in self.items[kind].items() if b["name"] == name
            ]

    # -- behaviour ---------------------------------------------------------------------

    def _arrive(self, call: Call, name: str) -> None:
        with self._lock:
            self.log.append(call)
        if self.on_write is not None:
            self.on_write(call)
        if name in self.fail:
            raise eng.PersonactlError(
                f"the API answered 500 Internal Server Error to {call.method} {call.path}"
            )

    @staticmethod
    def _take(counts: dict[str, int], name: str) -> bool:
        if counts.get(name, 0) > 0:
            counts[name] -= 1
            return True
        return False

    def _kept(self, body: dict[str, Any]) -> dict[str, Any]:
        kept = {k: v for k, v in body.items() if k not in self.not_persisted}
        if self.trim_text:
            kept = {k: v.strip() if isinstance(v, str) else v for k, v in kept.items()}
        return kept

    def _response(self, kind: str, ident: str) -> dict[str, Any]:
        body = dict(self.items[kind][ident])
        if kind == "Persona":
            body = {**PERSONA_DEFAULTS, **body}
        if self.hide_write_only:
            body = {k: v for k, v in body.items() if k not in WRITE_ONLY}
        stamp = f"2026-01-01T00:{len(self.log) // 60:02d}:{len(self.log) % 60:02d}Z"
        return {**eng.to_response(kind, body, ident), "updatedAt": stamp}
