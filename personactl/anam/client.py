"""The one HTTP client personactl uses to talk to the Anam API (or its emulator).

    with client_for(env, api_key=..., parallelism=8) as client:
        items = client.list_all(path)                # every page, perPage=100
        details = client.map_concurrent(client.get, paths)
        created = client.post(path, body)            # OutcomeUnknown if dropped

The paths are `personactl.anam.api`'s business: this module knows HTTP, not
the API's endpoints. It never imports the emulator either: for the sandbox
backend the caller (`personactl.usecases.connect`) hands it the in-process
transport.

One pooled `httpx.Client` per run, sized to the parallelism, with keep-alive.
Retries: 429/502/503/504 and connection failures, capped exponential backoff
with full jitter, `Retry-After` honoured, each request bounded by a retry
budget (`personactl.anam.retry`). A POST whose outcome is unknown is never
repeated unless the caller says it is idempotent. Every attempt is appended
to `client.requests`; the API key never appears in a record, log or error,
and a URL only through `redact_url`.

Limits (`ClientConfig`): each attempt must be answered in full within
`deadline` seconds, each answer is at most `max_response_bytes` once
decompressed (`personactl.anam.transport`), a list is at most `max_pages`
pages, and answers that should be resources must be objects with an `id`.
"""

from __future__ import annotations

import json
import os
import random
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

import httpx

from personactl import __version__
from personactl.anam.errors import (
    ApiError,
    AuthRejected,
    NotFound,
    Unreachable,
    api_message,
    redact_url,
)
from personactl.anam.retry import (
    GATEWAY_STATUSES,
    MAYBE_SENT,
    NOT_SENT,
    RETRY_STATUSES,
    Backoff,
    parse_retry_after,
)
from personactl.anam.transport import (
    BodyError,
    DeadlineExceeded,
    deadline,
    pooled_transport,
    read_body,
)
from personactl.core.errors import OutcomeUnknown, PersonactlError

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
    "Sandbox",
    "client_for",
]

PER_PAGE = 100  # the API's maximum page size
MAX_DOWNLOAD_BYTES = 51 * 1024 * 1024  # a knowledge document (50 MB) and some slack
MAX_PAGES = 10_000  # 1,000,000 items: far beyond any account, short of a runaway list
API_URL_ENV = "ANAM_API_URL"
REDACTED = "(redacted)"
_REFUSED_STATUSES = frozenset({400, 409, 422})

T = TypeVar("T")
R = TypeVar("R")


