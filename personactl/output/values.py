"""Formatting shared by the plan views: values, references, masking, diffs.

Everything here is pure and knows nothing about where the text goes (terminal,
Markdown); the views decide layout and colour.
"""

from __future__ import annotations

import difflib
import json
import re
from typing import Any, Final

from personactl.core.secrets import SENSITIVE, has_secret, mask
from personactl.engine import plan as p


class _Masked:
    """Stands in for a hidden value, so views print (sensitive) unquoted."""

    def __repr__(self) -> str:
        return SENSITIVE


MASKED: Final = _Masked()

# Dict values with only these keys are references to catalog objects.
_REF_KEYS = frozenset({"id", "name", "variant"})
# Only long hex/uuid ids are shortened: "CUSTOMER_CLIENT_V1" stays readable.
_LONG_ID = re.compile(r"[0-9a-fA-F-]{9,}")
_RESENT_BECAUSE = {"voiceGeneration": "the voice changes", "avatarModel": "the avatar changes"}


def short_id(ident: str) -> str:
    return f"{ident[:8]}…" if _LONG_ID.fullmatch(ident) else ident


def is_sensitive(fc: p.FieldChange) -> bool:
    return fc.sensitive or has_secret(fc.before) or has_secret(fc.after)


def shown_pair(fc: p.FieldChange) -> tuple[Any, Any]:
    """before/after as a view may show them.

    A field flagged sensitive, or an update whose either side holds a sentinel,
    hides both sides whole: the other side may hold the secret in clear (a live
    value has no sentinel). With nothing on the other side (a create, a delete)
    only the sentinel-bearing strings go, so a webhook's url stays reviewable.
    """
    if not is_sensitive(fc):
        return fc.before, fc.after
    if not fc.sensitive and (fc.before is None or fc.after is None):
        return mask(fc.before), mask(fc.after)
    return (
        None if fc.before is None else MASKED,
        None if fc.after is None else MASKED,
    )


def masked_text(text: str) -> str:
    """Free text (notes, warnings) with any sentinel-bearing string hidden."""
    return str(mask(text))


def is_ref(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and bool(value)
        and set(value) <= _REF_KEYS
        and ("id" in value or "name" in value)
    )


def ref_label(value: dict[str, Any], *, with_id: bool = True) -> str:
    """{"id": ..., "name": "Liv", "variant": "home"} -> "Liv / home" (5f0c1a2b…)."""
    name = value.get("name")
    ident = value.get("id")
    if name is not None:
        label = str(name) if value.get("variant") is None else f"{name} / {value['variant']}"
        quoted = json.dumps(label, ensure_ascii=False)
        if with_id and ident is not None:
            return f"{quoted} ({short_id(str(ident))})"
        return quoted
    return f"id {short_id(str(ident))}"


def fmt(value: Any) -> str:
    """One value on one line, JSON-ish: strings quoted, numbers plain, lists compact."""
    if value is MASKED:
        return SENSITIVE
    if is_ref(value):
        return ref_label(value)
    if isinstance(value, list):
        return "[" + ", ".join(_fmt_item(v) for v in value) + "]"
    if isinstance(value, dict):
        inner = ", ".join(
            f"{json.dumps(k, ensure_ascii=False)}: {fmt(v)}" for k, v in value.items()
        )
        return "{" + inner + "}"
    return json.dumps(value, ensure_ascii=False)


def _fmt_item(value: Any) -> str:
    # In a list (tools) the names say enough; ids only when there is no name.
    return ref_label(value, with_id=False) if is_ref(value) else fmt(value)


def is_multiline(before: Any, after: Any) -> bool:
    """Shown values (see shown_pair) that need a diff rather than `before → after`."""
    return any(isinstance(v, str) and "\n" in v for v in (before, after))


def lines_label(text: str) -> str:
    n = len(text.splitlines())
    return f"{n} line{'' if n == 1 else 's'}"


def unified_diff(before: Any, after: Any, fromfile: str, tofile: str) -> list[str]:
    """A unified diff of two strings (None counts as empty), 3 lines of context."""
    a = before if isinstance(before, str) else ""
    b = after if isinstance(after, str) else ""
    lines = list(
        difflib.unified_diff(
            a.splitlines(), b.splitlines(), fromfile=fromfile, tofile=tofile, n=3, lineterm=""
        )
    )
    if not lines and a != b:
        # splitlines() hides a trailing newline or \r\n: say so rather than show nothing.
        return [f"--- {fromfile}", f"+++ {tofile}", "(only line endings differ)"]
    return lines


def reason_note(fc: p.FieldChange) -> str | None:
    """The comment a view adds when a change is not a plain edit of the manifest."""
    if fc.reason == p.Reason.DRIFT:
        return "drift: changed outside personactl"
    if fc.reason == p.Reason.RESET:
        return "reset: removed from the manifest"
    if fc.reason == p.Reason.WRITE_ONLY:
        return "write-only: not returned by the API"
    if fc.reason == p.Reason.RESENT:
        top = fc.path.split(".", 1)[0]
        return f"resent: {_RESENT_BECAUSE.get(top, 'another change resets it')}"
    return None


def resource_label(rc: p.ResourceChange) -> str:
    """What the name alone does not say: the Anam name and the (short) id."""
    parts = []
    if rc.anam_name and rc.anam_name != rc.name:
        parts.append(rc.anam_name)
    if rc.id:
        parts.append(f"id {short_id(rc.id)}")
    return f" ({', '.join(parts)})" if parts else ""


ACTION_WORDS = {
    "create": "will be created",
    "update": "will be updated in place",
    "replace": "must be replaced",
    "delete": "will be deleted",
}


def summary_line(plan: p.Plan) -> str:
    c = plan.counts()
    a = p.Action
    replace = f"{c[a.REPLACE]} to replace, " if c[a.REPLACE] else ""
    return (
        f"Plan: {c[a.CREATE]} to create, {c[a.UPDATE]} to update, {replace}"
        f"{c[a.DELETE]} to delete, {c[a.NO_OP]} unchanged."
    )


NO_CHANGES = "No changes. The live resources match the manifests."


def unread_line(plan: p.Plan) -> str | None:
    """How many personas the plan took from the state unread (--refresh=auto), if any."""
    n = len(plan.unread)
    if not n:
        return None
    return (
        f"{n} persona{'' if n == 1 else 's'} taken from the state unread (updatedAt unchanged "
        "since the last apply); --refresh=full reads every one."
    )


def backend_label(plan: p.Plan) -> str:
    return "sandbox backend" if plan.backend == "sandbox" else plan.api_url


def two_way_line(plan: p.Plan) -> str:
    remote = plan.state_path.startswith(("PostgreSQL state ", "HTTP state "))
    where = "No state yet in" if remote else "No state file at"
    where = f"{where} {plan.state_path}"
    return f"{where}: comparing the manifests with the live resources (two-way)."


def request_body_json(req: p.Request) -> str | None:
    if req.body is None:
        return None
    return json.dumps(mask(req.body), indent=2, ensure_ascii=False)


def document_lines(rc: p.ResourceChange) -> list[tuple[str, str]]:
    """(symbol, text) for each document a knowledge group's change uploads or deletes:
    `+ document "faq/returns.md" (12 KB)`, `-/+ document "x.md" (content changed: ...)`."""
    from personactl.engine.documents import document_line

    return [document_line(d) for d in rc.documents if d.action in ("create", "replace", "delete")]


def is_document_drift(fc: p.FieldChange) -> bool:
    """A document added to a managed group outside personactl (shown as a sentence)."""
    return fc.path.startswith('document "') and fc.before is None and isinstance(fc.after, str)
