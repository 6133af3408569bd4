"""The one HTTP client personactl uses to talk to the Anam API (or its emulator).

    with client_for(env, project.root, api_key=..., parallelism=8) as client:
        personas = client.list_all("/v1/personas")                 # every page, perPage=100
        details = client.get_many([f"/v1/personas/{p['id']}" for p in personas])
        created = client.post("/v1/personas", body)                 # OutcomeUnknown if dropped

One pooled `httpx.Client` per run, sized to the parallelism, with keep-alive.
Retries: 429/502/503/504 and connection failures, capped exponential backoff
with full jitter, `Retry-After` honoured, each request bounded by a retry
budget (`personactl.anam.retry`). A POST whose outcome is unknown is never
repeated unless the caller says it is idempotent. Every attempt is appended
to `client.requests`; the API key never appears in a record, log or error.
"""

from __future__ import annotations

import os
import random
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

import httpx

from personactl import __version__
from personactl.anam.errors import (
    ApiError,
    AuthRejected,
    NotFound,
    OutcomeUnknown,
    Unreachable,
    api_message,
)
from personactl.anam.retry import (
    GATEWAY_STATUSES,
    MAYBE_SENT,
    NOT_SENT,
    RETRY_STATUSES,
    Backoff,
    parse_retry_after,
)
from personactl.errors import PersonactlError

if TYPE_CHECKING:
    from personactl.manifest.model import Environment

__all__ = [
    "PER_PAGE",
    "AnamClient",
    "ApiError",
    "ClientConfig",
    "NotFound",
    "Outcome",
    "OutcomeUnknown",
    "RequestRecord",
    "client_for",
]

PER_PAGE = 100  # the API's maximum page size
API_URL_ENV = "ANAM_API_URL"
REDACTED = "(redacted)"
_REFUSED_STATUSES = frozenset({400, 409, 422})

T = TypeVar("T")
R = TypeVar("R")


@dataclass
class ClientConfig:
    """How to reach the API. `api_key_env` and `environment` only label error messages."""

    base_url: str
    api_key: str = field(repr=False)
    api_key_env: str = "ANAM_API_KEY"
    environment: str = ""
    parallelism: int = 8
    timeout: float = 30.0
    max_retry_seconds: float = 60.0
    # a wrong URL should fail in seconds, not after the whole budget
    connect_retry_seconds: float = 10.0
    transport: httpx.BaseTransport | None = None
    debug: bool = False
    sandbox: bool = False  # the in-process emulator: wording of auth errors
    backoff: Backoff = field(default_factory=Backoff)
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random, repr=False)
    log: Callable[[str], None] | None = field(default=None, repr=False)  # default: stderr


@dataclass(frozen=True)
class RequestRecord:
    """One attempt: `status` when an answer came back, else `error` (the exception's name)."""

    method: str
    path: str  # with the query string
    status: int | None
    error: str | None
    attempt: int  # 1 for the first try of a request
    elapsed_ms: float
    started: float  # time.monotonic() seconds, for ordering and overlap checks
    ended: float

    @property
    def outcome(self) -> str:
        return str(self.status) if self.status is not None else str(self.error)


@dataclass(frozen=True)
class Outcome(Generic[T]):
    """The result of one item of `map_concurrent`: a value, or the exception it raised."""

    item: Any
    value: T | None = None
    error: Exception | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def unwrap(self) -> T:
        if self.error is not None:
            raise self.error
        return cast(T, self.value)


