"""Serve the emulator's WSGI app over HTTP/1.1 with keep-alive.

`wsgiref.simple_server` closes the connection after every response, which
would make a pooled httpx client open one connection per request; this small
`BaseHTTPRequestHandler` keeps connections open and always sends
Content-Length. A `DropConnection` from the app closes the socket without
writing a byte, which is what a client sees when a server dies mid-request.
"""

from __future__ import annotations

import io
import ipaddress
import socket
import sys
import threading
from collections.abc import Callable, Iterable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

from personactl.core.errors import PersonactlError
from personactl.emulator.errors import DropConnection

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
DEFAULT_HOST = "127.0.0.1"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class EmulatorHTTPServer(ThreadingHTTPServer):
    """A threading HTTP server that counts accepted connections (for keep-alive checks)."""

    daemon_threads = True  # idle keep-alive connections must not block shutdown
    allow_reuse_address = True
    # Connections the kernel completes before they are accepted. socketserver's 5 drops
    # the SYNs of a client opening 16 at once while this process is busy: each of those
    # waits out TCP's first retransmission, a whole second. Real servers queue more.
    request_queue_size = 128

    def __init__(self, host: str, port: int, app: WsgiApp, *, access_log: bool = False) -> None:
        bare = host.strip("[]")
        self.address_family = socket.AF_INET6 if ":" in bare else socket.AF_INET
        self.app = app
        self.access_log = access_log
        self.connections_accepted = 0
        self._count_lock = threading.Lock()
        super().__init__((bare, port), _Handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        conn, address = super().get_request()
        with self._count_lock:
            self.connections_accepted += 1
        return conn, address

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that goes away (killed, timed out) is normal here, not a traceback.
        import sys

        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)

    @property
    def url(self) -> str:
        host, port = str(self.server_address[0]), self.server_address[1]
        host_text = f"[{host}]" if ":" in host else host
        return f"http://{host_text}:{port}"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    raw_requestline: bytes  # (set by handle_one_request)

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without TCP_NODELAY, Nagle's
        # algorithm and the client's delayed ACK add ~40 ms to every keep-alive request.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    server: EmulatorHTTPServer
    timeout = 300  # seconds an idle keep-alive connection is kept

    def parse_request(self) -> bool:
        """http.server's, but the headers are read here: its parser, the email
        package's, was a third of the emulator's time per request."""
        self.command = None  # type: ignore[assignment]  # (set in case of error)
        self.request_version = self.default_request_version
        self.close_connection = True
        self.requestline = str(self.raw_requestline, "iso-8859-1").rstrip("\r\n")
        words = self.requestline.split()
        if not words:
            return False
        if len(words) != 3:
            self.send_error(HTTPStatus.BAD_REQUEST, f"Bad request syntax ({self.requestline!r})")
            return False
        command, path, version = words
        number = version[5:].split(".") if version.startswith("HTTP/") else []
        if len(number) != 2 or not all(n.isdigit() and len(n) <= 10 for n in number):
            self.send_error(HTTPStatus.BAD_REQUEST, f"Bad request version ({version!r})")
            return False
        major, minor = int(number[0]), int(number[1])
        if major >= 2:
            self.send_error(
                HTTPStatus.HTTP_VERSION_NOT_SUPPORTED, f"Invalid HTTP version ({version[5:]})"
            )
            return False
        self.close_connection = (major, minor) < (1, 1)
        self.request_version, self.command = version, command
        self.path = "/" + path.lstrip("/") if path.startswith("//") else path
        lines: list[tuple[str, str]] = []
        while True:
            line = self.rfile.readline(65537)
            if len(line) > 65536:
                self.send_error(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "Line too long")
                return False
            if line in (b"\r\n", b"\n", b""):
                break
            if len(lines) >= 100:
                self.send_error(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "Too many headers")
                return False
            text = line.decode("iso-8859-1")
            if text[0] in " \t" and lines:  # a folded line continues the last header
                name, value = lines[-1]
                lines[-1] = (name, f"{value} {text.strip()}".strip())
            elif ":" in text:
                name, _, value = text.partition(":")
                lines.append((name.strip(), value.strip()))
        self.headers = _Headers(lines)  # type: ignore[assignment]
        connection = self.headers.get("Connection", "").lower()
        if connection == "close":
            self.close_connection = True
        elif connection == "keep-alive":
            self.close_connection = False
        expect = self.headers.get("Expect", "").lower()
        if expect == "100-continue" and (major, minor) >= (1, 1):
            return bool(self.handle_expect_100())
        return True

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = do_GET

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _environ(self, body: bytes) -> dict[str, Any]:
        path, _, query = self.path.partition("?")
        host, port = self.server.server_address[0], self.server.server_address[1]
        environ: dict[str, Any] = {
            "REQUEST_METHOD": self.command,
            "SCRIPT_NAME": "",
            "PATH_INFO": unquote(path),
            "QUERY_STRING": query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "SERVER_NAME": str(host),
            "SERVER_PORT": str(port),
            "SERVER_PROTOCOL": self.request_version,
            "REMOTE_ADDR": self.client_address[0],
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        for name, value in self.headers.items():
            key = "HTTP_" + name.upper().replace("-", "_")
            if key not in ("HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"):
                environ[key] = value
        return environ

    def _serve(self) -> None:
        body = self._read_body()
        captured: dict[str, Any] = {}

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> None:
            captured["status"], captured["headers"] = status, headers

        try:
            payload = b"".join(self.server.app(self._environ(body), start_response))
        except DropConnection:
            # the write is committed; vanish without a single byte of response
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        except Exception as exc:  # an emulator bug: answer 500 rather than hang up silently
            sys.stderr.write(f"emulator: internal error: {type(exc).__name__}: {exc}\n")
            body = (
                b'{"message":"Internal emulator error","error":"Internal Server Error",'
                b'"statusCode":500}'
            )
            captured = {
                "status": "500 Internal Server Error",
                "headers": [("Content-Type", "application/json; charset=utf-8")],
            }
            payload = body
        code, _, reason = captured["status"].partition(" ")
        self.send_response(int(code), reason)
        for name, value in captured["headers"]:
            if name.lower() != "content-length":
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (stdlib signature)
        # request lines only: the Authorization header is never logged
        if self.server.access_log:
            sys.stderr.write(f"{self.address_string()} {format % args}\n")


class _Headers:
    """A request's headers, as http.server's handlers read them: the first value of a
    name (any case), and every (name, value) in order."""

    def __init__(self, lines: list[tuple[str, str]]) -> None:
        self._lines = lines
        self._first: dict[str, str] = {}
        for name, value in lines:
            self._first.setdefault(name.lower(), value)

    def get(self, name: str, default: Any = None) -> Any:
        return self._first.get(name.lower(), default)

    def items(self) -> list[tuple[str, str]]:
        return list(self._lines)


def create_server(
    app: WsgiApp,
    host: str = DEFAULT_HOST,
    port: int = 0,
    *,
    allow_non_loopback: bool = False,
    access_log: bool = False,
) -> EmulatorHTTPServer:
    """Bind (port 0 picks a free one); refuse a non-loopback host unless explicitly allowed."""
    if not is_loopback(host) and not allow_non_loopback:
        raise PersonactlError(
            f"refusing to listen on non-loopback host {host}: pass --host explicitly to allow it"
        )
    try:
        return EmulatorHTTPServer(host, port, app, access_log=access_log)
    except OSError as exc:
        raise PersonactlError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
