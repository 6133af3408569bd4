"""Errors raised by the Anam API client, each with a one-sentence message.

    ApiError(PersonactlError)   .status .method .path .api_message
      NotFound                  404: callers handle it (adopt, re-create, skip)
      AuthRejected              401 / 403
      Unreachable               connection failures that outlasted the retry budget
    (OutcomeUnknown, a POST that may or may not have been applied, is in core.errors:
    apply handles it.)

The messages never hold the API key: the client scrubs every text it puts here,
and shows URLs only through `redact_url`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from personactl.core.errors import PersonactlError


class ApiError(PersonactlError):
    """A request to the Anam API failed; `status` is None when no answer came back."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        method: str = "",
        path: str = "",
        api_message: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.method = method
        self.path = path
        self.api_message = api_message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, status={self.status!r})"


class NotFound(ApiError):
    """The API answered 404."""


class AuthRejected(ApiError):
    """The API answered 401 or 403: the key is wrong, expired or lacks rights."""


class Unreachable(ApiError):
    """No connection could be made (refused, DNS, connect timeout) within the retry budget."""


def api_message(body: Any) -> str | None:
    """The server's explanation, read as the official clients do: `message`, then `error`.

    NestJS validation errors carry `message` as a list of strings; they are joined.
    """
    if not isinstance(body, dict):
        return None
    for key in ("message", "error"):
        value = body.get(key)
        if isinstance(value, list):
            parts = [str(v) for v in value if v not in (None, "")]
            if parts:
                return "; ".join(parts)
        elif isinstance(value, str) and value.strip():
            return value.strip()
    return None


def redact_url(url: str) -> str:
    """`url` fit for a message: user info becomes `***@`, every query value (and a
    fragment) `***`, so credentials written into an API URL never show."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(an invalid URL)"
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "***@" + netloc.rpartition("@")[2]
    query = "&".join(_redact_param(p) for p in parts.query.split("&")) if parts.query else ""
    fragment = "***" if parts.fragment else ""
    return urlunsplit((parts.scheme, netloc, parts.path, query, fragment))


def _redact_param(param: str) -> str:
    name, equals, _ = param.partition("=")
    return f"{name}=***" if equals else ("***" if param else "")
