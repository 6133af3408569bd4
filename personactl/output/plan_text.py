"""The Terraform-style text view of a Plan (what `personactl plan` prints).

Its warnings are rendered apart (`render_warnings`), for stderr.
"""

from __future__ import annotations

from collections.abc import Callable

from personactl.engine import plan as p
from personactl.output import values as v

_GREEN, _YELLOW, _RED, _CYAN = "\x1b[32m", "\x1b[33m", "\x1b[31m", "\x1b[36m"
_BOLD, _RESET = "\x1b[1m", "\x1b[0m"
_SYMBOL = {"create": "+", "update": "~", "replace": "-/+", "delete": "-"}
_SYMBOL_COLOR = {"+": _GREEN, "~": _YELLOW, "-": _RED, "-/+": _YELLOW}
# A created prompt shows this many lines; the whole text is in the request or JSON.
_PREVIEW_LINES = 5

_Paint = Callable[[str, str], str]


def _painter(color: bool) -> _Paint:
    def paint(text: str, code: str) -> str:
        return f"{code}{text}{_RESET}" if color and text else text

    return paint


def render_text(plan: p.Plan, *, color: bool = False, show_requests: bool = False) -> str:
    paint = _painter(color)
    out = [f'Environment "{plan.environment}" ({v.backend_label(plan)})']
    if not plan.three_way:
        out.append(v.two_way_line(plan))

    changing = [rc for rc in plan.changes if rc.action != "no-op"]
    if changing:
        out += ["", "personactl will perform the following actions:"]
        for rc in changing:
            out.append("")
            out += _resource_block(rc, paint, show_requests)

    drifted = [rc for rc in plan.changes if rc.drift]
    if drifted:
        out += ["", paint("Changed outside personactl since the last apply:", _BOLD)]
        for rc in drifted:
            for fc in rc.drift:
                out += _drift_lines(rc, fc, paint)

    out.append("")
    if unread := v.unread_line(plan):
        out.append(unread)
    if not plan.has_changes:
        out.append(paint(v.NO_CHANGES, _BOLD + _GREEN))
    out.append(paint(v.summary_line(plan), _BOLD))
    return "\n".join(out) + "\n"


def render_warnings(plan: p.Plan, *, color: bool = False) -> str:
    """The plan's warnings, for stderr: the text view on stdout is the payload alone."""
    if not plan.warnings:
        return ""
    paint = _painter(color)
    label = paint("Warning:", _BOLD + _YELLOW)
    return "\n" + "".join(f"{label} {v.masked_text(w)}\n" for w in plan.warnings)


def _sym(symbol: str, paint: _Paint) -> str:
    return paint(symbol, _SYMBOL_COLOR[symbol])


def _resource_block(rc: p.ResourceChange, paint: _Paint, show_requests: bool) -> list[str]:
    symbol = _SYMBOL[rc.action]
    where = f" ({rc.source})" if rc.source else ""
    lines = [
        "  " + paint(f'# {rc.kind} "{rc.name}" {v.ACTION_WORDS[rc.action]}{where}', _BOLD),
        f"  {_sym(symbol, paint)} "
        + paint(f'{rc.kind.lower()} "{rc.name}"{v.resource_label(rc)}', _BOLD),
    ]
    for fc in rc.fields:
        lines += _field_lines(rc.action, fc, paint, indent=6)
    for symbol, text in v.document_lines(rc):
        lines.append(f"      {_sym(symbol, paint)} {text}")
    lines += [f"      # note: {v.masked_text(n)}" for n in rc.notes]
    if show_requests and rc.request is not None:
        lines.append(f"      {paint(rc.request.method, _BOLD)} {rc.request.path}")
        body = v.request_body_json(rc.request)
        if body is not None:
            lines += [f"      {line}" for line in body.splitlines()]
    return lines


def _field_lines(action: str, fc: p.FieldChange, paint: _Paint, *, indent: int) -> list[str]:
    pad = " " * indent
    before, after = v.shown_pair(fc)
    note = v.reason_note(fc)
    tail = f"  # {note}" if note else ""

    if v.is_multiline(before, after):
        if action == "create" or (action == "delete" and after is None):
            symbol, text = ("+", after) if action == "create" else ("-", before)
            all_lines = str(text).splitlines()
            n = len(all_lines)
            label = f"({v.lines_label(str(text))})"
            lines = [f"{pad}{_sym(symbol, paint)} {fc.path} = {label}{tail}"]
            preview = all_lines[:_PREVIEW_LINES]
            # Aligned with the text of diff lines (which start with a marker column).
            lines += [f"{pad}     {line}".rstrip() for line in preview]
            if n > _PREVIEW_LINES:
                more = n - _PREVIEW_LINES
                lines.append(f"{pad}     … {more} more line{'' if more == 1 else 's'}")
            return lines
        lines = [f"{pad}{_sym('~', paint)} {fc.path}:{tail}"]
        diff = v.unified_diff(before, after, "live", "desired")
        return lines + [f"{pad}    {_diff_line(line, paint)}".rstrip() for line in diff]

    if action == "create":
        return [f"{pad}{_sym('+', paint)} {fc.path} = {v.fmt(after)}{tail}"]
    if action == "delete":
        shown = "" if before is None else f" = {v.fmt(before)}"
        return [f"{pad}{_sym('-', paint)} {fc.path}{shown}{tail}"]
    if fc.reason != p.Reason.RESET and before is None:
        # Newly set (or never seen, for a write-only field): nothing to show as before.
        return [f"{pad}{_sym('+', paint)} {fc.path} = {v.fmt(after)}{tail}"]
    if before == after and fc.reason == p.Reason.RESENT:
        return [f"{pad}{_sym('~', paint)} {fc.path} = {v.fmt(after)}{tail}"]
    return [f"{pad}{_sym('~', paint)} {fc.path}: {v.fmt(before)} → {v.fmt(after)}{tail}"]


def _diff_line(line: str, paint: _Paint) -> str:
    if line.startswith(("---", "+++")):
        return paint(line, _BOLD)
    if line.startswith("@@"):
        return paint(line, _CYAN)
    if line.startswith("+"):
        return paint(line, _GREEN)
    if line.startswith("-"):
        return paint(line, _RED)
    return line


def _drift_lines(rc: p.ResourceChange, fc: p.FieldChange, paint: _Paint) -> list[str]:
    before, after = v.shown_pair(fc)
    who = f'{_sym("~", paint)} {rc.kind.lower()} "{rc.name}"'
    if v.is_document_drift(fc):
        return [f"  {who}: {fc.path} {after}"]
    if v.is_multiline(before, after):
        diff = v.unified_diff(before, after, "last applied", "live")
        return [f"  {who}: {fc.path}"] + [
            f"        {_diff_line(line, paint)}".rstrip() for line in diff
        ]
    return [f"  {who}: {fc.path} {v.fmt(before)} → {v.fmt(after)}"]
