"""When and how long to wait before retrying a request (pure functions, no I/O).

Capped exponential backoff with full jitter (AWS architecture blog, "Exponential
Backoff And Jitter"): the n-th retry waits uniform(0, min(cap, base * 2**(n-1)))
unless the server sent `Retry-After`, which is honoured as given. Every wait
is capped at what is left of the request's retry budget; a `Retry-After` longer
than that ends the retries at once (waiting could not end in a retry).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime

import httpx

RETRY_STATUSES = frozenset({429, 502, 503, 504})
# Answers from a gateway, not the API: the request may have reached the backend
# and been committed, so a create that gets one has an unknown outcome.
GATEWAY_STATUSES = frozenset({502, 504})

# failures before the request left this machine: retrying cannot duplicate anything
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# failures after the request may have reached the server: the outcome is unknown
MAYBE_SENT = (
    httpx.ReadTimeout,
    httpx.WriteTimeout,
    httpx.ReadError,
    httpx.WriteError,
    httpx.RemoteProtocolError,
    httpx.CloseError,
)


@dataclass(frozen=True)
class Backoff:
    base: float = 0.25
    cap: float = 8.0

    def delay(self, retry: int, rng: random.Random) -> float:
        """Seconds to wait before retry number `retry` (1 for the first retry)."""
        ceiling = min(self.cap, self.base * 2 ** (retry - 1))
        return rng.uniform(0, ceiling)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds from `Retry-After` (delta-seconds or an HTTP-date), or None when absent or bad."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # "-0000": RFC 9110 dates are GMT anyway
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - (time.time() if now is None else now))
