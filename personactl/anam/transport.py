"""The HTTP layer under `AnamClient`: answers bounded in time and in size.

httpx bounds each socket read, not a whole answer: a server that sends one
byte every few seconds never trips its read timeout. So every attempt runs
under a deadline (`deadline(at)`), and the pooled transport's sockets clamp
each connect, read and write to the time left until it, from the status line
to the last byte of the body. Bodies are read by `read_body`, which inflates
gzip/deflate itself, at most the cap plus one byte at a time, so neither an
endless body nor a gzip bomb can take more memory than the cap.
"""

from __future__ import annotations

import ssl
import time
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import httpcore
import httpx

# monotonic time by which the current attempt, in this thread, must be done
_DEADLINE: ContextVar[float | None] = ContextVar("personactl_deadline", default=None)


@contextmanager
def deadline(at: float) -> Iterator[None]:
    """Bound every socket operation of this thread by `at` (time.monotonic())."""
    token = _DEADLINE.set(at)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def _bounded(timeout: float | None, expired: type[Exception]) -> float | None:
    """`timeout`, shortened to what is left before the deadline; `expired` once it has passed."""
    at = _DEADLINE.get()
    if at is None:
        return timeout
    left = at - time.monotonic()
    if left <= 0:
        raise expired("the deadline of this request has passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _bounded(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _bounded(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        bounded = _bounded(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, bounded))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    def __init__(self) -> None:
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        bounded = _bounded(timeout, httpcore.ConnectTimeout)
        stream = self._inner.connect_tcp(host, port, bounded, local_address, socket_options)
        return _DeadlineStream(stream)

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        bounded = _bounded(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._inner.connect_unix_socket(path, bounded, socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def pooled_transport(limits: httpx.Limits, *, secure: bool = True) -> httpx.HTTPTransport:
    """httpx's own transport, whose sockets keep to the deadline of `deadline()`.

    One TLS context, loaded with the CA bundle (tens of milliseconds) only when the
    API is reached over https; a plain http URL (a local emulator) needs none."""
    context = httpx.create_ssl_context() if secure else ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    transport = httpx.HTTPTransport(limits=limits, verify=context)
    # httpx has no option for httpcore's network backend: give its pool ours.
    pool = LinearPool if httpcore.__version__.startswith("1.0.") else httpcore.ConnectionPool
    transport._pool = pool(
        ssl_context=context,
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        network_backend=_DeadlineBackend(),
    )
    return transport


class LinearPool(httpcore.ConnectionPool):
    """httpcore 1.0's pool, handing out connections in time linear in their number.

    httpcore reassigns connections whenever a request starts or ends, and each time
    it asks every connection whether it is idle once per connection (quadratic), and
    polls the socket of every idle one (a system call each). At 16 connections that
    was 145 `is_idle` calls and 13 polls per request, a quarter of the client's CPU
    time in a plan. Here a connection is checked only when it is about to be handed
    out: an expired one (keep-alive over, or the server hung up) is closed then,
    and never reused. A connection is never handed to a second request while the
    first holds it (HTTP/1.1 only: personactl does not enable HTTP/2).
    Used only with httpcore 1.0.x, whose internals it relies on."""

    def _assign_requests_to_connections(self) -> list[Any]:
        closing: list[Any] = []
        connections = [c for c in self._connections if not c.is_closed()]
        taken = {id(r.connection) for r in self._requests if r.connection is not None}

        def take_idle() -> Any:
            for c in connections:
                if id(c) not in taken and c.is_idle():
                    connections.remove(c)
                    closing.append(c)
                    return c
            return None

        for pool_request in self._requests:
            if pool_request.connection is not None:
                continue
            origin = pool_request.request.url.origin
            chosen = None
            for c in list(connections):
                if id(c) in taken or not c.can_handle_request(origin) or not c.is_available():
                    continue
                if c.has_expired():
                    connections.remove(c)
                    closing.append(c)
                    continue
                chosen = c
                break
            if chosen is None:
                if len(connections) >= self._max_connections and take_idle() is None:
                    continue  # every connection is busy: the request waits its turn
                chosen = self.create_connection(origin)
                connections.append(chosen)
            taken.add(id(chosen))
            pool_request.assign_to_connection(chosen)
        while len(connections) > self._max_keepalive_connections and take_idle() is not None:
            pass
        self._connections = connections
        return closing


class BodyError(Exception):
    """An answer personactl will not read to the end; `what` completes "answered X with ..."."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


class DeadlineExceeded(httpx.ReadTimeout):
    """The answer was not complete by the attempt's deadline (a read timeout, so the
    outcome of a write is unknown and a read may be retried)."""


def _inflater(encoding: str) -> Any:
    """A zlib decompressor for the answer's Content-Encoding, None for identity."""
    codings = [c.strip().lower() for c in encoding.split(",") if c.strip()]
    codings = [c for c in codings if c != "identity"]
    if not codings:
        return None
    if codings in (["gzip"], ["x-gzip"]):
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if codings == ["deflate"]:
        return zlib.decompressobj(32 + zlib.MAX_WBITS)  # zlib or gzip framing
    raise BodyError(f"Content-Encoding {encoding!r}, which personactl does not read")


def read_body(response: httpx.Response, *, cap: int, at: float) -> bytes:
    """The decoded body of a streamed response: `BodyError` past `cap` bytes,
    `DeadlineExceeded` past `at` (time.monotonic())."""
    try:
        body = response.content  # an in-memory transport has already read it
    except httpx.ResponseNotRead:
        body = b"".join(_decoded(response, cap, at))
    if len(body) > cap:
        raise BodyError(f"more than {size_text(cap)} (after decompression)")
    return body


def _decoded(response: httpx.Response, cap: int, at: float) -> Iterator[bytes]:
    """The body's decoded chunks, stopping at the first byte past `cap`."""
    inflate = _inflater(response.headers.get("Content-Encoding", ""))
    size = 0
    try:
        for raw in response.iter_raw():
            # at most one byte over the cap, however well the chunk compresses
            part = inflate.decompress(raw, cap + 1 - size) if inflate else raw
            size += len(part)
            yield part
            if size > cap:
                return
            if time.monotonic() > at:
                raise DeadlineExceeded("the answer did not end in time", request=response.request)
        if inflate:
            yield inflate.flush()
    except zlib.error:
        raise BodyError("a body that is not valid compressed data") from None


def size_text(size: int) -> str:
    """32 MiB, 64 KiB, 100 bytes: the cap as a user would write it."""
    for unit, scale in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale and size % scale == 0:
            return f"{size // scale} {unit}"
    return f"{size} bytes"
