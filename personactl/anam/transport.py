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
    transport._pool = httpcore.ConnectionPool(
        ssl_context=context,
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        network_backend=_DeadlineBackend(),
    )
    return transport


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
