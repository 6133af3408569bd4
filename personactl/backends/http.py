"""The HTTP backend: Terraform's documented `http` backend protocol, as GitLab-managed
Terraform state speaks it.

GET `address` reads the state (204 or 404: none yet); POST `address?ID=<lock id>`
writes a whole new version; the lock is taken with `lockMethod` (LOCK, GitLab:
POST) on `lockAddress` and released with `unlockMethod` (UNLOCK, GitLab: DELETE)
on `unlockAddress`, the lock info as the JSON body. A locked state answers 409 or
423 with the holder's lock info: read as "locked by …". Basic auth comes from the
variables `usernameEnv` / `passwordEnv`; messages never show either, nor the
URL's user info or query values.

The protocol has no journal and no history: every durable record is a whole new
version POSTed (grouped under parallel writes, see StateStore), and the state
document carries the last `HISTORY_KEEP` history lines under `history` (GitLab
keeps the versions themselves: `state show --serial N` reads
`<address>/versions/N` where the server offers it). A lease is renewed by
locking again with the same ID; a server that refuses that (409 naming this
very lock, as GitLab answers) gets the lock released and taken again at once
with the new lease (no write goes out in between; if another run took it in
that moment, this one stops writing).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx

from personactl.backends import (
    Held,
    LockInfo,
    LockLost,
    Snapshot,
    Version,
    display_of,
    new_lock,
    redact,
)
from personactl.core.errors import PersonactlError
from personactl.manifest.model import StateConfig

HISTORY_KEEP = 50
LOCKED = (409, 423)


class HttpBackend:
    kind = "http"
    journaled = False
    restore_hint = (
        "find a good version with `personactl state history`, and push it with "
        "`personactl state push FILE --force`"
    )

    def __init__(
        self,
        config: StateConfig,
        auth: tuple[str, str] | None,
        secrets: tuple[str, ...] = (),
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.config = config
        self.display = display_of(config, "", "")
        in_urls = [
            urlsplit(u).password or ""
            for u in (config.address, config.lock_address, config.unlock_address)
        ]
        self._secrets = tuple(s for s in (*secrets, *in_urls) if s)
        self._client = httpx.Client(auth=auth, timeout=30.0, transport=transport)
        self._history: list[Version] = []
        self._holding: LockInfo | None = None
        self._mutex = threading.Lock()

    @classmethod
    def from_config(
        cls, config: StateConfig, environment: str, environ: Mapping[str, str]
    ) -> HttpBackend:
        user = password = ""
        for attr, name in (("username", config.username_env), ("password", config.password_env)):
            if name and not environ.get(name):
                raise PersonactlError(
                    f"{name} is not set: it holds the {attr} for the HTTP state of "
                    f"environment {environment!r}; set it (in GitLab CI, CI_JOB_TOKEN is set "
                    "for you)"
                )
        if config.username_env:
            user = environ[config.username_env]
        if config.password_env:
            password = environ[config.password_env]
        auth = (user, password) if user or password else None
        return cls(config, auth, (user, password))

    # -- requests -----------------------------------------------------------------------

    def _request(
        self, method: str, url: str, *, body: Any = None, params: dict[str, str] | None = None
    ) -> httpx.Response:
        content = None if body is None else (body if isinstance(body, str) else json.dumps(body))
        headers = {"Content-Type": "application/json"} if content is not None else {}
        try:
            response = self._client.request(
                method, url, content=content, params=params, headers=headers
            )
        except httpx.HTTPError as exc:
            raise PersonactlError(
                f"cannot reach {self.display} ({method} {redact(url)}): "
                f"{self._clean(str(exc) or type(exc).__name__)}"
            ) from None
        if response.status_code in (401, 403):
            who = (
                f"{self.config.username_env}/{self.config.password_env}"
                if self.config.password_env
                else "usernameEnv/passwordEnv"
            )
            raise PersonactlError(
                f"{self.display} refused the credentials (HTTP {response.status_code} to "
                f"{method}); check {who}"
            )
        return response

    def _clean(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def _fail(self, method: str, response: httpx.Response) -> PersonactlError:
        return PersonactlError(
            f"{self.display} answered {method} with HTTP {response.status_code}"
            + (f": {self._clean(response.text.strip()[:200])}" if response.text.strip() else "")
        )

    # -- reading ------------------------------------------------------------------------

    def read(self) -> Snapshot:
        response = self._request("GET", self.config.address)
        if response.status_code in (204, 404) or (
            response.status_code == 200 and not response.content.strip()
        ):
            self._history = []
            return Snapshot(None)
        if response.status_code != 200:
            raise self._fail("GET", response)
        text = response.text
        try:
            data = json.loads(text)
        except ValueError:
            return Snapshot(text)  # the state parser says what is wrong with it
        if isinstance(data, dict) and "history" in data:
            kept = data.pop("history")
            found = [Version.from_json(v) for v in kept] if isinstance(kept, list) else []
            self._history = [v for v in found if v is not None]
            text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
        return Snapshot(text, None, list(self._history))

    def history(self) -> list[Version]:
        self.read()
        return list(self._history)

    def document_at(self, serial: int) -> str | None:
        response = self._request("GET", f"{self.config.address.rstrip('/')}/versions/{serial}")
        if response.status_code != 200 or not response.content.strip():
            return None
        try:
            data = json.loads(response.text)
        except ValueError:
            return response.text
        if isinstance(data, dict):
            data.pop("history", None)
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"

    # -- the lock -----------------------------------------------------------------------

    def _holder(self, response: httpx.Response) -> LockInfo | None:
        try:
            return LockInfo.from_json(response.json())
        except ValueError:
            return None

    def lock(self, info: LockInfo, lease: float) -> LockInfo | None:
        method, url = self.config.lock_method, self.config.lock_address
        response = self._request(method, url, body=info.to_json())
        previous = None
        if response.status_code in LOCKED:
            holder = self._holder(response)
            if holder is None or not holder.expired():
                raise Held(holder)
            # Its lease ran out (its run was killed): release it by its id, take it.
            self._unlock_id(holder)
            previous = holder
            response = self._request(method, url, body=info.to_json())
            if response.status_code in LOCKED:
                raise Held(self._holder(response))
        if response.status_code not in (200, 201, 204):
            raise self._fail(method, response)
        self._holding = info
        return previous

    def renew(self, info: LockInfo, lease: float) -> None:
        renewed = info.renewed(lease)
        method, url = self.config.lock_method, self.config.lock_address
        with self._mutex:  # no write goes out while the lock is renewed
            response = self._request(method, url, body=renewed.to_json())
            if response.status_code not in LOCKED:
                return
            holder = self._holder(response)
            if holder is not None and holder.id != info.id:
                raise LockLost.of(info, self.display, holder)
            # The server keeps a lock's first body (GitLab does): release it and take it
            # again at once, with the new lease. Whoever took it in between wins.
            self._unlock_id(info)
            response = self._request(method, url, body=renewed.to_json())
            if response.status_code in LOCKED:
                raise LockLost.of(info, self.display, self._holder(response))

    def _unlock_id(self, info: LockInfo) -> httpx.Response:
        return self._request(
            self.config.unlock_method, self.config.unlock_address, body=info.to_json()
        )

    def unlock(self, info: LockInfo) -> None:
        self._holding = None
        self._unlock_id(info)

    def force_unlock(self, lock_id: str) -> LockInfo:
        # Who holds it: a lock attempt with a throwaway id is refused with the holder's info.
        probe = new_lock("state unlock (probe)", 10.0)
        response = self._request(
            self.config.lock_method, self.config.lock_address, body=probe.to_json()
        )
        if response.status_code not in LOCKED:
            self._unlock_id(probe)
            raise PersonactlError(f"no lock {lock_id} on {self.display}: it is not locked")
        holder = self._holder(response)
        if holder is not None and holder.id != lock_id:
            raise PersonactlError(
                f"no lock {lock_id} on {self.display}: it is locked by {holder.describe()}, "
                f"lock id {holder.id}"
            )
        target = holder or LockInfo(lock_id, "someone", "", "")
        response = self._unlock_id(target)
        if response.status_code not in (200, 204):
            raise self._fail(self.config.unlock_method, response)
        return target

    # -- writing ------------------------------------------------------------------------

    def append(self, records: list[str]) -> None:
        raise PersonactlError(f"{self.display} keeps no journal")  # pragma: no cover

    def write(self, document: str, version: Version) -> None:
        data = json.loads(document)
        history = [*self._history, version][-HISTORY_KEEP:]
        data["history"] = [v.to_json() for v in history]
        params = {"ID": self._holding.id} if self._holding else None
        with self._mutex:
            response = self._request(
                "POST",
                self.config.address,
                body=json.dumps(data, ensure_ascii=False),
                params=params,
            )
        if response.status_code in LOCKED:
            raise LockLost.of(self._holding, self.display, self._holder(response))
        if response.status_code not in (200, 201, 204):
            raise self._fail("POST", response)
        self._history = history

    def close(self) -> None:
        self._client.close()
