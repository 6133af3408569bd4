"""The one equality rule for JSON values, used by diff and by read-back.

1 == 1.0 but True != 1; numbers equal within a relative 1e-6 (a server may
round a float it stores: 1.05 back as 1.0499999); strings equal once
surrounding white space is ignored (a server may trim a prompt); objects and
lists compared key by key and item by item. `covers` is the same rule for an
object where the other side may hold more keys (an options object the server
completes, a response to a partial write).
"""

from __future__ import annotations

import math
from typing import Any


def same(a: Any, b: Any) -> bool:
    kind = type(a)
    if kind is type(b):  # the usual case, answered without the general tests below
        if kind is str:
            return bool(a == b or a.strip() == b.strip())
        if kind is dict:
            return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
        if kind is bool or a is None:
            return a is b
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9)
    if isinstance(a, str) and isinstance(b, str):
        return a == b or a.strip() == b.strip()
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def covers(wanted: Any, got: Any) -> bool:
    """Every key `wanted` sets has that value in `got` (for objects; else `same`)."""
    if isinstance(wanted, dict) and isinstance(got, dict):
        return all(k in got and covers(v, got[k]) for k, v in wanted.items())
    return same(wanted, got)