class AnamClient:
    """A thread-safe Anam API client; use it as a context manager or call `close()`."""

    def __init__(self, config: ClientConfig) -> None:
        if config.parallelism < 1:
            raise ValueError("parallelism must be at least 1")
        self.config = config
        self.requests: list[RequestRecord] = []
        self._lock = threading.Lock()
        headers = {
            "Authorization": f"Bearer {config.api_key}",
            "Accept": "application/json",
            "User-Agent": f"personactl/{__version__}",
        }
        transport = config.transport
        if transport is None:
            limits = httpx.Limits(
                max_connections=config.parallelism,
                max_keepalive_connections=config.parallelism,
                keepalive_expiry=30.0,
            )
            transport = httpx.HTTPTransport(limits=limits)
        self._http = httpx.Client(
            base_url=config.base_url,
            headers=headers,
            timeout=config.timeout,
            transport=transport,
            follow_redirects=False,
        )

    def __repr__(self) -> str:
        config = self.config
        return f"AnamClient(base_url={config.base_url!r}, environment={config.environment!r})"

    # -- lifecycle ----------------------------------------------------------------------

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> AnamClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- requests -----------------------------------------------------------------------

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return self._call("GET", path, params=params, retry_unknown=True)

    def post(self, path: str, body: Any, *, idempotent: bool = False) -> Any:
        """Create something. A dropped answer raises `OutcomeUnknown` unless `idempotent`."""
        return self._call("POST", path, body=body, retry_unknown=idempotent)

    def put(self, path: str, body: Any) -> Any:
        return self._call("PUT", path, body=body, retry_unknown=True)

    def delete(self, path: str) -> Any:
        return self._call("DELETE", path, retry_unknown=True)

    def list_all(self, path: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """Every item of a list endpoint, in pages of 100.

        Page 1 says how many pages there are (`meta.lastPage`); the rest are then
        fetched concurrently, so N items cost one round trip plus ceil(N/100)-1
        requests spread over the pool. Without `lastPage`, pages are followed by
        `meta.next` until it is null. Items are de-duplicated by id, in case a
        concurrent create shifted an item from one page to the next. An endpoint
        answering a bare JSON array (`/v1/knowledge/groups`) is one page.
        """

        def page_query(n: int) -> dict[str, Any]:
            return {**(params or {}), "page": n, "perPage": PER_PAGE}

        first = self.get(path, page_query(1))
        if isinstance(first, list):
            return first
        items = list(self._page_items(path, 1, first))
        meta = first.get("meta") if isinstance(first, dict) else None
        last = meta.get("lastPage") if isinstance(meta, dict) else None
        following = meta.get("next") if isinstance(meta, dict) else None
        if isinstance(last, int) and last > 1 and following == 2:
            rest = self.map_concurrent(lambda n: self.get(path, page_query(n)), range(2, last + 1))
            for number, outcome in zip(range(2, last + 1), rest, strict=True):
                items.extend(self._page_items(path, number, outcome.unwrap()))
        else:
            page = 1
            while following is not None:
                if not isinstance(following, int) or following <= page:
                    raise ApiError(
                        f"the Anam API answered GET {path} page {page} with meta.next "
                        f"{following!r}, which does not move forward; please report it",
                        status=200,
                        method="GET",
                        path=path,
                    )
                page = following
                body = self.get(path, page_query(page))
                items.extend(self._page_items(path, page, body))
                meta = body.get("meta") if isinstance(body, dict) else None
                following = meta.get("next") if isinstance(meta, dict) else None
        seen: set[Any] = set()
        unique = []
        for item in items:
            key = item.get("id") if isinstance(item, dict) else None
            if key is None or key not in seen:
                seen.add(key)
                unique.append(item)
        return unique

    def _page_items(self, path: str, page: int, body: Any) -> list[dict[str, Any]]:
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list):
            raise ApiError(
                f"the Anam API answered GET {path} with neither a list nor a page of "
                "{data, meta}; check --api-url points at the Anam API",
                status=200,
                method="GET",
                path=path,
            )
        return data

    def map_concurrent(self, fn: Callable[[T], R], items: Iterable[T]) -> list[Outcome[R]]:
        """`fn(item)` for every item, at most `parallelism` at once, in the items' order.

        An exception is kept in that item's Outcome; the other items still run.
        """
        todo = list(items)

        def run(item: T) -> Outcome[R]:
            try:
                return Outcome(item, fn(item))
            except Exception as exc:  # noqa: BLE001 (reported per item by design)
                return Outcome(item, None, exc)

        workers = min(self.config.parallelism, len(todo))
        if workers <= 1:
            return [run(item) for item in todo]
        # a pool per call: a nested map_concurrent cannot starve its parent of workers
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="personactl-api") as pool:
            return list(pool.map(run, todo))

    def get_many(self, paths: Sequence[str]) -> list[Outcome[Any]]:
        """GET every path concurrently; one Outcome per path, in order."""
        return self.map_concurrent(self.get, paths)

    # -- internals ----------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        retry_unknown: bool,
    ) -> Any:
        request = self._http.build_request(
            method, path, params=dict(params) if params else None, json=body
        )
        response = self._send(request, retry_unknown=retry_unknown)
        return self._decode(request, response)

    def _send(self, request: httpx.Request, *, retry_unknown: bool) -> httpx.Response:
        method = request.method
        shown = self._scrub(request.url.raw_path.decode("ascii", "replace"))
        used = 0.0  # seconds spent on attempts and waits for this request
        attempt = 0
        connect_only = True  # every failure so far was a failure to connect
        while True:
            attempt += 1
            started = time.monotonic()
            response: httpx.Response | None = None
            failure: httpx.TransportError | None = None
            try:
                response = self._http.send(request)  # reads the whole body
            except httpx.TransportError as exc:
                failure = exc
            ended = time.monotonic()
            used += ended - started
            record = RequestRecord(
                method=method,
                path=shown,
                status=response.status_code if response is not None else None,
                error=type(failure).__name__ if failure is not None else None,
                attempt=attempt,
                elapsed_ms=(ended - started) * 1000,
                started=started,
                ended=ended,
            )
            retry_after: float | None = None
            if response is not None:
                if response.status_code not in RETRY_STATUSES:
                    self._note(record, None)
                    return response
                connect_only = False
                if response.status_code in GATEWAY_STATUSES and not retry_unknown:
                    # A gateway error may come after the backend committed the create.
                    self._note(record, None)
                    raise OutcomeUnknown(
                        method,
                        request.url.path,
                        f"the gateway answered {response.status_code} {_phrase(response)}",
                    )
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
            elif isinstance(failure, NOT_SENT):
                pass
            elif isinstance(failure, MAYBE_SENT):
                connect_only = False
                if not retry_unknown:
                    self._note(record, None)
                    reason = self._reason(failure)
                    raise OutcomeUnknown(method, request.url.path, reason) from failure
            else:  # a protocol or usage error: retrying cannot help
                self._note(record, None)
                raise ApiError(
                    f"{method} {request.url.path} to {self._service()} failed "
                    f"({self._reason(cast(Exception, failure))}); check --api-url / {API_URL_ENV}",
                    method=method,
                    path=request.url.path,
                ) from failure
            budget = self.config.max_retry_seconds
            if connect_only:
                budget = min(budget, self.config.connect_retry_seconds)
            remaining = budget - used
            if remaining <= 0:
                self._note(record, None)
                raise self._gave_up(request, response, failure, attempt, used) from failure
            wait = (
                retry_after
                if retry_after is not None
                else self.config.backoff.delay(attempt, self.config.rng)
            )
            wait = min(wait, remaining)
            self._note(record, wait)
            self.config.sleep(wait)
            used += wait

    def _note(self, record: RequestRecord, retry_in: float | None) -> None:
        with self._lock:
            self.requests.append(record)
        if not self.config.debug:
            return
        line = f"{record.method} {record.path} -> {record.outcome} ({record.elapsed_ms:.0f} ms)"
        if record.attempt > 1:
            line += f" [attempt {record.attempt}]"
        if retry_in is not None:
            line += f"; retrying in {retry_in:.2f} s"
        line = self._scrub(line)
        if self.config.log is not None:
            self.config.log(line)
        else:
            with self._lock:
                sys.stderr.write(line + "\n")
                sys.stderr.flush()

    def _decode(self, request: httpx.Request, response: httpx.Response) -> Any:
        status = response.status_code
        if 200 <= status < 300:
            if status == 204 or not response.content.strip():
                return None
            try:
                return response.json()
            except ValueError:
                raise ApiError(
                    f"the Anam API answered {request.method} {request.url.path} with a body "
                    "that is not JSON; check --api-url points at the Anam API",
                    status=status,
                    method=request.method,
                    path=request.url.path,
                ) from None
        raise self._status_error(request, response)

    def _status_error(self, request: httpx.Request, response: httpx.Response) -> ApiError:
        method, path, status = request.method, request.url.path, response.status_code
        try:
            body: Any = response.json()
        except ValueError:
            body = None
        said = api_message(body)
        said = self._scrub(said) if said is not None else None
        phrase = _phrase(response)
        fields: dict[str, Any] = {
            "status": status,
            "method": method,
            "path": path,
            "api_message": said,
        }
        if status in (401, 403):
            if self.config.sandbox:
                text = f"the sandbox emulator rejected its API key ({status} {phrase})"
            else:
                text = (
                    f"the Anam API at {self.config.base_url} rejected the API key from "
                    f"{self.config.api_key_env} ({status} {phrase}); check the key"
                )
            return AuthRejected(text, **fields)
        if status in _REFUSED_STATUSES:
            reason = said or f"{status} {phrase}"
            return ApiError(f"the Anam API refused {method} {path}: {reason}", **fields)
        text = f"the Anam API answered {status} {phrase} to {method} {path}"
        if said:
            text += f": {said}"
        return (NotFound if status == 404 else ApiError)(text, **fields)

    def _gave_up(
        self,
        request: httpx.Request,
        response: httpx.Response | None,
        failure: httpx.TransportError | None,
        attempts: int,
        used: float,
    ) -> ApiError:
        method, path = request.method, request.url.path
        tries = f"{attempts} attempt{'s' if attempts != 1 else ''} over {used:.1f} s"
        if response is not None:
            status = response.status_code
            return ApiError(
                f"{self._service()} still answered {status} {_phrase(response)} to "
                f"{method} {path} after {tries}; try again later or lower --parallelism",
                status=status,
                method=method,
                path=path,
                api_message=self._scrub(api_message(_json_or_none(response)) or "") or None,
            )
        reason = self._reason(cast(Exception, failure))
        if isinstance(failure, NOT_SENT):
            return Unreachable(
                f"cannot reach {self._service()} ({reason}; {tries}); "
                f"check --api-url / {API_URL_ENV} and your network",
                method=method,
                path=path,
            )
        return ApiError(
            f"{self._service()} did not answer {method} {path} ({reason}; {tries}); "
            "check your network or try again later",
            method=method,
            path=path,
        )

    def _service(self) -> str:
        if self.config.sandbox:
            return "the sandbox emulator"
        return f"the Anam API at {self.config.base_url}"

    def _reason(self, exc: Exception) -> str:
        timeout = self.config.timeout
        if isinstance(exc, httpx.ConnectTimeout):
            return "connection timed out"
        if isinstance(exc, httpx.ReadTimeout):
            return f"no answer within {timeout:g} s"
        if isinstance(exc, httpx.WriteTimeout):
            return f"could not send the request within {timeout:g} s"
        if isinstance(exc, httpx.PoolTimeout):
            return f"no free connection within {timeout:g} s"
        text = str(exc).strip().rstrip(".")
        if text.startswith("[Errno") and "]" in text:
            text = text.split("]", 1)[1].strip()
        if not text:
            return type(exc).__name__
        return self._scrub(text[0].lower() + text[1:])

    def _scrub(self, text: str) -> str:
        key = self.config.api_key
        return text.replace(key, REDACTED) if len(key) >= 4 else text


