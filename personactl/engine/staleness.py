"""Is a saved plan still true? Compare its fingerprints with the live resources."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from personactl.engine.plan import Plan

# (kind, id) -> fingerprint dict of the live resource now, or None if it is gone.
Refetch = Callable[[str, str, dict[str, Any] | None], dict[str, Any] | None]
# (kind, anam name) -> ids of live resources with that name.
FindByName = Callable[[str, str], list[str]]


def stale_documents(plan: Plan, hash_of: Callable[[str], str | None]) -> list[str]:
    """One line per local document a saved plan uploads that changed since (or is gone);
    `hash_of(path)`: the file's `sha256:` now, None if it cannot be read."""
    problems = []
    for change in plan.changes:
        for doc in change.documents:
            if doc.path is None or doc.action not in ("create", "replace"):
                continue
            now = hash_of(doc.path)
            if now != doc.sha256:
                how = "is gone" if now is None else "changed since the plan was made"
                problems.append(f"{change.kind} {change.name!r}: document {doc.path!r} {how}")
    return problems


def stale_resources(plan: Plan, refetch: Refetch, find: FindByName) -> list[str]:
    """One line per resource that changed since the plan was made."""
    problems = []
    for change in plan.changes:
        what = f"{change.kind} {change.name!r}"
        if change.action == "create":
            ids = find(change.kind, change.anam_name)
            if ids:
                problems.append(
                    f"{what}: a {change.kind.lower()} named {change.anam_name!r} "
                    f"now exists ({', '.join(ids)})"
                )
            continue
        if change.id is None or change.fingerprint is None:
            continue
        now = refetch(change.kind, change.id, change.desired)
        # A persona taken from the state unread carries the fingerprint the state
        # recorded, hashed from the answer to a write: its updatedAt is what counts.
        unread = change.kind == "Persona" and change.name in plan.unread
        if now is None:
            problems.append(f"{what}: {change.id} no longer exists")
        elif now.get("updatedAt") != change.fingerprint.updated_at or (
            not unread and now.get("hash") != change.fingerprint.hash
        ):
            then, later = change.fingerprint.updated_at, now.get("updatedAt")
            how = f"updatedAt {then} -> {later}" if then != later else "its content differs"
            problems.append(f"{what}: changed since the plan was made ({how})")
    return problems
