"""A small multipart/form-data parser (RFC 7578) over a body already in memory.

The stdlib's `cgi` module is deprecated; `email` parses the part headers
(Content-Disposition parameters, RFC 2231 file names included), and the
body is split on its boundary here.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import HTTP

from personactl.emulator.errors import bad_request

_NOT_MULTIPART = "Request body must be multipart/form-data with a file field"
_MALFORMED = "Request body is not valid multipart/form-data"


@dataclass(frozen=True)
class Part:
    name: str
    filename: str | None  # None for a plain text field
    content_type: str
    content: bytes


def _header_block(text: str) -> Message:
    return BytesHeaderParser(policy=HTTP).parsebytes(text.encode("latin-1") + b"\r\n\r\n")


def _boundary(content_type: str) -> bytes:
    message = _header_block(f"Content-Type: {content_type}")
    boundary = message.get_param("boundary")
    if message.get_content_type() != "multipart/form-data":
        raise bad_request(_NOT_MULTIPART)
    if not isinstance(boundary, str) or not boundary:
        raise bad_request(_MALFORMED)
    return boundary.encode("latin-1")


def _part(raw: bytes) -> Part:
    head, sep, content = raw.partition(b"\r\n\r\n")
    if not sep:
        raise bad_request(_MALFORMED)
    headers = BytesHeaderParser(policy=HTTP).parsebytes(head + b"\r\n\r\n")
    name = headers.get_param("name", header="content-disposition")
    if not isinstance(name, str):
        raise bad_request(_MALFORMED)
    filename = headers.get_filename()
    content_type = headers.get_content_type() if "content-type" in headers else ""
    return Part(name, filename, content_type, content)


def parse_form(content_type: str, body: bytes) -> list[Part]:
    """Every part of a multipart/form-data body, in order; 400 when it is not one."""
    delimiter = b"\r\n--" + _boundary(content_type)
    # the first delimiter may start the body, without the CRLF that belongs to the others
    chunks = (b"\r\n" + body).split(delimiter)
    parts: list[Part] = []
    for chunk in chunks[1:]:
        if chunk.startswith(b"--"):  # the close delimiter
            return parts
        _padding, newline, raw = chunk.partition(b"\r\n")
        if not newline:
            raise bad_request(_MALFORMED)
        parts.append(_part(raw))
    raise bad_request(_MALFORMED)  # no close delimiter: truncated