@dataclass(repr=False)
class ClientConfig:
    """How to reach the API. `api_key_env`, `api_url_source` and `environment` only
    label error messages."""

    base_url: str
    api_key: str
    api_key_env: str = "ANAM_API_KEY"
    environment: str = ""
    api_url_source: str = f"--api-url / {API_URL_ENV}"
    parallelism: int = 8
    timeout: float = 30.0  # each connect, read and write
    deadline: float = 60.0  # each attempt, from sending it to the last byte of its answer
    max_response_bytes: int = 32 * 1024 * 1024  # each answer, once decompressed
    max_pages: int = MAX_PAGES
    max_retry_seconds: float = 60.0
    # a wrong URL should fail in seconds, not after the whole budget
    connect_retry_seconds: float = 10.0
    transport: httpx.BaseTransport | None = None
    debug: bool = False
    sandbox: bool = False  # the in-process emulator: wording of auth errors
    backoff: Backoff = field(default_factory=Backoff)
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random, repr=False)
    log: Callable[[str], None] | None = None  # default: stderr

    def __repr__(self) -> str:
        return (
            f"ClientConfig(base_url={redact_url(self.base_url)!r}, "
            f"environment={self.environment!r}, api_key_env={self.api_key_env!r})"
        )


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
        check_api_key(config.api_key, config.api_key_env)
        self.config = config
        self.requests: list[RequestRecord] = []
        self._lock = threading.Lock()
        try:
            url = httpx.URL(config.base_url)
        except httpx.InvalidURL:
            raise PersonactlError(
                f"the API URL from {config.api_url_source} is not a valid URL; correct it"
            ) from None
        # A query in the URL (a gateway's `?key=`) goes on every request; httpx
        # would mangle it into the path.
        self._base_params = url.params
        # Never shown: the key, and what the URL may carry (user info, query values).
        secrets = [config.api_key, url.username, url.password, *url.params.values()]
        self._secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)
        headers = {
            "Authorization": f"Bearer {config.api_key}",
            "Accept": "application/json",
            # what read_body inflates within the size cap, whatever httpx could decode
            "Accept-Encoding": "gzip, deflate",
            "User-Agent": f"personactl/{__version__}",
        }
        transport = config.transport
        if transport is None:
            limits = httpx.Limits(
                max_connections=config.parallelism,
                max_keepalive_connections=config.parallelism,
                keepalive_expiry=30.0,
            )
            transport = pooled_transport(limits, secure=url.scheme == "https")
        self._http = httpx.Client(
            base_url=url.copy_with(query=None, fragment=None),
            params=self._base_params,
            headers=headers,
            timeout=config.timeout,
            transport=transport,
            follow_redirects=False,
        )

    def __repr__(self) -> str:
        config = self.config
        url = redact_url(config.base_url)
        return f"AnamClient(base_url={url!r}, environment={config.environment!r})"

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

    def upload(self, path: str, filename: str, content: bytes, fields: dict[str, str]) -> Any:
        """POST one file as multipart/form-data (field `file`, plus text `fields`): a
        create, so a dropped answer raises `OutcomeUnknown`."""
        request = self._http.build_request(
            "POST", path, files={"file": (filename, content)}, data=fields
        )
        response, body = self._send(request, retry_unknown=False)
        return self._decode(request, response, body)

    def fetch_bytes(self, url: str) -> bytes:
        """GET a URL the API handed out (a presigned download) and return its bytes. The
        API key goes only to the API's own host."""
        request = self._http.build_request("GET", url)
        if request.url.host != self._http.base_url.host:
            request.headers.pop("Authorization", None)
        # a document may be larger than any API answer: up to the API's 50 MB per file
        request.extensions["personactl_cap"] = max(
            self.config.max_response_bytes, MAX_DOWNLOAD_BYTES
        )
        response, content = self._send(request, retry_unknown=True)
        if not 200 <= response.status_code < 300:
            raise self._status_error(request, response, content)
        return content

    def get_resource(self, path: str) -> dict[str, Any]:
        """GET one resource: a JSON object with an `id`, else an ApiError naming the request."""
        return self.check_resource("GET", path, self.get(path))

    def check_resource(
        self, method: str, path: str, answer: Any, *, hint: str | None = None
    ) -> dict[str, Any]:
        """`answer` if it is a resource (a JSON object with a string `id`), else an
        ApiError naming the request and what is wrong; `hint` says what to do."""
        problem = "is empty" if answer is None else _resource_problem(answer)
        if problem is None:
            return cast(dict[str, Any], answer)
        raise ApiError(
            f"{self._service()} answered {method} {path} with a body that {problem}; "
            f"{hint or self._check_url()}",
            method=method,
            path=path,
        )

    def list_all(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        on_page: Callable[[list[dict[str, Any]]], None] | None = None,
    ) -> list[dict[str, Any]]:
        """Every item of a list endpoint, in pages of 100; each item an object with an `id`.

        Page 1 says how many pages there are (`meta.lastPage`); the rest are then
        fetched concurrently, so N items cost one round trip plus ceil(N/100)-1
        requests spread over the pool. Without `lastPage`, pages are followed by
        `meta.next` until it is null. Items are de-duplicated by id, in case a
        concurrent create shifted an item from one page to the next. An endpoint
        answering a bare JSON array (`/v1/knowledge/groups`) is one page.
        Bounded: at most `max_pages` pages, `next` must move forward, and a page
        that repeats another one is an error, not a loop. `on_page` is called with
        each page's items as it arrives (from a worker thread), so a caller can start
        work on them before the last page is in.
        """

        def fetch(n: int) -> Any:
            body = self.get(path, {**(params or {}), "page": n, "perPage": PER_PAGE})
            if on_page is not None:
                data = body.get("data") if isinstance(body, dict) else body
                if isinstance(data, list):
                    on_page([i for i in data if isinstance(i, dict) and "id" in i])
            return body

        first = fetch(1)
        if isinstance(first, list):
            return self._merge(path, [self._items(path, 1, first)])
        pages = [self._page_items(path, 1, first)]
        last, following = _page_meta(first)
        if last is not None and last > 1 and following == 2:
            self._check_page_count(path, last, f"meta.lastPage {last}")
            outcomes = self.map_concurrent(fetch, range(2, last + 1))
            for number, outcome in zip(range(2, last + 1), outcomes, strict=True):
                pages.append(self._page_items(path, number, outcome.unwrap()))
        else:
            page = 1
            while following is not None:
                forward = isinstance(following, int) and not isinstance(following, bool)
                if not forward or following <= page:
                    said = f"page {page} with meta.next {following!r}"
                    raise self._bad_page(path, f"{said}, which does not move forward")
                self._check_page_count(path, following, f"meta.next {following}")
                page = following
                body = fetch(page)
                pages.append(self._page_items(path, page, body))
                following = _page_meta(body)[1]
        return self._merge(path, pages)

    def _check_page_count(self, path: str, page: int, said: str) -> None:
        limit = self.config.max_pages
        if page > limit:
            raise self._bad_page(
                path,
                f"{said}, more than the {limit:,} pages ({limit * PER_PAGE:,} items) "
                "personactl reads",
            )

    def _bad_page(self, path: str, what: str) -> ApiError:
        return ApiError(
            f"{self._service()} answered GET {path} {what}; {self._check_url()}",
            status=200,
            method="GET",
            path=path,
        )

    def _page_items(self, path: str, page: int, body: Any) -> list[dict[str, Any]]:
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list):
            what = "neither a list nor a page of {data, meta}"
            raise self._bad_page(path, f"page {page} with {what}")
        return self._items(path, page, data)

    def _items(self, path: str, page: int, items: list[Any]) -> list[dict[str, Any]]:
        for number, item in enumerate(items, 1):
            problem = _resource_problem(item)
            if problem is not None:
                raise self._bad_page(path, f"page {page} with item {number} that {problem}")
        return items

    def _merge(self, path: str, pages: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
        """The pages' items, each id once; a page repeating an earlier one is an error."""
        seen_pages: dict[tuple[str, ...], int] = {}
        seen: set[str] = set()
        unique = []
        for number, items in enumerate(pages, 1):
            ids = tuple(item["id"] for item in items)
            if ids and ids in seen_pages:
                raise self._bad_page(
                    path,
                    f"page {number} with the same items as page {seen_pages[ids]} "
                    "(it seems to ignore `page`)",
                )
            seen_pages[ids] = number
            for item in items:
                if item["id"] not in seen:
                    seen.add(item["id"])
                    unique.append(item)
        return unique

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
        results: list[Outcome[R]] = []
        # a pool per call: a nested map_concurrent cannot starve its parent of workers
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="personactl-api") as pool:
            # a window of futures, not one per item: 10,000 pages need no 10,000 futures
            window: deque[Future[Outcome[R]]] = deque()
            for item in todo:
                if len(window) >= 2 * workers:
                    results.append(window.popleft().result())
                window.append(pool.submit(run, item))
            results.extend(future.result() for future in window)
        return results

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
        response, content = self._send(request, retry_unknown=retry_unknown)
        return self._decode(request, response, content)

    def _send(self, request: httpx.Request, *, retry_unknown: bool) -> tuple[httpx.Response, bytes]:
        method = request.method
        shown = self._shown(request)
        used = 0.0  # seconds spent on attempts and waits for this request
        attempt = 0
        connect_only = True  # every failure so far was a failure to connect
        while True:
            attempt += 1
            started = time.monotonic()
            response: httpx.Response | None = None
            content = b""
            failure: httpx.TransportError | BodyError | None = None
            try:
                response, content = self._attempt(request)
            except (httpx.TransportError, BodyError) as exc:
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
            if isinstance(failure, BodyError):  # too large or undecodable: retrying cannot help
                self._note(record, None)
                raise self._unreadable(request, failure)
            if response is not None:
                if response.status_code not in RETRY_STATUSES:
                    self._note(record, None)
                    return response, content
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
                    f"({self._reason(cast(Exception, failure))}); {self._check_url()}",
                    method=method,
                    path=request.url.path,
                ) from failure
            budget = self.config.max_retry_seconds
            if connect_only:
                budget = min(budget, self.config.connect_retry_seconds)
            remaining = budget - used
            if remaining <= 0:
                self._note(record, None)
                raise self._gave_up(request, response, content, failure, attempt, used) from failure
            if response is not None and retry_after is not None and retry_after > remaining:
                # waiting out the budget could not end in a retry: say so now
                self._note(record, None)
                raise self._too_soon(request, response, content, retry_after, remaining)
            wait = (
                retry_after
                if retry_after is not None
                else self.config.backoff.delay(attempt, self.config.rng)
            )
            wait = min(wait, remaining)
            self._note(record, wait)
            self.config.sleep(wait)
            used += wait

    def _attempt(self, request: httpx.Request) -> tuple[httpx.Response, bytes]:
        """One try: the answer and its whole body, within the deadline and the size cap."""
        at = time.monotonic() + self.config.deadline
        try:
            with deadline(at):
                response = self._http.send(request, stream=True)
                try:
                    cap = request.extensions.get("personactl_cap", self.config.max_response_bytes)
                    body = read_body(response, cap=cap, at=at)
                finally:
                    response.close()
        except (httpx.ReadTimeout, httpx.WriteTimeout) as exc:
            if isinstance(exc, DeadlineExceeded) or time.monotonic() < at:
                raise
            raise DeadlineExceeded(str(exc), request=request) from exc
        return response, body

    def _shown(self, request: httpx.Request) -> str:
        """The request's path and query for records and logs, without the URL's own query."""
        url = request.url
        for name in self._base_params:
            url = url.copy_remove_param(name)
        return self._scrub(url.raw_path.decode("ascii", "replace"))

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

    def _decode(self, request: httpx.Request, response: httpx.Response, content: bytes) -> Any:
        status = response.status_code
        if 200 <= status < 300:
            if status == 204 or not content.strip():
                return None
            try:
                return json.loads(content)
            except (ValueError, RecursionError):  # RecursionError: nested beyond reason
                raise ApiError(
                    f"{self._service()} answered {request.method} {request.url.path} with a "
                    f"body that is not JSON; {self._check_url()}",
                    status=status,
                    method=request.method,
                    path=request.url.path,
                ) from None
        raise self._status_error(request, response, content)

    def _status_error(
        self, request: httpx.Request, response: httpx.Response, content: bytes
    ) -> ApiError:
        method, path, status = request.method, request.url.path, response.status_code
        fields = self._answered(request, response, content)
        said = fields["api_message"]
        phrase = _phrase(response)
        if status in (401, 403):
            if self.config.sandbox:
                text = f"the sandbox emulator rejected its API key ({status} {phrase})"
            else:
                text = (
                    f"{self._service()} rejected the API key from "
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

    def _answered(
        self, request: httpx.Request, response: httpx.Response, content: bytes
    ) -> dict[str, Any]:
        """What an ApiError records of a request that got an answer."""
        return {
            "status": response.status_code,
            "method": request.method,
            "path": request.url.path,
            "api_message": self._said(content),
        }

    def _said(self, content: bytes) -> str | None:
        """The server's explanation in an error body, scrubbed."""
        try:
            body: Any = json.loads(content)
        except (ValueError, RecursionError):
            return None
        said = api_message(body)
        return self._scrub(said) if said is not None else None

    def _gave_up(
        self,
        request: httpx.Request,
        response: httpx.Response | None,
        content: bytes,
        failure: httpx.TransportError | None,
        attempts: int,
        used: float,
    ) -> ApiError:
        method, path = request.method, request.url.path
        tries = _tries(attempts, used)
        if response is not None:
            status = response.status_code
            return ApiError(
                f"{self._service()} still answered {status} {_phrase(response)} to "
                f"{method} {path} after {tries}; try again later or lower --parallelism",
                **self._answered(request, response, content),
            )
        error: type[ApiError] = ApiError
        if isinstance(failure, DeadlineExceeded):
            text = (
                f"{self._service()} did not finish answering {method} {path} within "
                f"{self.config.deadline:g} s ({tries}); check your network or try again later"
            )
        elif isinstance(failure, NOT_SENT):
            error = Unreachable
            text = (
                f"cannot reach {self._service()} ({self._reason(failure)}; {tries}); "
                f"check {self.config.api_url_source} and your network"
            )
        else:
            text = (
                f"{self._service()} did not answer {method} {path} "
                f"({self._reason(cast(Exception, failure))}; {tries}); "
                "check your network or try again later"
            )
        return error(text, method=method, path=path)

    def _unreadable(self, request: httpx.Request, failure: BodyError) -> ApiError:
        method, path = request.method, request.url.path
        return ApiError(
            f"{self._service()} answered {method} {path} with {failure.what}; {self._check_url()}",
            method=method,
            path=path,
        )

    def _too_soon(
        self,
        request: httpx.Request,
        response: httpx.Response,
        content: bytes,
        retry_after: float,
        remaining: float,
    ) -> ApiError:
        method, path = request.method, request.url.path
        status = response.status_code
        return ApiError(
            f"{self._service()} answered {status} {_phrase(response)} to {method} {path} "
            f"with Retry-After {retry_after:g} s, longer than the {remaining:.1f} s left of "
            f"the retry budget; try again in {retry_after:g} s or lower --parallelism",
            **self._answered(request, response, content),
        )

    def _service(self) -> str:
        if self.config.sandbox:
            return "the sandbox emulator"
        return f"the Anam API at {redact_url(self.config.base_url)}"

    def _check_url(self) -> str:
        if self.config.sandbox:
            return "please report it"  # the emulator is ours: a wrong answer is a bug
        return f"check that {self.config.api_url_source} points at the Anam API"

    def _reason(self, exc: Exception) -> str:
        timeout = self.config.timeout
        if isinstance(exc, DeadlineExceeded):
            return f"no complete answer within {self.config.deadline:g} s"
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
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text


def _phrase(response: httpx.Response) -> str:
    return response.reason_phrase or httpx.codes.get_reason_phrase(response.status_code)


def _tries(attempts: int, used: float) -> str:
    return f"{attempts} attempt{'s' if attempts != 1 else ''} over {used:.1f} s"


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "a list" if isinstance(value, list) else "an object"


def _resource_problem(value: Any) -> str | None:
    """What keeps `value` from being a resource (an object with a string `id`), or None."""
    if not isinstance(value, dict):
        return f"is {_json_type(value)}, not an object"
    if "id" not in value:
        return "has no `id`"
    ident = value["id"]
    if not isinstance(ident, str) or not ident:
        what = "an empty string" if ident == "" else _json_type(ident)
        return f"has an `id` that is {what}, not an id"
    return None


def _page_meta(body: Any) -> tuple[int | None, Any]:
    """`meta.lastPage` (when it is a whole number) and `meta.next` of a page."""
    meta = body.get("meta") if isinstance(body, dict) else None
    if not isinstance(meta, dict):
        return None, None
    last = meta.get("lastPage")
    whole = isinstance(last, int) and not isinstance(last, bool)
    return (last if whole else None), meta.get("next")


def check_api_key(key: str, source: str) -> None:
    """Refuse a key no HTTP header can carry, naming where it came from, never the key."""
    for position, char in enumerate(key, 1):
        if not char.isascii():
            what = "a non-ASCII character"
        elif char.isspace():
            what = "a white-space character"
        elif not char.isprintable():
            what = "a control character"
        else:
            continue
        raise PersonactlError(
            f"the API key from {source} has {what} (character {position}), which an HTTP "
            "header cannot carry; copy the key again"
        )


@dataclass(frozen=True, repr=False)
class Sandbox:
    """An API in this process (the built-in emulator) that a client talks to instead of
    the network: its transport, the key it expects, and the base URL it answers on."""

    transport: httpx.BaseTransport
    api_key: str
    base_url: str


def client_for(
    env: Environment,
    *,
    api_key: str | None = None,
    api_url: str | None = None,
    parallelism: int = 8,
    debug: bool = False,
    environ: Mapping[str, str] | None = None,
    sandbox: Callable[[], Sandbox] | None = None,
    **options: Any,
) -> AnamClient:
    """The client for a personactl environment; `options` go to `ClientConfig`.

    Sandbox: `sandbox()` gives the in-process API, made only once the flags are
    known to fit; `api_key` does not apply, `api_url` is refused, and
    $ANAM_API_URL ignored with a warning.
    Anam: URL from `api_url`, else $ANAM_API_URL, else the environment's `apiUrl`;
    key from `api_key`, else the variable `apiKeyEnv`, white space around it
    stripped.
    """
    environ = os.environ if environ is None else environ
    url, url_source = api_url_for(env, api_url, environ)
    if env.backend == "sandbox":
        if sandbox is None:
            raise ValueError("a sandbox environment needs the in-process API (`sandbox`)")
        return _sandbox_client(env, sandbox, url_source, parallelism, debug, options)
    if api_key and api_key.strip():
        key, source = api_key.strip(), "--api-key"
    else:
        key, source = environ.get(env.api_key_env, "").strip(), env.api_key_env
    if not key:
        raise PersonactlError(
            f"no API key for environment {env.name!r}: set {env.api_key_env} or pass --api-key"
        )
    config = ClientConfig(
        base_url=url,
        api_key=key,
        api_key_env=source,
        environment=env.name,
        api_url_source=url_source,
        parallelism=parallelism,
        debug=debug,
        **options,
    )
    return AnamClient(config)


def api_url_for(
    env: Environment, api_url: str | None, environ: Mapping[str, str]
) -> tuple[str, str]:
    """The API URL and where it came from, for messages.

    `--api-url` reads $ANAM_API_URL itself, so a flag equal to the variable is
    taken to be the variable.
    """
    flag = (api_url or "").strip()
    exported = environ.get(API_URL_ENV, "").strip()
    if flag and flag != exported:
        url, source = flag, "--api-url"
    elif exported:
        url, source = exported, API_URL_ENV
    else:
        url, source = env.api_url, f"apiUrl of environment {env.name!r} in personactl.yaml"
    return url.rstrip("/"), source


def _sandbox_client(
    env: Environment,
    sandbox: Callable[[], Sandbox],
    url_source: str,
    parallelism: int,
    debug: bool,
    options: dict[str, Any],
) -> AnamClient:
    emulator = f"environment {env.name!r} uses the built-in sandbox emulator"
    if url_source == "--api-url":
        raise PersonactlError(
            f"{emulator}; --api-url does not apply: leave it out, or choose an environment "
            "with `backend: anam` with -e"
        )
    if url_source == API_URL_ENV:  # often exported for every run: a warning, not an error
        sys.stderr.write(f"warning: {API_URL_ENV} is ignored: {emulator}\n")
    inprocess = sandbox()
    config = ClientConfig(
        base_url=inprocess.base_url,
        api_key=inprocess.api_key,
        api_key_env="the sandbox emulator",
        environment=env.name,
        parallelism=parallelism,
        transport=inprocess.transport,
        debug=debug,
        sandbox=True,
        **options,
    )
    try:
        return AnamClient(config)
    except BaseException:
        inprocess.transport.close()  # the emulator's database, opened for nothing
        raise
