"""The one "did you mean": the names closest to a name that matched nothing; and the
names asked for that match nothing."""

from __future__ import annotations

from collections.abc import Collection, Iterable


def closest(name: str, candidates: Iterable[str], *, substrings: bool = False) -> list[str]:
    """Up to three candidates close to `name` (with `substrings`, those containing it,
    ignoring case, first: a catalog's display names are long)."""
    from difflib import get_close_matches  # only on the way to an error: validate stays fast

    pool = list(candidates)
    found = [c for c in pool if name.casefold() in c.casefold()] if substrings else []
    cutoff = 0.5 if substrings else 0.6
    found += [c for c in get_close_matches(name, pool, n=3, cutoff=cutoff) if c not in found]
    return list(dict.fromkeys(found))[:3]


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """` (did you mean 'a', 'b'?)`, or "" when nothing is close."""
    close = closest(name, candidates)
    return f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""


def unknown_names(wanted: Iterable[str], known: Collection[str]) -> str:
    """Those of `wanted` that are not `known`, quoted and joined for a message ("" when
    every one is known)."""
    return ", ".join(repr(name) for name in wanted if name not in known)