def _phrase(response: httpx.Response) -> str:
    return response.reason_phrase or httpx.codes.get_reason_phrase(response.status_code)


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def client_for(
    env: Environment,
    project_root: Path,
    *,
    api_key: str | None = None,
    api_url: str | None = None,
    parallelism: int = 8,
    debug: bool = False,
    environ: Mapping[str, str] | None = None,
    **options: Any,
) -> AnamClient:
    """The client for a personactl environment; `options` go to `ClientConfig`.

    Sandbox: the in-process emulator under `.personactl/sandbox` (`api_key` and
    `api_url` do not apply). Anam: URL from `api_url`, else $ANAM_API_URL, else
    the environment's `apiUrl`; key from `api_key`, else the variable `apiKeyEnv`.
    """
    environ = os.environ if environ is None else environ
    if env.backend == "sandbox":
        from personactl.emulator.inprocess import SANDBOX_BASE_URL, sandbox_transport

        transport = sandbox_transport(project_root / ".personactl" / "sandbox")
        config = ClientConfig(
            base_url=SANDBOX_BASE_URL,
            api_key=transport.api_key,
            api_key_env="the sandbox emulator",
            environment=env.name,
            parallelism=parallelism,
            transport=transport,
            debug=debug,
            sandbox=True,
            **options,
        )
        return AnamClient(config)
    url = (api_url or environ.get(API_URL_ENV) or env.api_url).rstrip("/")
    if api_key:
        key, source = api_key, "--api-key"
    else:
        key, source = environ.get(env.api_key_env, ""), env.api_key_env
    if not key:
        raise PersonactlError(
            f"no API key for environment {env.name!r}: set {env.api_key_env} or pass --api-key"
        )
    config = ClientConfig(
        base_url=url,
        api_key=key,
        api_key_env=source,
        environment=env.name,
        parallelism=parallelism,
        debug=debug,
        **options,
    )
    return AnamClient(config)
